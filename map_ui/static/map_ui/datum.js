// Coordinate datums of base maps used in China, in the browser: the same formulas as
// layers/datum.py (tests/test_tile_datum.py checks both agree). The project's data is
// WGS 84; a base map drawn in GCJ-02 (AMap, Tencent) or BD-09 (Baidu) shows a place a
// few hundred metres away from its WGS 84 coordinates, so what is drawn over it is moved
// into the tiles' datum (fromWgs84) and what is picked on it is moved back (toWgs84).
// Points are [lon, lat]. wgs84 and cgcs2000 are returned unchanged.

// Krasovsky 1940 ellipsoid, as in the published GCJ-02 algorithm.
const A = 6378245.0;
const EE = 0.006693421622965943; // 0.00669342162296594323 as a double
const BD_PI = (Math.PI * 3000.0) / 180.0;

export const DATUMS = ["wgs84", "gcj02", "bd09", "cgcs2000"];

function inChina(lon, lat) {
  // The published algorithm applies the offset only inside this rectangle.
  return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

function gcjDelta(lon, lat) {
  if (!inChina(lon, lat)) return [0, 0];
  const x = lon - 105.0;
  const y = lat - 35.0;
  const sqrtAbsX = Math.sqrt(Math.abs(x));
  const common =
    ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  let dlat =
    -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrtAbsX + common +
    ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0 +
    ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let dlon =
    300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrtAbsX + common +
    ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0 +
    ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * Math.PI;
  const magic = 1.0 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dlat = (dlat * 180.0) / (((A * (1.0 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dlon = (dlon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [dlon, dlat];
}

export function wgs84ToGcj02([lon, lat]) {
  const [dlon, dlat] = gcjDelta(lon, lat);
  return [lon + dlon, lat + dlat];
}

export function gcj02ToWgs84([lon, lat]) {
  // Fixed-point iteration on wgs = gcj - delta(wgs), as layers/datum.py does.
  let wlon = lon;
  let wlat = lat;
  for (let i = 0; i < 4; i += 1) {
    const [glon, glat] = wgs84ToGcj02([wlon, wlat]);
    wlon -= glon - lon;
    wlat -= glat - lat;
  }
  return [wlon, wlat];
}

export function gcj02ToBd09([lon, lat]) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * BD_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * BD_PI);
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
}

export function bd09ToGcj02([lon, lat]) {
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * BD_PI);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * BD_PI);
  return [z * Math.cos(theta), z * Math.sin(theta)];
}

function checked(datum) {
  if (!DATUMS.includes(datum)) throw new Error(`unknown datum ${datum}`);
  return datum;
}

// A WGS 84 point → the same place in `datum`.
export function fromWgs84(point, datum) {
  switch (checked(datum)) {
    case "gcj02":
      return wgs84ToGcj02(point);
    case "bd09":
      return gcj02ToBd09(wgs84ToGcj02(point));
    default:
      return [point[0], point[1]];
  }
}

// A point in `datum` → WGS 84.
export function toWgs84(point, datum) {
  switch (checked(datum)) {
    case "gcj02":
      return gcj02ToWgs84(point);
    case "bd09":
      return gcj02ToWgs84(bd09ToGcj02(point));
    default:
      return [point[0], point[1]];
  }
}

// Leaflet's Web Mercator seen through `datum`: a WGS 84 latlng is projected where a base
// map drawn in `datum` shows it, and a point picked on the map (click, drag) unprojects
// to WGS 84. With it as the map's CRS every marker, outline, popup, click, drag and GPS
// position of the pages stays in WGS 84 and lands on the tiles' place.
export function datumCrs(L, datum) {
  const mercator = L.Projection.SphericalMercator;
  const projection = {
    bounds: mercator.bounds,
    project(latlng) {
      const [lon, lat] = fromWgs84([latlng.lng, latlng.lat], datum);
      return mercator.project(L.latLng(lat, lon));
    },
    unproject(point) {
      const shown = mercator.unproject(point);
      const [lon, lat] = toWgs84([shown.lng, shown.lat], datum);
      return L.latLng(lat, lon);
    },
  };
  return L.extend({}, L.CRS.EPSG3857, { projection });
}

// Give `map` the CRS of a base map in `datum` (nothing for WGS 84 or CGCS2000); true when
// it changed. What is already drawn is placed again at once.
export function useTileDatum(L, map, datum) {
  if (!map || !datum || datum === "wgs84" || datum === "cgcs2000") return false;
  const center = map.getCenter();
  map.options.crs = datumCrs(L, checked(datum));
  map.setView(center, map.getZoom(), { reset: true });
  return true;
}
