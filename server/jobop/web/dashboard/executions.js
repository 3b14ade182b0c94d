// jobop dashboard: the Executions page across jobs (#/executions?FILTER) and the jobs'
// run-history charts (docs/api.md, "The Executions page").
//
// The filter lives in the page's URL with the query names of GET /api/executions (job,
// status, exitCode, since, until, param.NAME, and the page's pageSize and pageToken), so a
// view can be shared and a reload shows it again. Rows have checkboxes; Stop, Abandon,
// Restart and Recover act on the checked ones through one bulk operation (POST
// /api/executions/{action} {"ids": [...]}), or on every execution the filter matches
// ({"filter": {...}}, counted first by a dry run), whose progress is polled from
// GET /api/operations/{id} until it ends. A run-history chart per job named in the filter
// (and on each job's page) draws its last 100 executions, from one listing request (the
// listing carries each execution's steps and their counts).
// Uses app.js's helpers (h, api, ApiError, fail, toast, when, badge, durationOf,
// humanDuration, parameterText, setCrumbs, follow, confirmAction, render, go).
"use strict";

const EXECUTIONS_PAGE_SIZE = 50;
const HISTORY_SIZE = 100;
const CHARTS_SHOWN = 6; // run-history charts on the Executions page, one per job named
const OPERATION_POLL_MS = 500;
const STATUSES = ["STARTING", "STARTED", "STOPPING", "STOPPED", "FAILED", "COMPLETED", "ABANDONED", "UNKNOWN"];
// The filter's query names in the URL, besides param.NAME; repeatable ones are lists.
const LIST_KEYS = ["job", "status", "exitCode"];
const TIME_KEYS = ["since", "until"];
const SVG = "http://www.w3.org/2000/svg";

// What each bulk action does, for its confirmation: [verb, label, text, role it needs].
const BULK_ACTIONS = {
  stop: ["Stop", "Stop", "Each stops at its next chunk or step boundary and ends STOPPED; Restart resumes it.", "operator"],
  abandon: ["Abandon", "Abandon", "ABANDONED is final: these executions can never be restarted.", "admin"],
  restart: ["Restart", "Restart", "Each FAILED or STOPPED one is started again from its last commit, as a new execution.", "operator"],
  recover: ["Recover", "Mark FAILED",
    "Each running one whose owner is gone is marked FAILED, as if its owner had died; one a live node owns is refused.", "operator"],
};

// -- the filter and the URL -------------------------------------------------------------------

// The filter of a hash's query: {job: [], status: [], exitCode: [], since, until,
// params: [[name, value]], pageToken}.
function parseFilter(query) {
  const params = new URLSearchParams(query);
  const filter = { params: [] };
  for (const key of LIST_KEYS) filter[key] = params.getAll(key).filter(Boolean);
  filter.status = filter.status.map((status) => status.toUpperCase()); // the server takes any case
  for (const key of [...TIME_KEYS, "pageToken", "pageSize"]) filter[key] = params.get(key) || "";
  for (const [key, value] of params) {
    if (key.startsWith("param.") && key.length > 6) filter.params.push([key.slice(6), value]);
  }
  return filter;
}

// The query of a filter, as GET /api/executions and the page's URL spell it (with the
// page's size and token unless only the filter is asked for).
function filterQuery(filter, { pageToken = true } = {}) {
  const params = new URLSearchParams();
  for (const key of LIST_KEYS) for (const value of filter[key]) params.append(key, value);
  for (const key of TIME_KEYS) if (filter[key]) params.set(key, filter[key]);
  for (const [name, value] of filter.params) params.append(`param.${name}`, value);
  if (pageToken && filter.pageSize) params.set("pageSize", filter.pageSize);
  if (pageToken && filter.pageToken) params.set("pageToken", filter.pageToken);
  return params.toString();
}

// The filter as a bulk request's body names it (POST /api/executions/{action}); null when
// it selects every execution (the page offers no action on all of them at once).
function bodyFilter(filter) {
  const body = {};
  for (const key of LIST_KEYS) if (filter[key].length) body[key] = filter[key];
  for (const key of TIME_KEYS) if (filter[key]) body[key] = filter[key];
  if (filter.params.length) body.param = Object.fromEntries(filter.params);
  return Object.keys(body).length ? body : null;
}

function executionsHash(filter) {
  const query = filterQuery(filter);
  return query ? `#/executions?${query}` : "#/executions";
}

// "a, b ,c" -> ["a", "b", "c"]
function words(text) {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}

// An RFC 3339 time as a datetime-local field shows it (local time), and back.
function localField(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

function fieldTime(value) {
  const date = new Date(value);
  return value && !Number.isNaN(date.getTime()) ? date.toISOString() : "";
}

function filterForm(filter, jobNames) {
  const field = (id, label, input) => h("label", { class: "inline", for: id }, label, input);
  const job = h("input", { id: "f-job", list: "f-jobs", value: filter.job.join(", "),
    placeholder: "any job; several: a, b" });
  const exitCode = h("input", { id: "f-exit", value: filter.exitCode.join(", "), placeholder: "e.g. FAILED, NOOP" });
  const since = h("input", { id: "f-since", type: "datetime-local", step: "1", value: localField(filter.since) });
  const until = h("input", { id: "f-until", type: "datetime-local", step: "1", value: localField(filter.until) });
  const params = h("input", { id: "f-params", value: filter.params.map(([n, v]) => `${n}=${v}`).join(", "),
    placeholder: "e.g. tenant=7, region=eu" });
  const statuses = h("fieldset", { class: "statuses", id: "f-status" }, h("legend", {}, "status"),
    STATUSES.map((status) => h("label", {},
      h("input", { type: "checkbox", name: "status", value: status, checked: filter.status.includes(status) }),
      ` ${status}`)));
  const error = h("p", { class: "error", id: "filter-error", role: "alert" });
  const form = h("form", { class: "panel filters", id: "filters", role: "search", "aria-label": "filter executions" },
    h("datalist", { id: "f-jobs" }, jobNames.map((name) => h("option", { value: name }))),
    h("div", { class: "filter-fields" },
      field("f-job", "jobs", job),
      field("f-exit", "exit codes", exitCode),
      field("f-since", "created since", since),
      field("f-until", "created until", until),
      field("f-params", "parameters (name=value)", params)),
    statuses, error,
    h("menu", {},
      h("button", { type: "button", id: "filter-clear", onclick: () => go("#/executions") }, "Clear"),
      h("button", { type: "submit", id: "filter-apply", class: "primary" }, "Apply")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const pairs = [];
    for (const pair of words(params.value)) {
      const at = pair.indexOf("=");
      if (at < 1) {
        error.textContent = `parameters: "${pair}" is not name=value`;
        params.setAttribute("aria-invalid", "true");
        params.focus();
        return;
      }
      pairs.push([pair.slice(0, at).trim(), pair.slice(at + 1).trim()]);
    }
    go(executionsHash({
      job: words(job.value), exitCode: words(exitCode.value),
      status: [...statuses.querySelectorAll("input:checked")].map((box) => box.value),
      since: fieldTime(since.value), until: fieldTime(until.value), params: pairs, pageToken: "",
      pageSize: filter.pageSize,
    }));
  });
  return form;
}

// -- the page ---------------------------------------------------------------------------------

// Page tokens of the pages before the shown one, per filter (the URL holds only the shown
// page's token): "← Newer" goes back through them, and to the first page after a reload.
const earlierTokens = { filter: null, tokens: [] };

async function executionsView(main, query) {
  const filter = parseFilter(query);
  const base = filterQuery(filter, { pageToken: false });
  if (earlierTokens.filter !== base) Object.assign(earlierTokens, { filter: base, tokens: [] });
  const tokens = earlierTokens.tokens;
  if (!filter.pageToken) tokens.length = 0;
  setCrumbs(h("a", { href: "#/" }, "jobs"), "executions");
  const listing = `${base ? `${base}&` : ""}pageSize=${filter.pageSize || EXECUTIONS_PAGE_SIZE}` +
    `${filter.pageToken ? `&pageToken=${encodeURIComponent(filter.pageToken)}` : ""}`;
  // A filter the server refuses (a URL edited by hand, a stale page token) is said above an
  // empty table, with the form to correct it.
  let refusal = null;
  const [jobs, page, count] = await Promise.all([
    api("GET", "/api/jobs").catch(() => ({ jobs: [] })),
    api("GET", `/api/executions?${listing}`).catch((error) => {
      if (!(error instanceof ApiError) || error.status !== 400) throw error;
      refusal = `${error.reason}: ${error.message}`;
      return { executions: [], nextPageToken: "" };
    }),
    api("GET", `/api/executions/count${base ? `?${base}` : ""}`).catch(() => null),
  ]);
  const rows = new Map();
  const tbody = h("tbody");
  const selected = new Set();
  const all = h("input", { type: "checkbox", id: "select-all", "aria-label": "select every execution on this page" });
  // Beyond this page: every execution the filter matches (when there are more, and the
  // filter selects something less than everything).
  const matching = count && count.count > page.executions.length ? bodyFilter(filter) : null;
  const bulk = bulkBar(selected, matching && { filter: matching, count: count.count }, () => route());
  const changed = () => {
    const boxes = [...tbody.querySelectorAll("input.pick")];
    all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    all.indeterminate = !all.checked && boxes.some((box) => box.checked);
    bulk.update(all.checked);
  };
  all.addEventListener("change", () => {
    for (const box of tbody.querySelectorAll("input.pick")) {
      box.checked = all.checked;
      if (all.checked) selected.add(Number(box.value));
      else selected.delete(Number(box.value));
    }
    changed();
  });
  for (const execution of page.executions) {
    const row = h("tr", { "data-execution": execution.id });
    rows.set(execution.id, row);
    fillListingRow(row, execution, selected, changed);
    tbody.append(row);
  }
  if (!page.executions.length) {
    tbody.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, refusal ? "Nothing listed." : "No execution matches.")));
  }
  const pageAt = (token) => go(executionsHash({ ...filter, pageToken: token }));
  const older = h("button", { type: "button", id: "page-older", disabled: !page.nextPageToken,
    onclick: () => {
      tokens.push(filter.pageToken);
      pageAt(page.nextPageToken);
    } }, "Older →");
  const newer = h("button", { type: "button", id: "page-newer", disabled: !filter.pageToken,
    onclick: () => pageAt(tokens.pop() || "") }, filter.pageToken && !tokens.length ? "← Newest" : "← Newer");
  const counted = count === null ? "" : `${count.count} execution${count.count === 1 ? "" : "s"} match`;
  const charts = h("section", { id: "charts", "aria-label": "run history" });
  main.replaceChildren(
    h("h1", {}, "Executions"),
    filterForm(filter, jobs.jobs.map((job) => job.name)),
    refusal ? h("p", { class: "error", id: "listing-error", role: "alert" }, refusal) : null,
    charts,
    bulk.element,
    h("table", { class: "grid", id: "executions" },
      h("thead", {}, h("tr", {}, h("th", {}, all), h("th", {}, "execution"), h("th", {}, "job"),
        h("th", {}, "status"), h("th", {}, "exit code"), h("th", {}, "created"), h("th", {}, "started"),
        h("th", {}, "duration"), h("th", {}, "parameters"))),
      tbody),
    h("div", { class: "pager" }, newer, older,
      h("span", { class: "muted", id: "executions-count", "data-count": count ? count.count : null },
        `${counted}${counted ? " · " : ""}page ${tokens.length + 1}`)),
  );
  for (const name of filter.job.slice(0, CHARTS_SHOWN)) charts.append(runHistory(name));
  // Rows shown change as their executions do (a bulk stop's STOPPING, then STOPPED).
  follow("/api/events", (execution) => {
    const row = rows.get(execution.id);
    if (row) fillListingRow(row, execution, selected, changed);
  });
  return { name: "executions", startJob: filter.job.length === 1 ? filter.job[0] : null };
}

// The row's checkbox cell stays across updates (its box may have the focus: moving it
// would lose it); the other cells are drawn again when what they show changed.
function fillListingRow(row, execution, selected, changed) {
  const shown = JSON.stringify([execution.status, execution.exitStatus.exitCode, execution.startTime,
    execution.endTime, execution.overdue]);
  if (row.dataset.shown === shown) return;
  row.dataset.shown = shown;
  row.dataset.status = execution.status;
  const cells = listingCells(execution);
  if (row.querySelector("input.pick")) {
    while (row.cells.length > 1) row.lastChild.remove();
    row.append(...cells);
    return;
  }
  const box = h("input", { type: "checkbox", class: "pick", value: execution.id,
    "aria-label": `select ${execution.jobName} #${execution.id}`, checked: selected.has(execution.id) });
  box.addEventListener("change", () => {
    if (box.checked) selected.add(execution.id);
    else selected.delete(execution.id);
    changed();
  });
  row.replaceChildren(h("td", {}, box), ...cells);
}

function listingCells(execution) {
  return [
    h("td", {}, h("a", { href: `#/executions/${execution.id}` }, `#${execution.id}`)),
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(execution.jobName)}` }, execution.jobName)),
    h("td", {}, badge(execution.status), " ", overdueBadge(execution)),
    h("td", { class: "mono" }, execution.exitStatus.exitCode),
    h("td", {}, when(execution.createTime)),
    h("td", {}, when(execution.startTime)),
    h("td", {}, durationOf(execution)),
    h("td", { class: "mono" }, parameterText(execution.parameters)),
  ];
}

// -- bulk actions -----------------------------------------------------------------------------

// The action buttons over the selected ids (or, once asked, every execution `matching`
// selects: {filter, count}) and the operation's progress line; `done` runs when an
// operation has ended (reads the page again).
function bulkBar(selected, matching, done) {
  let byFilter = false;
  const note = h("span", { class: "muted", id: "bulk-selected" }, "none selected");
  const progress = h("p", { class: "bulk-progress", id: "bulk-progress", role: "status", "aria-live": "polite" });
  const target = () => (byFilter ? { filter: matching.filter } : { ids: [...selected].sort((a, b) => a - b) });
  const buttons = Object.entries(BULK_ACTIONS).map(([action, [verb]]) =>
    h("button", { type: "button", "data-bulk": action, disabled: true,
      class: action === "abandon" || action === "recover" ? "danger" : null,
      onclick: () => runBulk(action, target(), progress, done) }, `${verb}…`));
  const widen = h("button", { type: "button", id: "select-matching", hidden: true,
    onclick: () => {
      byFilter = true;
      update(true);
    } }, matching ? `Select all ${matching.count} matching the filter` : "");
  const element = h("div", { class: "actions bulk", id: "bulk", role: "group", "aria-label": "act on the selected executions" },
    ...buttons, note, widen, progress);
  // `whole`: every row of the page is checked (else the selection is only the rows').
  const update = (whole) => {
    byFilter = byFilter && whole;
    widen.hidden = !matching || !whole || byFilter;
    for (const button of buttons) button.disabled = !selected.size;
    note.textContent = byFilter ? `all ${matching.count} matching the filter selected`
      : selected.size ? `${selected.size} selected` : "none selected";
  };
  return { element, update };
}

// Runs `action` on `target` ({ids} or {filter}) once confirmed; a filter's executions are
// counted first by a dry run, so that the question says how many.
async function runBulk(action, target, line, done) {
  const [verb, label, text, role] = BULK_ACTIONS[action];
  const refused = (error) => {
    line.className = "bulk-progress bad";
    line.textContent = error instanceof ApiError && error.status === 403
      ? `${verb} refused: your token's role may not ${action} executions (it needs ${role}).`
      : `${verb} failed: ${error instanceof ApiError ? `${error.reason}: ${error.message}` : error}`;
  };
  let ids = target.ids;
  let matched = ids && ids.length;
  if (target.filter) {
    try {
      const dry = await api("POST", `/api/executions/${action}`, { filter: target.filter, dryRun: true });
      [ids, matched] = [dry.ids, dry.matched];
    } catch (error) {
      refused(error);
      return;
    }
  }
  const listed = ids.slice(0, 8).map((id) => `#${id}`).join(", ") + (matched > 8 ? " …" : "");
  const many = `${matched} execution${matched === 1 ? "" : "s"}`;
  const question = `${verb} ${many}${target.filter ? " matching the filter" : ""}?`;
  if (!(await confirmAction(question, `${listed}. ${text}`, `${label} ${many}`))) return;
  line.className = "bulk-progress";
  delete line.dataset.state;
  delete line.dataset.operation;
  line.textContent = `${verb}: sending…`;
  let operation;
  try {
    operation = await api("POST", `/api/executions/${action}`, target);
  } catch (error) {
    refused(error);
    return;
  }
  line.dataset.operation = operation.id;
  const cancel = h("button", { type: "button", id: "bulk-cancel", onclick: async () => {
    cancel.disabled = true;
    try {
      await api("POST", `/api/operations/${operation.id}/cancel`);
    } catch (error) {
      fail(error);
    }
  } }, "Cancel operation");
  const show = () => {
    line.dataset.state = operation.state;
    const errors = (operation.errors || []).map((e) => `#${e.executionId} ${e.reason}: ${e.message}`);
    line.replaceChildren(`${verb} operation ${operation.id}: ${operation.done} of ${operation.matched} done, ` +
      `${operation.failed} failed · ${operation.state}`,
    ...(operation.state === "RUNNING" ? [" ", cancel] : []),
    ...(errors.length ? [h("ul", { class: "bulk-errors" }, errors.map((e) => h("li", {}, e)))] : []));
  };
  show();
  while (operation.state === "RUNNING" && line.isConnected) {
    await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
    try {
      operation = await api("GET", `/api/operations/${operation.id}`);
    } catch (error) {
      line.textContent = `${verb} operation ${operation.id}: cannot read its progress (${error.message}); retrying`;
      continue;
    }
    show();
  }
  if (!line.isConnected) return;
  toast(`${verb}: ${operation.done} done, ${operation.failed} failed (${operation.state})`, operation.failed > 0);
  // The page is read again (statuses, the count); the last line stays on it to be read.
  await done();
  const fresh = document.getElementById("bulk-progress");
  if (fresh && fresh !== line) {
    fresh.className = line.className;
    Object.assign(fresh.dataset, line.dataset);
    fresh.replaceChildren(...line.childNodes);
  }
}

// -- run-history chart ------------------------------------------------------------------------

// The plot's size and margins (the axes' labels), and the marks' inset from its edges.
const CHART = { width: 880, height: 180, left: 64, right: 12, top: 12, bottom: 28, inset: 10 };

function svg(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// How long it ran (to now while it runs), in ms; null when it has not started.
function runMs(item) {
  if (!item.startTime) return null;
  const end = item.endTime || (RUNNING.has(item.status) ? null : item.lastUpdated);
  return Math.max(0, (end ? Date.parse(end) : Date.now()) - Date.parse(item.startTime));
}

// "load: 1,234 items/s" for each chunk step (one that read or wrote items), from its
// write count over its duration.
function itemRates(execution) {
  return execution.stepExecutions
    .filter((step) => step.readCount > 0 || step.writeCount > 0)
    .map((step) => {
      const ms = runMs(step);
      const rate = ms ? (step.writeCount * 1000) / ms : null;
      const shown = rate === null ? "–" : rate >= 100 ? Math.round(rate).toLocaleString() : rate.toFixed(1);
      return `${step.stepName}: ${shown} items/s (${step.writeCount.toLocaleString()} written)`;
    });
}

// The chart of job `name`'s last 100 executions: one mark per started execution at its
// start time (x) and duration (y), coloured by status; each mark is a link to the
// execution with its items/s in its title.
function runHistory(name) {
  const figure = h("figure", { class: "panel history", "data-job": name },
    h("figcaption", {}, h("a", { href: `#/jobs/${encodeURIComponent(name)}` }, name),
      `: duration of the last ${HISTORY_SIZE} executions by start time`),
    h("p", { class: "muted" }, "loading…"));
  api("GET", `/api/executions?job=${encodeURIComponent(name)}&pageSize=${HISTORY_SIZE}`)
    .then((page) => figure.lastChild.replaceWith(drawHistory(name, page.executions)))
    .catch((error) => figure.lastChild.replaceWith(
      h("p", { class: "error" }, error instanceof ApiError ? `${error.reason}: ${error.message}` : String(error))));
  return figure;
}

function drawHistory(name, executions) {
  const points = executions.map((e) => ({ e, x: Date.parse(e.startTime), y: runMs(e) }))
    .filter((point) => point.y !== null && !Number.isNaN(point.x))
    .sort((a, b) => a.x - b.x);
  if (!points.length) return h("p", { class: "muted" }, "No execution has started yet.");
  const { width, height, left, right, top, bottom, inset } = CHART;
  const x0 = points[0].x;
  const x1 = points[points.length - 1].x;
  const yMax = Math.max(1, ...points.map((point) => point.y));
  const px = (x) => (x1 === x0 ? (left + width - right) / 2
    : left + inset + ((x - x0) / (x1 - x0)) * (width - left - right - 2 * inset));
  const py = (y) => height - bottom - (y / yMax) * (height - top - bottom - inset);
  const axis = (x, y, anchor, text) => svg("text", { x, y, "text-anchor": anchor, class: "tick" }, text);
  const marks = points.map(({ e, x, y }) => {
    const rates = itemRates(e);
    const title = [`${e.jobName} #${e.id} ${e.status}`, `started ${new Date(x).toLocaleString()}`,
      `ran ${humanDuration(y)}`, ...rates].join("\n");
    return svg("a", { href: `#/executions/${e.id}`, class: "mark", "data-execution": e.id, "data-status": e.status,
      "aria-label": title.replaceAll("\n", ", ") },
    svg("title", {}, title),
    svg("circle", { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 5, class: `dot ${e.status}` }));
  });
  const summary = `${points.length} executions of ${name}, longest ${humanDuration(yMax)}`;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "history-chart", role: "group",
    "aria-label": summary, "data-marks": points.length },
  svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }),
  svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
  axis(left - 6, top + inset + 4, "end", humanDuration(yMax)),
  axis(left - 6, height - bottom, "end", "0"),
  axis(left + inset, height - 8, "start", new Date(x0).toLocaleString()),
  x1 !== x0 ? axis(width - right - inset, height - 8, "end", new Date(x1).toLocaleString()) : null,
  svg("g", { class: "marks" }, marks));
  const legend = h("p", { class: "legend muted" },
    [...new Set(points.map((point) => point.e.status))].flatMap((status) => [badge(status), " "]));
  return h("div", {}, chart, legend);
}
