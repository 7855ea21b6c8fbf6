/* What the two intake pages (hotline, inspector) share beyond common.js: the
   administrative outlines on the map, waiting for the map to stand still, the category
   picker, and client UUIDs.

   export {outlines(map, tiles), whenStill(map, fn),
           categoryPicker(select, categories, urgentBox), uuid()} */
import { areaStyles, el } from "./common.js";

// The outlines are drawn above the base map or, with no base map, on the plain
// background: the operator still sees where the point is.
export function outlines(map, tiles) {
  if (!map || !tiles || !tiles.areas || !window.L || !L.vectorGrid) return null;
  return L.vectorGrid
    .protobuf(tiles.areas, {
      vectorTileLayerStyles: areaStyles,
      interactive: false,
      rendererFactory: L.canvas.tile,
    })
    .addTo(map);
}

// Run fn once the map has stopped zooming. While Leaflet animates a zoom (the user's
// wheel or pinch), it drops a view set meanwhile, so the first GPS fix or a picked
// address would be lost.
export function whenStill(map, fn) {
  if (map._animatingZoom) map.once("zoomend", fn);
  else fn();
}

// The active subcategories grouped by major class, each class an <optgroup>; picking
// one ticks `urgentBox` as the category says by default. Returns the categories by id.
export function categoryPicker(select, categories, urgentBox) {
  var byId = {};
  var groups = {};
  categories.forEach(function (category) {
    byId[category.id] = category;
    if (!groups[category.group]) {
      groups[category.group] = el("optgroup", { label: category.group });
      select.appendChild(groups[category.group]);
    }
    groups[category.group].appendChild(
      el("option", { value: category.id }, category.code + " " + category.name)
    );
  });
  select.addEventListener("change", function () {
    var category = byId[select.value];
    if (category) urgentBox.checked = category.urgent;
  });
  return byId;
}

// crypto.randomUUID exists only in secure contexts (HTTPS, localhost); an intranet
// server on plain HTTP still has crypto.getRandomValues, enough for a version 4 UUID.
export function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  var bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  var hex = Array.prototype.map.call(bytes, function (b) {
    return (b + 0x100).toString(16).slice(1);
  }).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
    hex.slice(20)].join("-");
}
