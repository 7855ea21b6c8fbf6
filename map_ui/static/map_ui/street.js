/* The street dispatch board: the street's queue beside its map; the actions the server
   allows on a case (file, cancel, merge, dispatch, re-dispatch, sign, return, extension
   requests and decisions, close) from the page; changes arrive live. */

import * as page from "./common.js";
import * as g from "./cases.js";
import { render as renderActions } from "./decisions.js";
import { connect } from "./live.js";
var config = page.config;
var labels = config.labels;
var map = page.map;
var el = page.el;
var list = document.querySelector(".queue");
var detail = document.querySelector(".case-detail");
var notice = document.querySelector(".notice"); // what became of the last action
var myUnit = config.scope.unit;
var cases = {}; // id → the case as the list API gives it
var current = config.queues[0].key;
var selected = null;
var formOpen = false; // a reason form is being filled in: live updates wait

var openStates = [];
config.queues.forEach(function (queue) { openStates = openStates.concat(queue.states); });

var tiles = g.tileLayers(map, ["areas"], select);
var markers = g.markerLayer(map, select);
var overlays = Object.assign({}, tiles.overlays);
overlays[labels.layers.cases] = markers.layer;
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

function byDeadline(a, b) {
  if (a.due_at && b.due_at) return a.due_at < b.due_at ? -1 : 1;
  if (a.due_at || b.due_at) return a.due_at ? -1 : 1;
  return b.id - a.id; // no clock yet: newest first
}

function render() {
  var counts = {};
  config.queues.forEach(function (queue) { counts[queue.key] = 0; });
  var shown = [];
  Object.keys(cases).forEach(function (id) {
    var item = cases[id];
    queuesOf(item).forEach(function (key) {
      counts[key] += 1;
      if (key === current) shown.push(item);
    });
  });
  Object.keys(counts).forEach(function (key) {
    document.querySelector('[data-queue-count="' + key + '"]').textContent = String(counts[key]);
  });
  list.replaceChildren();
  if (!shown.length) list.appendChild(el("li", { class: "muted", text: labels.queue_empty }));
  shown.sort(byDeadline).forEach(function (item) {
    list.appendChild(el("li", {
      class: "case-row" + (item.id === selected ? " selected" : ""),
      "data-case": String(item.id),
      "data-state": item.state,
      onclick: function () { select(item.id); },
    },
      el("strong", { text: "#" + item.id }), " ",
      el("span", { text: item.category.name }), " ",
      el("span", { class: "state", text: g.stateLabel(item.state) }), " ",
      g.badge(item),
      item.urgent ? el("span", { class: "badge urgent", text: labels.urgent }) : null,
      el("div", { class: "muted", text: item.community.name + " · " + labels.due + " " + g.when(item.due_at) })));
  });
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
  formOpen = false;
  tell("", "");
  render();
  var marker = markers.get(id);
  if (marker) map.panTo(marker.getLatLng());
  g.showCase(detail, id, actionsFor);
}

/* The buttons of exactly the actions the server allows the user on the case now
   (allowed_actions), each sent with the state shown. */
function actionsFor(item, node) {
  renderActions(item, node, {
    units: config.units,
    onForm: function (open) { formOpen = open; },
    onDone: function (result) {
      formOpen = false;
      upsert(result);
      tell("done", labels.done + " #" + result.id + " " + g.stateLabel(result.state));
      return g.showCase(detail, item.id, actionsFor);
    },
    onError: function (message) { tell("error", message); },
  });
}

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

document.querySelectorAll("[data-queue]").forEach(function (tab) {
  tab.addEventListener("click", function () {
    current = tab.getAttribute("data-queue");
    document.querySelectorAll("[data-queue]").forEach(function (other) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
    });
    render();
  });
});

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
      if (selected === id && !formOpen) g.showCase(detail, id, actionsFor);
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
