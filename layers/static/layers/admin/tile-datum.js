// The admin's map widgets over a base map drawn in GCJ-02 or BD-09 (settings.MAP_TILE_DATUM).
// Django's OpenLayers widget keeps features, clicks and drags in true Web Mercator (WGS 84);
// here the base layer's tiles are declared in "Web Mercator of the tiles' datum", and
// OpenLayers reprojects them into the view, so a feature lands where the tiles show its
// place and a point drawn on the tiles is stored in WGS 84. The conversions are the pages'
// (map_ui/datum.js). The widget's inline script marks its base layer with the datum.
import { fromWgs84, toWgs84 } from "../../map_ui/datum.js";

const { ol } = window;

function tileProjection(datum) {
  const code = `GRIDMGMT:${datum}-3857`;
  if (ol.proj.get(code)) return code;
  const mercator = ol.proj.get("EPSG:3857");
  ol.proj.addProjection(
    new ol.proj.Projection({ code, units: "m", extent: mercator.getExtent(), global: true }),
  );
  const shown = (lonLat) => ol.proj.fromLonLat(fromWgs84(lonLat, datum));
  const picked = (xy) => toWgs84(ol.proj.toLonLat(xy), datum);
  ol.proj.addCoordinateTransforms(
    mercator,
    code,
    (xy) => shown(ol.proj.toLonLat(xy)),
    (xy) => ol.proj.fromLonLat(picked(xy)),
  );
  ol.proj.addCoordinateTransforms("EPSG:4326", code, shown, picked);
  return code;
}

for (const [name, widget] of Object.entries(window)) {
  if (!name.startsWith("geodjango_") || !widget || !widget.map) continue;
  const base = widget.map.getLayers().item(0);
  const datum = base && base.get("tile_datum");
  if (!datum) continue;
  const [url] = base.getSource().getUrls();
  base.setSource(new ol.source.XYZ({ url, projection: tileProjection(datum) }));
}
