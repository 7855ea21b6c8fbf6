/* The phone's outbox: what the inspector sends (reports, proposals of base data) waits in
   IndexedDB until the server has answered.

   import { create } from "./queue.js";
   const reports = create({url, user, onChange, onSent});                 // kind "report"
   const proposals = create({kind: "proposal", url, user, onChange, onSent});
   queue.add(fields, photos)  // → the record, kept before any attempt to send it
   queue.flush()              // send what waits (also on load, `online`, and a timer)
   queue.list()               // this user's records of this kind, oldest first
   queue.retry(uuid), queue.discard(uuid)

   One store holds every kind: a record is {client_uuid, user, kind, url, created_at,
   fields, photos: [{name, type, blob}], state: "queued" | "failed", error}, and each queue
   lists, sends and retries only the records of its own kind, to the URL the record was
   made for (records kept before kinds existed are reports). Its client_uuid is given
   once, when it is created, and every resend carries it: the server answers a resend of
   something it already has with that same thing (200 for a report's case, the first
   proposal for a proposal), so a record whose answer was lost on a weak network is sent
   again safely and is still kept once.

   What an answer means:
   - 200/201: the server has it → the record is removed (onSent).
   - 4xx other than 408/429: the server refuses this record (a point outside the
     inspector's cells, a photo it cannot read, a logged-out session…) → the record stays,
     "failed", with the server's message, until the inspector retries, edits or discards it.
   - no answer, 408, 429, 5xx: the network or the server is down → the record stays
     queued and is sent again later; the rest of the queue waits for the same reason.
   IndexedDB keeps the photos as Blobs and survives a reload or a closed tab.

   openStore(database, store, keyOptions) is the one IndexedDB helper of the phone page:
   patrol.js keeps its duty changes and position batches with it too. */
import * as page from "./common.js";
import { uuid } from "./intake-common.js";

var DB_NAME = "gridmgmt-intake";
var STORE = "reports"; // the name from when it held reports only: renaming it would lose them
var MIN_DELAY = 5000;
var MAX_DELAY = 60000;

// withStore(mode, operation) on `store` of the IndexedDB database `name` (made on first
// use with `keyOptions`): one operation, resolved with its result once its transaction
// has committed (so a record is on disk before the page says it is kept).
export function openStore(name, store, keyOptions) {
  var opened = null;

  function database() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        var request = indexedDB.open(name, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(store, keyOptions);
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opened;
  }

  return function withStore(mode, operation) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(store, mode);
        var request = operation(transaction.objectStore(store));
        transaction.oncomplete = function () { resolve(request ? request.result : undefined); };
        transaction.onerror = function () { reject(transaction.error); };
        transaction.onabort = function () { reject(transaction.error); };
      });
    });
  };
}

var withStore = openStore(DB_NAME, STORE, { keyPath: "client_uuid" });

function permanentRefusal(status) {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export function create(options) {
  var kind = options.kind || "report";
  var onChange = options.onChange || function () {};
  var onSent = options.onSent || function () {};
  var flushing = false;
  var again = false;
  var delay = MIN_DELAY;
  var timer = null;
  var sending = {}; // client_uuid → true while its request is out

  function list() {
    return withStore("readonly", function (store) { return store.getAll(); }).then(
      function (records) {
        return records
          .filter(function (record) {
            return record.user === options.user && (record.kind || "report") === kind;
          })
          .sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
      }
    );
  }

  function put(record) {
    return withStore("readwrite", function (store) { return store.put(record); });
  }

  function get(uuid) {
    return withStore("readonly", function (store) { return store.get(uuid); });
  }

  function remove(uuid) {
    return withStore("readwrite", function (store) { return store.delete(uuid); });
  }

  function add(fields, photos) {
    var record = {
      client_uuid: uuid(),
      user: options.user,
      kind: kind,
      url: options.url,
      created_at: new Date().toISOString(),
      fields: fields,
      photos: photos.map(function (file) {
        return { name: file.name || "photo", type: file.type, blob: file };
      }),
      state: "queued",
      error: "",
    };
    return put(record).then(function () {
      onChange();
      flush();
      return record;
    });
  }

  function formData(record) {
    var data = new FormData();
    data.append("client_uuid", record.client_uuid);
    Object.keys(record.fields).forEach(function (key) {
      var value = record.fields[key];
      if (value !== null && value !== undefined) data.append(key, String(value));
    });
    record.photos.forEach(function (photo) {
      data.append("photos", photo.blob, photo.name);
    });
    return data;
  }

  // Send one record. Resolves to true when the queue may go on to the next record,
  // false when the network or server is down (the rest would fail the same way).
  function send(record) {
    sending[record.client_uuid] = true;
    onChange();
    var body = formData(record);
    return page.request(record.url || options.url, { method: "POST", body: body })
      .then(
        function (answer) {
          if (answer.status === 200 || answer.status === 201) {
            return remove(record.client_uuid).then(function () {
              onSent(record, answer.body);
              return true;
            });
          }
          if (permanentRefusal(answer.status)) {
            record.state = "failed";
            record.error = page.errorText(answer.body) || "HTTP " + answer.status;
            return put(record).then(function () { return true; });
          }
          return false;
        },
        function () { return false; } // no answer: the network is down
      )
      .then(function (goOn) {
        delete sending[record.client_uuid];
        onChange();
        return goOn;
      });
  }

  function flush() {
    if (flushing) {
      again = true;
      return Promise.resolve();
    }
    flushing = true;
    again = false;
    clearTimeout(timer);
    return list()
      .then(function (records) {
        var waiting = records.filter(function (r) { return r.state === "queued"; });
        // One after the other, in the order they were made.
        return waiting.reduce(function (previous, record) {
          return previous.then(function (goOn) {
            if (!goOn || navigator.onLine === false) return false;
            return send(record);
          });
        }, Promise.resolve(true));
      })
      .then(function (allSent) {
        flushing = false;
        if (again) return flush();
        return list().then(function (records) {
          var left = records.some(function (r) { return r.state === "queued"; });
          if (left) {
            // Try again later even without an `online` event: the network may be
            // "online" yet the server unreachable.
            delay = allSent ? MIN_DELAY : Math.min(delay * 2, MAX_DELAY);
            timer = setTimeout(flush, delay);
          } else {
            delay = MIN_DELAY;
          }
        });
      }, function (error) {
        flushing = false;
        throw error;
      });
  }

  function retry(uuid) {
    return get(uuid).then(function (record) {
      if (!record) return null;
      record.state = "queued";
      record.error = "";
      return put(record).then(function () {
        onChange();
        return flush();
      });
    });
  }

  function discard(uuid) {
    return remove(uuid).then(onChange);
  }

  window.addEventListener("online", function () {
    onChange();
    flush();
  });
  window.addEventListener("offline", onChange);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") flush();
  });

  return {
    add: add,
    flush: flush,
    list: list,
    get: get,
    retry: retry,
    discard: discard,
    isSending: function (uuid) { return Boolean(sending[uuid]); },
  };
}
