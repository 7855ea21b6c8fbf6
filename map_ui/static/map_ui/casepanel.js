/* The case panel: one case's details, its place on a map, its pending extension request
   and open 督办, its action buttons and its history with notes and photos. The one panel
   of the role pages: the street board, the command centre, the handler's workbench and
   the search page. The buttons are exactly the case detail's `allowed_actions`: the
   server decides who may do what, nothing is computed here. An action that needs input
   (a reason, a unit and its co-units, a merge target, a note, a date, photos) opens its form first, with
   a question to confirm where the action cannot be undone. Every action is sent with the
   state the panel showed (`expected_state`): a case changed meanwhile is refused (409)
   and the panel shows it afresh. Words come from the page config
   (config.labels and config.labels.panel); no text is written here.

   import { create } from "./casepanel.js";
   var panel = create(node, {
     map: leafletMap,           // optional: the case's point is marked and shown on it
     units: [..],               // optional: the units a case may be (re)dispatched to, for
                                // a picker (else the unit is asked by its number)
     workDayHours: 8,           // optional: an extension asked in days is sent in hours
     onDone(item, action) {},   // an action succeeded; `item`: the case as the API returns it
     onError(message) {},       // an action or a load failed
     onForm(open) {},           // a form opened (true) or closed (false): hold live redraws
   });
   panel.show(id);     // load and draw a case (a promise of its detail)
   panel.refresh();    // draw the shown case again (after a live event), unless a form is open
   panel.current();    // the id shown or being loaded, or null
   panel.busy();       // a form is open */

import * as page from "./common.js";
var el = page.el;
var labels = page.config.labels || {};
var words = labels.panel || {};
var form = words.form || {};

// What each action asks before it is sent; an action not listed is sent at once.
var FIELDS = {
  handle: ["note", "photos"],
  // 协办: a co-unit's feedback on its own part (its sign is sent at once).
  co_handle: ["note", "photos"],
  request_extension: ["kind", "days", "reason"],
  "return": ["reason"],
  cancel: ["reason"],
  escalate: ["reason"],
  merge: ["into", "note"],
  redispatch: ["unit", "co_units", "reason"],
  // 派遣: to the unit the routing rules choose, or to one picked (pages with a unit list),
  // with co-units (协办) beside it.
  dispatch: ["unit", "co_units"],
  supervise: ["note", "due_at"],
  // 拆分: child cases, each its subcategory and unit (the rules' choice if none).
  split: ["children", "note"],
  approve_extension: ["note"],
  reject_extension: ["note"],
  verify_pass: ["note", "photos"],
  verify_fail: ["note", "photos"],
  // 12345 work orders: the answer to the caller (the unit's 答复, or the hotline's 直接办结),
  // and the call-back's outcome (回访).
  reply: ["reply"],
  close_direct: ["reply"],
  callback: ["outcome", "note"],
};
// Fields the API requires (the rest may stay empty).
var REQUIRED = { reason: true, into: true, unit: true, due_at: true };
var SPLIT_ROWS = 2; // a split makes at least two child cases
var NOTE_REQUIRED = { handle: true, co_handle: true, supervise: true, verify_fail: true };
var PHOTOS_REQUIRED = { handle: true, co_handle: true };
var FINAL_STATES = { closed: true, cancelled: true, merged: true };

export function stateLabel(state) {
  return (labels.states && labels.states[state]) || state;
}

export function when(iso) {
  if (!iso) return labels.none || "";
  return new Date(iso).toLocaleString(document.documentElement.lang || undefined, { hour12: false });
}

export function deadline(item) {
  if (!item.due_at) return "none";
  if (item.overdue) return "overdue";
  if (item.warned) return "warning";
  return "on_time";
}

export function isFinal(state) {
  return FINAL_STATES[state] === true;
}

export function badge(item) {
  var status = deadline(item);
  return el("span", { class: "badge deadline-" + status, text: (labels.deadline || {})[status] || status });
}

export function caseUrl(id, action) {
  return page.config.api.cases + id + "/" + (action ? action + "/" : "");
}

/* A full-size view of a photo over the page; a tap or Escape closes it. */
function pad(n) {
  return (n < 10 ? "0" : "") + n;
}

function enlarge(photo) {
  var overlay = el("div", { class: "photo-overlay", role: "dialog", "aria-modal": "true" },
    el("img", { src: photo.url, alt: "" }),
    el("button", { type: "button", class: "close", text: words.close }));
  function close() {
    document.removeEventListener("keydown", onKey);
    if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
  }
  function onKey(event) { if (event.key === "Escape") close(); }
  overlay.addEventListener("click", close);
  document.addEventListener("keydown", onKey);
  document.body.appendChild(overlay);
  overlay.querySelector("button").focus();
}

function photoStrip(photos) {
  if (!photos || !photos.length) return null;
  var strip = el("div", { class: "photo-strip" });
  photos.forEach(function (photo) {
    strip.appendChild(el("button", {
      type: "button", class: "photo", title: words.enlarge, "data-photo": String(photo.id),
      onclick: function () { enlarge(photo); },
    }, el("img", { src: photo.thumb_url || photo.url, alt: words.enlarge, loading: "lazy" })));
  });
  return strip;
}

export function create(node, options) {
  options = options || {};
  var shown = null; // the detail drawn
  var wanted = null; // the id asked for last: drawn, or on its way
  var formOpen = false;
  var requests = 0;
  var marker = null;

  function setForm(open) {
    formOpen = open;
    if (options.onForm) options.onForm(open);
  }

  function mark(detail) {
    var map = options.map;
    if (!map || !detail.point) return;
    var at = [detail.point[1], detail.point[0]]; // API: [lon, lat]
    if (marker) marker.setLatLng(at);
    else marker = L.circleMarker(at, { radius: 9, color: "#123b63", weight: 3, fillColor: "#f79009", fillOpacity: 0.9 }).addTo(map);
    map.setView(at, Math.max(map.getZoom(), 16));
  }

  function facts(detail) {
    var list = el("dl", { class: "facts" });
    [
      [labels.category, detail.category.code + " " + detail.category.name],
      [labels.place, [detail.street.name, detail.community.name, detail.cell.code].join(" / ")],
      [words.address, detail.address_text || labels.none],
      [labels.unit, detail.unit ? detail.unit.name : labels.none],
      // A deadline past the working calendar was counted without that year's holidays.
      [labels.due, when(detail.due_at), detail.due_beyond_calendar && words.beyond_calendar],
      [words.reported_at, when(detail.created_at)],
      // 核查时限: from the lead's feedback until the inspector's check.
      detail.verify_due_at && detail.state === "handled"
        ? [words.verify_due, when(detail.verify_due_at), detail.verify_overdue && words.verify_overdue]
        : null,
    ].filter(Boolean).forEach(function (pair) {
      list.appendChild(el("dt", { text: pair[0] }));
      list.appendChild(el("dd", { text: pair[1] }));
      if (pair[2]) list.appendChild(el("dd", { class: "beyond-calendar", text: pair[2] }));
    });
    return list;
  }

  function pending(detail) {
    var box = el("div", { class: "pending" });
    var ext = detail.extension;
    if (ext) {
      box.appendChild(el("div", { class: "extension", "data-kind": ext.kind },
        el("strong", { text: words.extension }), " ",
        el("span", { text: (form.kinds || {})[ext.kind] || ext.kind }),
        ext.days !== null && ext.days !== undefined ? " · " + ext.days : "",
        " · " + ext.reason + " — " + ext.requested_by + " " + when(ext.requested_at)));
    }
    (detail.supervisions || []).forEach(function (entry) {
      box.appendChild(el("div", { class: "supervision" },
        el("strong", { text: words.supervisions }), " ",
        entry.note, " · " + words.supervise_due + " " + when(entry.due_at),
        entry.by ? " · " + words.by + " " + entry.by : ""));
    });
    return box.children.length ? box : null;
  }

  /* The co-units' parts (协办): each unit, its part's state, its feedback and photos; the
     open ones marked, so the lead sees what is still outstanding. */
  function parts(detail) {
    if (!detail.parts || !detail.parts.length) return null;
    var list = el("ul", { class: "parts" });
    detail.parts.forEach(function (part) {
      list.appendChild(el("li", {
        class: "part" + (part.open ? " open" : ""), "data-unit": String(part.unit.id), "data-state": part.state,
      },
      el("strong", { text: part.unit.name }), " ",
      el("span", { class: "state", text: part.state_label }),
      part.open ? el("span", { class: "badge part-open", text: words.part_open }) : null,
      part.handled_at ? " · " + when(part.handled_at) : "",
      part.note ? el("div", { class: "note", text: part.note }) : null,
      photoStrip(part.photos)));
    });
    return el("div", { class: "case-parts" }, el("h4", { text: words.parts }), list);
  }

  /* 拆分: the child cases of a split case, or the case a child was split from. */
  function family(detail) {
    if (detail.children && detail.children.length) {
      var list = el("ul", { class: "children" });
      detail.children.forEach(function (child) {
        list.appendChild(el("li", { "data-case": String(child.id), "data-state": child.state },
          "#" + child.id + " " + child.category + " ",
          el("span", { class: "state", text: child.state_label }),
          child.unit ? " → " + child.unit.name : ""));
      });
      return el("div", { class: "case-children" }, el("h4", { text: words.children }), list);
    }
    if (detail.parent) {
      return el("p", { class: "case-parent", "data-case": String(detail.parent) }, words.parent + " #" + detail.parent);
    }
    return null;
  }

  function history(detail) {
    var list = el("ol", { class: "history" });
    detail.history.forEach(function (event) {
      var who = [event.actor_unit, event.actor].filter(Boolean).join(" · ");
      var named = labels.actions && labels.actions[event.action];
      list.appendChild(el("li", { "data-action": event.action },
        el("time", { text: when(event.at) }), " ",
        named ? named + " → " : "",
        el("strong", { text: stateLabel(event.to_state) }),
        event.data && event.data.merged ? " #" + event.data.merged : "",
        who ? " — " + who : "",
        event.unit ? " → " + event.unit.name : "",
        event.note ? el("div", { class: "note", text: event.note }) : null,
        photoStrip(event.photos)));
    });
    return list;
  }

  function field(name, action, detail) {
    if (name === "note" || name === "reason") {
      var required = name === "reason" ? REQUIRED.reason : NOTE_REQUIRED[action];
      var title = name === "note" ? (form.notes || {})[action] || form.note : form.reason;
      return el("label", {}, title,
        el("textarea", { name: name, rows: "3", required: required ? true : null, maxlength: "4000" }));
    }
    if (name === "reply") {
      return el("label", {}, form.reply,
        el("textarea", { name: "reply", rows: "4", required: true, maxlength: "4000" }));
    }
    if (name === "outcome") {
      var outcome = el("select", { name: "outcome", required: true });
      Object.keys(form.outcomes || {}).forEach(function (value) {
        outcome.appendChild(el("option", { value: value, text: form.outcomes[value] }));
      });
      return el("label", {}, form.outcome, outcome);
    }
    if (name === "unit" && options.units) return unitPicker(detail, action);
    if (name === "co_units") return coUnitPicker(detail);
    if (name === "children") return childRows(detail);
    if (name === "into") return mergeTargets(detail);
    if (name === "photos") {
      // capture: a phone opens its camera; accept: pictures only (the server checks too).
      return el("label", {}, form.photos,
        el("input", {
          name: "photos", type: "file", accept: "image/*", capture: "environment", multiple: true,
          required: PHOTOS_REQUIRED[action] ? true : null,
        }));
    }
    if (name === "kind") {
      var select = el("select", { name: "kind" });
      Object.keys(form.kinds || {}).forEach(function (value) {
        select.appendChild(el("option", { value: value, text: form.kinds[value] }));
      });
      return el("label", {}, form.kind, select);
    }
    if (name === "days") {
      return el("label", { class: "days" }, form.days,
        el("input", { name: "days", type: "number", min: "0.5", step: "0.5", value: "1", inputmode: "decimal" }));
    }
    if (name === "due_at") {
      var tomorrow = new Date(Date.now() + 86400000);
      var day = tomorrow.getFullYear() + "-" + pad(tomorrow.getMonth() + 1) + "-" + pad(tomorrow.getDate());
      return el("label", {}, form.due_at,
        el("input", { name: "due_at", type: "date", value: day, min: day, required: true }));
    }
    // unit without a list of units: its number.
    return el("label", {}, form[name],
      el("input", { name: name, type: "number", min: "1", required: true, inputmode: "numeric" }));
  }

  /* The units whose area holds the case's place (the server checks the rest): the case's
     own unit left out. 派遣 may leave it to the routing rules (the first choice). */
  function unitPicker(detail, action) {
    var routed = action === "dispatch";
    var places = {};
    ["cell", "community", "street", "district"].forEach(function (tier) {
      if (detail[tier]) places[detail[tier].id] = true;
    });
    var select = el("select", { name: "unit", required: !routed },
      el("option", { value: "", text: routed ? form.by_rules : form.choose_unit }));
    options.units.forEach(function (unit) {
      if (detail.unit && unit.id === detail.unit.id) return;
      if (!places[unit.area] && !unit.citywide) return;
      select.appendChild(el("option", { value: String(unit.id), text: unit.name }));
    });
    return el("label", {}, routed ? form.dispatch_to : form.pick_unit, select);
  }

  /* Co-units (协办): any of the units whose area holds the case, besides the lead, ticked;
     those that have a part already are left out. */
  function coUnitPicker(detail) {
    var places = {};
    var taken = {};
    ["cell", "community", "street", "district"].forEach(function (tier) {
      if (detail[tier]) places[detail[tier].id] = true;
    });
    (detail.parts || []).forEach(function (part) { taken[part.unit.id] = true; });
    var box = el("fieldset", { class: "co-units" }, el("legend", { text: form.co_units }));
    options.units.forEach(function (unit) {
      if (taken[unit.id] || (!places[unit.area] && !unit.citywide)) return;
      box.appendChild(el("label", { class: "co-unit" },
        el("input", { type: "checkbox", name: "co_units", value: String(unit.id) }), " " + unit.name));
    });
    return box;
  }

  /* 拆分: one row per child case: its subcategory (the page's config.categories), the unit
     it goes to (empty: the routing rules) and its own description; rows can be added. */
  function childRows(detail) {
    var box = el("fieldset", { class: "split-children" }, el("legend", { text: form.children }));
    var rows = el("ol", { class: "children" });
    function addRow() {
      var category = el("select", { name: "child_category", required: true },
        el("option", { value: "", text: form.child_category }));
      (page.config.categories || []).forEach(function (c) {
        category.appendChild(el("option", { value: String(c.id), text: c.code + " " + c.name }));
      });
      var unit = el("select", { name: "child_unit" }, el("option", { value: "", text: form.by_rules }));
      var places = {};
      ["cell", "community", "street", "district"].forEach(function (tier) {
        if (detail[tier]) places[detail[tier].id] = true;
      });
      (options.units || []).forEach(function (u) {
        if (places[u.area] || u.citywide) unit.appendChild(el("option", { value: String(u.id), text: u.name }));
      });
      rows.appendChild(el("li", { class: "child" },
        el("label", {}, form.child_category, category),
        el("label", {}, form.child_unit, unit),
        el("label", {}, form.child_description,
          el("input", { name: "child_description", type: "text", maxlength: "4000" }))));
    }
    for (var i = 0; i < SPLIT_ROWS; i += 1) addRow();
    box.appendChild(rows);
    box.appendChild(el("button", { type: "button", class: "secondary add-child", text: form.add_child, onclick: addRow }));
    return box;
  }

  /* The likely duplicates nearby (GET /api/cases/{id}/duplicates/), one to choose; or a
     case number typed in. */
  function mergeTargets(detail) {
    var box = el("fieldset", { class: "merge-targets" }, el("legend", { text: form.merge_into }));
    var list = el("ul", { class: "duplicates" }, el("li", { class: "muted", text: labels.loading }));
    box.appendChild(list);
    box.appendChild(el("label", {}, form.into,
      el("input", { name: "into", type: "number", min: "1", required: true, inputmode: "numeric" })));
    page.api(caseUrl(detail.id, "duplicates")).then(function (found) {
      list.replaceChildren();
      if (!found.length) list.appendChild(el("li", { class: "muted", text: form.no_duplicates }));
      found.forEach(function (other) {
        var pick = el("button", {
          type: "button", class: "pick", "data-into": String(other.id), text: "#" + other.id,
          onclick: function () {
            box.querySelector("input[name=into]").value = String(other.id);
            list.querySelectorAll("li").forEach(function (li) { li.classList.remove("chosen"); });
            pick.parentNode.classList.add("chosen");
          },
        });
        list.appendChild(el("li", { "data-case": String(other.id) }, pick, " ",
          el("span", { class: "state", text: stateLabel(other.state) }), " ",
          el("span", { class: "muted", text: Math.round(other.distance_m) + " m · " + when(other.created_at) }),
          el("div", { class: "description", text: other.description })));
      });
    }).catch(function (error) {
      list.replaceChildren(el("li", { class: "error", text: error.message }));
    });
    return box;
  }

  function body(action, fields) {
    var data = { expected_state: shown.state };
    var files = [];
    fields.forEach(function (name) {
      var input = fields.form.elements[name];
      if (name === "photos") files = Array.prototype.slice.call(input.files);
      else if (name === "days") {
        // 缓办 has no length: it lasts until the case is resumed.
        var kind = fields.form.elements.kind;
        if (!kind || kind.value !== "suspend") {
          data.hours = Math.max(1, Math.round(parseFloat(input.value) * (options.workDayHours || 8)));
        }
      } else if (name === "outcome") {
        // Not reached: one more try; reached: the caller's satisfaction.
        data.reached = input.value !== "not_reached";
        if (data.reached) data.satisfaction = input.value;
      } else if (name === "children") {
        data.children = Array.prototype.map.call(fields.form.querySelectorAll("li.child"), function (row) {
          var unit = row.querySelector("select[name=child_unit]").value;
          return {
            category: parseInt(row.querySelector("select[name=child_category]").value, 10),
            unit: unit ? parseInt(unit, 10) : null,
            description: row.querySelector("input[name=child_description]").value,
          };
        });
      } else if (name === "co_units") {
        var ticked = fields.form.querySelectorAll("input[name=co_units]:checked");
        var chosen = Array.prototype.map.call(ticked, function (box) { return parseInt(box.value, 10); });
        var lead = fields.form.elements.unit;
        data.co_units = chosen.filter(function (id) { return !lead || String(id) !== lead.value; });
      } else if (name === "unit" || name === "into") {
        if (input.value !== "") data[name] = parseInt(input.value, 10); // none: the rules
      } else data[name] = input.value;
    });
    if (!files.length) return { json: data };
    var multipart = new FormData();
    Object.keys(data).forEach(function (key) { multipart.append(key, data[key]); });
    files.forEach(function (file) { multipart.append("photos", file); });
    return { body: multipart };
  }

  function openForm(entry, bar) {
    closeForms();
    var names = fieldsOf(entry.action);
    var box = el("form", { class: "case-form", "data-action": entry.action });
    box.appendChild(el("h4", { text: entry.label }));
    names.forEach(function (name) { box.appendChild(field(name, entry.action, shown)); });
    var kind = box.elements.kind;
    if (kind) {
      kind.addEventListener("change", function () {
        box.querySelector("label.days").hidden = kind.value === "suspend";
      });
    }
    var ask = (form.confirm_question || {})[entry.action];
    if (ask) box.appendChild(el("p", { class: "confirm-question", text: ask }));
    box.appendChild(el("div", { class: "form-buttons" },
      el("button", { type: "submit", class: "primary", text: form.send }),
      el("button", {
        type: "button", class: "secondary", text: form.cancel,
        onclick: function () { closeForms(); },
      })));
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var fields = names.slice();
      fields.form = box;
      send(entry.action, body(entry.action, fields));
    });
    bar.after(box);
    setForm(true);
    var first = box.querySelector("textarea, input, select");
    if (first) first.focus();
  }

  /* The fields an action asks for, or null: sent at once. 派遣 asks only where the page
     has the units to pick from. */
  function fieldsOf(action) {
    if (action === "dispatch" && !options.units) return null;
    // Co-units are picked from the page's units: without them, none are asked.
    if (!options.units && FIELDS[action]) {
      return FIELDS[action].filter(function (name) { return name !== "co_units"; });
    }
    return FIELDS[action] || null;
  }

  function closeForms() {
    node.querySelectorAll("form.case-form").forEach(function (old) { old.parentNode.removeChild(old); });
    if (formOpen) setForm(false);
  }

  function actions(detail) {
    var entries = detail.allowed_actions || [];
    var bar = el("div", { class: "actions", "data-actions": entries.map(function (e) { return e.action; }).join(" ") });
    if (!entries.length) {
      bar.appendChild(el("p", { class: "muted", text: words.no_actions }));
      return bar;
    }
    entries.forEach(function (entry) {
      bar.appendChild(el("button", {
        type: "button", class: "action action-" + entry.action, "data-action": entry.action, text: entry.label,
        onclick: function () {
          if (fieldsOf(entry.action)) openForm(entry, bar);
          else send(entry.action, { json: { expected_state: detail.state } });
        },
      }));
    });
    return bar;
  }

  function send(action, request) {
    var id = shown.id;
    var buttons = node.querySelectorAll("button, input, textarea, select");
    buttons.forEach(function (b) { b.disabled = true; });
    return page.request(caseUrl(id, action), {
      method: "POST", json: request.json, body: request.body,
    }).then(function (answer) {
      if (answer.status >= 200 && answer.status < 300) {
        closeForms();
        if (options.onDone) options.onDone(answer.body, action);
        return show(id);
      }
      buttons.forEach(function (b) { b.disabled = false; });
      var message = page.errorText(answer.body) || "HTTP " + answer.status;
      if (answer.status === 409) {
        // Someone acted first: show the case as it is now, with what may be done now.
        closeForms();
        if (options.onError) options.onError(words.changed + " " + message);
        return show(id);
      }
      if (options.onError) options.onError(message);
      return null;
    }).catch(function (error) {
      buttons.forEach(function (b) { b.disabled = false; });
      if (options.onError) options.onError(error.message);
    });
  }

  function draw(detail) {
    shown = detail;
    node.replaceChildren();
    node.setAttribute("data-case", String(detail.id));
    node.setAttribute("data-state", detail.state);
    node.appendChild(el("h3", {},
      labels.case + " #" + detail.id + " ",
      el("span", { class: "state", text: stateLabel(detail.state) }), " ", badge(detail),
      detail.urgent ? el("span", { class: "badge urgent", text: labels.urgent }) : null));
    node.appendChild(facts(detail));
    node.appendChild(el("h4", { text: words.description }));
    node.appendChild(el("p", { class: "description", text: detail.description }));
    var own = photoStrip(detail.photos);
    if (own) node.appendChild(el("div", { class: "case-photos" }, el("h4", { text: words.photos }), own));
    var waiting = pending(detail);
    if (waiting) node.appendChild(waiting);
    var shared = parts(detail);
    if (shared) node.appendChild(shared);
    var related = family(detail);
    if (related) node.appendChild(related);
    node.appendChild(actions(detail));
    node.appendChild(el("h4", { text: words.history }));
    node.appendChild(history(detail));
    mark(detail);
  }

  function show(id) {
    // Only the latest request draws: a slow answer never covers a newer one.
    var request = (requests += 1);
    wanted = id;
    if (!shown || shown.id !== id) {
      if (formOpen) setForm(false);
      node.replaceChildren(el("p", { class: "muted", text: labels.loading }));
    }
    return page.api(caseUrl(id)).then(function (detail) {
      if (request !== requests) return detail;
      // A form opened on this case while the answer was on its way (a live redraw):
      // keep it. Its action carries the state it was opened on (expected_state), and
      // the server refuses it with a 409 if that no longer holds.
      if (formOpen && shown && shown.id === id) return detail;
      if (formOpen) setForm(false);
      draw(detail);
      return detail;
    }).catch(function (error) {
      if (request !== requests) return null;
      shown = null;
      node.removeAttribute("data-case");
      if (error.status === 404) {
        // Returned or moved to another unit: no longer this user's to see.
        node.replaceChildren(el("p", { class: "muted gone", text: words.gone }));
        return null;
      }
      node.replaceChildren(el("p", { class: "error" }, labels.load_error + " " + error.message));
      if (options.onError) options.onError(error.message);
      return null;
    });
  }

  return {
    show: show,
    refresh: function () {
      // The case asked for last, even if the one drawn is still the previous one.
      if (wanted !== null && !formOpen) return show(wanted);
      return Promise.resolve(null);
    },
    current: function () { return wanted; },
    busy: function () { return formOpen; },
  };
}
