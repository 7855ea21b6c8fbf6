/* 巡查 on the inspector's phone: going on and off duty, and while on duty the phone's GPS
   fixes sent in batches every few seconds (docs/patrol.md).

   import * as patrol from "./patrol.js";
   patrol.start({relocate});  // the page's #duty-toggle and #duty-status;
                              // page.config.patrol: {duty, positions, user, batch_seconds, labels}
   patrol.position(fix);      // every fix of the page's GPS watch (kept while on duty)

   Nothing is lost offline: each duty change and each batch of fixes waits in IndexedDB
   ("gridmgmt-patrol") and they are sent in the order they were made once the network is
   back; the phone's times go with them (`at`), so a shift and its fixes keep their
   times. The server stores a fix once per inspector and instant, and going on duty
   while on duty changes nothing, so whatever lost its answer is sent again safely.
   What an answer means:
   - 2xx: done (fixes the server rejected are counted on the page: sending them again
     would get the same answer);
   - 4xx other than 408/429: refused for good → dropped, the server's reason shown;
   - no answer, 408, 429, 5xx: kept and sent again later; the rest waits behind it. */
import * as page from "./common.js";
import { openStore } from "./queue.js";

var RETRY_MS = 15000;

var config = page.config.patrol || {};
var labels = config.labels || {};
// Its own database, as before the phone's queues shared one helper (queue.js).
var withStore = openStore("gridmgmt-patrol", "outbox", { keyPath: "id", autoIncrement: true });

// This user's waiting entries, oldest first (a shared phone keeps each user's apart).
function waiting() {
  return withStore("readonly", function (store) { return store.getAll(); }).then(
    function (all) {
      return all.filter(function (entry) { return entry.user === config.user; });
    });
}

function keep(kind, body) {
  return withStore("readwrite", function (store) {
    return store.add({ user: config.user, kind: kind, body: body });
  });
}

function drop(entry) {
  return withStore("readwrite", function (store) { store.delete(entry.id); });
}

// ---- state on the page --------------------------------------------------------------

var button = document.getElementById("duty-toggle");
var status = document.getElementById("duty-status");
var onDuty = false;
var fixes = [];        // taken since the last batch
var lastTime = null;   // of the last fix kept (a watch may repeat one)
var pending = 0;
var rejected = 0;
var problem = "";

function stateKey() { return "gridmgmt-patrol-duty-" + config.user; }

function render() {
  if (!button || !status) return;
  button.textContent = onDuty ? labels.go_off : labels.go_on;
  button.setAttribute("aria-pressed", onDuty ? "true" : "false");
  button.classList.toggle("primary", !onDuty);
  var parts = [onDuty ? labels.on_duty : labels.off_duty];
  if (pending) parts.push(labels.pending + pending);
  if (rejected) parts.push(labels.rejected + rejected);
  if (problem) parts.push(problem);
  status.textContent = parts.join(" · ");
  document.body.setAttribute("data-on-duty", onDuty ? "true" : "false");
}

// The page's own GPS watch hands every fix to position() (one watch per page: browsers
// may tell a second one nothing until the phone moves); going on duty asks it for a
// fresh fix (`relocate`).
var relocate = function () {};

function setDuty(on) {
  var starting = on && !onDuty;
  onDuty = on;
  try { localStorage.setItem(stateKey(), on ? "on" : "off"); } catch (e) { /* private mode */ }
  if (starting) relocate();
  render();
}

export function position(fix) {
  took(fix);
}

function took(position) {
  if (!onDuty || position.timestamp === lastTime) return;
  lastTime = position.timestamp;
  problem = "";
  var fix = {
    at: Math.round(position.timestamp),
    lon: position.coords.longitude,
    lat: position.coords.latitude,
  };
  if (position.coords.accuracy !== null && position.coords.accuracy <= 10000) {
    fix.accuracy_m = Math.round(position.coords.accuracy * 10) / 10;
  }
  fixes.push(fix);
}

// ---- sending --------------------------------------------------------------------------

var flushing = null;

function flush() {
  if (flushing) return flushing;
  flushing = waiting().then(sendFrom).catch(function () { /* IndexedDB failed: next time */ })
    .then(function () { flushing = null; });
  return flushing;
}

function sendFrom(entries) {
  pending = entries.length;
  render();
  if (!entries.length) return null;
  var entry = entries[0];
  var url = entry.kind === "duty" ? config.duty : config.positions;
  return page.request(url, { method: "POST", json: entry.body }).then(function (answer) {
    var gone = answer.status >= 400 && answer.status < 500 &&
      answer.status !== 408 && answer.status !== 429;
    if (answer.status >= 200 && answer.status < 300) {
      if (entry.kind === "positions") rejected += (answer.body.rejected || []).length;
    } else if (gone) {
      problem = labels.refused + page.errorText(answer.body);
    } else {
      return null;  // the server is not there: everything waits
    }
    return drop(entry).then(function () { return sendFrom(entries.slice(1)); });
  }, function () { return null; });  // no network: everything waits
}

function batch() {
  if (!fixes.length) return flush();
  var body = { datum: "wgs84", positions: fixes.splice(0, fixes.length) };
  return keep("positions", body).then(flush);
}

var toggled = 0;  // taps so far: a slower answer from before one does not undo it

function toggle() {
  toggled += 1;
  var on = !onDuty;
  var send = on ? Promise.resolve() : batch();  // the last fixes go before the 下岗
  send.then(function () {
    return keep("duty", { on: on, at: new Date().toISOString() });
  }).then(function () {
    setDuty(on);
    return flush();
  }).catch(function () { problem = labels.refused; render(); });
}

// The state the page opens with: the server's, unless a change made offline still waits.
function load() {
  var saved = null;
  try { saved = localStorage.getItem(stateKey()); } catch (e) { /* private mode */ }
  setDuty(saved === "on");
  var taps = toggled;
  return waiting().then(function (entries) {
    var changes = entries.filter(function (entry) { return entry.kind === "duty"; });
    if (changes.length) return null;
    return page.api(config.duty).then(function (answer) {
      if (toggled === taps && answer.on_duty !== onDuty) setDuty(answer.on_duty);
    }, function () { /* offline: the state kept on the phone */ });
  }).catch(function () { /* no IndexedDB */ });
}

export function start(options) {
  if (!button || !config.duty) return;
  if (options && options.relocate) relocate = options.relocate;
  button.addEventListener("click", toggle);
  load().then(flush);
  window.setInterval(batch, (config.batch_seconds || 5) * 1000);
  window.setInterval(flush, RETRY_MS);
  window.addEventListener("online", flush);
}
