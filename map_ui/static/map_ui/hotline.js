/* The 12345 hotline's intake form: the caller's address → ranked standard addresses on
   the map (GET /api/geocode/), or a point picked and dragged on the map; the category;
   the caller; the open cases of the same category nearby (likely duplicates) before the
   ticket is filed; then POST /api/cases/tickets/. */

import * as page from "./common.js";
import * as intake from "./intake-common.js";
import "./mapkit.js";
var config = page.config;
var labels = config.labels;
var map = page.map;
var el = page.el;

var form = document.getElementById("ticket-form");
var addressInput = document.getElementById("address-text");
var searchButton = document.getElementById("address-search");
var searchStatus = document.getElementById("search-status");
var candidateList = document.getElementById("candidates");
var placeLine = document.getElementById("place");
var categorySelect = document.getElementById("category");
var urgentBox = document.getElementById("urgent");
var duplicatesBox = document.getElementById("duplicates");
var channelSelect = document.getElementById("channel");
var formError = document.getElementById("form-error");
var submitButton = document.getElementById("submit-ticket");
var result = document.getElementById("result");
var confirmButton = document.getElementById("confirm-place");
var areaInput = document.getElementById("area-text");
var areaStatus = document.getElementById("area-status");
var areaList = document.getElementById("areas");
var phoneInput = document.getElementById("caller-phone");
var notifyBox = document.getElementById("notify-on-close");
var historyBox = document.getElementById("caller-history");
var ticketTypeSelect = document.getElementById("ticket-type");
var replyTermSelect = document.getElementById("reply-term");

intake.outlines(map, config.tiles);
var candidateLayer = L.layerGroup().addTo(map);
var duplicateLayer = L.layerGroup().addTo(map);
var pin = null; // the draggable marker of the ticket's place

// Where the ticket is: {kind: "address", id, text, lon, lat, uncertain, confirmed} for a
// standard address the operator chose (an uncertain one — scored below
// config.uncertain_score — must be confirmed by hand), {kind: "point", lon, lat, areas}
// for a point picked on the map (areas: its district…cell, looked up for the operator).
// Coordinates are WGS 84 (the geocoder's default datum, and Leaflet's own).
var place = null;
var clientUuid = intake.uuid(); // one per ticket: a double click files it once

// ---- pickers --------------------------------------------------------------------

intake.categoryPicker(categorySelect, config.categories, urgentBox);
// 12345 work orders: the type gives the ticket its number and its reply deadline; the
// term, when picked, overrides the type's (an urgent ticket is always 紧急).
function fillChoices(select, choices, first) {
  select.appendChild(el("option", { value: "", text: first }));
  (choices || []).forEach(function (choice) {
    select.appendChild(el("option", { value: choice.value, text: choice.label }));
  });
}
fillChoices(ticketTypeSelect, config.ticket_types, labels.no_ticket_type);
fillChoices(replyTermSelect, config.reply_terms, labels.term_by_type);
config.channels.forEach(function (channel) {
  channelSelect.appendChild(el("option", { value: channel.value }, channel.label));
});

// ---- address search ---------------------------------------------------------------

var searchTimer = null;
var searchSeq = 0; // answers to older queries that arrive late are dropped

function search() {
  clearTimeout(searchTimer);
  var query = addressInput.value.trim();
  if (query.length < 2) return;
  var seq = ++searchSeq;
  searchStatus.textContent = labels.searching;
  var url = config.api.geocode + "?" + new URLSearchParams({ q: query, limit: "8" });
  page.request(url).then(
    function (answer) {
      if (seq !== searchSeq) return;
      if (answer.status !== 200) {
        showCandidates([]);
        searchStatus.textContent = page.errorText(answer.body);
        return;
      }
      showCandidates(answer.body.candidates);
      searchStatus.textContent = answer.body.candidates.length ? "" : labels.no_candidates;
    },
    function () {
      if (seq === searchSeq) searchStatus.textContent = labels.network_error;
    }
  );
}

function showCandidates(candidates) {
  candidateList.replaceChildren();
  candidateLayer.clearLayers();
  var bounds = [];
  candidates.forEach(function (candidate, index) {
    var rank = String(index + 1);
    var button = el("button", { type: "button", "data-address-id": candidate.id });
    button.appendChild(el("span", { class: "rank" }, rank));
    button.appendChild(el("span", { class: "text" }, candidate.text));
    var score = el("span", { class: "score" },
      labels.candidate_score + " " + Math.round(candidate.score * 100) + "%");
    if (isUncertain(candidate)) {
      button.classList.add("uncertain");
      score.appendChild(el("span", { class: "uncertain-badge" }, labels.uncertain));
    }
    button.appendChild(score);
    button.addEventListener("click", function () { pick(candidate); });
    var item = el("li", {});
    item.appendChild(button);
    candidateList.appendChild(item);

    var marker = L.marker([candidate.lat, candidate.lon], {
      icon: L.divIcon({ className: "candidate-icon", html: rank, iconSize: [22, 22] }),
      title: candidate.text,
      keyboard: false,
    });
    marker.on("click", function () { pick(candidate); });
    marker.addTo(candidateLayer);
    bounds.push([candidate.lat, candidate.lon]);
  });
  if (bounds.length) {
    intake.whenStill(map, function () {
      map.fitBounds(bounds, { maxZoom: 17, padding: [40, 40] });
    });
  }
}

function isUncertain(candidate) {
  return candidate.score < config.uncertain_score;
}

function pick(candidate) {
  place = {
    kind: "address", id: candidate.id, text: candidate.text,
    lon: candidate.lon, lat: candidate.lat,
    uncertain: isUncertain(candidate), confirmed: false,
  };
  candidateList.querySelectorAll("button").forEach(function (button) {
    var chosen = button.getAttribute("data-address-id") === String(candidate.id);
    button.setAttribute("aria-pressed", chosen ? "true" : "false");
  });
  movePin(candidate.lat, candidate.lon);
  intake.whenStill(map, function () {
    map.setView([candidate.lat, candidate.lon], Math.max(map.getZoom(), 16));
  });
  placeChanged();
}

// ---- a point on the map -------------------------------------------------------------

function movePin(lat, lon) {
  if (!pin) {
    pin = L.marker([lat, lon], { draggable: true, autoPan: true }).addTo(map);
    pin.on("dragend", function () {
      // Moved off the standard address: the ticket now stands on the point itself.
      var at = pin.getLatLng();
      pickPoint(at.lat, at.lng);
    });
  } else {
    pin.setLatLng([lat, lon]);
  }
}

var locateSeq = 0;

function pickPoint(lat, lon) {
  place = { kind: "point", lon: lon, lat: lat, areas: null };
  candidateList.querySelectorAll("button").forEach(function (button) {
    button.setAttribute("aria-pressed", "false");
  });
  movePin(lat, lon);
  placeChanged();
  locatePoint(place);
}

// The district, street, community and cell of a point placed by hand, shown before
// the ticket is filed; a point outside the city is said at once.
function locatePoint(point) {
  var seq = ++locateSeq;
  var params = { lon: point.lon, lat: point.lat, datum: "wgs84" };
  page.request(config.api.locate + "?" + new URLSearchParams(params)).then(
    function (answer) {
      if (seq !== locateSeq || place !== point) return;
      if (answer.status !== 200) {
        point.error = page.errorText(answer.body);
      } else {
        point.areas = answer.body;
      }
      placeChanged(true);
    },
    function () {
      if (seq === locateSeq && place === point) {
        point.error = labels.network_error;
        placeChanged(true);
      }
    }
  );
}

function clearPlace() {
  place = null;
  locateSeq++;
  if (pin) pin.remove();
  pin = null;
  candidateList.querySelectorAll("button").forEach(function (button) {
    button.setAttribute("aria-pressed", "false");
  });
  placeChanged();
}

map.on("click", function (event) { pickPoint(event.latlng.lat, event.latlng.lng); });

function placeChanged(areasOnly) {
  placeLine.classList.remove("uncertain", "error");
  confirmButton.hidden = true;
  if (!place) {
    placeLine.textContent = labels.no_place;
  } else if (place.kind === "address") {
    placeLine.textContent = labels.picked_address + place.text;
    if (place.uncertain) {
      placeLine.classList.add("uncertain");
      placeLine.appendChild(el("span", { class: "uncertain-badge" },
        place.confirmed ? labels.confirmed : labels.uncertain));
      confirmButton.hidden = place.confirmed;
    }
  } else {
    placeLine.textContent =
      labels.picked_point + place.lon.toFixed(6) + ", " + place.lat.toFixed(6);
    var areasLine = el("span", { class: "point-areas" });
    if (place.error) {
      placeLine.classList.add("error");
      areasLine.textContent = place.error;
    } else if (place.areas) {
      var a = place.areas;
      areasLine.textContent = labels.point_areas + [a.district, a.street, a.community, a.cell]
        .map(function (area) { return area.name; }).join(" / ");
    } else {
      areasLine.textContent = labels.locating_point;
    }
    placeLine.appendChild(areasLine);
  }
  if (!areasOnly) refreshDuplicates();
}

confirmButton.addEventListener("click", function () {
  if (place && place.kind === "address") {
    place.confirmed = true;
    formError.textContent = "";
    placeChanged(true);
  }
});

// ---- nothing matches: move the map to a street or community by name ------------------

function searchAreas() {
  var query = areaInput.value.trim();
  if (!query) return;
  areaStatus.textContent = labels.searching;
  page.request(config.api.areas + "?" + new URLSearchParams({ q: query })).then(
    function (answer) {
      areaList.replaceChildren();
      if (answer.status !== 200) {
        areaStatus.textContent = page.errorText(answer.body);
        return;
      }
      areaStatus.textContent = answer.body.length ? "" : labels.areas_none;
      answer.body.forEach(function (area) {
        var button = el("button", { type: "button", "data-area-code": area.code },
          area.name + (area.within ? " · " + area.within : ""));
        button.addEventListener("click", function () { jumpTo(area); });
        var item = el("li", {});
        item.appendChild(button);
        areaList.appendChild(item);
      });
      if (answer.body.length === 1) jumpTo(answer.body[0]);
    },
    function () { areaStatus.textContent = labels.network_error; }
  );
}

function jumpTo(area) {
  var b = area.bounds;
  intake.whenStill(map, function () {
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [20, 20] });
  });
  areaStatus.textContent = labels.area_jumped.replace("%(name)s", area.name);
}

document.getElementById("area-search").addEventListener("click", searchAreas);
areaInput.addEventListener("keydown", function (event) {
  if (event.key === "Enter") {
    event.preventDefault();
    searchAreas();
  }
});

// ---- the caller's earlier tickets ---------------------------------------------------

function searchHistory() {
  historyBox.replaceChildren();
  var phone = phoneInput.value.trim();
  if (!phone) {
    historyBox.textContent = labels.history_phone_needed;
    return;
  }
  historyBox.textContent = labels.searching;
  var params = new URLSearchParams({ caller_phone: phone, limit: "20" });
  page.request(config.api.cases + "?" + params).then(
    function (answer) {
      historyBox.replaceChildren();
      if (answer.status !== 200) {
        historyBox.textContent = page.errorText(answer.body);
        return;
      }
      var rows = answer.body.results || [];
      if (!rows.length) {
        historyBox.appendChild(el("p", { class: "hint" }, labels.history_none));
        return;
      }
      historyBox.appendChild(el("p", {}, labels.history_found));
      var list = el("ul", {});
      rows.forEach(function (row) {
        var line = labels.case + " #" + row.id + " · " +
          (config.states[row.state] || row.state) + " · " +
          String(row.created_at || "").slice(0, 10) + " · " +
          (row.address_text || "") + " · " + (row.description || "");
        list.appendChild(el("li", { "data-case-id": row.id }, line));
      });
      historyBox.appendChild(list);
    },
    function () { historyBox.textContent = labels.network_error; }
  );
}

document.getElementById("caller-history-search").addEventListener("click", searchHistory);
phoneInput.addEventListener("keydown", function (event) {
  if (event.key === "Enter") {
    event.preventDefault(); // Enter looks the caller up; it does not file the ticket
    searchHistory();
  }
});

// ---- likely duplicates ---------------------------------------------------------------

var duplicatesSeq = 0;

function refreshDuplicates() {
  var seq = ++duplicatesSeq;
  duplicateLayer.clearLayers();
  duplicatesBox.replaceChildren();
  if (!place || !categorySelect.value) return;
  var params = { category: categorySelect.value };
  if (place.kind === "address") {
    params.address_id = place.id;
  } else {
    Object.assign(params, { lon: place.lon, lat: place.lat, datum: "wgs84" });
  }
  page.request(config.api.duplicates + "?" + new URLSearchParams(params)).then(
    function (answer) {
      if (seq !== duplicatesSeq) return;
      if (answer.status !== 200) {
        duplicatesBox.textContent = page.errorText(answer.body);
        return;
      }
      showDuplicates(answer.body);
    },
    function () {
      if (seq === duplicatesSeq) duplicatesBox.textContent = labels.network_error;
    }
  );
}

function showDuplicates(duplicates) {
  duplicatesBox.classList.toggle("warning", duplicates.length > 0);
  if (!duplicates.length) {
    duplicatesBox.appendChild(el("p", { class: "hint" }, labels.duplicates_none));
    return;
  }
  duplicatesBox.appendChild(el("p", {}, labels.duplicates_found));
  var list = el("ul", {});
  duplicates.forEach(function (dup) {
    var line = labels.case + " #" + dup.id + " · " + (config.states[dup.state] || dup.state) +
      " · " + Math.round(dup.distance_m) + " " + labels.metres + " · " + dup.description;
    list.appendChild(el("li", { "data-case-id": dup.id }, line));
    L.circleMarker([dup.point[1], dup.point[0]], {
      radius: 9, color: "#b42318", weight: 2, fillOpacity: 0.35,
    })
      .bindTooltip(labels.case + " #" + dup.id)
      .addTo(duplicateLayer);
  });
  duplicatesBox.appendChild(list);
}

categorySelect.addEventListener("change", refreshDuplicates);

// ---- submit -------------------------------------------------------------------------

function ticketBody() {
  var body = {
    client_uuid: clientUuid,
    channel: channelSelect.value,
    category: Number(categorySelect.value),
    description: document.getElementById("description").value,
    address_text: addressInput.value.trim(),
    caller_name: document.getElementById("caller-name").value.trim(),
    caller_phone: document.getElementById("caller-phone").value.trim(),
    urgent: urgentBox.checked,
    // The caller's SMS opt-in: told by SMS when the case is closed (notifications).
    notify_on_close: notifyBox.checked,
    ticket_type: ticketTypeSelect.value,
    reply_term: ticketTypeSelect.value ? replyTermSelect.value : "",
  };
  if (place.kind === "address") {
    body.address_id = place.id;
  } else {
    Object.assign(body, { lon: place.lon, lat: place.lat, datum: "wgs84" });
  }
  return body;
}

function missing() {
  if (!addressInput.value.trim()) return addressInput;
  if (!place) return addressInput;
  if (!categorySelect.value) return categorySelect;
  if (!document.getElementById("description").value.trim()) {
    return document.getElementById("description");
  }
  if (notifyBox.checked && !phoneInput.value.trim()) return phoneInput;
  return null;
}

form.addEventListener("submit", function (event) {
  event.preventDefault();
  formError.textContent = "";
  result.textContent = "";
  var field = missing();
  if (field) {
    formError.textContent = field === phoneInput ? labels.notify_needs_phone
      : place ? labels.required : labels.no_place;
    field.focus();
    return;
  }
  if (place.kind === "address" && place.uncertain && !place.confirmed) {
    formError.textContent = labels.confirm_needed;
    confirmButton.focus();
    return;
  }
  submitButton.disabled = true;
  result.textContent = labels.sending;
  page.request(config.api.tickets, { method: "POST", json: ticketBody() }).then(
    function (answer) {
      submitButton.disabled = false;
      result.textContent = "";
      if (answer.status === 200 || answer.status === 201) {
        filed(answer.body);
      } else {
        formError.textContent = page.errorText(answer.body);
      }
    },
    function () {
      submitButton.disabled = false;
      result.textContent = "";
      formError.textContent = labels.network_error;
    }
  );
});

function filed(body) {
  result.replaceChildren(
    el("strong", { "data-case-id": body.case.id }, labels.sent + "#" + body.case.id)
  );
  // The number the caller is given, and when they will hear back.
  if (body.case.ticket_no) {
    result.appendChild(el("div", { class: "ticket-no", "data-ticket-no": body.case.ticket_no },
      labels.ticket_no + body.case.ticket_no));
  }
  if (body.case.reply_due_at) {
    result.appendChild(el("div", { class: "reply-due" },
      labels.reply_due + new Date(body.case.reply_due_at).toLocaleString()));
  }
  form.reset();
  place = null;
  clientUuid = intake.uuid();
  if (pin) pin.remove();
  pin = null;
  candidateList.replaceChildren();
  candidateLayer.clearLayers();
  duplicateLayer.clearLayers();
  duplicatesBox.replaceChildren();
  duplicatesBox.classList.remove("warning");
  placeLine.textContent = "";
  confirmButton.hidden = true;
  searchStatus.textContent = "";
  areaList.replaceChildren();
  areaStatus.textContent = "";
  historyBox.replaceChildren();
}

// ---- wiring -------------------------------------------------------------------------

addressInput.addEventListener("input", function () {
  // A new address: the place chosen for the words before it no longer holds (it may be
  // the previous caller's). The ticket cannot be filed until a place is chosen again.
  if (place && place.kind === "address") clearPlace();
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 400);
});
addressInput.addEventListener("keydown", function (event) {
  if (event.key === "Enter") {
    event.preventDefault(); // Enter searches; it does not file the ticket
    search();
  }
});
searchButton.addEventListener("click", search);

// ---- the call-back queue (回访) --------------------------------------------------------
// Answered tickets not yet called back, soonest deadline first (GET /api/cases/?ticket=
// awaiting_callback): the operator reads the unit's reply to the caller and records the
// outcome; 不满意 reopens the case (重办) on the server.

var callbackList = document.getElementById("callback-list");
var callbackStatus = document.getElementById("callback-status");

function loadCallbacks() {
  return page.api(config.api.cases + "?ticket=awaiting_callback").then(function (answer) {
    callbackList.replaceChildren();
    var rows = answer.results || [];
    if (!rows.length) callbackList.appendChild(el("li", { class: "muted", text: labels.callbacks_none }));
    rows.forEach(function (row) { callbackList.appendChild(callbackItem(row)); });
  }).catch(function (error) {
    callbackStatus.textContent = error.message;
  });
}

function callbackItem(row) {
  var item = el("li", { "data-case-id": String(row.id) },
    el("strong", { text: "#" + row.id + (row.ticket_no ? " · " + row.ticket_no : "") }),
    el("div", { text: labels.callback_caller + [row.caller_name, row.caller_phone].filter(Boolean).join(" ") }),
    el("div", { class: "description", text: row.description }),
    el("div", { class: "reply" }, labels.callback_reply, el("q", { text: row.reply })),
    row.callback_due_at
      ? el("div", { class: "muted", text: labels.callback_due + new Date(row.callback_due_at).toLocaleString() })
      : null,
    row.callback_tries
      ? el("div", { class: "muted", text: labels.callback_tries.replace("%(n)s", String(row.callback_tries)) })
      : null);
  var buttons = el("div", { class: "callback-buttons" });
  Object.keys(labels.satisfaction || {}).forEach(function (value) {
    buttons.appendChild(el("button", {
      type: "button", "data-satisfaction": value, text: labels.satisfaction[value],
      onclick: function () { record(row, { reached: true, satisfaction: value }); },
    }));
  });
  buttons.appendChild(el("button", {
    type: "button", "data-satisfaction": "", text: labels.not_reached,
    onclick: function () { record(row, { reached: false }); },
  }));
  item.appendChild(buttons);
  return item;
}

function record(row, outcome) {
  callbackStatus.textContent = labels.sending;
  var body = Object.assign({ expected_state: row.state }, outcome);
  page.request(config.api.cases + row.id + "/callback/", { method: "POST", json: body }).then(
    function (answer) {
      if (answer.status !== 200) {
        callbackStatus.textContent = page.errorText(answer.body);
        return;
      }
      callbackStatus.textContent = answer.body.reopens > row.reopens
        ? labels.callback_reopened : labels.callback_done;
      loadCallbacks();
    },
    function () { callbackStatus.textContent = labels.network_error; }
  );
}

document.getElementById("callbacks-refresh").addEventListener("click", loadCallbacks);
loadCallbacks();

