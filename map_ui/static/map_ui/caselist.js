/* The queues of a work page (the street board, the handler's workbench): the tabs
   ([data-queue], each with its [data-queue-count]), and the cases of the chosen queue in
   `list`, by deadline, one row each; a click or Enter on a row selects its case. Which
   queues a case is in is the page's own rule (`queuesOf`). Words come from the page
   config (config.labels); no text is written here.

   import { create } from "./caselist.js";
   var queues = create(listNode, {
     queues: config.queues,        // [{key, ...}], the first one shown first
     queuesOf(item) {},            // → the keys of the queues `item` is in
     selected() {},                // → the id of the case selected, or null
     onSelect(id) {},
   });
   queues.render(cases);           // cases: id → the case as the list API gives it */
import * as page from "./common.js";
import { badge, stateLabel, when } from "./casepanel.js";

var el = page.el;
var labels = page.config.labels || {};

// Cases with a deadline first, the nearest first; then the newest.
function byDeadline(a, b) {
  if (a.due_at && b.due_at) return a.due_at < b.due_at ? -1 : 1;
  if (a.due_at || b.due_at) return a.due_at ? -1 : 1;
  return b.id - a.id;
}

export function create(list, options) {
  var current = options.queues[0].key;
  var cases = {};

  function row(item) {
    return el("li", {
      class: "case-row" + (item.id === options.selected() ? " selected" : ""),
      "data-case": String(item.id),
      "data-state": item.state,
      tabindex: "0",
      onclick: function () { options.onSelect(item.id); },
    },
      el("strong", { text: "#" + item.id }), " ",
      el("span", { text: item.category.name }), " ",
      el("span", { class: "state", text: stateLabel(item.state) }), " ",
      badge(item),
      item.urgent ? el("span", { class: "badge urgent", text: labels.urgent }) : null,
      el("div", { class: "muted", text: item.community.name + " · " + labels.due + " " + when(item.due_at) }));
  }

  function render(given) {
    if (given) cases = given;
    var counts = {};
    options.queues.forEach(function (queue) { counts[queue.key] = 0; });
    var shown = [];
    Object.keys(cases).forEach(function (id) {
      options.queuesOf(cases[id]).forEach(function (key) {
        counts[key] += 1;
        if (key === current) shown.push(cases[id]);
      });
    });
    Object.keys(counts).forEach(function (key) {
      document.querySelector('[data-queue-count="' + key + '"]').textContent = String(counts[key]);
    });
    list.replaceChildren();
    if (!shown.length) list.appendChild(el("li", { class: "muted", text: labels.queue_empty }));
    shown.sort(byDeadline).forEach(function (item) { list.appendChild(row(item)); });
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
      options.onSelect(parseInt(event.target.getAttribute("data-case"), 10));
    }
  });

  return { render: render };
}
