/* 案件查询: the filters of GET /api/cases/ as a form, the results paged, a case's
   details with its history and photos, the exports of the same filters and the user's
   saved searches (/api/saved-filters/). The API scopes every answer; words come from
   the page config (config.labels). */

import * as page from "./common.js";
import { create as casePanel } from "./casepanel.js";
import "./mapkit.js";
var config = page.config;
var el = page.el;
var labels = config.labels;
var form = document.querySelector("form.search-form");
var status = document.querySelector(".status");
var body = document.querySelector("table.results tbody");
var pager = document.querySelector("nav.pager");
var detail = document.querySelector(".case-detail");
var savedList = document.querySelector(".saved-list");
var saveButton = document.querySelector("button.save-filter");
var nameInput = document.querySelector("input.filter-name");
var offset = 0;
var shownCount = 0;
var requests = 0;

function fill(template, values) {
  return String(template).replace(/%\((\w+)\)s/g, function (all, key) {
    return key in values ? values[key] : all;
  });
}

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(document.documentElement.lang || undefined, {
    hour12: false,
  });
}

// The form as a query string of the case list: empty fields are no filter.
function query() {
  var params = new URLSearchParams();
  new FormData(form).forEach(function (value, key) {
    if (String(value).trim() !== "") params.append(key, String(value).trim());
  });
  return params;
}

function setForm(queryString) {
  var params = new URLSearchParams(queryString);
  Array.prototype.forEach.call(form.elements, function (field) {
    if (!field.name) return;
    if (field.type === "checkbox") field.checked = params.getAll(field.name).indexOf(field.value) >= 0;
    else field.value = params.get(field.name) || "";
  });
}

function updateExports(params) {
  document.querySelectorAll("a.export").forEach(function (link) {
    var text = params.toString();
    link.href = config.api.export + link.dataset.format + (text ? "?" + text : "");
  });
}

function search(from) {
  var params = query();
  updateExports(params);
  offset = from || 0;
  var request = (requests += 1);
  var url = new URLSearchParams(params);
  url.set("limit", config.page_size);
  url.set("offset", offset);
  status.textContent = labels.loading;
  status.classList.remove("error");
  return page.api(config.api.cases + "?" + url.toString()).then(function (answer) {
    if (request !== requests) return;
    draw(answer);
  }).catch(function (error) {
    if (request !== requests) return;
    status.textContent = error.message;
    status.classList.add("error");
    body.replaceChildren();
    pager.replaceChildren();
  });
}

function draw(answer) {
  shownCount = answer.count;
  status.textContent = answer.count ? fill(labels.results, { count: answer.count }) : labels.no_results;
  body.replaceChildren.apply(body, answer.results.map(row));
  var pages = Math.max(1, Math.ceil(answer.count / config.page_size));
  var current = Math.floor(offset / config.page_size) + 1;
  var previous = el("button", { type: "button", disabled: current <= 1 }, labels.previous);
  var next = el("button", { type: "button", disabled: current >= pages }, labels.next);
  previous.addEventListener("click", function () { search(offset - config.page_size); });
  next.addEventListener("click", function () { search(offset + config.page_size); });
  pager.replaceChildren(previous, el("span", {}, fill(labels.page, { page: current, pages: pages })), next);
}

function areaName(item) {
  var parts = [item.district, item.street].filter(Boolean).map(function (a) { return a.name; });
  return parts.join(" ");
}

function row(item) {
  var tr = el(
    "tr",
    { tabindex: "0", "data-case": item.id, class: item.overdue ? "overdue" : null },
    el("td", {}, "#" + item.id),
    el("td", {}, item.category.name),
    el("td", {}, item.state_label),
    el("td", {}, item.address_text),
    el("td", {}, areaName(item)),
    el("td", {}, item.unit ? item.unit.name : ""),
    el("td", {}, when(item.created_at)),
    el("td", {}, when(item.due_at))
  );
  tr.addEventListener("click", function () { show(item.id); });
  tr.addEventListener("keydown", function (event) {
    if (event.key === "Enter") show(item.id);
  });
  return tr;
}

// ---- one case: the shared case panel (casepanel.js): details, history, photos and
// exactly the actions the server allows this user now.

var notice = el("p", { class: "notice", role: "status" });
var panelNode = el("div", { class: "case-panel" });
var back = el("button", { type: "button", class: "back" }, labels.back);
back.addEventListener("click", function () { detail.hidden = true; });
detail.replaceChildren(back, notice, panelNode);
var panel = casePanel(panelNode, {
  workDayHours: config.work_day_hours,
  onDone: function () {
    notice.textContent = labels.panel.done;
    search(offset);
  },
  onError: function (message) { notice.textContent = message; },
});

function show(id) {
  detail.hidden = false;
  notice.textContent = "";
  return panel.show(id).then(function () {
    detail.scrollIntoView({ block: "nearest" });
  });
}

// ---- saved searches ---------------------------------------------------------------

function loadSaved() {
  return page.api(config.api.saved).then(function (list) {
    if (!list.length) {
      savedList.replaceChildren(el("li", { class: "muted" }, labels.saved_none));
      return;
    }
    savedList.replaceChildren.apply(savedList, list.map(savedItem));
  }).catch(function (error) {
    savedList.replaceChildren(el("li", { class: "error" }, error.message));
  });
}

function savedItem(saved) {
  var apply = el("button", { type: "button", class: "apply-filter" }, saved.name);
  apply.title = labels.apply;
  apply.addEventListener("click", function () {
    setForm(saved.query);
    search(0);
  });
  var remove = el("button", { type: "button", class: "delete-filter", "aria-label": labels.delete + " " + saved.name }, "×");
  remove.addEventListener("click", function () {
    if (!window.confirm(fill(labels.delete_confirm, { name: saved.name }))) return;
    page.api(config.api.saved + saved.id + "/", { method: "DELETE" }).then(loadSaved, function (error) {
      status.textContent = error.message;
    });
  });
  return el("li", { "data-filter": saved.id }, apply, remove);
}

saveButton.addEventListener("click", function () {
  var name = nameInput.value.trim();
  if (!name) {
    nameInput.focus();
    return;
  }
  page.api(config.api.saved, {
    method: "POST",
    json: { name: name, query: query().toString() },
  }).then(function () {
    nameInput.value = "";
    status.textContent = labels.saved;
    return loadSaved();
  }).catch(function (error) {
    status.textContent = error.message;
    status.classList.add("error");
  });
});

form.addEventListener("submit", function (event) {
  event.preventDefault();
  search(0);
});
form.addEventListener("reset", function () {
  window.setTimeout(function () { search(0); }, 0);
});
// The exports are of the list shown (the filters of the last search): beyond the
// server's cap, say so here rather than download an error.
document.querySelectorAll("a.export").forEach(function (link) {
  link.addEventListener("click", function (event) {
    if (shownCount > config.export_max_rows) {
      event.preventDefault();
      status.textContent = fill(labels.too_many, { count: shownCount, limit: config.export_max_rows });
      status.classList.add("error");
    }
  });
});

loadSaved();
search(0);
