/* The handler's workbench (案件办理): the cases assigned to the user's unit in queues
   (to sign, in progress, about to be overdue, overdue, returned for rework) and the case
   panel (casepanel.js) to act on the one selected. Changes arrive over the live socket. */

import * as page from "./common.js";
import * as P from "./casepanel.js";
import { create as caseList } from "./caselist.js";
import { connect } from "./live.js";
import "./mapkit.js";
var config = page.config;
var labels = config.labels;
var notice = document.querySelector(".notice");
var cases = {}; // id → the case as the list API gives it
var held = config.held_states;

var panel = P.create(document.querySelector(".case-panel"), {
  map: page.map,
  workDayHours: config.work_day_hours,
  onDone: function (item) {
    upsert(item);
    tell("done", labels.panel.done + " #" + item.id + " " + P.stateLabel(item.state));
  },
  onError: function (message) { tell("error", message); },
});

/* The queues a case is in: by its state, and by its clock. */
function queuesOf(item) {
  var keys = [];
  if (item.state === "dispatched" || item.state === "rework") keys.push("to_sign");
  if (item.state === "signed" || item.state === "suspended") keys.push("in_progress");
  if (item.warned && !item.overdue) keys.push("warned");
  if (item.overdue) keys.push("overdue");
  if (item.state === "rework") keys.push("rework");
  return keys;
}

function mine(item) {
  return item.unit && item.unit.id === config.unit && held.indexOf(item.state) >= 0;
}

var queues = caseList(document.querySelector(".queue"), {
  queues: config.queues,
  queuesOf: queuesOf,
  selected: function () { return panel.current(); },
  onSelect: select,
});

function render() {
  queues.render(cases);
}

function upsert(item) {
  if (mine(item)) cases[item.id] = item;
  else delete cases[item.id];
  render();
}

function tell(kind, text) {
  notice.className = "notice " + kind;
  notice.textContent = text;
}

function select(id) {
  tell("", "");
  panel.show(id).then(render);
  render();
}

function load() {
  var query = held.map(function (s) { return "state=" + s; }).join("&");
  return page.api(config.api.cases + "?assigned=me&" + query + "&limit=1000").then(function (listing) {
    cases = {};
    listing.results.forEach(function (item) { cases[item.id] = item; });
    render();
  });
}


load();

var status = document.querySelector(".live-status");
connect({
  url: config.live.url,
  since: config.live.since,
  onStatus: function (state) {
    status.textContent = labels.live[state] || state;
    status.setAttribute("data-status", state);
  },
  onEvent: function (event) {
    var id = event.case.id;
    // The event says which case changed; the queue shows more: read it once.
    page.api(config.api.cases + id + "/").then(function (item) {
      upsert(item);
      if (panel.current() === id) panel.refresh();
    }).catch(function (error) {
      if (error.status === 404) {
        delete cases[id];
        render();
        if (panel.current() === id) panel.refresh();
      }
    });
  },
  onReload: load,
});
