/* The actions of a case, as buttons: exactly the case detail's `allowed_actions` (the
   server decides who may do what; nothing is computed here). An action that needs input
   (a reason, a unit, a merge target, a note and a date) opens its form first; every
   action is sent with the state the page showed (`expected_state`), so a case changed
   meanwhile is refused rather than acted on blindly.

   render(detail, node, options) (exported) adds the bar (and its forms) to
   `node`. options: {onDone(item), onError(message), onForm(open), units: [..]}.
   Labels come from the page config (config.labels.decide). */

import * as page from "./common.js";
import * as g from "./cases.js";
var el = page.el;
var labels = (page.config.labels || {}).decide || {};

// What each action asks before it is sent; an action not listed is sent at once.
export const FORMS = {
  cancel: ["reason"],
  merge: ["into", "note"],
  "return": ["reason"],
  request_extension: ["kind", "hours", "reason"],
  approve_extension: ["note"],
  reject_extension: ["note"],
  escalate: ["reason"],
  redispatch: ["unit", "reason"],
  supervise: ["note", "due_at"],
  handle: ["note", "photos"],
  verify_pass: ["note"],
  verify_fail: ["note"],
};
var REQUIRED = { reason: true, into: true, unit: true, due_at: true, photos: true };
// Notes the service requires for these actions (the rest are optional).
var NOTE_REQUIRED = { supervise: true, handle: true, verify_fail: true };

export function render(detail, node, options) {
  options = options || {};
  var actions = detail.allowed_actions || [];
  if (!actions.length) return;
  var bar = el("div", { class: "actions" });
  actions.forEach(function (entry) {
    bar.appendChild(el("button", {
      type: "button",
      class: "action action-" + entry.action,
      "data-action": entry.action,
      text: entry.label,
      onclick: function () {
        if (FORMS[entry.action]) openForm(detail, entry, node, options);
        else send(detail, entry.action, {}, node, options);
      },
    }));
  });
  node.appendChild(bar);
}

function closeForms(node) {
  node.querySelectorAll("form.decide").forEach(function (form) {
    form.parentNode.removeChild(form);
  });
}

function field(name, action, detail, options) {
  var required = REQUIRED[name] || (name === "note" && NOTE_REQUIRED[action]);
  if (name === "reason" || name === "note") {
    return el("label", {}, labels[name] + " ",
      el("textarea", { name: name, rows: "2", required: required }));
  }
  if (name === "kind") {
    var kinds = labels.kinds || {};
    var select = el("select", { name: "kind" });
    Object.keys(kinds).forEach(function (value) {
      select.appendChild(el("option", { value: value, text: kinds[value] }));
    });
    return el("label", {}, labels.kind + " ", select);
  }
  if (name === "hours") {
    return el("label", {}, labels.hours + " ",
      el("input", { name: "hours", type: "number", min: "1", value: "24" }));
  }
  if (name === "due_at") {
    var tomorrow = new Date(Date.now() + 86400000);
    var day = tomorrow.getFullYear() + "-" + pad(tomorrow.getMonth() + 1) + "-" +
      pad(tomorrow.getDate());
    return el("label", {}, labels.due_at + " ",
      el("input", { name: "due_at", type: "date", value: day, min: day, required: true }));
  }
  if (name === "photos") {
    return el("label", {}, labels.photos + " ",
      el("input", { name: "photos", type: "file", accept: "image/*", multiple: true,
        required: true }));
  }
  if (name === "unit") return unitPicker(detail, options.units || []);
  if (name === "into") return mergeTargets(detail);
  return null;
}

function pad(n) {
  return (n < 10 ? "0" : "") + n;
}

/* The units whose area holds the case's place (the server checks the rest): grouped
   by the tier of their area, the case's own unit left out. */
function unitPicker(detail, units) {
  var places = {};
  ["cell", "community", "street", "district"].forEach(function (tier) {
    if (detail[tier]) places[detail[tier].id] = true;
  });
  var select = el("select", { name: "unit", required: true },
    el("option", { value: "", text: labels.choose_unit }));
  units.forEach(function (unit) {
    if (detail.unit && unit.id === detail.unit.id) return;
    if (!places[unit.area] && !unit.citywide) return;
    select.appendChild(el("option", { value: String(unit.id), text: unit.name }));
  });
  return el("label", {}, labels.unit + " ", select);
}

/* The likely duplicates nearby (GET /api/cases/{id}/duplicates/), one to choose; or
   a case number typed in. */
function mergeTargets(detail) {
  var box = el("fieldset", { class: "merge-targets" },
    el("legend", { text: labels.merge_into }));
  var list = el("ul", { class: "duplicates" },
    el("li", { class: "muted", text: labels.loading }));
  box.appendChild(list);
  box.appendChild(el("label", {}, labels.case_number + " ",
    el("input", { name: "into", type: "number", min: "1", required: true })));
  page.api(g.caseUrl(detail.id, "duplicates")).then(function (found) {
    list.replaceChildren();
    if (!found.length) list.appendChild(el("li", { class: "muted", text: labels.no_duplicates }));
    found.forEach(function (other) {
      var pick = el("button", {
        type: "button",
        class: "pick",
        "data-into": String(other.id),
        text: "#" + other.id,
        onclick: function () {
          box.querySelector("input[name=into]").value = String(other.id);
          list.querySelectorAll("li").forEach(function (li) { li.classList.remove("chosen"); });
          pick.parentNode.classList.add("chosen");
        },
      });
      list.appendChild(el("li", { "data-case": String(other.id) }, pick, " ",
        el("span", { class: "state", text: g.stateLabel(other.state) }), " ",
        el("span", { class: "muted", text: Math.round(other.distance_m) + " m · " + g.when(other.created_at) }),
        el("div", { class: "description", text: other.description })));
    });
  }).catch(function (error) {
    list.replaceChildren(el("li", { class: "error", text: error.message }));
  });
  return box;
}

function openForm(detail, entry, node, options) {
  closeForms(node);
  if (options.onForm) options.onForm(true);
  var action = entry.action;
  var form = el("form", { class: "decide", "data-action": action },
    el("h4", { text: entry.label }));
  FORMS[action].forEach(function (name) {
    var input = field(name, action, detail, options);
    if (input) form.appendChild(input);
  });
  var ask = labels.confirm_question && labels.confirm_question[action];
  if (ask) form.appendChild(el("p", { class: "confirm-question", text: ask }));
  form.appendChild(el("div", { class: "form-buttons" },
    el("button", { type: "submit", class: "confirm", text: labels.confirm }),
    el("button", {
      type: "button", class: "dismiss", text: labels.cancel,
      onclick: function () {
        form.parentNode.removeChild(form);
        if (options.onForm) options.onForm(false);
      },
    })));
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(detail, action, bodyOf(form, action), node, options);
  });
  node.querySelector(".actions").after(form);
  var first = form.querySelector("textarea, select, input");
  if (first) first.focus();
}

function bodyOf(form, action) {
  var body = {};
  FORMS[action].forEach(function (name) {
    var input = form.elements[name];
    if (!input) return;
    if (name === "photos") body.photos = Array.prototype.slice.call(input.files);
    else if (name === "into" || name === "unit" || name === "hours") {
      if (input.value !== "") body[name] = parseInt(input.value, 10);
    } else body[name] = input.value;
  });
  if (body.kind === "suspend") delete body.hours;
  return body;
}

/* POST the action with the state shown; multipart when it carries photos. */
function send(detail, action, body, node, options) {
  var buttons = node.querySelectorAll("button");
  buttons.forEach(function (b) { b.disabled = true; });
  var request;
  if (body.photos) {
    var data = new FormData();
    Object.keys(body).forEach(function (key) {
      if (key !== "photos") data.append(key, body[key]);
    });
    body.photos.forEach(function (file) { data.append("photos", file); });
    data.append("expected_state", detail.state);
    request = { method: "POST", body: data };
  } else {
    request = { method: "POST", json: Object.assign({ expected_state: detail.state }, body) };
  }
  return page.api(g.caseUrl(detail.id, action), request).then(function (item) {
    if (options.onForm) options.onForm(false);
    if (options.onDone) options.onDone(item, action);
    return item;
  }).catch(function (error) {
    buttons.forEach(function (b) { b.disabled = false; });
    if (options.onError) options.onError(error.message);
  });
}
