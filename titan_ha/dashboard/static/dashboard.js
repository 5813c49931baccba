// Titan HA dashboard: renders /api/status and follows /api/events.
// Every value from the server goes into the page as text, never as markup.
"use strict";

const TOKEN_KEY = "titan-ha-token";
const STATES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const MAX_ROWS = 200;

const view = {
  token: sessionStorage.getItem(TOKEN_KEY),
  tasks: new Map(), // id -> task (list shape)
  changed: new Set(), // ids whose state changed since the last render
  filter: "ALL",
  selected: null,
  events: null,
  renderQueued: false,
  total: null, // tasks in the cluster, from the latest status
};

class AuthError extends Error {}

// Helpers ------------------------------------------------------------------
function $(id) {
  return document.getElementById(id);
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function badge(text) {
  return el("span", { className: `badge ${text}` }, text);
}

function dash(value) {
  return value === null || value === undefined || value === "" ? "–" : value;
}

function ago(iso) {
  if (!iso) return "–";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}

function between(fromIso, toIso) {
  if (!fromIso || !toIso) return "–";
  const seconds = (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  return seconds < 10 ? `${seconds.toFixed(2)}s` : `${seconds.toFixed(0)}s`;
}

function clock(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  const millis = String(date.getMilliseconds()).padStart(3, "0");
  return `${date.toLocaleTimeString([], { hour12: false })}.${millis}`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

async function api(path) {
  const headers = view.token ? { Authorization: `Bearer ${view.token}` } : {};
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new AuthError("unauthenticated");
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function setConnection(kind, text) {
  $("conn").className = `conn ${kind}`;
  $("conn-text").textContent = text;
}

function setBanner(text, level = "error") {
  $("banner").hidden = !text;
  $("banner").className = `banner ${level}`;
  $("banner").textContent = text || "";
}

// Status -------------------------------------------------------------------
function renderStatus(status) {
  const replica = status.replica || {};
  $("replica").textContent =
    `${replica.id} · ${replica.role} · applied ${replica.applied_index}` +
    ` / commit ${replica.commit_index}`;
  $("leader").textContent = status.leader || "none";
  $("term").textContent = status.term;
  for (const state of STATES) $(`count-${state}`).textContent = status.tasks[state] ?? 0;
  view.total = STATES.reduce((sum, state) => sum + (status.tasks[state] ?? 0), 0);
  setBanner(status.leader ? "" : "No leader: showing this replica's own, possibly stale, view.", "warn");

  $("managers").replaceChildren(
    ...status.managers.map((m) =>
      el(
        "tr",
        {},
        el("td", {}, el("strong", {}, m.id), m.id === replica.id ? el("span", { className: "muted" }, " (this)") : null),
        el("td", { className: "mono" }, m.grpc),
        el("td", {}, badge(m.role)),
        el("td", { className: "num" }, m.role === "unreachable" ? "–" : m.commit_index),
        el("td", { className: "num" }, m.role === "unreachable" ? "–" : m.applied_index),
      ),
    ),
  );

  const workers = status.workers.length
    ? status.workers.map((w) =>
        el(
          "tr",
          {},
          el("td", {}, el("strong", {}, w.id)),
          el("td", {}, badge(w.state)),
          el("td", { className: "num" }, w.last_seen_s === null ? "–" : `${w.last_seen_s.toFixed(1)}s ago`),
          el("td", { className: "mono" }, w.running.length ? w.running.join(", ") : "–"),
        ),
      )
    : [el("tr", {}, el("td", { colSpan: 4, className: "muted" }, "No workers registered."))];
  $("workers").replaceChildren(...workers);
}

// Tasks --------------------------------------------------------------------
function upsertTask(task) {
  const known = view.tasks.get(task.id);
  if (known && known.state !== task.state) view.changed.add(task.id);
  view.tasks.set(task.id, task);
  if (view.tasks.size > MAX_ROWS * 2) {
    const oldest = [...view.tasks.values()].sort(newestFirst).slice(MAX_ROWS);
    for (const t of oldest) view.tasks.delete(t.id);
  }
  if (view.selected === task.id) showTask(task.id);
  queueRender();
}

function newestFirst(a, b) {
  if (a.submitted_at === b.submitted_at) return a.id < b.id ? 1 : -1;
  return a.submitted_at < b.submitted_at ? 1 : -1;
}

function queueRender() {
  if (view.renderQueued) return;
  view.renderQueued = true;
  requestAnimationFrame(() => {
    view.renderQueued = false;
    renderTasks();
  });
}

function renderTasks() {
  const all = [...view.tasks.values()].sort(newestFirst);
  const matching = all.filter((t) => view.filter === "ALL" || t.state === view.filter);
  const shown = matching.slice(0, MAX_ROWS);
  const total = view.filter === "ALL" ? (view.total ?? all.length) : matching.length;
  $("task-count").textContent = !shown.length
    ? ""
    : total > shown.length
      ? `(newest ${shown.length} of ${total})`
      : `(${shown.length})`;
  $("tasks-empty").hidden = all.length > 0;
  $("tasks").replaceChildren(
    ...shown.map((t) => {
      const row = el(
        "tr",
        { title: "Show attempts and output" },
        el("td", { className: "mono" }, t.id),
        el("td", {}, badge(t.state)),
        el("td", { className: "mono", title: t.command }, t.docker_image ? `[${t.docker_image}] ${t.command}` : t.command),
        el("td", {}, dash(t.worker_id)),
        el("td", { className: "num" }, dash(t.exit_code)),
        el("td", {}, t.outcome ? badge(t.outcome) : "–"),
        el("td", { className: "num", title: when(t.submitted_at) }, ago(t.submitted_at)),
        el("td", { className: "num" }, between(t.submitted_at, t.finished_at)),
      );
      if (t.id === view.selected) row.classList.add("selected");
      if (view.changed.has(t.id)) row.classList.add("flash");
      row.addEventListener("click", () => showTask(t.id));
      return row;
    }),
  );
  view.changed.clear();
}

// Task details -------------------------------------------------------------
async function showTask(id) {
  view.selected = id;
  history.replaceState(null, "", `#task=${encodeURIComponent(id)}`);
  $("detail-id").textContent = id;
  $("drawer").hidden = false;
  $("shade").hidden = false;
  try {
    const task = await api(`/api/tasks/${encodeURIComponent(id)}`);
    if (view.selected === id) renderDetail(task); // not if another was picked since
  } catch (error) {
    if (view.selected === id) $("detail-body").replaceChildren(el("p", { className: "error" }, error.message));
  }
  queueRender();
}

function hideTask() {
  if (view.selected === null) return;
  view.selected = null;
  history.replaceState(null, "", location.pathname);
  $("drawer").hidden = true;
  $("shade").hidden = true;
  queueRender();
}

function output(name, text, bytes, truncated) {
  const note = `${bytes} bytes${truncated ? ", head and tail kept" : ""}`;
  return [
    el("h4", {}, name, " ", el("span", { className: "muted small" }, note)),
    el("pre", { className: text ? "output" : "output none" }, text || "(empty)"),
  ];
}

function renderDetail(task) {
  const fields = [
    ["State", badge(task.state)],
    ["Command", el("code", {}, task.command)],
    ["Docker image", dash(task.docker_image)],
    ["Timeout", task.timeout_s ? `${task.timeout_s}s` : "none"],
    ["Max retries", task.max_retries],
    ["Idempotency key", dash(task.idempotency_key)],
    ["Submitted", when(task.submitted_at)],
    ["Finished", when(task.finished_at)],
    ["Worker", dash(task.worker_id)],
    ["Exit code", dash(task.exit_code)],
    ["Outcome", task.outcome ? badge(task.outcome) : "–"],
  ];
  const attempts = task.attempts.length
    ? el(
        "table",
        { className: "attempts" },
        el("thead", {}, el("tr", {}, ...["#", "Worker", "Outcome", "Exit", "Signal", "Started", "Took"].map((h) => el("th", {}, h)))),
        el(
          "tbody",
          {},
          ...task.attempts.map((a) =>
            el(
              "tr",
              {},
              el("td", {}, a.number),
              el("td", {}, a.worker_id),
              el("td", {}, a.outcome ? badge(a.outcome) : badge("RUNNING")),
              el("td", { className: "num" }, dash(a.exit_code)),
              el("td", {}, dash(a.signal)),
              el("td", { className: "mono", title: when(a.started_at) }, clock(a.started_at)),
              el("td", { className: "num" }, a.finished_at ? between(a.started_at, a.finished_at) : "running"),
            ),
          ),
        ),
      )
    : el("p", { className: "muted" }, "No attempt yet.");
  $("detail-body").replaceChildren(
    el("dl", { className: "fields" }, ...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h4", {}, `Attempts (${task.attempts.length})`),
    attempts,
    ...output("stdout", task.stdout, task.stdout_bytes, task.stdout_truncated),
    ...output("stderr", task.stderr, task.stderr_bytes, task.stderr_truncated),
  );
}

// Live feed ----------------------------------------------------------------
function openEvents() {
  if (view.events) view.events.close();
  const query = view.token ? `?token=${encodeURIComponent(view.token)}` : "";
  const events = new EventSource(`/api/events${query}`);
  view.events = events;
  events.addEventListener("open", () => setConnection("live", "live"));
  events.addEventListener("status", (e) => {
    setConnection("live", "live");
    renderStatus(JSON.parse(e.data));
    queueRender(); // refreshes the relative times
  });
  events.addEventListener("task", (e) => upsertTask(JSON.parse(e.data)));
  events.addEventListener("unavailable", (e) => {
    setConnection("down", "replica unavailable");
    setBanner(`This replica cannot be read: ${JSON.parse(e.data).message}`);
  });
  events.addEventListener("error", () => {
    setConnection("down", "reconnecting");
    // A refused token closes the stream for good: start over, which asks again.
    if (events.readyState === EventSource.CLOSED) setTimeout(start, 2000);
  });
}

async function start() {
  try {
    const [status, tasks] = await Promise.all([
      api("/api/status"),
      api(`/api/tasks?limit=${MAX_ROWS}`),
    ]);
    renderStatus(status);
    for (const task of tasks) view.tasks.set(task.id, task);
    renderTasks();
    openEvents();
    const linked = new URLSearchParams(location.hash.slice(1)).get("task");
    if (linked && view.selected === null) showTask(linked);
  } catch (error) {
    if (error instanceof AuthError) {
      askForToken(Boolean(view.token));
      return;
    }
    setConnection("down", "unavailable");
    setBanner(`Cannot reach this replica: ${error.message}. Retrying…`);
    setTimeout(start, 3000);
  }
}

function askForToken(refused) {
  if (view.events) view.events.close();
  setConnection("down", "token needed");
  $("token-error").hidden = !refused;
  $("token-modal").hidden = false;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  view.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, view.token);
  $("token-modal").hidden = true;
  $("signout").hidden = false;
  start();
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

$("filters").addEventListener("click", (e) => {
  const state = e.target.dataset && e.target.dataset.state;
  if (!state) return;
  view.filter = state;
  for (const button of $("filters").children) button.classList.toggle("active", button === e.target);
  queueRender();
});

$("detail-close").addEventListener("click", hideTask);
$("shade").addEventListener("click", hideTask);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") hideTask();
});

$("signout").hidden = !view.token;
start();
