/* The inspectors on duty (巡查), as a layer of the command centre's map: each at their
   last position, refreshed every few seconds from GET /api/patrol/on-duty/, which
   answers only the inspectors whose positions the user may see (their street's and
   district's supervisors; docs/patrol.md) and audits each read.

   import { onDutyLayer } from "./onduty.js";
   var layer = onDutyLayer(map, {url, every_seconds, labels});  // an L.LayerGroup
   A layer switched off is not refreshed. */

import * as page from "./common.js";

export function onDutyLayer(map, options) {
  var layer = L.layerGroup();
  var labels = options.labels || {};
  var timer = null;
  // SVG even where the map draws on a canvas: a few markers, each one an element.
  var renderer = L.svg();

  function draw(answer) {
    layer.clearLayers();
    (answer.results || []).forEach(function (row) {
      if (row.lat === null || row.lon === null) return;
      var since = new Date(row.last_at).toLocaleTimeString();
      L.circleMarker([row.lat, row.lon], {
        radius: 7, color: "#ffffff", weight: 2, fillColor: "#1565c0", fillOpacity: 0.95,
        className: "on-duty", renderer: renderer,
      }).bindTooltip(row.name + " · " + labels.last_fix + since).addTo(layer);
    });
    map.getContainer().setAttribute("data-on-duty", String((answer.results || []).length));
  }

  function refresh() {
    if (!map.hasLayer(layer)) return;
    page.api(options.url).then(draw, function () { /* next time */ });
  }

  layer.on("add", function () {
    refresh();
    timer = window.setInterval(refresh, (options.every_seconds || 10) * 1000);
  });
  layer.on("remove", function () {
    window.clearInterval(timer);
    timer = null;
  });
  return layer;
}
