/* Evaluation: 按期结案率 per street for a period, as a table and a choropleth, with the
   exports of GET /api/evaluation/street/ (docs/evaluation.md). The street outlines are
   a folium GeoJSON layer of the page (its variable is config.outlines). */

import * as page from "./common.js";
import "./mapkit.js";
var config = page.config;
var el = page.el;
var labels = config.labels;
var outlines = window[config.outlines];
var form = document.querySelector("form.period");
var status = document.querySelector(".status");
var table = document.querySelector(".evaluation-table");
var COLUMNS = ["due", "closed", "closed_on_time", "overdue", "close_rate", "on_time_rate"];
// Classes of the choropleth, best first: (lowest rate in the class, colour).
var CLASSES = [
  [0.95, "#1a9850"],
  [0.9, "#91cf60"],
  [0.8, "#d9ef8b"],
  [0.6, "#fee08b"],
  [0, "#d73027"],
];
var NO_RATE = "#d0d5dd";

function day(iso, shift) {
  var date = new Date(iso + "T00:00:00Z");
  date.setUTCDate(date.getUTCDate() + shift);
  return date.toISOString().slice(0, 10);
}

function rate(value) {
  return value === null || value === undefined ? "–" : (value * 100).toFixed(2) + "%";
}

function colour(value) {
  if (value === null || value === undefined) return NO_RATE;
  for (var i = 0; i < CLASSES.length; i += 1) {
    if (value >= CLASSES[i][0]) return CLASSES[i][1];
  }
  return CLASSES[CLASSES.length - 1][1];
}

function period() {
  return { start: form.elements.start.value, end: day(form.elements.last.value, 1) };
}

function query(format) {
  var p = period();
  var params = "start=" + p.start + "&end=" + p.end;
  return config.api.evaluation + "?" + params + (format ? "&format=" + format : "");
}

function header() {
  var row = document.createElement("tr");
  row.appendChild(el("th", {}, labels.street));
  COLUMNS.forEach(function (key) { row.appendChild(el("th", {}, labels[key])); });
  table.tHead.replaceChildren(row);
}

function line(data, tag) {
  var row = document.createElement("tr");
  row.setAttribute("data-code", data.code || "");
  row.appendChild(el(tag, {}, data.name));
  COLUMNS.forEach(function (key) {
    var value = data[key];
    var shown = key.endsWith("_rate") ? rate(value) : String(value);
    row.appendChild(el("td", { "data-key": key }, shown));
  });
  return row;
}

function paint(rows) {
  var byCode = {};
  rows.forEach(function (row) { byCode[row.code] = row; });
  outlines.eachLayer(function (layer) {
    var properties = layer.feature.properties;
    var row = byCode[properties.code];
    var value = row ? row.on_time_rate : null;
    layer.setStyle({ fillColor: colour(value), fillOpacity: 0.7, color: "#44546a", weight: 1 });
    layer.unbindTooltip();
    layer.bindTooltip(properties.name + " · " + labels.on_time_rate + " " +
      (value === null || value === undefined ? labels.no_rate : rate(value)));
    if (layer.getElement && layer.getElement()) {
      layer.getElement().setAttribute("data-code", properties.code);
      layer.getElement().setAttribute("data-rate", value === null || value === undefined ? "" : String(value));
    }
  });
}

function legend() {
  var box = document.querySelector(".legend");
  box.replaceChildren(el("strong", {}, labels.on_time_rate));
  var upper = null;
  CLASSES.forEach(function (entry) {
    var range = (entry[0] * 100) + "%" + (upper === null ? " +" : " – " + (upper * 100) + "%");
    var item = el("span", {}, range);
    item.style.setProperty("--swatch", entry[1]);
    box.appendChild(item);
    upper = entry[0];
  });
  var none = el("span", {}, labels.no_rate);
  none.style.setProperty("--swatch", NO_RATE);
  box.appendChild(none);
}

/* The per-cell table: only the cells with cases, a page at a time (the API's next and
   previous links); the period is the street table's. */
var cells = document.querySelector(".cell-table");
var pager = document.querySelector(".pager");
var pageStatus = pager.querySelector(".page-status");
var links = { previous: null, next: null };

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, function (whole, key) {
    return values[key] === undefined ? whole : String(values[key]);
  });
}

function loadCells(url) {
  pager.querySelector(".previous").disabled = true;
  pager.querySelector(".next").disabled = true;
  return page.api(url).then(function (data) {
    var head = document.createElement("tr");
    head.appendChild(el("th", {}, labels.cell));
    COLUMNS.forEach(function (key) { head.appendChild(el("th", {}, labels[key])); });
    cells.tHead.replaceChildren(head);
    cells.tBodies[0].replaceChildren.apply(cells.tBodies[0], data.rows.map(function (row) {
      return line(row, "td");
    }));
    var pages = Math.max(1, Math.ceil(data.count / data.page_size));
    pageStatus.textContent = data.count
      ? format(labels.page_status, { page: data.page, pages: pages, count: data.count })
      : labels.no_cells;
    links = { previous: data.previous, next: data.next };
    pager.querySelector(".previous").disabled = !data.previous;
    pager.querySelector(".next").disabled = !data.next;
    pager.setAttribute("data-page", String(data.page));
  }).catch(function (error) {
    pageStatus.textContent = labels.load_error + " " + error.message;
  });
}

pager.querySelector(".previous").addEventListener("click", function () {
  if (links.previous) loadCells(links.previous);
});
pager.querySelector(".next").addEventListener("click", function () {
  if (links.next) loadCells(links.next);
});

function load() {
  var p = period();
  loadCells(config.api.cells + "?start=" + p.start + "&end=" + p.end + "&page_size=" +
    config.cell_page_size);
  document.querySelectorAll("a.export").forEach(function (link) {
    link.href = query(link.getAttribute("data-format"));
  });
  status.textContent = labels.loading;
  return page.api(query())
    .then(function (data) {
      status.textContent = "";
      header();
      table.tBodies[0].replaceChildren.apply(table.tBodies[0], data.rows.map(function (row) {
        return line(row, "td");
      }));
      table.tFoot.replaceChildren(line(Object.assign({}, data.total, { name: labels.total }), "th"));
      paint(data.rows);
    })
    .catch(function (error) {
      status.textContent = labels.load_error + " " + error.message;
    });
}

form.elements.month.addEventListener("change", function () {
  var month = form.elements.month.value; // YYYY-MM
  if (!month) return;
  form.elements.start.value = month + "-01";
  var next = new Date(month + "-01T00:00:00Z");
  next.setUTCMonth(next.getUTCMonth() + 1);
  form.elements.last.value = day(next.toISOString().slice(0, 10), -1);
  load();
});
form.addEventListener("submit", function (event) {
  event.preventDefault();
  load();
});

form.elements.month.value = config.period.start.slice(0, 7);
form.elements.start.value = config.period.start;
form.elements.last.value = day(config.period.end, -1);
legend();
load();
