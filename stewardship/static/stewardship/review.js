// 采集建议审核: the review queue of proposals. Rows from /api/stewardship/proposals/?queue=1,
// texts from the page config; accept and reject through the API (the server decides).

const config = JSON.parse(document.getElementById("page-config").textContent);
const texts = config.texts;
const list = document.querySelector("[data-list=proposals]");
const status = document.querySelector(".status");

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

async function send(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.detail || response.statusText);
  }
  return data;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(proposal) {
  const item = element("li", "proposal");
  item.dataset.id = proposal.id;
  const title = proposal.object_id
    ? format(texts.change, { id: proposal.object_id })
    : texts.new_record;
  item.append(element("strong", "", `${proposal.layer_display} · ${title}`));
  const meta = `${proposal.proposer} · ${proposal.cell || ""} · ${proposal.created_at.slice(0, 16)}`;
  item.append(element("div", "muted", meta));
  const values = element("dl", "values");
  for (const [key, value] of Object.entries(proposal.values)) {
    values.append(element("dt", "", proposal.labels[key] || key), element("dd", "", value));
  }
  item.append(values);
  if (proposal.note) item.append(element("p", "", proposal.note));
  if (proposal.lon !== null && proposal.lat !== null) {
    // Where it was collected, in WGS 84 as the API gives it (no datum shift on this page).
    const where = element("p", "position",
      `${texts.position}${proposal.lon.toFixed(6)}, ${proposal.lat.toFixed(6)}`);
    where.dataset.lon = String(proposal.lon);
    where.dataset.lat = String(proposal.lat);
    item.append(where);
  }
  if (proposal.photo) {
    // The photo itself, opening full size: the reviewer judges the record by it.
    const link = element("a", "photo");
    link.href = proposal.photo;
    link.target = "_blank";
    const image = element("img");
    image.src = proposal.photo;
    image.alt = texts.photo;
    image.loading = "lazy";
    link.append(image);
    item.append(link);
  }
  const actions = element("div", "actions");
  const accept = element("button", "", texts.accept);
  accept.type = "button";
  accept.dataset.action = "accept";
  const reason = element("input");
  reason.placeholder = texts.reason;
  reason.setAttribute("aria-label", texts.reason);
  reason.dataset.field = "reason";
  const reject = element("button", "", texts.reject);
  reject.type = "button";
  reject.dataset.action = "reject";
  actions.append(accept, reason, reject);
  item.append(actions);
  accept.addEventListener("click", () => decide(item, proposal, "accept", {}));
  reject.addEventListener("click", () => {
    if (!reason.value.trim()) {
      status.textContent = texts.reason_required;
      reason.focus();
      return;
    }
    decide(item, proposal, "reject", { reason: reason.value.trim() });
  });
  return item;
}

async function decide(item, proposal, action, body) {
  try {
    const result = await send(`${config.api}${proposal.id}/${action}/`, body);
    item.remove();
    status.textContent = `#${proposal.id} ${result.status_display}`;
    if (!list.children.length) list.append(element("li", "muted", texts.empty));
  } catch (error) {
    status.textContent = texts.failed + error.message;
  }
}

async function load() {
  const response = await fetch(`${config.api}?queue=1`, { credentials: "same-origin" });
  const data = await response.json();
  list.replaceChildren(...data.results.map(row));
  if (!data.results.length) list.append(element("li", "muted", texts.empty));
}

load();
