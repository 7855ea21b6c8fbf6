/* The street dispatch board: the street's queue beside its map; the actions the server
   allows on a case (file, cancel, merge, dispatch, re-dispatch, sign, return, extension
   requests and decisions, close) from the page; changes arrive live. */

import * as page from "./common.js";
import * as g from "./cases.js";
import { create as casePanel } from "./casepanel.js";
import { create as caseList } from "./caselist.js";
import { connect } from "./live.js";
import { coverageLayer } from "./coverage.js";
var config = page.config;
var labels = config.labels;
var map = page.map;
var notice = document.querySelector(".notice"); // what became of the last action
var myUnit = config.scope.unit;
var cases = {}; // id → the case as the list API gives it
var selected = null;

var openStates = [];
config.queues.forEach(function (queue) { openStates = openStates.concat(queue.states); });

var tiles = g.tileLayers(map, ["areas"], select);
var markers = g.markerLayer(map, select);
var overlays = Object.assign({}, tiles.overlays);
overlays[labels.layers.cases] = markers.layer;
overlays[labels.layers.coverage] = coverageLayer(map, config.coverage);
L.control.layers(null, overlays, { collapsed: false }).addTo(map);

/* The queues a case is in. A case dispatched to another unit in the street's area
   (a district department) is that unit's to sign: here it is work in progress. */
function queuesOf(item) {
  var keys = [];
  config.queues.forEach(function (queue) {
    if (queue.states.indexOf(item.state) >= 0) keys.push(queue.key);
  });
  var unit = item.unit ? item.unit.id : null;
  if (keys[0] === "to_sign" && myUnit !== null && unit !== myUnit) keys = ["in_progress"];
  if (item.overdue && !g.isFinal(item.state)) keys.push("overdue");
  return keys;
}

var queues = caseList(document.querySelector(".queue"), {
  queues: config.queues,
  queuesOf: queuesOf,
  selected: function () { return selected; },
  onSelect: select,
});

function render() {
  queues.render(cases);
}

function upsert(item) {
  if (g.isFinal(item.state) || openStates.indexOf(item.state) < 0) {
    delete cases[item.id];
    markers.remove(item.id);
  } else {
    cases[item.id] = item;
    markers.upsert(item);
  }
  render();
}

function tell(kind, text) {
  notice.className = "notice " + kind;
  notice.textContent = text;
}

function select(id) {
  selected = id;
  tell("", "");
  render();
  var marker = markers.get(id);
  if (marker) map.panTo(marker.getLatLng());
  panel.show(id);
}

/* The case panel (casepanel.js): the buttons of exactly the actions the server allows
   the user on the case now (allowed_actions), each sent with the state shown. */
var panel = casePanel(document.querySelector(".case-detail"), {
  units: config.units,
  workDayHours: config.work_day_hours,
  onDone: function (result) {
    upsert(result);
    tell("done", labels.done + " #" + result.id + " " + g.stateLabel(result.state));
  },
  onError: function (message) { tell("error", message); },
});

function load() {
  var query = openStates.map(function (s) { return "state=" + s; }).join("&");
  return page.api(config.api.cases + "?" + query + "&limit=1000").then(function (listing) {
    var before = cases;
    cases = {};
    listing.results.forEach(function (item) {
      cases[item.id] = item;
      markers.upsert(item);
    });
    // After a reload signal: cases closed or moved away meanwhile leave the map too.
    Object.keys(before).forEach(function (id) {
      if (!cases[id]) markers.remove(id);
    });
    render();
  });
}

var counters = g.board();
counters.load();
load();

connect({
  url: config.live.url,
  since: config.live.since,
  onStatus: g.liveStatus(document.querySelector(".live-status")),
  onEvent: function (event) {
    var id = event.case.id;
    counters.refresh();
    // The event says where and in which state; the queue shows more (category,
    // community, unit): read the case once.
    page.api(g.caseUrl(id)).then(function (item) {
      upsert(item);
      if (selected === id) panel.refresh();
    }).catch(function (error) {
      if (error.status === 404) {
        delete cases[id];
        markers.remove(id);
        render();
      }
    });
  },
  onReload: function () {
    counters.load();
    load();
  },
});
