/* The live map's WebSocket client, shared by every page (an ES module, no build step).

   import { connect } from "./live.js";
   const live = connect({
     onEvent(event) {},      // {"type":"event", seq, kind, at, case:{id, state, ...}}
     onReload(reason) {},    // the server cannot replay what was missed: reload the data
                             // (default: reload the page)
     onStatus(status) {},    // "connecting" | "open" | "degraded" | "closed" | "denied"
                             // degraded: the server's channel layer (Redis) is away;
                             // events come late, and all of them once it is back
     since: 123,             // optional: the sequence number the page's data is as new as
     url: "/ws/live/",       // optional: path or ws(s):// address
     tokenUrl: "/map/live/token/", // optional: fetch a token first (no session cookie)
   });
   live.close();

   Protocol (docs/websocket.md): the server says {"type":"hello","last_seq":N}; the client
   answers {"type":"resume","last_seq":M} with the last number it saw (null if none), and
   the server replays what it missed, or says {"type":"reload"} when that is too much.
   {"type":"status","live":false} tells that the server lost its channel layer (Redis):
   the socket stays open, events still come (read from the database, a little later),
   and {"type":"status","live":true} follows once everything missed was sent.
   The last number seen is kept in sessionStorage, so a page reloaded in the same tab
   resumes too. After a drop the client reconnects with a growing, jittered delay.
   Close 4205: the user's post changed, and the page (its data, its very role page) is
   the old post's: it reloads. */

var STORAGE_KEY = "gridLive.lastSeq";
// The server's close codes are 4000 + the HTTP status they mean (map_ui/live/checks.py).
var CLOSE_BASE = 4000;
// Close codes after which reconnecting cannot help (the session is gone, no rights,
// or our own message was wrong): the page says so and stops.
var FINAL_CODES = {};
[400, 401, 403].forEach(function (status) { FINAL_CODES[CLOSE_BASE + status] = true; });
var POST_CHANGED = CLOSE_BASE + 205; // 205 Reset Content
var TRY_AGAIN = 1013; // the server's Redis is away: come back soon, it may be brief
var MIN_DELAY = 1000;
var MAX_DELAY = 30000;
var MAX_TRY_AGAIN_DELAY = 5000;

function storedSeq() {
  try {
    var value = parseInt(window.sessionStorage.getItem(STORAGE_KEY), 10);
    return isNaN(value) ? null : value;
  } catch (e) {
    return null; // storage disabled: resume only within this page
  }
}

function store(seq) {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, String(seq));
  } catch (e) {
    /* storage disabled: the number is still kept in memory */
  }
}

function socketUrl(path) {
  if (/^wss?:\/\//.test(path)) return path;
  var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return scheme + "//" + window.location.host + path;
}

function fetchToken(tokenUrl) {
  return fetch(tokenUrl, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) {
      if (!response.ok) throw new Error("live token: HTTP " + response.status);
      return response.json();
    })
    .then(function (body) { return body.token; });
}

export function connect(options) {
  options = options || {};
  var onEvent = options.onEvent || function () {};
  var onReload = options.onReload || function () { window.location.reload(); };
  var onStatus = options.onStatus || function () {};
  var path = options.url || "/ws/live/";
  // The page's own data is as new as `since`; a number stored by an earlier page in
  // this tab is older or equal and would only replay what the page already shows.
  var lastSeq = typeof options.since === "number" ? options.since : storedSeq();
  var socket = null;
  var closedByPage = false;
  var attempts = 0;
  var timer = null;

  function seen(seq) {
    if (lastSeq === null || seq > lastSeq) {
      lastSeq = seq;
      store(seq);
    }
  }

  function scheduleReconnect(code) {
    var most = code === TRY_AGAIN ? MAX_TRY_AGAIN_DELAY : MAX_DELAY;
    var delay = Math.min(most, MIN_DELAY * Math.pow(2, attempts));
    attempts += 1;
    // Jitter: after a server restart, the clients do not all come back at once.
    timer = window.setTimeout(open, delay / 2 + Math.random() * delay / 2);
  }

  function handle(message) {
    if (message.type === "hello") {
      attempts = 0;
      socket.send(JSON.stringify({ type: "resume", last_seq: lastSeq }));
      // With nothing to resume from, the page starts from the server's present.
      if (lastSeq === null) seen(message.last_seq);
      onStatus("open");
    } else if (message.type === "event") {
      // The server sends each number at most once per connection; a lower number may
      // still arrive after a higher one (two server processes), so none is dropped.
      seen(message.seq);
      onEvent(message);
    } else if (message.type === "status") {
      onStatus(message.live ? "open" : "degraded");
    } else if (message.type === "inbox") {
      // The user's inbox changed: the header's inbox (notifications/inbox.js) reloads.
      document.dispatchEvent(new CustomEvent("gridmgmt:inbox", { detail: message }));
    } else if (message.type === "reload") {
      // What follows the reload is new to the reloaded data; forget what came before.
      lastSeq = null;
      try { window.sessionStorage.removeItem(STORAGE_KEY); } catch (e) { /* none */ }
      onReload(message.reason);
    }
  }

  function open() {
    timer = null;
    if (closedByPage) return;
    onStatus("connecting");
    // A token goes in the handshake's subprotocols, not in the URL (access logs).
    var protocols = options.tokenUrl
      ? fetchToken(options.tokenUrl).then(function (token) {
          return ["gridmgmt.live", "token." + token];
        })
      : Promise.resolve([]);
    protocols.then(function (offered) {
      if (closedByPage) return;
      socket = new WebSocket(socketUrl(path), offered);
      socket.onmessage = function (frame) {
        var message;
        try {
          message = JSON.parse(frame.data);
        } catch (e) {
          return; // not ours to understand
        }
        handle(message);
      };
      socket.onclose = function (close) {
        socket = null;
        if (closedByPage) return;
        if (FINAL_CODES[close.code]) {
          onStatus("denied");
          return;
        }
        if (close.code === POST_CHANGED) {
          window.location.reload();
          return;
        }
        onStatus("closed");
        scheduleReconnect(close.code);
      };
    }).catch(function () {
      onStatus("closed");
      scheduleReconnect();
    });
  }

  open();
  return {
    close: function () {
      closedByPage = true;
      if (timer !== null) window.clearTimeout(timer);
      if (socket !== null) socket.close(1000);
    },
    lastSeq: function () { return lastSeq; },
  };
}
