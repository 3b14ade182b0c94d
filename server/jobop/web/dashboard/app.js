// jobop dashboard: plain JavaScript over the REST API and its Server-Sent Events.
// Views: #/ (jobs with their limits and pause state, the queue, and the nodes with their
// leases), #/jobs/NAME (executions, paged, with its run-history chart),
// #/executions?FILTER (across jobs, with bulk actions: executions.js),
// #/executions/ID (steps, context).
"use strict";

const RUNNING = new Set(["STARTING", "STARTED", "STOPPING"]);
const PAGE_SIZE = 20;
const TYPES = ["string", "long", "double", "date", "boolean"];
const NODES_REFRESH_MS = 2000; // the nodes table has no event stream: it is polled
// The jobs' settings and the queue are polled as often, and read again after an event
// (at most this often): a start that waits or a slot that frees is an execution's event.
const WORKLOAD_REFRESH_MS = 500;
const QUEUE_PAGE = 50;
// While an execution runs its view reads the context again after progress (at most this
// often) and its owner's lease state, which no event announces, this often.
const CONTEXT_REFRESH_MS = 1000;
const OWNER_REFRESH_MS = 5000;

let stream = null; // the EventSource of the current view
let view = null; // {name, refresh, startJob}
let ticker = null; // the timer of the current view's polling
const shownRows = new WeakMap(); // a jobs row -> what it shows (JSON)

// -- small helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.reason = error.reason || String(status);
    this.metadata = error.metadata || {};
  }
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || {});
  return data;
}

function toast(message, bad) {
  const box = h("div", { class: bad ? "bad" : "" }, message);
  document.getElementById("toast").append(box);
  setTimeout(() => box.remove(), bad ? 8000 : 4000);
}

function fail(error) {
  toast(error instanceof ApiError ? `${error.reason}: ${error.message}` : String(error), true);
}

function badge(status) {
  return h("span", { class: `status ${status || "NONE"}`, "data-status": status || "" }, status || "never run");
}

// An execution that ran longer than its job's maxDurationSeconds.
function overdueBadge(execution) {
  if (!execution || !execution.overdue) return null;
  return h("span", { class: "flag overdue", "data-overdue": "true",
    title: "ran longer than its job's maximum duration (maxDurationSeconds)" }, "overdue");
}

// 450 ms, 3.2 s, 4 min 05 s, 2 h 07 min, 3 d 4 h
function humanDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function durationOf(execution) {
  if (!execution || !execution.startTime) return "";
  const end = execution.endTime || (RUNNING.has(execution.status) ? null : execution.lastUpdated);
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(execution.startTime);
  return humanDuration(ms);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const ago = humanDuration(Date.now() - date.getTime());
  return h("time", { datetime: iso, title: `${iso} (${ago} ago)` }, date.toLocaleString());
}

function parameterText(parameters) {
  return Object.entries(parameters || {})
    .map(([name, p]) => {
      const type = Object.keys(p).find((key) => key !== "identifying");
      return `${name}=${p[type]}${p.identifying ? "" : " (non-id)"}`;
    })
    .join(", ");
}

function setCrumbs(...parts) {
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(...parts.flatMap((part, i) => (i ? [" / ", part] : [part])));
}

function follow(path, onExecution, onEnd) {
  closeStream();
  const live = document.getElementById("live");
  const source = new EventSource(path);
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
  source.addEventListener("execution", (event) => onExecution(JSON.parse(event.data)));
  source.addEventListener("end", () => {
    closeStream();
    if (onEnd) onEnd();
  });
  source.addEventListener("error", (event) => {
    if (event.data) toast(JSON.parse(event.data).error.message, true);
  });
  stream = source;
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
  document.getElementById("live").classList.remove("on");
}

// Runs `task` when asked, at most once per `interval` ms and never twice at once; asks that
// come meanwhile make one more run afterwards, so the last ask is always answered.
// `task` handles its own errors.
function throttle(task, interval) {
  let busy = false;
  let again = false;
  let timer = null;
  let last = -Infinity;
  const run = async () => {
    timer = null;
    busy = true;
    again = false;
    last = Date.now();
    try {
      await task();
    } finally {
      busy = false;
      if (again) ask();
    }
  };
  const ask = () => {
    again = true;
    if (busy || timer !== null) return;
    timer = setTimeout(run, Math.max(0, last + interval - Date.now()));
  };
  return ask;
}

// An in-page question; resolves true when confirmed, false when cancelled (or Esc).
function confirmAction(title, text, label) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = label;
  dialog.returnValue = "";
  dialog.showModal();
  document.getElementById("confirm-cancel").focus(); // Enter answers the harmless way
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }));
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// -- jobs ------------------------------------------------------------------------------------

async function jobsView(main) {
  setCrumbs("jobs");
  // The jobs come first: settings that cannot be read now are shown by a later refresh.
  const [data, settings] = await Promise.all([api("GET", "/api/jobs"),
    api("GET", "/api/settings").catch(() => ({ jobs: [] }))]);
  const rows = new Map();
  const tbody = h("tbody");
  const jobs = new Map(data.jobs.map((job) => [job.name, job]));
  const latest = new Map(data.jobs.map((job) => [job.name, job.latestExecution]));
  const workloads = new Map(settings.jobs.map((workload) => [workload.jobName, workload]));
  const fill = (name) => fillJobRow(rows.get(name), jobs.get(name), latest.get(name), workloads.get(name), refresh);
  for (const job of data.jobs) {
    const row = h("tr", { "data-job": job.name, "data-registered": String(job.registered) });
    rows.set(job.name, row);
    tbody.append(row);
  }
  const queue = h("tbody");
  const queueNote = h("p", { class: "muted", id: "queue-note" });
  // The jobs' limits and pause state, and the queue; a failed read is left to the next one.
  const refresh = throttle(async () => {
    if (!queue.isConnected) return;
    try {
      const [fresh, waiting] = await Promise.all([api("GET", "/api/settings"),
        api("GET", `/api/queue?pageSize=${QUEUE_PAGE}`)]);
      for (const workload of fresh.jobs) {
        workloads.set(workload.jobName, workload);
        if (rows.has(workload.jobName)) fill(workload.jobName);
      }
      fillQueue(queue, queueNote, waiting);
    } catch (error) {
      // the next poll tries again
    }
  }, WORKLOAD_REFRESH_MS);
  for (const name of rows.keys()) fill(name);
  const nodes = h("tbody");
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    h("table", { class: "grid", id: "jobs" },
      h("thead", {}, h("tr", {}, h("th", {}, "job"), h("th", {}, "latest status"),
        h("th", {}, "latest execution"), h("th", {}, "started"), h("th", {}, "duration"),
        h("th", {}, "parameters"), h("th", { class: "num" }, "limit"), h("th", { class: "num" }, "running"),
        h("th", { class: "num" }, "queued"), h("th", {}, "state"), h("th", {}, ""))),
      tbody),
    h("h2", { id: "queue-title" }, "Queue"),
    h("table", { class: "grid", id: "queue", "aria-labelledby": "queue-title" },
      h("thead", {}, h("tr", {}, h("th", { class: "num" }, "position"), h("th", {}, "execution"),
        h("th", {}, "job"), h("th", { class: "num" }, "priority"), h("th", { class: "num" }, "waited"),
        h("th", {}, "waiting for"))),
      queue),
    queueNote,
    h("h2", { id: "nodes-title" }, "Nodes and leases"),
    h("table", { class: "grid", id: "nodes", "aria-labelledby": "nodes-title" },
      h("thead", {}, h("tr", {}, h("th", {}, "node"), h("th", {}, "role"), h("th", {}, "host"),
        h("th", {}, "state"), h("th", {}, "last heartbeat"), h("th", { class: "num" }, "lease"),
        h("th", { class: "num" }, "running executions"), h("th", {}, "started"),
        h("th", {}, "version"))),
      nodes),
  );
  follow("/api/events", (execution) => {
    if (rows.has(execution.jobName)) {
      latest.set(execution.jobName, execution);
      fill(execution.jobName);
    }
    refresh();
  });
  refresh();
  await refreshNodes(nodes);
  // A failed refresh is retried by the next one; a view left while this one loaded stops.
  const timer = setInterval(() => {
    if (!nodes.isConnected) return clearInterval(timer);
    refreshNodes(nodes).catch(() => {});
    refresh();
  }, NODES_REFRESH_MS);
  ticker = timer;
  return { name: "jobs", startJob: null };
}

// -- nodes -----------------------------------------------------------------------------------

// The nodes, or null when they cannot be read (the server then judges Recover alone).
function listNodes() {
  return api("GET", "/api/nodes").then((data) => data.nodes, () => null);
}

async function refreshNodes(tbody) {
  const data = await api("GET", "/api/nodes");
  tbody.replaceChildren(...data.nodes.map(nodeRow));
  if (!data.nodes.length) tbody.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "no node registered")));
}

function nodeRow(node) {
  const gone = node.state === "lost" || node.state === "left";
  const ended = node.state === "lost" ? node.lost : node.left;
  return h("tr", { "data-node": node.nodeId, "data-state": node.state, class: gone ? "gone" : "" },
    h("td", { class: "mono" }, node.nodeId),
    h("td", {}, node.role),
    h("td", {}, `${node.host} `, h("span", { class: "muted" }, `pid ${node.pid}`)),
    h("td", {}, h("span", { class: `node-state ${node.state}`, "data-state": node.state }, node.state),
      node.state === "lost" && node.lostBy ? h("span", { class: "muted" }, ` by ${node.lostBy}`) : null),
    h("td", { "data-field": "heartbeat", title: node.lastHeartbeat },
      `${humanDuration(node.heartbeatAgeSeconds * 1000)} ago`,
      gone && ended ? h("span", { class: "muted" }, ` · ${node.state} `, when(ended)) : null),
    h("td", { class: "num" }, humanDuration(node.leaseSeconds * 1000)),
    h("td", { class: "num", "data-field": "running" }, String(node.runningExecutions)),
    h("td", {}, when(node.started)),
    h("td", { class: "muted" }, node.version),
  );
}

// A job only the repository knows is shown like the others, but cannot start here.
function startButton(job, label, primary) {
  return h("button", { type: "button", class: primary ? "primary" : null, disabled: !job.registered,
    title: job.registered ? null : NOT_RUNNABLE, onclick: () => openStart(job.name) }, label);
}

function fillJobRow(row, job, latest, workload, refresh) {
  const name = job.name;
  // Polls answer the same most of the time: a row redrawn for nothing would take its
  // buttons away from under a click.
  const shown = JSON.stringify([latest, workload]);
  if (shownRows.get(row) === shown) return;
  shownRows.set(row, shown);
  row.dataset.paused = String(Boolean(workload && workload.paused));
  row.replaceChildren(
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(name)}` }, name),
      job.registered ? null : h("span", { class: "muted" }, " (not registered here)"),
      job.description ? h("div", { class: "job-about" }, job.description) : null),
    h("td", {}, badge(latest && latest.status), " ", overdueBadge(latest)),
    h("td", {}, latest ? h("a", { href: `#/executions/${latest.id}` }, `#${latest.id}`) : ""),
    h("td", {}, latest ? when(latest.startTime) : ""),
    h("td", {}, durationOf(latest)),
    h("td", { class: "mono" }, latest ? parameterText(latest.parameters) : ""),
    ...workloadCells(name, workload, refresh),
    h("td", {}, startButton(job, "Start…", false)),
  );
}

// -- workload: limits, pause, the queue --------------------------------------------------------

// A job's limit, its executions holding a slot and waiting, and its pause state with the
// button that changes it (operator role: the server says so if the caller lacks it).
function workloadCells(name, workload, refresh) {
  if (!workload) return [h("td", { class: "num muted" }, ""), h("td", { class: "num" }, ""),
    h("td", { class: "num" }, ""), h("td", {}, "")];
  const limit = workload.maxConcurrent === null ? "none"
    : `${workload.maxConcurrent}${workload.concurrencyKey ? ` per ${workload.concurrencyKey}` : ""}`;
  const verb = workload.paused ? "resume" : "pause";
  const button = h("button", { type: "button", "data-action": verb,
    title: workload.paused ? "let its waiting starts run" : "hold its new and waiting starts (running ones go on)",
    onclick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        await api("POST", `/api/jobs/${encodeURIComponent(name)}/${verb}`);
        toast(`${name}: ${verb === "pause" ? "paused" : "resumed"}`);
      } catch (error) {
        fail(error);
      }
      refresh();
    } }, workload.paused ? "Resume" : "Pause");
  return [
    h("td", { class: "num", "data-field": "limit" }, limit),
    h("td", { class: "num", "data-field": "running" }, String(workload.running)),
    h("td", { class: "num", "data-field": "queued" }, String(workload.queued)),
    h("td", { "data-field": "state" },
      workload.paused ? h("span", { class: "flag paused", "data-paused": "true" }, "paused") : null, " ", button),
  ];
}

function fillQueue(tbody, note, queue) {
  const rows = queue.executions.map((entry) =>
    h("tr", { "data-execution": entry.id },
      h("td", { class: "num" }, String(entry.position)),
      h("td", {}, h("a", { href: `#/executions/${entry.id}` }, `#${entry.id}`)),
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(entry.jobName)}` }, entry.jobName)),
      h("td", { class: "num", "data-field": "priority" }, String(entry.priority)),
      h("td", { class: "num" }, humanDuration(entry.queuedSeconds * 1000)),
      h("td", { "data-field": "waitingFor" }, entry.waitingFor)));
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing waits.")));
  tbody.replaceChildren(...rows);
  const more = queue.total - queue.executions.length;
  note.textContent = more > 0 ? `and ${more} more waiting` : "";
}

// -- one job's executions ------------------------------------------------------------------

async function jobView(main, name, tokens) {
  setCrumbs(h("a", { href: "#/" }, "jobs"), name);
  const token = tokens[tokens.length - 1] || "";
  const query = `pageSize=${PAGE_SIZE}${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
  const [job, page] = await Promise.all([
    api("GET", `/api/jobs/${encodeURIComponent(name)}`),
    api("GET", `/api/jobs/${encodeURIComponent(name)}/executions?${query}`),
  ]);
  const tbody = h("tbody");
  const rows = new Map();
  for (const execution of page.executions) {
    const row = h("tr");
    rows.set(execution.id, row);
    fillExecutionRow(row, execution);
    tbody.append(row);
  }
  if (!page.executions.length) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No executions yet.")));
  const older = h("button", { type: "button", disabled: !page.nextPageToken,
    onclick: () => render(() => jobView(main, name, [...tokens, page.nextPageToken])) }, "Older →");
  const newer = h("button", { type: "button", disabled: tokens.length <= 1,
    onclick: () => render(() => jobView(main, name, tokens.slice(0, -1))) }, "← Newer");
  main.replaceChildren(
    h("h1", {}, name, startButton(job, "Start…", true)),
    ...(job.description ? [h("p", { class: "job-about" }, job.description)] : []),
    runHistory(name),
    h("p", {}, h("a", { href: `#/executions?job=${encodeURIComponent(name)}`, id: "filter-job" }, "Filter and act on its executions…")),
    h("table", { class: "grid", id: "executions" },
      h("thead", {}, h("tr", {}, h("th", {}, "execution"), h("th", {}, "status"), h("th", {}, "exit code"),
        h("th", {}, "started"), h("th", {}, "ended"), h("th", {}, "duration"), h("th", {}, "parameters"))),
      tbody),
    h("div", { class: "pager" }, newer, older, h("span", { class: "muted" }, `page ${tokens.length}`)),
  );
  follow(`/api/events?job=${encodeURIComponent(name)}`, (execution) => {
    const row = rows.get(execution.id);
    if (row) fillExecutionRow(row, execution);
    else if (tokens.length === 1) {
      const fresh = h("tr");
      rows.set(execution.id, fresh);
      fillExecutionRow(fresh, execution);
      tbody.prepend(fresh);
    }
  });
  return { name: "job", startJob: job.registered ? name : null };
}

function fillExecutionRow(row, execution) {
  row.replaceChildren(
    h("td", {}, h("a", { href: `#/executions/${execution.id}` }, `#${execution.id}`)),
    h("td", {}, badge(execution.status), " ", overdueBadge(execution)),
    h("td", { class: "mono" }, execution.exitStatus.exitCode),
    h("td", {}, when(execution.startTime)),
    h("td", {}, when(execution.endTime)),
    h("td", {}, durationOf(execution)),
    h("td", { class: "mono" }, parameterText(execution.parameters)),
  );
}

// -- one execution ----------------------------------------------------------------------------

async function executionView(main, id) {
  let [execution, context, nodes] = await Promise.all([
    api("GET", `/api/executions/${id}`),
    api("GET", `/api/executions/${id}/context`),
    listNodes(),
  ]);
  setCrumbs(h("a", { href: "#/" }, "jobs"),
    h("a", { href: `#/jobs/${encodeURIComponent(execution.jobName)}` }, execution.jobName), `#${id}`);
  const title = h("h1", { id: "execution-title" });
  const actions = h("div", { class: "actions", id: "actions" });
  const facts = h("dl", { class: "facts", id: "facts" });
  const steps = h("tbody", { id: "steps" });
  const contextBox = h("pre", { class: "context", id: "context" });
  main.replaceChildren(
    title, actions,
    h("section", { class: "panel" }, facts),
    h("h2", {}, "Steps"),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "status"), h("th", { class: "num" }, "read"),
        h("th", { class: "num" }, "written"), h("th", { class: "num" }, "filtered"), h("th", { class: "num" }, "commits"),
        h("th", { class: "num" }, "rollbacks"), h("th", { class: "num" }, "read skips"), h("th", { class: "num" }, "process skips"),
        h("th", { class: "num" }, "write skips"), h("th", {}, "exit code"), h("th", {}, "duration"))),
      steps),
    h("h2", {}, "Execution context"),
    contextBox,
  );
  const show = () => {
    // replaceChildren writes a null as the text "null": no badge is an empty string.
    title.replaceChildren(`${execution.jobName} #${execution.id} `, badge(execution.status),
      overdueBadge(execution) || "");
    fillActions(actions, execution, context, nodes);
    fillFacts(facts, execution);
    fillSteps(steps, execution, context);
  };
  show();
  fillContext(contextBox, context);
  if (!RUNNING.has(execution.status)) {
    closeStream();
    return { name: "execution", startJob: execution.jobName };
  }
  // While it runs, the context is read again after progress (a commit changes the
  // versions) and at the end; the nodes (the owner's lease) every few seconds. A failed
  // read is left to the next one. Nothing is read for a view that was left.
  const refreshContext = throttle(async () => {
    const fresh = contextBox.isConnected
      ? await api("GET", `/api/executions/${id}/context`).catch(() => null) : null;
    if (fresh && contextBox.isConnected) {
      context = fresh;
      fillContext(contextBox, context);
      show();
    }
  }, CONTEXT_REFRESH_MS);
  const refreshOwner = throttle(async () => {
    const fresh = contextBox.isConnected ? await listNodes() : null;
    if (fresh && contextBox.isConnected) {
      nodes = fresh;
      show();
    }
  }, OWNER_REFRESH_MS);
  let progress = progressOf(execution);
  const timer = setInterval(refreshOwner, OWNER_REFRESH_MS);
  ticker = timer;
  follow(`/api/executions/${id}/events`, (next) => {
    execution = next;
    show();
    if (progressOf(next) !== progress) {
      progress = progressOf(next);
      refreshContext();
    }
  }, () => {
    clearInterval(timer);
    refreshContext();
  });
  return { name: "execution", startJob: execution.jobName };
}

// Changes whenever the execution or one of its steps is saved (a commit, a status).
function progressOf(execution) {
  return [execution.version, ...execution.stepExecutions.map((step) => step.version)].join(" ");
}

function fillActions(actions, execution, context, nodes) {
  const status = execution.status;
  const act = (label, verb, enabled, cls, title) =>
    h("button", { type: "button", class: cls, "data-action": verb, disabled: !enabled, title,
      onclick: () => control(execution, verb) }, label);
  const refusal = recoverRefusal(execution, context, nodes);
  actions.replaceChildren(
    act("Stop", "stop", status === "STARTING" || status === "STARTED"),
    act("Restart", "restart", status === "FAILED" || status === "STOPPED", "primary"),
    act("Abandon", "abandon", ["STOPPING", "STOPPED", "FAILED", "UNKNOWN"].includes(status), "danger"),
    act("Recover", "recover", !refusal, "danger", refusal || recoverNote(execution, context, nodes)),
  );
}

// Recover marks FAILED a running execution whose owner is gone. The server has the last
// word (it knows which node claimed the execution); the dashboard only spares a click it
// would refuse: the owner recorded in the job context (`jobop.owner`: host and pid) is a
// node whose lease is live. Why Recover is refused, or null.
function recoverRefusal(execution, context, nodes) {
  if (!RUNNING.has(execution.status)) {
    return `${execution.status}: only a running execution can be recovered`;
  }
  const node = ownerNode(execution, context, nodes);
  if (node && node.state === "live") {
    return `owned by node ${node.nodeId} (${node.host} pid ${node.pid}), whose lease is live: ` +
      "stop it instead, or recover it once that lease has run out";
  }
  return null;
}

// What Recover would do, for its tooltip when it is offered.
function recoverNote(execution, context, nodes) {
  const owner = ownerOf(context);
  if (!owner) {
    return "no owner recorded yet: marks it FAILED if its server died before running it " +
      "(refused while a live node holds it; asks again if no jobop node owns it)";
  }
  if (!nodes) return "the nodes could not be read: the server checks the owner's lease";
  const node = ownerNode(execution, context, nodes);
  if (!node) {
    return `owner ${owner.host} pid ${owner.pid} is no node here: marks it FAILED ` +
      "(refused while that process runs)";
  }
  return `owner node ${node.nodeId} is ${node.state}: marks it FAILED, so it can be restarted`;
}

function ownerOf(context) {
  const owner = context && context.jobExecutionContext && context.jobExecutionContext["jobop.owner"];
  return owner && typeof owner === "object" ? owner : null;
}

// The node that runs the execution: the recorded host and pid, and of the nodes that had
// them (a pid comes back, a container's is always 1) the last one started before the
// execution (any of them if the clocks disagree).
function ownerNode(execution, context, nodes) {
  const owner = ownerOf(context);
  if (!owner || !nodes) return null;
  const same = nodes.filter((node) => node.host === owner.host && node.pid === owner.pid);
  const start = Date.parse(execution.startTime);
  const before = same.filter((node) => !(Date.parse(node.started) > start));
  const candidates = before.length ? before : same;
  const latest = (a, b) => (Date.parse(a.started) >= Date.parse(b.started) ? a : b);
  return candidates.length ? candidates.reduce(latest) : null;
}

// Stop, Abandon and Recover ask first, saying what they do: [question, answer, what it does].
const QUESTIONS = {
  stop: ["Stop", "Stop",
    "It stops at its next chunk or step boundary and ends STOPPED; Restart resumes it after its last commit."],
  abandon: ["Abandon", "Abandon", "ABANDONED is final: this execution can never be restarted."],
  recover: ["Recover", "Mark FAILED",
    "Only when its owner is gone: the execution is marked FAILED, as if its owner had died, and can then be restarted."],
};

async function control(execution, verb) {
  const id = execution.id;
  if (QUESTIONS[verb]) {
    const [question, answer, text] = QUESTIONS[verb];
    if (!(await confirmAction(`${question} ${execution.jobName} #${id}?`, text, answer))) return;
  }
  try {
    const result = await send(execution, verb);
    if (!result) return;
    if (verb === "restart") {
      toast(`restarted as #${result.id}`);
      go(`#/executions/${result.id}`);
    } else {
      toast(`#${id}: ${verb} → ${result.status}`);
      if (!stream) route();
    }
  } catch (error) {
    fail(error);
  }
}

// The control request; a Recover that the server refuses because no jobop node owns the
// execution (a Spring Batch application's: no lease tells whether its process runs) is
// sent again with `force` once the user says its owner is dead. Null: not sent.
async function send(execution, verb) {
  const path = `/api/executions/${execution.id}/${verb}`;
  try {
    return await api("POST", path);
  } catch (error) {
    if (!(verb === "recover" && error instanceof ApiError && error.metadata.force === "required")) {
      throw error;
    }
    const sure = await confirmAction(`Recover ${execution.jobName} #${execution.id} anyway?`,
      "No jobop node owns this execution, so nothing tells whether its process still runs. " +
      "Recover it only if you know that process is dead: it is marked FAILED as Spring Batch " +
      "recovers it.", "Its owner is dead: recover");
    return sure ? api("POST", path, { force: true }) : null;
  }
}

function fillFacts(facts, execution) {
  const items = [
    ["instance", `#${execution.jobInstanceId}`],
    ["exit code", h("span", { class: "mono", id: "exit-code" }, execution.exitStatus.exitCode)],
    ["exit message", execution.exitStatus.exitDescription
      ? h("div", { class: "exit-message mono" }, execution.exitStatus.exitDescription) : h("span", { class: "muted" }, "none")],
    ["created", when(execution.createTime)],
    ["started", when(execution.startTime)],
    ["ended", when(execution.endTime)],
    ["duration", durationOf(execution)],
    ["last updated", when(execution.lastUpdated)],
    ["version", execution.version],
    ["priority", execution.priority],
    ["parameters", h("span", { class: "mono" }, parameterText(execution.parameters) || "none")],
  ];
  facts.replaceChildren(...items.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function fillSteps(tbody, execution, context) {
  const items = execution.parameters.items && execution.parameters.items.long;
  // Partitions are shown under their manager step, one bar each (partitions.js).
  const groups = partitionGroups(execution.stepExecutions, context);
  const rows = groups.steps.flatMap((step) => {
    let progress = null;
    if (RUNNING.has(step.status)) {
      // The sample jobs say how many items they read; others get a bar that only moves.
      const known = typeof items === "number" && items > 0 && execution.stepExecutions.length === 1;
      const bar = h("span");
      // Through the style object: the page's Content-Security-Policy refuses style attributes.
      if (known) bar.style.width = `${Math.min(100, (100 * step.readCount) / items)}%`;
      progress = h("div", { class: `progress${known ? "" : " indeterminate"}`, role: "progressbar",
        "aria-valuenow": step.readCount, "aria-valuemax": known ? items : null }, bar);
    }
    const num = (value, name) => h("td", { class: "num", "data-counter": name }, value);
    return [h("tr", { "data-step": step.stepName },
      h("td", {}, step.stepName, progress),
      h("td", {}, badge(step.status)),
      num(step.readCount, "read"), num(step.writeCount, "write"), num(step.filterCount, "filter"),
      num(step.commitCount, "commit"), num(step.rollbackCount, "rollback"), num(step.readSkipCount, "readSkip"),
      num(step.processSkipCount, "processSkip"), num(step.writeSkipCount, "writeSkip"),
      h("td", { class: "mono", title: step.exitStatus.exitDescription }, step.exitStatus.exitCode),
      h("td", {}, durationOf(step))),
      partitionRow(step, groups, context, 12)].filter(Boolean);
  });
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 12, class: "muted" }, "No step has started yet.")));
  tbody.replaceChildren(...rows);
}

function fillContext(box, context) {
  box.textContent = JSON.stringify(context, null, 2);
}

// -- starting ---------------------------------------------------------------------------------
// The Start dialog is built from the job's declared parameters (GET /api/jobs/NAME): a typed
// field per parameter, and free rows only where the job takes undeclared ones. Values are
// checked here before anything is sent; the server checks them again.

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const NOT_RUNNABLE = "not registered on this server: only the repository knows this job, so it cannot start here";

class Refusal extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

// A typed request value from a field's text (see representation.py: strings are taken for
// every type, so that a 64-bit long keeps its digits); a Refusal when it is not one.
function typedValue(name, type, raw, field) {
  const text = type === "string" ? raw : raw.trim();
  switch (type) {
    case "long":
      if (!/^[+-]?\d+$/.test(text) || BigInt(text) < LONG_MIN || BigInt(text) > LONG_MAX) {
        throw new Refusal(`${name}: "${raw}" is not a long (a whole number)`, field);
      }
      return text;
    case "double":
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        throw new Refusal(`${name}: "${raw}" is not a double (a number)`, field);
      }
      return text;
    case "date": {
      // A datetime-local field's value is local time without a zone; requests take UTC.
      const date = new Date(text);
      if (Number.isNaN(date.getTime())) throw new Refusal(`${name}: "${raw}" is not a date`, field);
      return date.toISOString();
    }
    case "boolean":
      if (text !== "true" && text !== "false") throw new Refusal(`${name}: "${raw}" is not true or false`, field);
      return text === "true";
    default:
      return text;
  }
}

function defaultText(parameter) {
  const value = parameter.defaultValue ? parameter.defaultValue[parameter.type] : undefined;
  return value === undefined || value === null ? "" : String(value);
}

function declaredField(parameter) {
  const shown = defaultText(parameter);
  const attrs = { class: "d-value", "aria-label": parameter.name, "aria-required": parameter.required ? "true" : null };
  if (parameter.type === "boolean") {
    const none = parameter.required ? "choose…" : shown ? `default (${shown})` : "not given";
    return h("select", attrs, h("option", { value: "" }, none),
      h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  }
  const kinds = {
    long: { type: "number", step: "1", inputmode: "numeric" },
    double: { type: "number", step: "any", inputmode: "decimal" },
    date: { type: "datetime-local", step: "1" },
    string: { type: "text" },
  };
  return h("input", { ...attrs, ...kinds[parameter.type], placeholder: shown || (parameter.required ? "required" : "") });
}

function declaredRow(parameter) {
  return h("tr", { "data-param": parameter.name, "data-type": parameter.type,
    "data-identifying": String(parameter.identifying), class: parameter.required ? "required" : "" },
    h("td", {},
      h("span", { class: "mono" }, parameter.name),
      parameter.required ? h("span", { class: "req", title: "required" }, " *") : null,
      h("span", { class: "muted" }, ` ${parameter.type}`),
      parameter.description ? h("div", { class: "param-about" }, parameter.description) : null),
    h("td", {}, declaredField(parameter)),
    h("td", { class: "muted" }, parameter.identifying ? "yes" : "no"));
}

function paramRow(name, type, value, identifying) {
  const select = h("select", { "aria-label": "type", class: "p-type" }, TYPES.map((t) => h("option", { selected: t === type }, t)));
  const row = h("tr", {},
    h("td", {}, h("input", { "aria-label": "name", class: "p-name", value: name || "" })),
    h("td", {}, select),
    h("td", {}, h("input", { "aria-label": "value", class: "p-value", value: value || "" })),
    h("td", {}, h("input", { type: "checkbox", "aria-label": "identifying", class: "p-id", checked: identifying !== false })),
    h("td", {}, h("button", { type: "button", "aria-label": "remove", onclick: () => row.remove() }, "×")));
  return row;
}

async function openStart(name) {
  let job;
  try {
    job = await api("GET", `/api/jobs/${encodeURIComponent(name)}`);
  } catch (error) {
    fail(error);
    return;
  }
  if (!job.registered) {
    toast(`${name}: ${NOT_RUNNABLE}`, true);
    return;
  }
  const dialog = document.getElementById("start-dialog");
  dialog.dataset.job = name;
  document.getElementById("start-job").textContent = name;
  document.getElementById("start-about").textContent = job.description;
  document.getElementById("start-error").textContent = "";
  document.getElementById("request-id").value = "";
  document.getElementById("declared-rows").replaceChildren(...job.parameters.map(declaredRow));
  document.getElementById("declared-params").hidden = !job.parameters.length;
  document.getElementById("free-params").hidden = !job.allowUndeclaredParameters;
  document.getElementById("free-hint").textContent = job.parameters.length
    ? "This job also takes parameters it does not declare:" : "This job declares no parameters; give any:";
  // A job that declares nothing starts with one free row, as before declarations.
  document.getElementById("param-rows").replaceChildren(
    ...(job.parameters.length || !job.allowUndeclaredParameters ? [] : [paramRow("", "long", "", true)]));
  dialog.showModal();
  const first = dialog.querySelector("#declared-rows .d-value, #param-rows .p-name");
  if (first) first.focus();
}

function collectParameters() {
  const parameters = {};
  for (const row of document.querySelectorAll("#declared-rows tr")) {
    const name = row.dataset.param;
    const type = row.dataset.type;
    const field = row.querySelector(".d-value");
    // A number field holding text that is no number reads as "": say so rather than skip it.
    if (field.validity && field.validity.badInput) throw new Refusal(`${name}: not a ${type}`, field);
    if (field.value === "") {
      if (row.classList.contains("required")) throw new Refusal(`${name} is required`, field);
      continue; // the job's default applies (and is not written to the repository)
    }
    const identifying = row.dataset.identifying === "true";
    parameters[name] = { [type]: typedValue(name, type, field.value, field), identifying };
  }
  for (const row of document.querySelectorAll("#param-rows tr")) {
    const field = row.querySelector(".p-name");
    const name = field.value.trim();
    if (!name) continue;
    if (name in parameters) throw new Refusal(`${name} is given twice`, field);
    const type = row.querySelector(".p-type").value;
    const value = row.querySelector(".p-value");
    parameters[name] = { [type]: typedValue(name, type, value.value, value), identifying: row.querySelector(".p-id").checked };
  }
  return parameters;
}

async function submitStart(event) {
  event.preventDefault();
  const dialog = document.getElementById("start-dialog");
  const error = document.getElementById("start-error");
  const job = dialog.dataset.job;
  for (const field of dialog.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  let body;
  try {
    body = { parameters: collectParameters() };
  } catch (refusal) {
    if (!(refusal instanceof Refusal)) throw refusal;
    error.textContent = refusal.message;
    refusal.field.setAttribute("aria-invalid", "true");
    refusal.field.focus();
    return;
  }
  const requestId = document.getElementById("request-id").value.trim();
  if (requestId) body.requestId = requestId;
  try {
    const execution = await api("POST", `/api/jobs/${encodeURIComponent(job)}/start`, body);
    dialog.close();
    toast(`${job}: started #${execution.id}`);
    go(`#/executions/${execution.id}`);
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? `${failure.reason}: ${failure.message}` : String(failure);
  }
}

// -- routing ----------------------------------------------------------------------------------

async function render(make) {
  const main = document.getElementById("view");
  clearInterval(ticker);
  ticker = null;
  try {
    view = await make();
  } catch (error) {
    closeStream();
    main.replaceChildren(h("h1", {}, "Cannot show this page"),
      h("p", { class: "error" }, error instanceof ApiError ? `${error.reason}: ${error.message}` : String(error)),
      h("p", {}, h("a", { href: "#/" }, "back to the jobs")));
  }
}

function route() {
  const main = document.getElementById("view");
  let match;
  // The Executions page's filter is a query: read before decoding (executions.js).
  if ((match = location.hash.match(/^#\/executions(?:\?(.*))?$/))) return render(() => executionsView(main, match[1] || ""));
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  if ((match = hash.match(/^\/executions\/(\d+)$/))) return render(() => executionView(main, match[1]));
  if ((match = hash.match(/^\/jobs\/(.+)$/))) return render(() => jobView(main, match[1], [""]));
  if (hash === "/schedules") return render(() => schedulesView(main));
  if ((match = hash.match(/^\/schedules\/(.+)$/))) return render(() => scheduleView(main, match[1]));
  return render(() => jobsView(main));
}

function onKey(event) {
  if (document.querySelector("dialog[open]") || event.ctrlKey || event.metaKey || event.altKey) return;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  if (event.key === "j") go("#/");
  else if (event.key === "r") route();
  else if (event.key === "s" && view && view.startJob) {
    event.preventDefault();
    openStart(view.startJob);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("start-form").addEventListener("submit", submitStart);
  document.getElementById("add-param").addEventListener("click", () =>
    document.getElementById("param-rows").append(paramRow("", "long", "", true)));
  document.getElementById("start-cancel").addEventListener("click", () => document.getElementById("start-dialog").close());
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", route);
  route();
});
