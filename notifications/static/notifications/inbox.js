/* The inbox in every page's header (an ES module; notifications/templates/notifications/inbox.html):
   the unread count on a button, the latest items in a panel, marking read.

   Its texts are in the template (translated by the server); the items' titles come from
   the API in the user's language. It reloads the items when the live socket says the
   inbox changed (map_ui/static/map_ui/live.js dispatches "gridmgmt:inbox" on the
   document), when the tab comes back into view, and every minute (pages without a live
   socket). API: docs/notifications.md. */

const root = document.getElementById("inbox");
const REFRESH_MS = 60000;

function csrf() {
  return root.querySelector("input[name=csrfmiddlewaretoken]").value;
}

async function call(url, method) {
  const response = await fetch(url, {
    method: method || "GET",
    credentials: "same-origin",
    cache: "no-store",
    headers: method === "POST" ? { "X-CSRFToken": csrf(), Accept: "application/json" } : { Accept: "application/json" },
  });
  if (!response.ok) throw new Error("inbox: HTTP " + response.status);
  return response.json();
}

function when(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang || undefined, {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

function item(entry) {
  const li = document.createElement("li");
  li.className = entry.read ? "inbox-item" : "inbox-item inbox-unread";
  li.dataset.id = String(entry.id);
  const title = document.createElement("button");
  title.type = "button";
  title.className = "inbox-title";
  title.textContent = entry.title;
  title.addEventListener("click", () => markRead(entry.id));
  const time = document.createElement("time");
  time.dateTime = entry.at;
  time.textContent = when(entry.at);
  li.append(title, " ", time);
  return li;
}

function show(inbox) {
  const count = root.querySelector(".inbox-count");
  count.textContent = String(inbox.unread);
  count.hidden = inbox.unread === 0;
  root.dataset.unread = String(inbox.unread);
  const list = root.querySelector(".inbox-items");
  list.replaceChildren(...inbox.items.map(item));
  root.querySelector(".inbox-empty").hidden = inbox.items.length > 0;
  root.querySelector(".inbox-read-all").disabled = inbox.unread === 0;
}

async function refresh() {
  try {
    show(await call(root.dataset.api));
  } catch (error) {
    console.warn(error); // kept as it was; the next refresh tries again
  }
}

async function markRead(id) {
  show(await call(root.dataset.api + (id ? id + "/read/" : "read/"), "POST"));
}

const toggle = root.querySelector(".inbox-toggle");
const panel = root.querySelector(".inbox-panel");
toggle.addEventListener("click", () => {
  const open = panel.hidden;
  panel.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
});
root.querySelector(".inbox-read-all").addEventListener("click", () => markRead(null));
document.addEventListener("gridmgmt:inbox", refresh);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refresh();
});
window.setInterval(refresh, REFRESH_MS);
refresh();
