/* The inspector's phone page: the GPS position, a category, a note and photos make a
   report; the report goes into the outbox (queue.js) and from there to
   POST /api/cases/reports/, now or when the network is back. Below: the inspector's
   reports and their verification tasks (cases handled and waiting for them on site),
   and 一级采集 (collect.js): base records proposed from the same position. */

import * as collect from "./collect.js";
import * as page from "./common.js";
import * as intake from "./intake-common.js";
import { connect } from "./live.js";
import "./mapkit.js";
import * as outbox from "./queue.js";
import * as patrol from "./patrol.js";

// Where the static files are served: this module is map_ui/inspector.js under it.
var STATIC_ROOT = new URL("../", import.meta.url).pathname;
var config = page.config;
var labels = config.labels;
var map = page.map;
var el = page.el;

var form = document.getElementById("report-form");
var gpsBox = document.getElementById("gps");
var gpsStatus = document.getElementById("gps-status");
var categorySelect = document.getElementById("category");
var description = document.getElementById("description");
var photoInput = document.getElementById("photos");
var photoCount = document.getElementById("photo-count");
var photosClear = document.getElementById("photos-clear");
var thumbs = document.getElementById("thumbs");
var urgentBox = document.getElementById("urgent");
var formError = document.getElementById("form-error");
var submitButton = document.getElementById("submit-report");
var reportList = document.getElementById("reports");
var taskList = document.getElementById("tasks");
var taskStatus = document.getElementById("task-status");
var net = document.getElementById("net");

intake.outlines(map, config.tiles);
// The inspector's own cells: where their beat is (reports far outside are refused).
if (config.cells && config.cells.features.length) {
  L.geoJSON(config.cells, {
    style: { color: "#1570ef", weight: 3, fillColor: "#1570ef", fillOpacity: 0.08 },
    interactive: false,
  }).addTo(map);
}
var taskLayer = L.layerGroup().addTo(map);

// ---- position -------------------------------------------------------------------------
// The Geolocation API gives WGS 84 coordinates on every phone (the W3C specification
// says so), whatever datum the phone's map apps use. The report says datum=wgs84 and
// the server converts at its edge (layers/datum.py), the one place that knows every
// datum: converting here would make a second, untested copy of that code. Leaflet
// draws the point as it is, which is right on a WGS 84 base map or on the outlines.

var position = null; // {lon, lat, accuracy} from the GPS, or {lon, lat, tapped: true}
var positionMarker = null;
var accuracyCircle = null;
var watch = null;

function located(fix) {
  patrol.position(fix);
  var first = position === null || position.tapped;
  position = {
    lon: fix.coords.longitude,
    lat: fix.coords.latitude,
    accuracy: Math.round(fix.coords.accuracy * 10) / 10,
  };
  gpsBox.className = "gps ok";
  gpsStatus.textContent = labels.located + " · " + labels.accuracy + " " +
    Math.round(position.accuracy) + " " + labels.metres;
  var at = [position.lat, position.lon];
  if (!positionMarker) {
    accuracyCircle = L.circle(at, { radius: position.accuracy, weight: 1 }).addTo(map);
    positionMarker = L.circleMarker(at, {
      radius: 7, color: "#fff", weight: 2, fillColor: "#1570ef", fillOpacity: 1,
    }).addTo(map);
  } else {
    positionMarker.setLatLng(at);
    accuracyCircle.setLatLng(at).setRadius(position.accuracy).addTo(map);
  }
  if (first) intake.whenStill(map, function () { map.setView(at, 17); });
}

// No position: said in the user's language (the browser's own message is English),
// and the report is placed by tapping the map instead.
function notLocated(error) {
  if (position) return; // keep the last fix (or the tapped point); the watch goes on
  gpsBox.className = "gps bad";
  gpsStatus.textContent = error && error.code === 1 ? labels.gps_denied : labels.gps_unavailable;
}

function tapped(event) {
  if (position && !position.tapped) return; // the GPS fix stands
  position = { lon: event.latlng.lng, lat: event.latlng.lat, tapped: true };
  var at = [position.lat, position.lon];
  if (!positionMarker) {
    positionMarker = L.circleMarker(at, {
      radius: 9, color: "#fff", weight: 2, fillColor: "#b54708", fillOpacity: 1,
    }).addTo(map);
  } else {
    positionMarker.setLatLng(at);
  }
  if (accuracyCircle) accuracyCircle.remove();
  gpsBox.className = "gps tapped";
  gpsStatus.textContent = labels.tapped + " · " + position.lon.toFixed(6) + ", " +
    position.lat.toFixed(6);
}

map.on("click", tapped);

function locate() {
  if (!navigator.geolocation) {
    notLocated({ message: "navigator.geolocation" });
    return;
  }
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  gpsBox.className = "gps";
  gpsStatus.textContent = labels.locating;
  watch = navigator.geolocation.watchPosition(located, notLocated, {
    enableHighAccuracy: true,
    maximumAge: 10000,
    timeout: 30000,
  });
}

document.getElementById("gps-refresh").addEventListener("click", function () {
  position = null;
  locate();
});

// ---- form -------------------------------------------------------------------------------

var categories = intake.categoryPicker(categorySelect, config.categories, urgentBox);

// Photos are collected here rather than read from the input at submit: a phone's
// camera gives one photo per pick, and an edited report gets its photos back.
var photos = [];
var photosReady = Promise.resolve(); // photos still being shrunk; a report waits for them

// A phone photo is several megabytes and the network may be weak: a photo longer than
// PHOTO_MAX_SIDE pixels on its long side is sent as a JPEG of that size, enough to see
// a broken manhole cover (and without the camera's EXIF, position included). One the
// browser cannot decode goes as it was taken, and the server's limits decide.
var PHOTO_MAX_SIDE = 1600;

function shrink(file) {
  if (!window.createImageBitmap) return Promise.resolve(file);
  return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
    var scale = PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height);
    if (scale >= 1) {
      bitmap.close();
      return file;
    }
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) {
        var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
        resolve(blob ? new File([blob], name, { type: "image/jpeg" }) : file);
      }, "image/jpeg", 0.85);
    });
  }).catch(function () { return file; });
}

function shrinkAll(files) {
  return Promise.all(Array.prototype.map.call(files, shrink));
}

function showPhotos() {
  thumbs.replaceChildren();
  photos.forEach(function (photo) {
    var image = el("img", { alt: photo.name || "" });
    image.src = URL.createObjectURL(photo);
    image.onload = function () { URL.revokeObjectURL(image.src); };
    thumbs.appendChild(image);
  });
  photoCount.textContent = photos.length ? photos.length + " " + labels.photos : "";
  photosClear.hidden = photos.length === 0;
}

photoInput.addEventListener("change", function () {
  var room = Math.max(config.max_photos - photos.length, 0);
  var chosen = Array.prototype.slice.call(photoInput.files, 0, room);
  formError.textContent = photoInput.files.length > room ? labels.too_many_photos : "";
  photoInput.value = "";
  photosReady = photosReady.then(function () {
    return shrinkAll(chosen);
  }).then(function (small) {
    photos = photos.concat(small).slice(0, config.max_photos);
    showPhotos();
  });
});

photosClear.addEventListener("click", function () {
  photosReady = photosReady.then(function () {
    photos = [];
    showPhotos();
  });
});

form.addEventListener("submit", function (event) {
  event.preventDefault();
  formError.textContent = "";
  if (!position) {
    formError.textContent = labels.no_position;
    return;
  }
  if (!categorySelect.value || !description.value.trim()) {
    formError.textContent = labels.required;
    (categorySelect.value ? description : categorySelect).focus();
    return;
  }
  var fields = {
    category: Number(categorySelect.value),
    description: description.value.trim(),
    lon: position.lon,
    lat: position.lat,
    datum: "wgs84", // see "position" above
    urgent: urgentBox.checked,
  };
  if (!position.tapped) fields.accuracy_m = position.accuracy;
  // One tap, one report: a second tap while this one is being stored would make a
  // second record with its own UUID, hence a second case.
  submitButton.disabled = true;
  photosReady.then(function () {
    return queue.add(fields, photos);
  }).then(function () {
    submitButton.disabled = false;
    form.reset();
    photos = [];
    showPhotos();
  }, function (error) {
    submitButton.disabled = false;
    formError.textContent = String(error);
  });
});

// ---- the outbox -------------------------------------------------------------------------

var sent = []; // this page's sent reports, newest first: {client_uuid, body}
var served = null; // my reports as the server lists them (?reported_by=me), or null

var queue = outbox.create({
  url: config.api.reports,
  user: config.user,
  onChange: render,
  onSent: function (record, body) {
    sent.unshift({ record: record, body: body });
    sent = sent.slice(0, 10);
    render();
    loadTasks();
    loadReports();
  },
});

function categoryName(id) {
  var category = categories[id];
  return category ? category.code + " " + category.name : String(id);
}

function time(iso) {
  var at = new Date(iso);
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function button(text, action) {
  var node = el("button", { type: "button" }, text);
  node.addEventListener("click", action);
  return node;
}

function waitingItem(record) {
  var state = record.state === "failed" ? "failed"
    : queue.isSending(record.client_uuid) ? "sending" : "queued";
  var item = el("li", { "data-uuid": record.client_uuid, "data-state": state });
  item.appendChild(el("div", {},
    time(record.created_at) + " · " + categoryName(record.fields.category) + " · " +
    record.fields.description));
  var line = state === "failed" ? labels.failed + record.error
    : state === "sending" ? labels.sending : labels.queued;
  item.appendChild(el("div", { class: "state-" + (state === "failed" ? "failed" : "queued") },
    line));
  if (state === "failed") {
    var actions = el("div", { class: "report-actions" });
    actions.appendChild(button(labels.retry, function () { queue.retry(record.client_uuid); }));
    actions.appendChild(button(labels.edit, function () { edit(record); }));
    actions.appendChild(button(labels.discard, function () {
      if (window.confirm(labels.discard_confirm)) queue.discard(record.client_uuid);
    }));
    item.appendChild(actions);
  }
  return item;
}

function sentItem(entry) {
  var record = entry.record;
  var item = el("li", { "data-uuid": record.client_uuid, "data-state": "sent",
    "data-case-id": entry.body.case.id });
  item.appendChild(el("div", {},
    time(record.created_at) + " · " + categoryName(record.fields.category) + " · " +
    record.fields.description));
  item.appendChild(el("div", { class: "state-sent" }, labels.sent + "#" + entry.body.case.id));
  var duplicates = entry.body.likely_duplicates || [];
  if (duplicates.length) {
    item.appendChild(el("div", { class: "hint" }, labels.likely_duplicates +
      duplicates.map(function (d) { return "#" + d.id; }).join(", ")));
  }
  return item;
}

var rendering = Promise.resolve();

function render() {
  net.textContent = navigator.onLine ? labels.online : labels.offline;
  net.classList.toggle("offline", !navigator.onLine);
  // Renders one after the other, so a late one never overwrites a newer list.
  rendering = rendering.then(function () {
    return queue.list().then(function (records) {
      // The outbox first (not yet sent), then what was sent: this page's answers
      // (with their likely duplicates), then the server's list of my reports (after a
      // reload, all there is), each case once.
      var shown = {};
      var items = records.map(waitingItem).concat(sent.map(function (entry) {
        shown[entry.body.case.id] = true;
        return sentItem(entry);
      }));
      (served || []).forEach(function (row) {
        if (!shown[row.id]) items.push(servedItem(row));
      });
      if (!items.length && served) {
        items.push(el("li", { class: "hint" }, labels.no_reports));
      }
      reportList.replaceChildren.apply(reportList, items);
    });
  });
}

function servedItem(row) {
  var item = el("li", { "data-case-id": row.id, "data-state": "sent",
    "data-case-state": row.state });
  item.appendChild(el("div", {},
    time(row.created_at) + " · " + categoryName(row.category.id) + " · " + row.description));
  item.appendChild(el("div", { class: "state-sent" }, labels.case + " #" + row.id + " · " +
    (config.states[row.state] || row.state_label || row.state)));
  return item;
}

function loadReports() {
  var url = config.api.cases + "?" + new URLSearchParams({ reported_by: "me", limit: "20" });
  page.request(url).then(function (answer) {
    if (answer.status !== 200) {
      taskStatus.textContent = labels.reports_error;
      return;
    }
    served = answer.body.results;
    render();
  }, function () { /* offline: the outbox is still listed */ });
}

// A refused report back in the form, to be corrected and sent as a new report (with a
// new client UUID: the server may already know the old one for what it refused).
function edit(record) {
  categorySelect.value = String(record.fields.category);
  description.value = record.fields.description;
  urgentBox.checked = Boolean(record.fields.urgent);
  photos = record.photos.map(function (photo) {
    return new File([photo.blob], photo.name, { type: photo.type });
  });
  showPhotos();
  queue.discard(record.client_uuid);
  form.scrollIntoView();
}

// ---- verification tasks -----------------------------------------------------------------

function loadTasks() {
  var url = config.api.cases + "?" + new URLSearchParams({ mine: "true", state: "handled" });
  page.request(url).then(function (answer) {
    if (answer.status !== 200) {
      taskList.replaceChildren(el("li", { class: "error" }, labels.tasks_error));
      return;
    }
    // `mine` is "reported by me or mine to verify": keep the second.
    var tasks = answer.body.results.filter(function (c) { return c.verifier === config.user; });
    showTasks(tasks);
  }, function () { /* offline: keep the list as it was */ });
}

// A task already on the page keeps its element, so that a list refreshed by a live
// event leaves a note being typed and the photos chosen as they are.
var taskItems = {}; // case id -> <li>

function showTasks(tasks) {
  taskLayer.clearLayers();
  var shown = {};
  tasks.forEach(function (task) {
    var at = [task.point[1], task.point[0]];
    L.circleMarker(at, { radius: 8, color: "#b54708", weight: 2, fillOpacity: 0.4 })
      .bindTooltip(labels.case + " #" + task.id)
      .addTo(taskLayer);
    shown[task.id] = taskItems[task.id] || taskItem(task, at);
  });
  taskItems = shown;
  if (!tasks.length) {
    taskList.replaceChildren(el("li", { class: "hint" }, labels.no_tasks));
    return;
  }
  taskList.replaceChildren.apply(taskList, tasks.map(function (task) { return shown[task.id]; }));
}

function taskItem(task, at) {
  var item = el("li", { "data-case-id": task.id });
  var where = task.address_text || (task.cell && task.cell.name) || "";
  item.appendChild(button(labels.case + " #" + task.id + " · " + task.category.name, function () {
    map.setView(at, 18);
  }));
  item.appendChild(el("div", {}, task.description));
  item.appendChild(el("div", { class: "hint" }, where));
  item.appendChild(handlerReport(task));
  item.appendChild(verifyForm(task));
  return item;
}

// What the handler reported (反馈: note and photos), from the case's history: what
// the inspector checks on site. A photo opens full size.
function handlerReport(task) {
  var box = el("div", { class: "handler-report" });
  page.api(config.api.cases + task.id + "/").then(function (detail) {
    var handled = detail.history.filter(function (e) { return e.action === "handle"; }).pop();
    if (!handled) return;
    box.appendChild(el("strong", {}, labels.handler_report + (handled.actor_unit ? " · " + handled.actor_unit : "")));
    if (handled.note) box.appendChild(el("div", { class: "note" }, handled.note));
    var strip = el("div", { class: "photos" });
    (handled.photos || []).forEach(function (photo) {
      strip.appendChild(el("a", { href: photo.url, target: "_blank", class: "photo-thumb",
                                  "data-photo": String(photo.id) },
        el("img", { src: photo.thumb_url || photo.url, alt: labels.handler_report, loading: "lazy" })));
    });
    box.appendChild(strip);
  }).catch(function () { /* the task itself is still shown */ });
  return box;
}

// On site: pass, or fail with the reason (the case goes back to the unit as 返工),
// with a note and photos. Online only: a verification is one decision about the case
// as it is now, not a report to deliver later; without network the form keeps what was
// typed and says so.
function verifyForm(task) {
  var note = el("textarea", { rows: 2, maxlength: 4000, "aria-label": labels.verify_note,
                              placeholder: labels.verify_note });
  var photoInput = el("input", { type: "file", id: "verify-photos-" + task.id,
                                 accept: "image/jpeg,image/png,image/webp", multiple: true });
  var photoCount = el("span", { class: "hint" });
  photoInput.addEventListener("change", function () {
    var n = photoInput.files.length;
    photoCount.textContent = n ? n + " " + labels.photos : "";
  });
  var error = el("p", { class: "error", role: "alert" });
  var pass = button("✓ " + labels.verify_pass, function () { send(true); });
  var fail = button("✗ " + labels.verify_fail, function () { send(false); });
  pass.classList.add("verify-pass");
  fail.classList.add("verify-fail");

  function send(passed) {
    if (!passed && !note.value.trim()) {
      error.textContent = labels.verify_fail_needs_note;
      note.focus();
      return;
    }
    if (!window.confirm(passed ? labels.verify_pass_confirm : labels.verify_fail_confirm)) {
      return;
    }
    pass.disabled = fail.disabled = true;
    error.textContent = "";
    shrinkAll(photoInput.files).then(function (small) {
      var data = new FormData();
      data.append("passed", passed ? "true" : "false");
      data.append("note", note.value.trim());
      small.forEach(function (file) { data.append("photos", file); });
      return page.request(config.api.cases + task.id + "/verify/", { method: "POST", body: data });
    }).then(function (answer) {
      if (answer.status === 200) {
        taskStatus.textContent = labels.case + " #" + task.id + " " +
          (passed ? labels.verified : labels.sent_back);
        loadTasks();
        return;
      }
      error.textContent = page.errorText(answer.body) || "HTTP " + answer.status;
      pass.disabled = fail.disabled = false;
    }, function () {
      error.textContent = labels.verify_offline;
      pass.disabled = fail.disabled = false;
    });
  }

  var picker = el("div", { class: "photo-picker" }, photoInput,
                  el("label", { class: "button", for: photoInput.id }, labels.verify_photos),
                  photoCount);
  return el("div", { class: "verify" }, note, picker, error,
            el("div", { class: "actions" }, pass, fail));
}

// The live map tells when a case this inspector follows changes (handled: a new task);
// the page works without it (the list loads on open and after each report).
var pending = null;
var pendingReports = null;
connect({
  onEvent: function (event) {
    if (event.case && served && served.some(function (r) { return r.id === event.case.id; })) {
      clearTimeout(pendingReports);
      pendingReports = setTimeout(loadReports, 300);
    }
    if (!event.case || event.case.state !== "handled" && !taskList.querySelector(
      '[data-case-id="' + event.case.id + '"]')) return;
    clearTimeout(pending);
    pending = setTimeout(loadTasks, 300);
  },
  onReload: loadTasks, // never reload the page: a report may be half typed
  // No status line on the phone; the page says it for whoever asks (tests, styles).
  onStatus: function (status) { document.body.setAttribute("data-live", status); },
});

// ---- opening without network ------------------------------------------------------------
// The service worker (map_ui/templates/map_ui/inspector-sw.js) keeps this page and its
// files; told which files the page loaded, it caches them now, so the next opening
// works offline. <html data-offline-ready> says it has them. Without service workers
// (or off localhost without HTTPS) the page works online as before.
function keepForOffline() {
  if (!("serviceWorker" in navigator) || !config.service_worker) return;
  navigator.serviceWorker.register(config.service_worker).then(function () {
    return navigator.serviceWorker.ready;
  }).then(function (registration) {
    // The page's scripts and styles, and every module its entry module imported (they
    // have no <script> tag of their own): all static files the page fetched.
    var files = Array.prototype.map.call(
      document.querySelectorAll("script[src], link[rel=stylesheet][href]"),
      function (node) { return node.src || node.href; });
    performance.getEntriesByType("resource").forEach(function (entry) {
      var url = new URL(entry.name);
      if (url.origin === location.origin && url.pathname.indexOf(STATIC_ROOT) === 0 &&
          files.indexOf(entry.name) < 0) files.push(entry.name);
    });
    var channel = new MessageChannel();
    channel.port1.onmessage = function (event) {
      if (event.data === "kept") document.documentElement.setAttribute("data-offline-ready", "");
    };
    registration.active.postMessage(
      { type: "keep", urls: [location.pathname].concat(files) }, [channel.port2]);
  }).catch(function () { /* no offline opening; everything else works */ });
}

// Signing out on a phone is one stray tap away from the page's controls: asked first.
var logout = document.querySelector(".topbar form.logout");
if (logout) {
  logout.addEventListener("submit", function (event) {
    if (!window.confirm(labels.logout_confirm)) event.preventDefault();
  });
}

locate();
render();
queue.flush();
loadTasks();
loadReports();
patrol.start({ relocate: locate });
collect.start({ map: map, position: function () { return position; }, shrink: shrink });
keepForOffline();
