// Drives an execution's page of a running `jobop serve` in headless Chromium while a
// partitioned job runs: it starts demoPartitionedJob with PARAMETERS (JSON) and PARTITIONS
// partitions from the page and opens the execution's page at once (with EXECUTION, it
// opens that execution's page instead: one whose partitions were retried). There the
// partitions are not rows of the steps table but bars under their manager step, one per
// partition, each with its status, read and written counts, the node that ran it and, when
// it ran again, "attempt N"; the bars follow the execution live (no reload) until every
// partition is COMPLETED and full. Any console error or CSP violation fails it. Run by
// tests/e2e/test_dashboard_partitions.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 PARTITIONS=4 PARAMETERS='{"items": 80}' node partitions.mjs
//
// Prints one JSON line of what it saw (the execution, each partition's node, counts and
// attempts, whether a partition was seen unfinished); exits non-zero on any failed
// expectation.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { launchChromium, watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const parameters = JSON.parse(process.env.PARAMETERS ?? 'null');
const partitions = Number(process.env.PARTITIONS);
const existing = Number(process.env.EXECUTION ?? 0); // an execution to show, none started
const shots = process.env.SCREENSHOT_DIR ?? os.tmpdir();
const TIMEOUT = 60000;
assert.ok(base && (parameters || existing) && partitions > 0, 'JOBOP_URL, PARAMETERS (or EXECUTION) or PARTITIONS is not set');

const { context, close } = await launchChromium(chromium, { width: 1400, height: 900 });
const seen = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  const watch = await watchPage(context, page);
  await page.goto(`${base}/`);
  await page.locator('#jobs').waitFor();
  if (existing) {
    seen.execution = existing;
  } else {
    const started = await page.evaluate(async (body) => {
      const response = await fetch('/api/jobs/demoPartitionedJob/start', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    }, { parameters: { ...parameters, partitions } });
    assert.ok(started.status < 300, JSON.stringify(started));
    seen.execution = started.body.id;
  }
  await page.goto(`${base}/#/executions/${seen.execution}`);
  const group = page.locator('#steps tr.partitions');
  const bars = group.locator('li[data-partition]');
  await page.waitForFunction((n) => document.querySelectorAll('#steps tr.partitions li[data-partition]').length === n,
    partitions);
  // The group follows its manager's row, and no partition is a row of its own.
  seen.manager = await group.getAttribute('data-partitions-of');
  const rows = await page.locator('#steps > tr[data-step]').evaluateAll((trs) => trs.map((tr) => tr.dataset.step));
  assert.ok(rows.includes(seen.manager), `${seen.manager} not among ${rows}`);
  assert.ok(rows.every((name) => !name.includes(':')), `partition rows: ${rows}`);
  const following = await page.locator(`#steps > tr[data-step="${seen.manager}"] + tr.partitions`).count();
  assert.equal(following, 1);
  // Seen while they run: not every bar complete yet.
  seen.runningSeen = await bars.evaluateAll((lis) => lis.some((li) => li.dataset.status !== 'COMPLETED'));
  await page.screenshot({ path: path.join(shots, 'dashboard-partitions-running.png'), fullPage: true });

  // Live: every bar ends COMPLETED and full, with the node that ran it, without a reload.
  await page.waitForFunction(() => {
    const lis = [...document.querySelectorAll('#steps tr.partitions li[data-partition]')];
    return lis.length && lis.every((li) => li.dataset.status === 'COMPLETED' && li.dataset.node);
  }, null, { timeout: TIMEOUT });
  await page.locator('#execution-title [data-status="COMPLETED"]').waitFor();
  const title = await page.locator('#execution-title').textContent();
  assert.equal(title.trim(), `demoPartitionedJob #${seen.execution} COMPLETED`);
  seen.partitions = await bars.evaluateAll((lis) => lis.map((li) => ({
    stepName: li.dataset.partition,
    nodeId: li.dataset.node,
    read: li.querySelector('[data-counter="read"]').textContent,
    write: li.querySelector('[data-counter="write"]').textContent,
    width: li.querySelector('.progress > span').style.width,
    summary: li.closest('tr').querySelector('.partition-summary').textContent,
    attempts: li.querySelector('[data-field="attempts"]')?.textContent ?? null,
    earlier: li.querySelector('[data-field="attempts"]')?.title ?? null,
  })));
  for (const bar of seen.partitions) assert.equal(bar.width, '100%', JSON.stringify(bar));
  await page.screenshot({ path: path.join(shots, `dashboard-partitions-${seen.execution}.png`), fullPage: true });
  assert.deepEqual(watch.problems, []);
} finally {
  await close();
}
console.log(JSON.stringify(seen));
