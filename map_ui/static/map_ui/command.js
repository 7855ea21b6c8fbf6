/* The command centre: the live map of the user's district or city, the counters, the
   overdue and escalated cases, the latest changes, and a case's history on click. */
(function () {
  "use strict";

  var page = window.gridPage;
  var g = window.gridCases;
  var config = page.config;
  var labels = config.labels;
  var map = page.map;
  var el = page.el;
  var detail = document.querySelector(".case-detail");
  var attention = document.querySelector(".attention");
  var feed = document.querySelector(".feed");
  var FEED_LENGTH = 30;
  var shown = null; // the case whose history the panel shows

  function open(id) {
    shown = id;
    g.showCase(detail, id);
  }

  var tiles = g.tileLayers(map, ["areas", "cases"], open);
  // Cases that changed since the page loaded, drawn over the tiles (which show the
  // state at load time) until the tiles are fetched again.
  var live = g.markerLayer(map, open);
  var overlays = Object.assign({}, tiles.overlays);
  overlays[labels.layers.live] = live.layer;
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);

  function row(item) {
    return el("li", { "data-case": String(item.id), "data-state": item.state },
      el("a", { href: "#", onclick: function (e) { e.preventDefault(); open(item.id); } },
        "#" + item.id + " "),
      el("span", { class: "state", text: g.stateLabel(item.state) }), " ",
      g.badge(item),
      item.escalation_level ? el("span", { class: "badge escalated", text: labels.escalated }) : null,
      " ", el("span", { class: "muted", text: item.category.name + " · " + item.street.name }));
  }

  var counters = g.board(function (data) {
    attention.replaceChildren();
    if (!data.attention.length) {
      attention.appendChild(el("li", { class: "muted", text: labels.attention_empty }));
    }
    data.attention.forEach(function (item) { attention.appendChild(row(item)); });
  });
  counters.load();

  function noteInFeed(event) {
    var item = event.case;
    var previous = feed.querySelector('[data-case="' + item.id + '"]');
    if (previous) feed.removeChild(previous);
    feed.insertBefore(el("li", { "data-case": String(item.id), "data-state": item.state },
      el("a", { href: "#", onclick: function (e) { e.preventDefault(); open(item.id); } },
        "#" + item.id + " "),
      el("span", { class: "state", text: g.stateLabel(item.state) }), " ",
      g.badge(item), " ",
      el("time", { class: "muted", text: g.when(event.at) })), feed.firstChild);
    while (feed.children.length > FEED_LENGTH) feed.removeChild(feed.lastChild);
  }

  var tilesTimer = null;
  var newestSeq = {}; // case id → seq of the event drawn (events may arrive out of order)
  window.gridLive.connect({
    url: config.live.url,
    since: config.live.since,
    onStatus: g.liveStatus(document.querySelector(".live-status")),
    onEvent: function (event) {
      var item = event.case;
      if (newestSeq[item.id] > event.seq) return; // an older state than the one drawn
      newestSeq[item.id] = event.seq;
      if (g.isFinal(item.state)) live.remove(item.id);
      else live.upsert(item);
      // The tile's own point of this case is stale: hide it under the live marker.
      if (tiles.layers.cases) {
        tiles.layers.cases.setFeatureStyle(item.id, { radius: 0, fill: false, stroke: false });
      }
      noteInFeed(event);
      counters.refresh();
      if (shown === item.id) g.showCase(detail, item.id);
      // Fetch fresh tiles now and then, not on every event of a busy hour.
      if (tilesTimer === null) {
        tilesTimer = window.setTimeout(function () {
          tilesTimer = null;
          g.refreshTiles(tiles);
        }, 30000);
      }
    },
    onReload: function () {
      // Events were missed: the fresh tiles show every case as it is now, and the live
      // markers drawn before the gap may be out of date.
      live.clear();
      counters.load();
      g.refreshTiles(tiles);
    },
  });
})();
