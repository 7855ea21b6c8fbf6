/* 一级采集 on the inspector's phone page: the inspector proposes a new or changed base
   record (a component, a legal entity, a resident, a building) in their cells, with its
   fields, a position and a photo. The proposal waits in the phone's outbox (queue.js,
   kind "proposal") and goes to POST /api/stewardship/proposals/ now or when the network
   is back; the owning department or a data administrator accepts or rejects it, and
   我的采集 shows each proposal's state and, when rejected, the reason.

   import * as collect from "./collect.js";
   collect.start({map, position, shrink});  // the page's Leaflet map (its view: nearby
                                            // records); position(): {lon, lat, …} or null;
                                            // shrink(file): a promise of the photo to send
   page.config.collect: {api, layers: [{name, label, fields: [{name, label, required,
                         type, choices}]}], labels}

   The position is the page's own (its GPS fix, or the point tapped on the map). Leaflet
   gives it in WGS 84 whatever the base map's datum (mapkit.js gives the map the tiles'
   CRS, datum.js), so it is sent as datum=wgs84 like a report. */

import * as page from "./common.js";
import * as outbox from "./queue.js";

var config = page.config.collect;
var labels = config.labels;
var el = page.el;

var form = document.getElementById("collect-form");
var layerSelect = document.getElementById("collect-layer");
var recordInput = document.getElementById("collect-record");
var nearbySelect = document.getElementById("collect-nearby");
var nearbyStatus = document.getElementById("collect-nearby-status");
var moveBox = document.getElementById("collect-move");
var fieldsBox = document.getElementById("collect-fields");
var noteInput = document.getElementById("collect-note");
var photoInput = document.getElementById("collect-photo");
var thumb = document.getElementById("collect-thumb");
var formError = document.getElementById("collect-error");
var submitButton = document.getElementById("submit-proposal");
var list = document.getElementById("proposals");

var layers = {}; // name → its description from the config
var photo = null; // the one photo, shrunk
var photoReady = Promise.resolve();
var served = null; // my proposals as the server lists them, or null before the first answer
var queue = null;
var options = null;

function fieldInput(layer, field) {
  var id = "collect-field-" + field.name;
  var input;
  if (field.choices) {
    input = el("select", { id: id, name: field.name },
      el("option", { value: "" }, labels.choose));
    field.choices.forEach(function (choice) {
      input.appendChild(el("option", { value: choice[0] }, choice[1]));
    });
  } else {
    input = el("input", { id: id, name: field.name, autocomplete: "off",
                          inputmode: field.type === "number" ? "numeric" : null });
  }
  input.dataset.field = field.name;
  return [el("label", { for: id }, field.label + (field.required ? " *" : "")), input];
}

function showFields() {
  var layer = layers[layerSelect.value];
  fieldsBox.replaceChildren();
  loadNearby(layer);
  if (!layer) return;
  layer.fields.forEach(function (field) {
    fieldInput(layer, field).forEach(function (node) { fieldsBox.appendChild(node); });
  });
}

// The layer's records in the map's view, to pick the one to change (the map's bounds are
// WGS 84 whatever the tiles' datum, as the API's bbox expects by default).
var nearby = {}; // id → feature
function loadNearby(layer) {
  nearby = {};
  nearbySelect.replaceChildren(el("option", { value: "" }, labels.new_choice));
  nearbyStatus.textContent = "";
  if (!layer) return;
  var query = new URLSearchParams({ bbox: options.map.getBounds().toBBoxString(), limit: "50" });
  page.request(layer.records + "?" + query).then(function (answer) {
    if (layerSelect.value !== layer.name) return; // another type was chosen meanwhile
    if (answer.status !== 200) {
      nearbyStatus.textContent = labels.nearby_error;
      return;
    }
    var features = answer.body.features || [];
    features.forEach(function (feature) {
      nearby[feature.id] = feature;
      var p = feature.properties;
      nearbySelect.appendChild(el("option", { value: String(feature.id) },
        ["#" + feature.id, p.code || p.credit_code || "", p.name || ""].join(" ").trim()));
    });
    if (!features.length) nearbyStatus.textContent = labels.nearby_none;
  }, function () { nearbyStatus.textContent = labels.nearby_error; });
}

// A record picked: its number, and its values as the fields' hints (a change sends only
// what is typed, so an empty field keeps the record's value).
function picked() {
  recordInput.value = nearbySelect.value;
  var feature = nearby[nearbySelect.value];
  fieldsBox.querySelectorAll("[data-field]").forEach(function (input) {
    var value = feature ? feature.properties[input.dataset.field] : null;
    if (input.tagName === "INPUT") input.placeholder = value === null || value === undefined ? "" : String(value);
  });
}

function showPhoto() {
  thumb.replaceChildren();
  if (!photo) return;
  var image = el("img", { alt: labels.photo });
  image.src = URL.createObjectURL(photo);
  image.onload = function () { URL.revokeObjectURL(image.src); };
  thumb.appendChild(image);
}

// What the form says, or the reason it cannot be sent yet.
function proposalFields() {
  var layer = layers[layerSelect.value];
  if (!layer) return { error: labels.layer_required, focus: layerSelect };
  var record = recordInput.value.trim();
  if (record && !/^\d+$/.test(record)) return { error: labels.record_number, focus: recordInput };
  var values = {};
  var missing = null;
  layer.fields.forEach(function (field) {
    var input = fieldsBox.querySelector('[data-field="' + field.name + '"]');
    var value = input ? input.value.trim() : "";
    // A change sends only what was filled in; a new record needs its required fields.
    if (value) values[field.name] = value;
    else if (field.required && !record && !missing) missing = input;
  });
  if (missing) return { error: labels.fields_required, focus: missing };
  // A new record is where the inspector is; a changed one moves only when asked to.
  var where = !record || moveBox.checked ? options.position() : null;
  if (!where && (!record || moveBox.checked)) {
    return { error: labels.no_position, focus: layerSelect };
  }
  var fields = { layer: layer.name, values: JSON.stringify(values),
                 note: noteInput.value.trim() };
  if (record) fields.object_id = record;
  if (where) Object.assign(fields, { lon: where.lon, lat: where.lat, datum: "wgs84" });
  return { fields: fields };
}

function submit(event) {
  event.preventDefault();
  formError.textContent = "";
  var made = proposalFields();
  if (made.error) {
    formError.textContent = made.error;
    made.focus.focus();
    return;
  }
  submitButton.disabled = true; // one tap, one proposal (see the report form)
  photoReady.then(function () {
    return queue.add(made.fields, photo ? [photo] : []);
  }).then(function () {
    submitButton.disabled = false;
    form.reset();
    fieldsBox.replaceChildren();
    loadNearby(null);
    photo = null;
    showPhoto();
  }, function (error) {
    submitButton.disabled = false;
    formError.textContent = String(error);
  });
}

// ---- 我的采集 ------------------------------------------------------------------------

function layerLabel(name) {
  return layers[name] ? layers[name].label : name;
}

function summary(layer, objectId, values) {
  var what = objectId ? labels.change + " #" + objectId : labels.new_record;
  var first = Object.keys(values || {}).slice(0, 2).map(function (k) { return values[k]; });
  return [layerLabel(layer), what].concat(first).join(" · ");
}

function waitingItem(record) {
  var state = record.state === "failed" ? "failed"
    : queue.isSending(record.client_uuid) ? "sending" : "queued";
  var values = {};
  try { values = JSON.parse(record.fields.values); } catch (e) { /* shown without them */ }
  var item = el("li", { "data-uuid": record.client_uuid, "data-state": state });
  item.appendChild(el("div", {}, summary(record.fields.layer, record.fields.object_id, values)));
  item.appendChild(el("div", { class: "state-" + (state === "failed" ? "failed" : "queued") },
    state === "failed" ? labels.failed + record.error
      : state === "sending" ? labels.sending : labels.queued));
  if (state === "failed") {
    var actions = el("div", { class: "report-actions" });
    actions.appendChild(el("button", { type: "button",
      onclick: function () { queue.retry(record.client_uuid); } }, labels.retry));
    actions.appendChild(el("button", { type: "button", onclick: function () {
      if (window.confirm(labels.discard_confirm)) queue.discard(record.client_uuid);
    } }, labels.discard));
    item.appendChild(actions);
  }
  return item;
}

function servedItem(row) {
  var item = el("li", { "data-proposal-id": String(row.id), "data-status": row.status });
  item.appendChild(el("div", {}, summary(row.layer, row.object_id, row.values)));
  var line = labels.proposal + " #" + row.id + " · " + row.status_display;
  if (row.status === "accepted" && row.result_id) line += " · " + labels.record + " #" + row.result_id;
  item.appendChild(el("div", { class: "state-" + (row.status === "rejected" ? "failed" : "sent") },
    line));
  if (row.reason) item.appendChild(el("div", { class: "reason" }, labels.reason + row.reason));
  return item;
}

var rendering = Promise.resolve();

function render() {
  rendering = rendering.then(function () {
    return queue.list().then(function (records) {
      var items = records.map(waitingItem).concat((served || []).map(servedItem));
      if (!items.length && served) items.push(el("li", { class: "hint" }, labels.none));
      list.replaceChildren.apply(list, items);
    });
  });
}

function load() {
  page.request(config.api).then(function (answer) {
    if (answer.status !== 200) return;
    served = answer.body.results;
    render();
  }, function () { /* offline: the outbox is still listed */ });
}

export function start(given) {
  options = given;
  config.layers.forEach(function (layer) {
    layers[layer.name] = layer;
    layerSelect.appendChild(el("option", { value: layer.name }, layer.label));
  });
  layerSelect.addEventListener("change", showFields);
  nearbySelect.addEventListener("change", picked);
  photoInput.addEventListener("change", function () {
    var chosen = photoInput.files[0];
    photoInput.value = "";
    if (!chosen) return;
    photoReady = photoReady.then(function () { return options.shrink(chosen); })
      .then(function (small) {
        photo = small;
        showPhoto();
      });
  });
  form.addEventListener("submit", submit);
  queue = outbox.create({
    kind: "proposal",
    url: config.api,
    user: page.config.user,
    onChange: render,
    onSent: load,
  });
  // A decision reaches the inbox (notifications) and with it this list.
  document.addEventListener("gridmgmt:inbox", load);
  render();
  queue.flush();
  load();
}
