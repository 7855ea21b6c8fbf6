/* What the command map and the street board share beyond common.js: case markers on the
   map, the vector-tile layers with their switcher and the live counters; the words of a
   case (its state, deadline badge, URL) are the case panel's, exported here too. Labels
   come from the page config (rendered in the user's language by the server); no text is
   written here. */
import * as page from "./common.js";
import * as mapkit from "./mapkit.js";
import { badge, caseUrl, deadline, isFinal, stateLabel, when } from "./casepanel.js";

export { badge, caseUrl, deadline, isFinal, stateLabel, when };

var kit = mapkit.active ? mapkit : null; // the map's legend, labels, popups and clusters
var config = page.config;
var labels = config.labels || {};
var api = page.api;

// Colours of a case's deadline status, the same on markers, tiles and badges.
var DEADLINE_COLOURS = {
  on_time: "#12b76a",
  warning: "#f79009",
  overdue: "#d92d20",
  none: "#667085",
};
// The ring round a case point says where it is in the loop (the fill: its deadline):
// waiting for the command side, for its unit, being handled, waiting for verification.
var STATE_RINGS = {
  reported: "#1570ef", filed: "#1570ef", returned: "#1570ef",
  dispatched: "#7a5af8", rework: "#7a5af8",
  signed: "#1f2933", suspended: "#98a2b3",
  handled: "#0e9384", verified: "#0e9384",
};

/* Case markers drawn as SVG (not on the map's canvas), so that each is an element
   the page and its tests can find: .case-marker[data-case="12"][data-state="signed"]. */
export function markerLayer(map, onClick) {
  var renderer = L.svg({ padding: 0.5 });
  var group = L.featureGroup().addTo(map);
  var byId = {};
  // Markers on one spot get a numbered cluster over them (mapkit.js).
  var stacks = kit ? kit.markerStacks(group, onClick) : null;
  if (kit) kit.register("markers", group);

  function point(item) {
    if (item.point) return [item.point[1], item.point[0]]; // API: [lon, lat]
    return [item.lat, item.lon]; // live event
  }

  function style(item) {
    var colour = DEADLINE_COLOURS[deadline(item)];
    return {
      renderer: renderer,
      radius: item.urgent ? 9 : 7,
      color: STATE_RINGS[item.state] || "#ffffff",
      weight: 3,
      fillColor: colour,
      fillOpacity: 0.9,
      className: "case-marker",
    };
  }

  function tag(marker, item) {
    var node = marker.getElement();
    if (!node) return;
    node.setAttribute("data-case", String(item.id));
    node.setAttribute("data-state", item.state);
    node.setAttribute("data-deadline", deadline(item));
  }

  return {
    layer: group,
    upsert: function (item) {
      var marker = byId[item.id];
      if (marker) {
        marker.setLatLng(point(item));
        marker.setStyle(style(item));
      } else {
        marker = L.circleMarker(point(item), style(item));
        marker.on("click", function () { onClick(item.id); });
        byId[item.id] = marker;
        group.addLayer(marker);
      }
      marker.unbindTooltip();
      marker.bindTooltip("#" + item.id + " " + stateLabel(item.state));
      tag(marker, item);
      marker.caseId = item.id;
      if (stacks) stacks.refresh();
      return marker;
    },
    remove: function (id) {
      if (byId[id]) {
        group.removeLayer(byId[id]);
        delete byId[id];
        if (stacks) stacks.refresh();
      }
    },
    clear: function () {
      group.clearLayers();
      byId = {};
      if (stacks) stacks.refresh();
    },
    get: function (id) { return byId[id]; },
    has: function (id) { return byId[id] !== undefined; },
  };
}

/* Vector-tile layers of the user's scope (map_ui.tiles), in a layer switcher.
   `on`: the layers shown at first; `onCase(id)`: a case point was clicked. */
export function tileLayers(map, on, onCase) {
  var urls = config.tiles || {};
  var names = labels.layers || {};
  var styles = Object.assign({}, page.areaStyles, {
    // Filled with nothing: a click inside a cell is on the cell (its popup).
    cells: { color: "#98a2b3", opacity: 0.8, weight: 1, fill: true, fillOpacity: 0 },
    components: pointStyle("#7f56d9", "components"),
    entities: pointStyle("#0e9384", "entities"),
    population: function (properties) {
      // People per km² (density) at low zoom; people at an address point at high zoom.
      var size = properties.density ? Math.log10(properties.density + 1) * 2 : 4;
      return {
        radius: Math.max(3, Math.min(14, size)),
        fill: true, fillColor: "#e04f16", fillOpacity: 0.35, stroke: false,
      };
    },
    cases: function (properties) {
      var status = properties.deadline || (properties.overdue ? "overdue" : "on_time");
      var aggregated = properties.count !== undefined && properties.count !== null;
      return {
        radius: aggregated ? Math.min(16, 5 + Math.sqrt(properties.count) * 2) : 6,
        fill: true, fillColor: DEADLINE_COLOURS[status] || DEADLINE_COLOURS.none,
        fillOpacity: 0.85, color: STATE_RINGS[properties.state] || "#ffffff",
        weight: aggregated ? 1 : 2,
      };
    },
  });

  function pointStyle(colour, name) {
    return function (properties) {
      if (kit && kit.hidden(name, properties)) return []; // the legend says: zoom in
      var aggregated = properties.count !== undefined && properties.count !== null;
      return {
        radius: aggregated ? Math.min(14, 3 + Math.sqrt(properties.count)) : 3,
        fill: true, fillColor: colour, fillOpacity: 0.6, color: colour, weight: 1,
      };
    };
  }

  function make(name) {
    var layer = L.vectorGrid.protobuf(urls[name], {
      vectorTileLayerStyles: styles,
      interactive: true,
      maxNativeZoom: 18,
      // Aggregates carry an area's id: keep them apart from case ids.
      getFeatureId: function (feature) {
        var p = feature.properties;
        return p.count !== undefined && p.count !== null ? "area-" + p.id : p.id;
      },
    });
    layer.on("click", function (event) {
      var p = event.layer.properties;
      if (!p) return;
      var aggregated = p.count !== undefined && p.count !== null && name !== "population";
      if (name === "cases" && !aggregated) onCase(p.id);
      if (!kit) return;
      // Popups: a feature's facts from the server; an area's count as it is in the tile.
      if (aggregated) kit.countPopup(name, p, event.latlng);
      else if (name !== "population") kit.popup(name, p.id, event.latlng);
    });
    return layer;
  }

  var overlays = {};
  var layers = {};
  ["areas", "cells", "components", "entities", "population", "cases"].forEach(function (name) {
    if (!urls[name]) return;
    layers[name] = make(name);
    overlays[names[name] || name] = layers[name];
    if (on.indexOf(name) >= 0) layers[name].addTo(map);
    if (kit) kit.register(name, layers[name]);
  });
  // Cases on one spot: a numbered cluster over their points.
  if (kit && layers.cases) kit.caseStacks(layers.cases, onCase);
  return { layers: layers, overlays: overlays };
}

/* Ask the server for the tile URLs again (their version tokens move with the data). */
export function refreshTiles(tiles) {
  if (!tiles.layers.cases || !config.tiles_urls) return;
  api(config.tiles_urls).then(function (urls) {
    if (urls.cases) tiles.layers.cases.setUrl(urls.cases);
  }).catch(function () { /* the live markers still show the change */ });
}

/* The live counters (new today, open, overdue, closed on time) and the board's list
   of cases to chase, from GET /api/cases/board/; refresh() is debounced so that a
   burst of events asks once. */
export function board(onData) {
  var timer = null;
  function load() {
    timer = null;
    return api(config.api.board).then(function (data) {
      Object.keys(data.counters).forEach(function (key) {
        var node = document.querySelector('[data-counter="' + key + '"]');
        if (node) node.textContent = String(data.counters[key]);
      });
      if (onData) onData(data);
      return data;
    });
  }
  return {
    load: load,
    refresh: function () {
      if (timer === null) timer = window.setTimeout(load, 400);
    },
  };
}

/* The live connection's state, in words, in `node`. */
export function liveStatus(node) {
  return function (status) {
    node.textContent = labels.live[status] || status;
    node.setAttribute("data-status", status);
  };
}

mapkit.caseColours({ deadline: DEADLINE_COLOURS, rings: STATE_RINGS });
