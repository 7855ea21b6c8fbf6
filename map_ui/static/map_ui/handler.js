/* The handler's workbench (案件办理): the cases assigned to the user's unit in queues
   (to sign, in progress, about to be overdue, overdue, returned for rework), the cases
   where it is a co-unit (协办) with its part open, and the case panel (casepanel.js) to
   act on the one selected. Changes arrive over the live socket. */

import * as page from "./common.js";
import * as P from "./casepanel.js";
import { create as caseList } from "./caselist.js";
import { connect } from "./live.js";
import "./mapkit.js";
var config = page.config;
var labels = config.labels;
var notice = document.querySelector(".notice");
var cases = {}; // id → the case as the list API gives it
var co = {}; // id → true: the unit is a co-unit of the case with its part open
var held = config.held_states;

var panel = P.create(document.querySelector(".case-panel"), {
  map: page.map,
  workDayHours: config.work_day_hours,
  onDone: function (item, action) {
    // A co-unit's action changes its part, which the detail shows (not the list's item).
    if (action === "co_sign" || action === "co_handle") reread(item.id);
    else upsert(item);
    tell("done", labels.panel.done + " #" + item.id + " " + P.stateLabel(item.state));
  },
  onError: function (message) { tell("error", message); },
});

/* The queues a case is in: by its state, and by its clock. */
function queuesOf(item) {
  if (co[item.id] && !lead(item)) return ["co"];
  var keys = co[item.id] ? ["co"] : [];
  if (item.state === "dispatched" || item.state === "rework") keys.push("to_sign");
  if (item.state === "signed" || item.state === "suspended") keys.push("in_progress");
  if (item.warned && !item.overdue) keys.push("warned");
  if (item.overdue) keys.push("overdue");
  if (item.state === "rework") keys.push("rework");
  return keys;
}

function lead(item) {
  return item.unit && item.unit.id === config.unit && held.indexOf(item.state) >= 0;
}

function mine(item) {
  return lead(item) || co[item.id] === true;
}

/* Whether the unit has an open part in the case: from the detail's parts; a list item
   (no parts) keeps what is known. */
function noteParts(item) {
  if (!item.parts) return;
  var open = item.parts.some(function (part) { return part.unit.id === config.unit && part.open; });
  if (open && !P.isFinal(item.state)) co[item.id] = true;
  else delete co[item.id];
}

function reread(id) {
  return page.api(config.api.cases + id + "/").then(upsert).catch(function (error) {
    if (error.status === 404) {
      delete cases[id];
      delete co[id];
      render();
    }
  });
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
  noteParts(item);
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
  return Promise.all([
    page.api(config.api.cases + "?assigned=me&" + query + "&limit=1000"),
    page.api(config.api.cases + "?assigned=co&limit=1000"),
  ]).then(function (lists) {
    cases = {};
    co = {};
    lists[1].results.forEach(function (item) { co[item.id] = true; cases[item.id] = item; });
    lists[0].results.forEach(function (item) { cases[item.id] = item; });
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
        delete co[id];
        render();
        if (panel.current() === id) panel.refresh();
      }
    });
  },
  onReload: load,
});
