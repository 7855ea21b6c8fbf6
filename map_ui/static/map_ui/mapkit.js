/* What makes every page's map readable (imported by each page's entry module): a legend
   of what the map shows, the names of the areas in view as labels (districts at city
   zoom, streets, communities, then cells), popups of clicked features, numbered
   clusters of cases that lie on one spot, and a hint where a layer is not drawn until
   zoomed in. Texts and addresses come from config.mapkit (rendered by the server in the
   user's language); no text is written here.

   Importing it draws the legend and the labels on the page's map (a page without a map
   or without config.mapkit: `active` is false and nothing is drawn).
   export {active, register(name, layer), popup(layer, id, latlng),
           countPopup(name, properties, latlng), caseStacks(layer, onCase),
           markerStacks(group, onCase), hidden(name, properties), caseColours(colours),
           refreshLegend()} */
import * as page from "./common.js";
import { useTileDatum } from "./datum.js";

var map = page.map;
var kit = page.config.mapkit;
export const active = Boolean(map && kit);
// A base map in GCJ-02 or BD-09: everything drawn and picked goes through its datum.
if (active) useTileDatum(window.L, map, kit.tile_datum);
var texts = active ? kit.texts : {};
var el = page.el;
var names = texts.layers;
var colours = null; // of case points, once the page draws cases (caseColours)
var registered = []; // [name, layer] in the order the page added them
// Layers whose per-community counts are not drawn: a point per community covered the
// whole city at low zoom. Below points_min_zoom the legend says to zoom in.
var DENSE = { components: true, entities: true };
var SWATCHES = {
  cells: { color: "#98a2b3" },
  components: { color: "#7f56d9", dot: true },
  entities: { color: "#0e9384", dot: true },
  population: { color: "#e04f16", dot: true },
  cases: { color: "#667085", dot: true },
  live: { color: "#1570ef", dot: true },
};
// One state of each group of ring colours (cases.js: STATE_RINGS).
var RING_STATES = {
  command: "reported", unit: "dispatched", signed: "signed",
  suspended: "suspended", check: "handled",
};

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, function (whole, key) {
    return values[key] === undefined ? whole : String(values[key]);
  });
}

// --- legend -------------------------------------------------------------------------

var legendNode = el("div", { class: "map-legend leaflet-bar", "data-legend": "" });
if (active) {
  var Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: function () {
      L.DomEvent.disableClickPropagation(legendNode);
      L.DomEvent.disableScrollPropagation(legendNode);
      return legendNode;
    },
  });
  new Legend().addTo(map);
}

function swatch(style) {
  var node = el("span", { class: style.dot ? "swatch dot" : "swatch line" });
  if (style.dot) {
    node.style.background = style.fill || style.color;
    node.style.borderColor = style.ring || style.color;
  } else {
    node.style.borderTopColor = style.color;
    if (style.dashArray) node.style.borderTopStyle = "dashed";
  }
  return node;
}

function row(style, text, key) {
  return el("li", { "data-legend-item": key || null }, style ? swatch(style) : null, text);
}

function shown(name) {
  return registered.some(function (entry) {
    return entry[0] === name && map.hasLayer(entry[1]);
  });
}

export function refreshLegend() {
  var list = el("ul", {});
  var hints = [];
  var cases = false;
  list.appendChild(el("li", { "data-legend-item": "labels" },
    el("span", { class: "swatch label", text: "Aa" }),
    [names.district, names.street, names.community, names.cells].join(" · ")));
  registered.forEach(function (entry) {
    var name = entry[0];
    if (!map.hasLayer(entry[1])) return;
    if (name === "areas") {
      ["district", "street", "community"].forEach(function (tier) {
        list.appendChild(row(page.areaStyles[tier], names[tier], "areas-" + tier));
      });
      return;
    }
    if (name === "markers" && shown("cases")) return; // the same symbols as the tiles
    if (name === "cases" || name === "markers") cases = true;
    var label = names[name === "markers" ? "cases" : name] || name;
    list.appendChild(row(SWATCHES[name] || SWATCHES.cases, label, name));
    if (DENSE[name] && map.getZoom() < kit.points_min_zoom) {
      hints.push(format(texts.zoom_in, { layer: names[name] || name }));
    }
  });
  var parts = [el("strong", { text: texts.legend }), list];
  if (cases && colours) {
    var fills = el("ul", {});
    Object.keys(texts.deadline).forEach(function (key) {
      fills.appendChild(row({ dot: true, color: colours.deadline[key] }, texts.deadline[key],
        "deadline-" + key));
    });
    var rings = el("ul", {});
    Object.keys(texts.rings).forEach(function (key) {
      rings.appendChild(row({ dot: true, fill: "#ffffff", ring: colours.rings[RING_STATES[key]] },
        texts.rings[key], "ring-" + key));
    });
    parts.push(el("div", { class: "legend-head", text: texts.fill }), fills,
      el("div", { class: "legend-head", text: texts.ring }), rings);
  }
  hints.forEach(function (hint) {
    parts.push(el("p", { class: "legend-hint", "data-hint": "zoom-in", text: hint }));
  });
  legendNode.replaceChildren.apply(legendNode, parts);
}

/* The colours of case points ({deadline, rings}, cases.js), for the legend. */
export function caseColours(given) {
  colours = given;
  if (active) refreshLegend();
}

export function register(name, layer) {
  registered.push([name, layer]);
  refreshLegend();
}

if (active) {
  map.on("layeradd layerremove zoomend", function () {
    // Coalesced: adding a layer fires for each of its parts.
    window.clearTimeout(refreshLegend.timer);
    refreshLegend.timer = window.setTimeout(refreshLegend, 50);
  });
  refreshLegend();
}

/* Whether a feature of `name` is left undrawn (its style returns []): the
   per-community counts of the dense layers. */
export function hidden(name, properties) {
  return DENSE[name] === true && properties.level === "community";
}

// --- labels -------------------------------------------------------------------------

var labelLayer = active ? L.layerGroup().addTo(map) : null;
var labelRequest = 0;

function viewBox() {
  var b = map.getBounds();
  var clamp = function (v, limit) { return Math.max(-limit, Math.min(limit, v)); };
  return [clamp(b.getWest(), 180), clamp(b.getSouth(), 85), clamp(b.getEast(), 180),
    clamp(b.getNorth(), 85)].map(function (v) { return v.toFixed(6); }).join(",");
}

function query(url) {
  return url + "?z=" + Math.round(map.getZoom()) + "&bbox=" + viewBox();
}

/* An overlay request refused for want of capacity (503, 429) or lost on the way is
   asked again while the view stays, after 1, 2, 4 and 8 s, then every 10 s, up to
   RETRIES times (about a minute): the map does not move to ask again, so without this
   the overlay would stay stale until the user pans. A server busy with the tiles of a
   new view refuses for a few seconds, not one. */
var RETRIES = 8;
function askAgain(error, tries, retry) {
  var passing = error.status === undefined || error.status === 503 || error.status === 429;
  if (passing && tries < RETRIES) {
    var wait = Math.min(1000 * Math.pow(2, tries), 10000);
    window.setTimeout(function () { retry(tries + 1); }, wait);
  }
}

function loadLabels(tries) {
  var mine = (labelRequest += 1);
  page.api(query(kit.labels_url)).then(function (answer) {
    if (mine !== labelRequest) return;
    labelLayer.clearLayers();
    answer.labels.forEach(function (label) {
      var text = el("span", { text: label.name });
      L.marker([label.point[1], label.point[0]], {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({
          className: "map-label map-label-" + label.tier,
          html: text,
          iconSize: null,
        }),
      }).addTo(labelLayer);
      var node = text.parentNode;
      if (node) {
        node.setAttribute("data-label", label.code);
        node.setAttribute("data-tier", label.tier);
      }
    });
  }).catch(function (error) {
    if (mine === labelRequest) askAgain(error, tries || 0, loadLabels);
  });
}

// --- popups -------------------------------------------------------------------------

function popupBody(layer, id) {
  return el("div", { class: "map-popup", "data-layer": layer, "data-id": String(id) });
}

export function popup(layer, id, latlng) {
  var node = popupBody(layer, id);
  node.appendChild(el("p", { class: "muted", text: texts.loading }));
  var shown = L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(node).openOn(map);
  page.api(kit.info_url + layer + "/" + id + ".json").then(function (info) {
    var facts = el("dl", { class: "facts" });
    info.rows.forEach(function (pair) {
      facts.appendChild(el("dt", { text: pair[0] }));
      facts.appendChild(el("dd", { text: pair[1] }));
    });
    node.replaceChildren(el("strong", { text: info.title }), facts);
    shown.update(); // sized to its new content
  }).catch(function (error) {
    node.replaceChildren(el("p", { class: "error" }, texts.load_error + " " + error.message));
    shown.update();
  });
}

export function countPopup(name, properties, latlng) {
  var node = popupBody(name, properties.id);
  node.appendChild(el("strong", { text: properties.code || "" }));
  node.appendChild(el("p", {
    text: format(texts.count, { layer: names[name] || name, count: properties.count }),
  }));
  L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(node).openOn(map);
}

// --- numbered clusters of cases on one spot -----------------------------------------

/* A numbered marker over `count` cases at `at`; its popup lists them (`ids`), each
   opening the case. */
function stackMarker(at, count, ids, onCase) {
  var marker = L.marker(at, {
    icon: L.divIcon({
      className: "case-stack",
      html: el("span", { "data-count": String(count), text: String(count) }),
      iconSize: [28, 28],
    }),
    title: format(texts.stack, { count: count }),
  });
  marker.on("click", function () {
    var node = el("div", { class: "map-popup", "data-layer": "stack" },
      el("strong", { text: format(texts.stack, { count: count }) }));
    var list = el("ul", { class: "stack-cases" });
    ids.forEach(function (id) {
      list.appendChild(el("li", {}, el("a", {
        href: "#",
        "data-case": String(id),
        onclick: function (event) {
          event.preventDefault();
          onCase(id);
        },
      }, "#" + id)));
    });
    node.appendChild(list);
    L.popup().setLatLng(at).setContent(node).openOn(map);
  });
  return marker;
}

/* The same for case markers drawn by the page (cases.js markerLayer): markers within
   STACK_PX screen pixels (one square of that size at the zoom) get a numbered marker
   over them; they stay underneath, each still an element of its own. */
var STACK_PX = 12;
export function markerStacks(group, onCase) {
  var layer = L.layerGroup().addTo(map);
  var timer = null;
  function draw() {
    timer = null;
    layer.clearLayers();
    if (!map.hasLayer(group)) return;
    var zoom = map.getZoom();
    var squares = {};
    group.eachLayer(function (marker) {
      if (marker.caseId === undefined) return;
      var p = map.project(marker.getLatLng(), zoom);
      var key = Math.floor(p.x / STACK_PX) + ":" + Math.floor(p.y / STACK_PX);
      (squares[key] = squares[key] || []).push(marker);
    });
    Object.keys(squares).forEach(function (key) {
      var markers = squares[key];
      if (markers.length < 2) return;
      var lat = 0;
      var lng = 0;
      markers.forEach(function (m) { lat += m.getLatLng().lat; lng += m.getLatLng().lng; });
      var ids = markers.map(function (m) { return m.caseId; }).sort(function (a, b) { return a - b; });
      stackMarker([lat / markers.length, lng / markers.length], markers.length, ids, onCase)
        .addTo(layer);
    });
  }
  function refresh() {
    if (timer === null) timer = window.setTimeout(draw, 100);
  }
  map.on("zoomend", refresh);
  map.on("layeradd layerremove", function (event) {
    if (event.layer === group) refresh();
  });
  return { layer: layer, refresh: refresh };
}

export function caseStacks(casesLayer, onCase) {
  var group = L.layerGroup().addTo(map);
  var requestNo = 0;
  function load(tries) {
    var mine = (requestNo += 1);
    if (!map.hasLayer(casesLayer) || map.getZoom() < kit.stack_min_zoom) {
      group.clearLayers();
      return;
    }
    page.api(query(kit.stacks_url)).then(function (answer) {
      if (mine !== requestNo) return;
      group.clearLayers();
      answer.stacks.forEach(function (stack) {
        var at = [stack.point[1], stack.point[0]];
        stackMarker(at, stack.count, stack.ids, onCase).addTo(group);
      });
    }).catch(function (error) {
      // Meanwhile the tiles still show the points.
      if (mine === requestNo) askAgain(error, tries || 0, load);
    });
  }
  map.on("moveend", function () { load(); });
  map.on("layeradd layerremove", function (event) {
    if (event.layer === casesLayer) load();
  });
  load();
  return { layer: group, refresh: load };
}

var labelTimer = null;
if (active) {
  map.on("moveend", function () {
    window.clearTimeout(labelTimer);
    labelTimer = window.setTimeout(function () { loadLabels(); }, 150);
  });
  // The page's own script may still fit the map to the user's area: wait for it.
  map.whenReady(function () { window.setTimeout(function () { loadLabels(); }, 0); });
}
