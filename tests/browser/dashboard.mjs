// Drives the dashboard of a running `jobop serve` in Debian's headless Chromium:
// start demoChunkJob from the form, watch the counts rise without a reload, stop it, see
// STOPPED, restart it, see COMPLETED; check the nodes-and-leases panel (NODES: a JSON object
// of node id -> expected state, set by the Python side) and see the server's node own a
// running execution; save screenshots. Any console error or Content-Security-Policy
// violation fails it. Run by tests/e2e/test_dashboard.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 SCREENSHOT_DIR=/tmp SERVER_NODE=id NODES='{"id":"live"}' node dashboard.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failed expectation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const shots = process.env.SCREENSHOT_DIR ?? os.tmpdir();
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 60000;
assert.ok(base, 'JOBOP_URL is not set');
const serverNode = process.env.SERVER_NODE;
const expectedNodes = JSON.parse(process.env.NODES ?? '{}');
assert.ok(serverNode && expectedNodes[serverNode], 'SERVER_NODE or NODES is not set');

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobop-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
  ],
});
const seen = {};
// Waits until `watch` saw a violation of `directive`; any other problem than such a
// violation (its event or its console line) fails.
async function expectViolation(watch, directive) {
  const deadline = Date.now() + TIMEOUT;
  while (!watch.violations.some((v) => v.directive === directive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(watch.violations.some((v) => v.directive === directive), `no ${directive} violation`);
  const expected = (problem) => problem.startsWith('CSP violation') || /Content Security Policy/.test(problem);
  assert.deepEqual(watch.problems.filter((problem) => !expected(problem)), []);
}
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  const watch = await watchPage(context, page);
  await page.goto(`${base}/`);
  await page.locator('#jobs tr[data-job="demoChunkJob"]').waitFor();
  // Any reload would lose this.
  await page.evaluate(() => { window.jobopNoReload = 'still here'; });

  // Start from the form: items=400 (identifying), itemDelayMs=15 and chunkSize=5 (not).
  await page.locator('#jobs tr[data-job="demoChunkJob"] button', { hasText: 'Start' }).click();
  const dialog = page.locator('#start-dialog');
  await dialog.waitFor();
  const fill = async (index, name, type, value, identifying) => {
    const row = dialog.locator('#param-rows tr').nth(index);
    await row.locator('.p-name').fill(name);
    await row.locator('.p-type').selectOption(type);
    await row.locator('.p-value').fill(value);
    await row.locator('.p-id').setChecked(identifying);
  };
  await fill(0, 'items', 'long', '400', true);
  await dialog.locator('#add-param').click();
  await fill(1, 'itemDelayMs', 'long', '15', false);
  await dialog.locator('#add-param').click();
  await fill(2, 'chunkSize', 'long', '5', false);
  await dialog.locator('#start-submit').click();
  await page.waitForURL(/#\/executions\/\d+$/);
  const firstId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  seen.started = firstId;

  // The counts rise from the event stream, without a reload.
  const read = page.locator('#steps tr[data-step="demoChunkStep"] [data-counter="read"]');
  await read.waitFor();
  const counts = [];
  const deadline = Date.now() + TIMEOUT;
  while (counts.length < 3 && Date.now() < deadline) {
    const value = Number(await read.textContent());
    if (value > 0 && (counts.length === 0 || value > counts[counts.length - 1])) counts.push(value);
    await page.waitForTimeout(150);
  }
  assert.ok(counts.length >= 3, `read count did not rise: ${counts}`);
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');
  assert.equal(await page.locator('#execution-title .status').getAttribute('data-status'), 'STARTED');
  await page.locator('#steps .progress').waitFor();
  seen.rising = counts;
  await page.screenshot({ path: path.join(shots, 'dashboard-running.png'), fullPage: true });

  // Stop: STOPPED, then Restart: a new execution that ends COMPLETED.
  await page.locator('button[data-action="stop"]').click();
  await page.locator('#execution-title .status[data-status="STOPPED"]').waitFor();
  const stoppedAt = Number(await read.textContent());
  assert.ok(stoppedAt < 400, `stopped after all items: ${stoppedAt}`);
  seen.stoppedAt = stoppedAt;
  assert.equal(await page.locator('#exit-code').textContent(), 'STOPPED');
  await page.locator('button[data-action="restart"]').click();
  await page.waitForURL((url) => /#\/executions\/\d+$/.test(url.href) && !url.href.endsWith(`/${firstId}`));
  const secondId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  await page.locator('#execution-title .status[data-status="COMPLETED"]').waitFor({ timeout: TIMEOUT });
  const finalRead = Number(await read.textContent());
  // The restart resumed after the last commit: both runs together read each item once.
  assert.equal(finalRead + stoppedAt, 400, `restart read ${finalRead} after ${stoppedAt}`);
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');
  seen.restarted = secondId;
  seen.finalRead = finalRead;
  await page.locator('#context').filter({ hasText: 'jobop.owner' }).waitFor();
  await page.screenshot({ path: path.join(shots, 'dashboard-completed.png'), fullPage: true });

  // Keyboard: "j" goes to the jobs, whose latest status is now COMPLETED.
  await page.locator('main').focus();
  await page.keyboard.press('j');
  await page.locator('#jobs tr[data-job="demoChunkJob"] .status[data-status="COMPLETED"]').waitFor();
  await page.locator('#jobs tr[data-job="demoChunkJob"] a', { hasText: 'demoChunkJob' }).click();
  await page.locator('#executions tbody tr').nth(1).waitFor();
  seen.listed = await page.locator('#executions tbody tr').count();
  assert.equal(seen.listed, 2);
  await page.screenshot({ path: path.join(shots, 'dashboard-job.png'), fullPage: true });

  // The nodes panel: every node with its state and colour; the server's heartbeat stays
  // young while the polling refreshes it, and it owns the execution started below.
  await page.keyboard.press('j');
  const nodeRow = (id) => page.locator(`#nodes tr[data-node="${id}"]`);
  for (const [id, state] of Object.entries(expectedNodes)) {
    await nodeRow(id).locator(`.node-state[data-state="${state}"]`).waitFor();
  }
  seen.nodeStates = Object.fromEntries(await page.locator('#nodes tbody tr').evaluateAll(
    (rows) => rows.map((row) => [row.dataset.node, row.dataset.state])));
  assert.deepEqual(seen.nodeStates, expectedNodes);
  const colours = await page.locator('#nodes .node-state').evaluateAll(
    (badges) => badges.map((badge) => getComputedStyle(badge).backgroundColor));
  assert.ok(new Set(colours).size >= new Set(Object.values(expectedNodes)).size, `colours ${colours}`);
  const started = await page.evaluate(async () => {
    const response = await fetch('/api/jobs/demoChunkJob/start', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ parameters: { items: 500, itemDelayMs: { long: 20, identifying: false } } }),
    });
    return (await response.json()).id;
  });
  const running = nodeRow(serverNode).locator('[data-field="running"]');
  await page.waitForFunction((id) => document.querySelector(
    `#nodes tr[data-node="${id}"] [data-field="running"]`)?.textContent === '1', serverNode);
  seen.heartbeat = await nodeRow(serverNode).locator('[data-field="heartbeat"]').textContent();
  assert.match(seen.heartbeat, /^\d+(\.\d)? (ms|s) ago$/);
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');
  await page.locator('#nodes').screenshot({ path: path.join(shots, 'dashboard-nodes.png') });
  await page.screenshot({ path: path.join(shots, 'dashboard-jobs-nodes.png'), fullPage: true });
  await page.evaluate((id) => fetch(`/api/executions/${id}/stop`, { method: 'POST' }), started);
  await page.waitForFunction((id) => document.querySelector(
    `#nodes tr[data-node="${id}"] [data-field="running"]`)?.textContent === '0', serverNode);
  seen.nodesStarted = started;
  assert.equal(await running.textContent(), '0');
  // Nothing so far broke the Content-Security-Policy or logged an error...
  assert.deepEqual(watch.problems, []);
  // ... and the policy is in force: an injected inline script does not run.
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.jobopInline = true;';
    document.body.append(script);
    return window.jobopInline === true;
  });
  assert.equal(ran, false, 'an inline script ran: no Content-Security-Policy');
  await expectViolation(watch, 'script-src-elem');
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(seen));
