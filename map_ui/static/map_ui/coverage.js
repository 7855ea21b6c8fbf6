/* Patrol coverage (巡查覆盖) of one day as a layer of the command centre's and the street
   board's map: every cell of the user's area that inspectors on duty walked through
   that day, as a dot at the cell's point coloured by the minutes spent in it (its km
   and inspectors in the tooltip), with a legend that also says how many of the area's
   cells were visited. The cells come from GET /api/patrol/coverage/?visited=true, page
   after page (docs/patrol.md); cells not visited are not drawn.

   import { coverageLayer } from "./coverage.js";
   var layer = coverageLayer(map, {url, labels});  // an L.LayerGroup
   layer.setDay("2026-12-03");                    // default: today
   The layer loads when switched on and again every few minutes while it is on. */

import * as page from "./common.js";

// Minutes in the cell that day: (at least, colour), most first.
var CLASSES = [
  [60, "#1a9850"],
  [30, "#91cf60"],
  [10, "#fee08b"],
  [0, "#fc8d59"],
];
var PAGE_SIZE = 5000;
var REFRESH_MS = 5 * 60 * 1000;

function colour(minutes) {
  for (var i = 0; i < CLASSES.length; i += 1) {
    if (minutes >= CLASSES[i][0]) return CLASSES[i][1];
  }
  return CLASSES[CLASSES.length - 1][1];
}

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, function (whole, key) {
    return values[key] === undefined ? whole : String(values[key]);
  });
}

export function coverageLayer(map, options) {
  var layer = L.layerGroup();
  var labels = options.labels || {};
  var day = null;
  var timer = null;
  var renderer = L.svg();
  var legend = L.control({ position: "bottomleft" });
  var box = page.el("div", { class: "map-legend coverage-legend" });
  legend.onAdd = function () { return box; };

  function drawLegend(answer) {
    var classes = page.el("div", { class: "legend" });
    var upper = null;
    CLASSES.forEach(function (entry) {
      var range = upper === null ? "≥ " + entry[0] : entry[0] + "–" + upper;
      var item = page.el("span", { "data-minutes": String(entry[0]) }, range + " " + labels.minutes);
      item.style.setProperty("--swatch", entry[1]);
      classes.appendChild(item);
      upper = entry[0];
    });
    box.replaceChildren(
      page.el("strong", {}, labels.title + " " + (answer ? answer.day : "")),
      classes,
      page.el("div", { class: "coverage-summary" }, answer
        ? format(labels.summary, { visited: answer.visited, cells: answer.cells })
        : labels.loading),
      page.el("div", { class: "legend-head" }, labels.not_visited));
  }

  function draw(answer, rows) {
    layer.clearLayers();
    rows.forEach(function (row) {
      if (row.lat === null || row.lon === null) return;
      L.circleMarker([row.lat, row.lon], {
        radius: 6, color: "#ffffff", weight: 1, fillColor: colour(row.minutes),
        fillOpacity: 0.9, className: "coverage-cell", renderer: renderer,
      }).bindTooltip(row.name + " · " + format(labels.cell, {
        minutes: row.minutes, km: row.km, inspectors: row.inspectors,
      })).addTo(layer);
    });
    drawLegend(answer);
    var node = map.getContainer();
    node.setAttribute("data-coverage-day", answer.day);
    node.setAttribute("data-coverage-visited", String(rows.length));
  }

  function fetchAll(url, rows) {
    return page.api(url).then(function (answer) {
      var all = rows.concat(answer.results || []);
      return answer.next ? fetchAll(answer.next, all).then(function (done) {
        return { answer: answer, rows: done.rows };
      }) : { answer: answer, rows: all };
    });
  }

  function refresh() {
    if (!map.hasLayer(layer)) return;
    var url = options.url + "?visited=true&page_size=" + PAGE_SIZE + (day ? "&day=" + day : "");
    fetchAll(url, []).then(function (done) { draw(done.answer, done.rows); }, function (error) {
      box.replaceChildren(page.el("strong", {}, labels.title),
        page.el("div", {}, labels.load_error + " " + error.message));
    });
  }

  layer.setDay = function (value) {
    day = value || null;
    refresh();
  };
  layer.on("add", function () {
    drawLegend(null);
    legend.addTo(map);
    refresh();
    timer = window.setInterval(refresh, REFRESH_MS);
  });
  layer.on("remove", function () {
    window.clearInterval(timer);
    timer = null;
    legend.remove();
  });
  return layer;
}
