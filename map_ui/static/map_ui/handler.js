/* The handler's workbench (案件办理): the cases assigned to the user's unit in queues
   (to sign, in progress, about to be overdue, overdue, returned for rework) and the case
   panel (casepanel.js) to act on the one selected. Changes arrive over the live socket. */

import * as page from "./common.js";
import * as P from "./casepanel.js";
import { connect } from "./live.js";
import "./mapkit.js";
var config = page.config;
var labels = config.labels;
var el = page.el;
var list = document.querySelector(".queue");
var notice = document.querySelector(".notice");
var cases = {}; // id → the case as the list API gives it
var current = config.queues[0].key;
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

function byDeadline(a, b) {
  if (a.due_at && b.due_at) return a.due_at < b.due_at ? -1 : 1;
  if (a.due_at || b.due_at) return a.due_at ? -1 : 1;
  return b.id - a.id;
}

function render() {
  var counts = {};
  config.queues.forEach(function (queue) { counts[queue.key] = 0; });
  var shown = [];
  Object.keys(cases).forEach(function (id) {
    queuesOf(cases[id]).forEach(function (key) {
      counts[key] += 1;
      if (key === current) shown.push(cases[id]);
    });
  });
  Object.keys(counts).forEach(function (key) {
    document.querySelector('[data-queue-count="' + key + '"]').textContent = String(counts[key]);
  });
  list.replaceChildren();
  if (!shown.length) list.appendChild(el("li", { class: "muted", text: labels.queue_empty }));
  shown.sort(byDeadline).forEach(function (item) {
    list.appendChild(el("li", {
      class: "case-row" + (item.id === panel.current() ? " selected" : ""),
      "data-case": String(item.id),
      "data-state": item.state,
      tabindex: "0",
      onclick: function () { select(item.id); },
    },
      el("strong", { text: "#" + item.id }), " ",
      el("span", { text: item.category.name }), " ",
      el("span", { class: "state", text: P.stateLabel(item.state) }), " ",
      P.badge(item),
      item.urgent ? el("span", { class: "badge urgent", text: labels.urgent }) : null,
      el("div", { class: "muted", text: item.community.name + " · " + labels.due + " " + P.when(item.due_at) })));
  });
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

document.querySelectorAll("[data-queue]").forEach(function (tab) {
  tab.addEventListener("click", function () {
    current = tab.getAttribute("data-queue");
    document.querySelectorAll("[data-queue]").forEach(function (other) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
    });
    render();
  });
});
list.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.getAttribute("data-case")) {
    select(parseInt(event.target.getAttribute("data-case"), 10));
  }
});

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
