// jobop dashboard: a partitioned step's partitions (docs/partitions.md) in an execution's
// steps table. Each partition is a worker step execution named `<workerStep>:<partition>`
// (Spring's names); they are taken out of the table's rows and shown under their manager
// step as one bar each: its progress, status, read and written counts, and the node that
// ran it (`nodeId`). A partition retried after its node died has several step executions
// of the same name: the last one is the bar, the earlier ones are counted beside it.
// Uses app.js's helpers (h, badge, durationOf, RUNNING).
"use strict";

// Spring's key in a manager step's context (SimpleStepExecutionSplitter's grid size).
const GRID_SIZE_KEY = "SimpleStepExecutionSplitter.GRID_SIZE";

// Whether `step` may be a partition step's manager: its context, when the page has it
// (a context read may be truncated), holds the grid size the manager keeps.
function mayManage(step, context) {
  const contexts = context && context.stepExecutionContexts;
  const own = contexts ? contexts[String(step.id)] : null;
  return !own || context.truncated || GRID_SIZE_KEY in own;
}

// The manager of a partition is the step execution that split it: the last step
// execution, not itself a partition, created before it (a manager ends only after all of
// its partitions, so no other step of the job execution starts in between). A step named
// with a colon after a step that is no manager stays a row of its own.
// Returns {steps: the rows of the table, partitionsOf: manager id -> [worker step executions]}.
function partitionGroups(stepExecutions, context) {
  const ordered = [...stepExecutions].sort((a, b) => a.id - b.id);
  const partitionsOf = new Map();
  const steps = [];
  let manager = null;
  for (const step of ordered) {
    const colon = step.stepName.indexOf(":");
    if (manager && colon > 0 && colon < step.stepName.length - 1 && mayManage(manager, context)) {
      if (!partitionsOf.has(manager.id)) partitionsOf.set(manager.id, []);
      partitionsOf.get(manager.id).push(step);
    } else {
      manager = step;
      steps.push(step);
    }
  }
  // The table keeps the order the server gave its steps.
  const shown = new Set(steps);
  return { steps: stepExecutions.filter((step) => shown.has(step)), partitionsOf };
}

// A long context value: a number, or a digit string (longs beyond 2^53 travel as strings).
function contextLong(value) {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  return null;
}

// How many items a partition has, from its context's range (minValue..maxValue, inclusive:
// the range partitioner's keys); null when its context does not say.
function partitionSize(step, context) {
  const values = context && context.stepExecutionContexts
    ? context.stepExecutionContexts[String(step.id)] : null;
  if (!values) return null;
  const low = contextLong(values.minValue);
  const high = contextLong(values.maxValue);
  return low !== null && high !== null && high >= low ? high - low + 1 : null;
}

function partitionBar(attempts, context) {
  const step = attempts[attempts.length - 1];
  const name = step.stepName.slice(step.stepName.indexOf(":") + 1);
  const size = partitionSize(step, context);
  const running = RUNNING.has(step.status);
  // An attempt resumes after the previous one's last commit: the partition's counts are
  // the sums over its attempts.
  const read = attempts.reduce((sum, a) => sum + a.readCount, 0);
  const written = attempts.reduce((sum, a) => sum + a.writeCount, 0);
  const bar = h("span");
  let fraction = null;
  if (step.status === "COMPLETED") fraction = 1;
  else if (size) fraction = Math.min(1, read / size);
  // Through the style object: the page's Content-Security-Policy refuses style attributes.
  if (fraction !== null) bar.style.width = `${100 * fraction}%`;
  const progress = h("div", {
    class: `progress ${step.status}${fraction === null && running ? " indeterminate" : ""}`,
    role: "progressbar", "aria-label": `${name} progress`,
    "aria-valuenow": read, "aria-valuemax": size,
  }, bar);
  const earlier = attempts.slice(0, -1);
  const retried = earlier.length
    ? h("span", { class: "muted", "data-field": "attempts",
      title: earlier.map((e) => `#${e.id} ${e.status} on ${e.nodeId || "?"}: ${e.exitStatus.exitDescription}`
        + ` (read ${e.readCount}, written ${e.writeCount})`).join("\n") },
    `attempt ${attempts.length}`)
    : null;
  return h("li", {
    "data-partition": step.stepName, "data-status": step.status, "data-node": step.nodeId || "",
    "data-step-execution": step.id,
  },
  h("span", { class: "partition-name mono", title: step.stepName }, name),
  progress,
  badge(step.status),
  h("span", { class: "num", "data-counter": "read", title: "read" }, `${read}${size ? ` / ${size}` : ""} read`),
  h("span", { class: "num", "data-counter": "write", title: "written" }, `${written} written`),
  h("span", { class: "mono", "data-field": "node", title: step.nodeId ? `node ${step.nodeId}` : "waiting for a node" },
    step.nodeId || "not claimed yet"),
  h("span", { class: "muted" }, durationOf(step)),
  retried);
}

// The row under `manager` listing its partitions, or null when it has none.
function partitionRow(manager, groups, context, columns) {
  const workers = groups.partitionsOf.get(manager.id);
  if (!workers) return null;
  const byName = new Map();
  for (const worker of workers) {
    if (!byName.has(worker.stepName)) byName.set(worker.stepName, []);
    byName.get(worker.stepName).push(worker);
  }
  const names = [...byName.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const nodes = new Set(names.map((n) => byName.get(n).at(-1).nodeId).filter(Boolean));
  const done = names.filter((n) => byName.get(n).at(-1).status === "COMPLETED").length;
  return h("tr", { class: "partitions", "data-partitions-of": manager.stepName },
    h("td", { colspan: columns },
      h("div", { class: "muted partition-summary" },
        `${names.length} partitions, ${done} completed, on ${nodes.size} node${nodes.size === 1 ? "" : "s"}`),
      h("ol", { class: "partition-bars" }, names.map((n) => partitionBar(byName.get(n), context)))));
}
