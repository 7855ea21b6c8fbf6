/* The inspector page's service worker (scope: the page's own path), so that the page
   opens on a phone without network, where inspectors need it most; reports made then
   wait in the page's own queue (queue.js) as they do when the network drops later.

   - The page and the case lists it reads: network first (a weak network gets
     NETWORK_WAIT ms for the page), the last good answer when there is none.
   - Static files: from the cache at once, refreshed from the network behind it, so a
     new release is used from the next opening on.
   - Anything else (reports, actions, tiles, the live socket) is left to the network:
     POSTs are never answered from a cache.
   The page sends the files it loaded ("keep"): they are cached at once, so the page
   opens offline after its first visit, not only after its second. */
"use strict";

var CONFIG = {{ config|safe }};
var NETWORK_WAIT = 4000;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf(CONFIG.prefix) === 0 && name !== CONFIG.cache;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  if (!event.data || event.data.type !== "keep") return;
  var port = event.ports[0];
  event.waitUntil(caches.open(CONFIG.cache).then(function (cache) {
    return cache.addAll(event.data.urls);
  }).then(function () {
    if (port) port.postMessage("kept");
  }, function (error) {
    if (port) port.postMessage("failed: " + error);
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(CONFIG.static) === 0) {
    event.respondWith(cachedThenRefreshed(event, request));
  } else if (url.pathname === CONFIG.page || url.pathname === CONFIG.cases) {
    event.respondWith(networkFirst(request));
  }
});

function keep(request, response) {
  if (!response.ok || response.type !== "basic") return Promise.resolve();
  var copy = response.clone();
  return caches.open(CONFIG.cache).then(function (cache) { return cache.put(request, copy); });
}

function networkFirst(request) {
  var fromNetwork = fetch(request).then(function (response) {
    keep(request, response);
    return response;
  });
  var timeout = new Promise(function (resolve, reject) {
    setTimeout(function () { reject(new Error("no answer in time")); }, NETWORK_WAIT);
  });
  return Promise.race([fromNetwork, timeout]).catch(function (error) {
    return caches.match(request).then(function (cached) {
      if (cached) return cached;
      return fromNetwork; // nothing kept: wait for the network after all
    });
  });
}

function cachedThenRefreshed(event, request) {
  var refreshed = fetch(request).then(function (response) {
    return keep(request, response).then(function () { return response; });
  });
  event.waitUntil(refreshed.catch(function () { /* offline: the cached copy stays */ }));
  return caches.match(request).then(function (cached) {
    return cached || refreshed;
  });
}
