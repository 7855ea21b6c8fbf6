/* Decision analysis (决策分析): the filters, the trend chart (Apache ECharts, served from
   the project's static files), the hot-spot layer on the map, and the lists of top
   categories, recurring spots and cases at risk, each with its CSV/Excel export. Every
   view is GET /api/analysis/{view}/ (docs/analysis.md); texts come from the page
   config. */

import * as page from "../map_ui/common.js";
import "../map_ui/mapkit.js";
import * as echarts from "../vendor/echarts/echarts.esm.min.js";

var config = page.config;
var el = page.el;
var labels = config.labels;
var map = page.map;
var form = document.querySelector("form.analysis-filters");
var status = document.querySelector(".status");
var step = document.querySelector("select[name=step]");
var times = document.querySelector("input[name=times]");
var days = document.querySelector("input[name=days]");
var hours = document.querySelector("input[name=hours]");
var chartBox = document.getElementById("trend-chart");
var chart = echarts.init(chartBox, null, { renderer: "canvas" });
// The hot spots are SVG circles (one per cell), so each is an element of the page.
var hotspots = L.layerGroup().addTo(map);
var svg = L.svg();
var COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
var CLASS_COLOURS = ["#2e6da4", "#e07b39", "#5a9e4b", "#8e6bb5", "#c9a227", "#4aa3a1", "#b5566e"];

function fill(text, values) {
  return text.replace(/%\((\w+)\)s/g, function (whole, key) {
    return values[key] === undefined ? whole : String(values[key]);
  });
}

function day(iso, shift) {
  var date = new Date(iso + "T00:00:00Z");
  date.setUTCDate(date.getUTCDate() + shift);
  return date.toISOString().slice(0, 10);
}

function today() {
  var now = new Date();
  var local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function lastDays(n) {
  var last = today();
  form.elements.last.value = last;
  form.elements.start.value = day(last, 1 - n);
}

// The query of a view: the period and class of the form, and the view's own inputs.
function query(view, format) {
  var params = new URLSearchParams();
  params.set("start", form.elements.start.value);
  params.set("end", day(form.elements.last.value, 1));
  if (form.elements.major.value) params.set("major", form.elements.major.value);
  if (form.elements.category.value) params.set("category", form.elements.category.value);
  if (view === "trends") params.set("step", step.value);
  if (view === "recurring") {
    params.set("times", times.value);
    params.set("days", days.value);
  }
  if (view === "at-risk") params.set("hours", hours.value);
  if (format) params.set("format", format);
  return config.api[view] + "?" + params.toString();
}

function exports(view) {
  document.querySelectorAll("a.export[data-view='" + view + "']").forEach(function (link) {
    link.href = query(view, link.getAttribute("data-format"));
  });
}

function showOnMap(lat, lon, text) {
  map.flyTo([lat, lon], Math.max(map.getZoom(), 15));
  L.popup().setLatLng([lat, lon]).setContent(el("span", {}, text)).openOn(map);
}

function showButton(lat, lon, text) {
  return el("button", { type: "button", class: "show", onclick: function () {
    showOnMap(lat, lon, text);
  } }, labels.show);
}

// --- the views --------------------------------------------------------------------

function drawHotspots(data) {
  hotspots.clearLayers();
  var most = data.rows.reduce(function (top, row) { return Math.max(top, row.cases); }, 1);
  data.rows.forEach(function (row) {
    var share = row.cases / most;
    var colour = COLOURS[Math.min(COLOURS.length - 1, Math.floor(share * COLOURS.length))];
    var text = fill(labels.hotspot, { name: row.name || row.code, cases: row.cases });
    L.circleMarker([row.lat, row.lon], {
      renderer: svg,
      radius: 3 + Math.sqrt(share) * 15,
      color: "#7f1d1d",
      weight: 1,
      fillColor: colour,
      fillOpacity: 0.75,
      className: "hotspot",
    }).bindTooltip(text).addTo(hotspots);
  });
  var summary = fill(labels.cells, { cells: data.cells, cases: data.cases });
  if (data.cells > data.rows.length) summary += "; " + fill(labels.cells_cut, { limit: data.limit });
  document.querySelector("[data-view=hotspots] .summary").textContent = summary;
  chartBox.closest(".panel").setAttribute("data-hotspots", String(data.rows.length));
}

function drawTrends(data) {
  var buckets = data.rows.map(function (row) { return row.bucket; });
  var series = data.classes.map(function (major, index) {
    return {
      name: major.name,
      type: "bar",
      stack: "received",
      itemStyle: { color: CLASS_COLOURS[index % CLASS_COLOURS.length] },
      data: data.rows.map(function (row) { return row["class_" + major.id]; }),
    };
  });
  ["close_rate", "on_time_rate"].forEach(function (key, index) {
    series.push({
      name: labels[key],
      type: "line",
      yAxisIndex: 1,
      symbolSize: 4,
      itemStyle: { color: index ? "#027a48" : "#1f2933" },
      data: data.rows.map(function (row) {
        return row[key] === null ? null : Math.round(row[key] * 1000) / 10;
      }),
    });
  });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", top: 0 },
    grid: { left: 44, right: 44, top: 48, bottom: 28 },
    xAxis: { type: "category", data: buckets },
    yAxis: [
      { type: "value", name: labels.cases, minInterval: 1 },
      { type: "value", name: "%", min: 0, max: 100 },
    ],
    series: series,
  }, true);
  chartBox.setAttribute("data-points", String(buckets.length));
}

function drawCategories(data) {
  var table = document.querySelector(".analysis-table");
  var shown = ["area", "rank", "category", "cases", "share"];
  var columns = data.columns.filter(function (column) { return shown.indexOf(column.key) >= 0; });
  table.tHead.replaceChildren(el("tr", {}, ...columns.map(function (column) {
    return el("th", {}, column.header);
  })));
  table.tBodies[0].replaceChildren(...data.rows.map(function (row) {
    return el("tr", {}, ...columns.map(function (column) {
      var value = row[column.key];
      if (column.kind === "rate") value = value === null ? "–" : (value * 100).toFixed(1) + "%";
      return el("td", { "data-key": column.key }, value);
    }));
  }));
  if (!data.rows.length) table.tBodies[0].replaceChildren(el("tr", {}, el("td", {}, labels.none)));
}

function list(selector, rows, line) {
  var box = document.querySelector(selector);
  box.replaceChildren(...rows.map(line));
  if (!rows.length) box.replaceChildren(el("li", { class: "muted" }, labels.none));
}

function drawRecurring(data) {
  list("ol.spots", data.rows, function (row) {
    var rule = fill(labels.recurring, { days: data.days, times: row.most_in_days });
    var text = (row.cell || row.cell_code) + " · " + row.category + " · " + rule;
    return el("li", { class: "spot" }, text, showButton(row.lat, row.lon, text));
  });
}

function drawAtRisk(data) {
  list("ol.at-risk", data.rows, function (row) {
    var left = fill(labels.hours_left, { hours: row.hours_left });
    var text = "#" + row.id + " " + row.category + " · " + row.street + " · " + row.due_at +
      " (" + left + ")";
    return el("li", { class: "case" + (row.warned ? " warned" : "") }, text,
      showButton(row.lat, row.lon, text));
  });
}

var DRAW = {
  hotspots: drawHotspots,
  trends: drawTrends,
  categories: drawCategories,
  recurring: drawRecurring,
  "at-risk": drawAtRisk,
};

// The latest request of each view: an answer to an earlier one (the inputs changed
// while it ran) is not drawn.
var latest = {};

function load(views) {
  status.textContent = labels.loading;
  return Promise.all(views.map(function (view) {
    exports(view);
    var url = query(view);
    latest[view] = url;
    return page.api(url).then(function (data) {
      if (latest[view] === url) DRAW[view](data);
    });
  }))
    .then(function () { status.textContent = ""; })
    .catch(function (error) { status.textContent = labels.load_error + " " + error.message; });
}

function loadAll() {
  return load(Object.keys(DRAW));
}

// --- the filters ------------------------------------------------------------------

function categories() {
  var select = form.elements.category;
  var major = config.classes.find(function (c) { return String(c.id) === form.elements.major.value; });
  select.replaceChildren(select.options[0]);
  (major ? major.categories : []).forEach(function (c) {
    select.appendChild(el("option", { value: c.id }, c.name));
  });
}

config.classes.forEach(function (major) {
  form.elements.major.appendChild(el("option", { value: major.id }, major.name));
});
form.elements.major.addEventListener("change", categories);
form.addEventListener("submit", function (event) {
  event.preventDefault();
  loadAll();
});
form.querySelectorAll("button[data-days]").forEach(function (button) {
  button.addEventListener("click", function () {
    lastDays(Number(button.getAttribute("data-days")));
    loadAll();
  });
});
step.addEventListener("change", function () { load(["trends"]); });
[times, days].forEach(function (input) {
  input.addEventListener("change", function () { load(["recurring"]); });
});
hours.addEventListener("change", function () { load(["at-risk"]); });
window.addEventListener("resize", function () { chart.resize(); });

lastDays(config.default_days);
loadAll();
