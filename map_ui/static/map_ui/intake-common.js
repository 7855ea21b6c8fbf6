/* What the two intake pages (hotline, inspector) share: the page config, the
   administrative outlines on the map, JSON requests with the CSRF token, the API's error
   messages in words, and client UUIDs.

   window.gridIntake = {config, map, outlines(map, tiles), whenStill(map, fn),
                        request(url, options),
                        errorText(body), uuid(), element(tag, attrs, text)} */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("page-config").textContent);

  // Outlines of districts, streets and communities from the vector tiles (MVT layers
  // named by tier), drawn above the base map or, with no base map, on the plain
  // background: the operator still sees where the point is.
  var OUTLINE_STYLES = {
    district: { weight: 2.5, color: "#123b63", fill: false },
    street: { weight: 1.5, color: "#3b6ea5", fill: false },
    community: { weight: 0.8, color: "#7a98b8", fill: false, dashArray: "3 3" },
  };

  function outlines(map, tiles) {
    if (!map || !tiles || !tiles.areas || !window.L || !L.vectorGrid) return null;
    return L.vectorGrid
      .protobuf(tiles.areas, {
        vectorTileLayerStyles: OUTLINE_STYLES,
        interactive: false,
        rendererFactory: L.canvas.tile,
      })
      .addTo(map);
  }

  // Run fn once the map has stopped zooming. The page opens with an animated zoom to the
  // user's area (folium's fit_bounds); a view set during it is undone when it ends, so
  // the first GPS fix or a picked address would be shown and then lost.
  function whenStill(map, fn) {
    if (map._animatingZoom) map.once("zoomend", fn);
    else fn();
  }

  // fetch with the session cookie and the CSRF token (DRF's session authentication
  // checks it on every POST). Resolves to {status, body}; rejects only when the network
  // failed (no answer at all), which the callers treat differently from an answer.
  function request(url, options) {
    options = options || {};
    var headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.method && options.method !== "GET") headers["X-CSRFToken"] = config.csrf;
    var body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    return fetch(url, {
      method: options.method || "GET",
      headers: headers,
      body: body,
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch (e) {
          parsed = { detail: "HTTP " + response.status };
        }
        return { status: response.status, body: parsed };
      });
    });
  }

  // The case API answers {"detail", "code", "field"}; DRF's validation answers
  // {"field": ["message", …]}. Either becomes one line a person can act on.
  function errorText(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    return Object.keys(body)
      .map(function (key) {
        var value = body[key];
        return Array.isArray(value) ? value.join(" ") : String(value);
      })
      .join(" ");
  }

  // crypto.randomUUID exists only in secure contexts (HTTPS, localhost); an intranet
  // server on plain HTTP still has crypto.getRandomValues, enough for a version 4 UUID.
  function uuid() {
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

  // A DOM element with attributes and text (never innerHTML: descriptions and addresses
  // are typed by people).
  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  window.gridIntake = {
    config: config,
    map: window[config.map],
    outlines: outlines,
    whenStill: whenStill,
    request: request,
    errorText: errorText,
    uuid: uuid,
    element: element,
  };
})();
