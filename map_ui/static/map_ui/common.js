/* What every role page's script shares (an ES module; a page imports what it uses, e.g.
   `import * as page from "./common.js"`): the page config, the map, DOM elements, JSON
   requests with the CSRF token, the API's error messages in words, and how the
   administrative outlines look.

   export {config, map, el(tag, attrs, ...children), request(url, options),
           api(url, options), errorText(body), areaStyles} */

export const config = JSON.parse(document.getElementById("page-config").textContent);

// Outlines of districts, streets and communities in the vector tiles' "areas" layer
// (its MVT layers are named by tier), the same on every page's map.
export const areaStyles = {
  district: { color: "#123b63", weight: 2.5, fill: false },
  street: { color: "#2e6da4", weight: 1.5, fill: false },
  community: { color: "#7aa6cf", weight: 1, fill: false, dashArray: "4 3" },
};

/* An element with attributes and children. Children that are not nodes become text,
   never HTML: descriptions and addresses are typed by people. Attribute values of
   null, undefined and false are left out; true gives an empty attribute. */
export function el(tag, attrs) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (key) {
    var value = attrs[key];
    if (value === null || value === undefined || value === false) return;
    if (key === "text") node.textContent = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value === true ? "" : value);
  });
  for (var i = 2; i < arguments.length; i += 1) {
    var child = arguments[i];
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// fetch with the session cookie and the CSRF token (DRF's session authentication
// checks it on every POST); `json` is sent as a JSON body, `body` as it is (FormData).
// Resolves to {status, body}; rejects only when the network failed (no answer at
// all), which some callers treat differently from an answer.
export function request(url, options) {
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

// request() for callers that only tell success from failure: resolves to the body of
// a 2xx answer, else rejects with Error(the API's message), its `status` set.
export function api(url, options) {
  return request(url, options).then(function (answer) {
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    var error = new Error(errorText(answer.body) || "HTTP " + answer.status);
    error.status = answer.status;
    throw error;
  });
}

// The case API answers {"detail", "code", "field"}; DRF's validation answers
// {"field": ["message", …]}. Either becomes one line a person can act on.
export function errorText(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  return Object.keys(body)
    .map(function (key) {
      var value = body[key];
      return Array.isArray(value) ? value.join(" ") : String(value);
    })
    .join(" ");
}

// The map built by the page's folium script (a classic inline script that runs before
// any module): its variable is named in the config. None on a page without a map.
export const map = config.map ? window[config.map] : undefined;
