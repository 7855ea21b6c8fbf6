/* The command centre: the live map of the user's district or city, the counters, the
   cases awaiting the user's decision (待我决定: extension requests, escalated and
   returned cases, cases to close), the overdue and escalated cases, the latest changes,
   and a case panel on click: its history with photos and the actions of the user's tier
   (exactly the server's allowed_actions). */

import * as page from "./common.js";
import * as g from "./cases.js";
import { create as casePanel } from "./casepanel.js";
import { connect } from "./live.js";
import { onDutyLayer } from "./onduty.js";
import { coverageLayer } from "./coverage.js";
var config = page.config;
var labels = config.labels;
var map = page.map;
var el = page.el;
var attention = document.querySelector(".attention");
var feed = document.querySelector(".feed");
var FEED_LENGTH = 30;
var awaiting = document.querySelector(".awaiting");
var notice = document.querySelector(".notice");

function tell(kind, text) {
  notice.className = "notice " + kind;
  notice.textContent = text;
}

/* The case panel (casepanel.js): its history with photos and the actions of the
   user's tier (exactly the server's allowed_actions). */
var panel = casePanel(document.querySelector(".case-detail"), {
  units: config.units,
  workDayHours: config.work_day_hours,
  onDone: function (result) {
    tell("done", labels.done + " #" + result.id + " " + g.stateLabel(result.state));
    loadAwaiting();
    counters.refresh();
  },
  onError: function (message) { tell("error", message); },
});

function open(id) {
  tell("", "");
  panel.show(id);
}

var tiles = g.tileLayers(map, ["areas", "cases"], open);
// Cases that changed since the page loaded, drawn over the tiles (which show the
// state at load time) until the tiles are fetched again.
var live = g.markerLayer(map, open);
var overlays = Object.assign({}, tiles.overlays);
overlays[labels.layers.live] = live.layer;
overlays[labels.layers.on_duty] = onDutyLayer(map, config.on_duty);
overlays[labels.layers.coverage] = coverageLayer(map, config.coverage);
L.control.layers(null, overlays, { collapsed: false }).addTo(map);

function row(item) {
  return el("li", { "data-case": String(item.id), "data-state": item.state },
    el("a", { href: "#", onclick: function (e) { e.preventDefault(); open(item.id); } },
      "#" + item.id + " "),
    el("span", { class: "state", text: g.stateLabel(item.state) }), " ",
    g.badge(item),
    item.escalation_level ? el("span", { class: "badge escalated", text: labels.escalated }) : null,
    " ", el("span", { class: "muted", text: item.category.name + " · " + item.street.name }));
}

/* 待我决定: GET /api/cases/?awaiting=me. A signed case is there for its extension
   request (the one decision a signed case can wait for on the command side). */
var awaitingTimer = null;
function loadAwaiting() {
  awaitingTimer = null;
  return page.api(config.api.awaiting).then(function (listing) {
    awaiting.replaceChildren();
    if (!listing.results.length) {
      awaiting.appendChild(el("li", { class: "muted", text: labels.awaiting_empty }));
    }
    listing.results.forEach(function (item) {
      var li = row(item);
      if (item.state === "signed") {
        li.appendChild(el("span", { class: "badge extension", text: labels.extension_request }));
      }
      awaiting.appendChild(li);
    });
    var count = document.querySelector("[data-awaiting-count]");
    if (count) count.textContent = String(listing.count);
  }).catch(function (error) {
    awaiting.replaceChildren(el("li", { class: "error", text: error.message }));
  });
}
loadAwaiting();

var counters = g.board(function (data) {
  attention.replaceChildren();
  if (!data.attention.length) {
    attention.appendChild(el("li", { class: "muted", text: labels.attention_empty }));
  }
  data.attention.forEach(function (item) { attention.appendChild(row(item)); });
});
counters.load();

function noteInFeed(event) {
  var item = event.case;
  var previous = feed.querySelector('[data-case="' + item.id + '"]');
  if (previous) feed.removeChild(previous);
  feed.insertBefore(el("li", { "data-case": String(item.id), "data-state": item.state },
    el("a", { href: "#", onclick: function (e) { e.preventDefault(); open(item.id); } },
      "#" + item.id + " "),
    el("span", { class: "state", text: g.stateLabel(item.state) }), " ",
    g.badge(item), " ",
    el("time", { class: "muted", text: g.when(event.at) })), feed.firstChild);
  while (feed.children.length > FEED_LENGTH) feed.removeChild(feed.lastChild);
}

var tilesTimer = null;
var newestSeq = {}; // case id → seq of the event drawn (events may arrive out of order)
connect({
  url: config.live.url,
  since: config.live.since,
  onStatus: g.liveStatus(document.querySelector(".live-status")),
  onEvent: function (event) {
    var item = event.case;
    // Any change may add a decision of mine or settle one: ask again (debounced).
    if (awaitingTimer === null) awaitingTimer = window.setTimeout(loadAwaiting, 400);
    if (newestSeq[item.id] > event.seq) return; // an older state than the one drawn
    newestSeq[item.id] = event.seq;
    if (g.isFinal(item.state)) live.remove(item.id);
    else live.upsert(item);
    // The tile's own point of this case is stale: hide it under the live marker.
    if (tiles.layers.cases) {
      tiles.layers.cases.setFeatureStyle(item.id, { radius: 0, fill: false, stroke: false });
    }
    noteInFeed(event);
    counters.refresh();
    if (panel.current() === item.id) panel.refresh();
    // Fetch fresh tiles now and then, not on every event of a busy hour.
    if (tilesTimer === null) {
      tilesTimer = window.setTimeout(function () {
        tilesTimer = null;
        g.refreshTiles(tiles);
      }, 30000);
    }
  },
  onReload: function () {
    // Events were missed: the fresh tiles show every case as it is now, and the live
    // markers drawn before the gap may be out of date.
    live.clear();
    counters.load();
    loadAwaiting();
    g.refreshTiles(tiles);
  },
});
