// Drives the dashboard of a running `jobop serve` in Debian's headless Chromium:
// start demoChunkJob from the form, watch the counts and the execution context rise without
// a reload, see Recover disabled while the owner lives, stop it (a confirmation, cancelled
// once), see STOPPED, restart it, see COMPLETED; check the nodes-and-leases panel (NODES: a
// JSON object of node id -> expected state, set by the Python side) and see the server's
// node own a running execution, then abandon that one; recover ORPHAN (an execution no
// owner ever ran); save screenshots. Any console error or Content-Security-Policy violation
// fails it. Run by tests/e2e/test_dashboard.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 SCREENSHOT_DIR=/tmp SERVER_NODE=id NODES='{"id":"live"}' ORPHAN=7 node dashboard.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failed expectation.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { launchChromium, watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const shots = process.env.SCREENSHOT_DIR ?? os.tmpdir();
const TIMEOUT = 60000;
assert.ok(base, 'JOBOP_URL is not set');
const serverNode = process.env.SERVER_NODE;
const expectedNodes = JSON.parse(process.env.NODES ?? '{}');
assert.ok(serverNode && expectedNodes[serverNode], 'SERVER_NODE or NODES is not set');
const orphan = Number(process.env.ORPHAN);
assert.ok(orphan > 0, 'ORPHAN is not set');
const ITEMS = 600;
// e2e_jobs' job that declares its parameters, and a job only the repository knows.
const CATALOGUE = 'e2eCatalogueJob';
const OPEN_CATALOGUE = 'e2eOpenCatalogueJob';
const foreign = process.env.FOREIGN_JOB;
assert.ok(foreign, 'FOREIGN_JOB is not set');

const { context, close } = await launchChromium(chromium, { width: 1280, height: 860 });
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
  // The one refusal the page provokes on purpose: Recover of an execution no jobop node owns
  // answers 412 until it is sent again with force.
  const watch = await watchPage(context, page, {
    allowConsole: [/status of 412 \(Precondition Failed\)/],
  });
  await page.goto(`${base}/`);
  await page.locator('#jobs tr[data-job="demoChunkJob"]').waitFor();
  // Any reload would lose this.
  await page.evaluate(() => { window.jobopNoReload = 'still here'; });

  const dialog = page.locator('#start-dialog');

  // A job only the repository knows is listed, but its Start is disabled and says why.
  const foreignStart = page.locator(`#jobs tr[data-job="${foreign}"] button`, { hasText: 'Start' });
  assert.ok(await foreignStart.isDisabled(), 'Start is enabled on a job not registered here');
  seen.foreignTitle = await foreignStart.getAttribute('title');
  assert.match(seen.foreignTitle, /not registered on this server/);
  assert.match(await page.locator(`#jobs tr[data-job="${foreign}"]`).textContent(), /not registered here/);

  // The Start dialog of a job that declares its parameters: a typed field for each, its
  // default as placeholder, its description, required ones marked; no free rows.
  await page.locator(`#jobs tr[data-job="${CATALOGUE}"] button`, { hasText: 'Start' }).click();
  await dialog.waitFor();
  const declared = (name) => dialog.locator(`#declared-rows tr[data-param="${name}"]`);
  await declared('day').waitFor();
  seen.fields = Object.fromEntries(await dialog.locator('#declared-rows tr').evaluateAll((rows) => rows.map(
    (row) => [row.dataset.param, row.querySelector('.d-value').type || row.querySelector('.d-value').tagName])));
  assert.deepEqual(seen.fields, {
    day: 'datetime-local', items: 'number', rate: 'number', dryRun: 'select-one', label: 'text', apiToken: 'text',
  });
  assert.equal(await declared('items').locator('input').getAttribute('placeholder'), '5');
  assert.equal(await declared('items').locator('input').getAttribute('step'), '1');
  assert.equal(await declared('rate').locator('input').getAttribute('step'), 'any');
  assert.equal(await declared('label').locator('input').getAttribute('placeholder'), 'orders');
  assert.match(await declared('dryRun').locator('option').first().textContent(), /default \(false\)/);
  assert.match(await declared('items').textContent(), /How many items to read/);
  assert.ok(await declared('day').evaluate((row) => row.classList.contains('required')));
  assert.equal(await declared('day').locator('.req').count(), 1);
  assert.equal(await declared('items').locator('.req').count(), 0);
  assert.ok(await dialog.locator('#free-params').isHidden(), 'free rows shown for a job that refuses them');
  assert.match(await dialog.locator('#start-about').textContent(), /Imports one day's orders/);
  await page.screenshot({ path: path.join(shots, 'dashboard-start-typed.png'), fullPage: true });

  // Bad values are refused before anything is sent: a missing required one, a long that
  // is no whole number.
  const startError = dialog.locator('#start-error');
  await dialog.locator('#start-submit').click();
  await page.waitForFunction(() => /day is required/.test(document.getElementById('start-error').textContent));
  await declared('day').locator('input').fill('2024-03-15T10:30:00');
  await declared('items').locator('input').fill('12.5');
  await dialog.locator('#start-submit').click();
  await page.waitForFunction(() => /items: "12.5" is not a long/.test(document.getElementById('start-error').textContent));
  seen.refused = await startError.textContent();
  assert.equal(await declared('items').locator('input').getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: path.join(shots, 'dashboard-start-refused.png'), fullPage: true });
  const none = await page.evaluate((job) => fetch(`/api/jobs/${job}/executions`).then((r) => r.json()), CATALOGUE);
  assert.deepEqual(none.executions, [], 'a refused start reached the server');

  // Typed values start the job: long, boolean, date and string as declared.
  await declared('items').locator('input').fill('3');
  await declared('dryRun').locator('select').selectOption('true');
  await declared('label').locator('input').fill('daily, with comma');
  await dialog.locator('#start-submit').click();
  await page.waitForURL(/#\/executions\/\d+$/);
  const typedId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  await page.locator('#execution-title .status[data-status="COMPLETED"]').waitFor();
  const typed = await page.evaluate((id) => fetch(`/api/executions/${id}`).then((r) => r.json()), typedId);
  assert.equal(typed.jobName, CATALOGUE);
  seen.typedStarted = typedId;
  seen.typedParameters = typed.parameters;
  assert.deepEqual(typed.parameters.items, { long: 3, identifying: true });
  assert.deepEqual(typed.parameters.dryRun, { boolean: true, identifying: false });
  assert.deepEqual(typed.parameters.label, { string: 'daily, with comma', identifying: true });
  assert.equal(new Date(typed.parameters.day.date).getTime(), new Date('2024-03-15T10:30:00').getTime());
  // Defaults are not sent: the job uses them, the repository does not record them.
  assert.ok(!('rate' in typed.parameters) && !('apiToken' in typed.parameters), JSON.stringify(typed.parameters));
  await page.locator('main').focus();
  await page.keyboard.press('j');
  await page.locator('#jobs tr[data-job="demoChunkJob"]').waitFor();

  // A job that declares some parameters and takes others: its typed field and free rows,
  // whose values are checked against the type chosen ("abc" is no long).
  await page.locator(`#jobs tr[data-job="${OPEN_CATALOGUE}"] button`, { hasText: 'Start' }).click();
  await dialog.waitFor();
  await declared('region').waitFor();
  assert.ok(await dialog.locator('#free-params').isVisible(), 'no free rows for a job that takes undeclared ones');
  assert.equal(await dialog.locator('#param-rows tr').count(), 0);
  await dialog.locator('#add-param').click();
  const free = dialog.locator('#param-rows tr').first();
  await free.locator('.p-name').fill('extra');
  await free.locator('.p-type').selectOption('long');
  await free.locator('.p-value').fill('abc');
  await dialog.locator('#start-submit').click();
  await page.waitForFunction(() => /extra: "abc" is not a long/.test(document.getElementById('start-error').textContent));
  seen.refusedFree = await startError.textContent();
  await free.locator('.p-value').fill('7');
  await dialog.locator('#start-submit').click();
  await page.waitForURL(/#\/executions\/\d+$/);
  const openId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  const open = await page.evaluate((id) => fetch(`/api/executions/${id}`).then((r) => r.json()), openId);
  assert.deepEqual(open.parameters, { extra: { long: 7, identifying: true } });
  seen.openStarted = openId;
  await page.locator('main').focus();
  await page.keyboard.press('j');
  await page.locator('#jobs tr[data-job="demoChunkJob"]').waitFor();

  // Start from the form: items=600 (identifying), itemDelayMs=15 and chunkSize=5 (not),
  // in the typed field a declared parameter has, else in a free row.
  await page.locator('#jobs tr[data-job="demoChunkJob"] button', { hasText: 'Start' }).click();
  await dialog.waitFor();
  await page.waitForFunction(() => document.querySelector('#declared-rows tr, #param-rows tr'));
  const fill = async (name, type, value, identifying) => {
    const field = declared(name).locator('.d-value');
    if (await field.count()) {
      await field.fill(value);
      return;
    }
    let index = await dialog.locator('#param-rows .p-name').evaluateAll((names) => names.findIndex((n) => !n.value));
    if (index < 0) {
      await dialog.locator('#add-param').click();
      index = (await dialog.locator('#param-rows tr').count()) - 1;
    }
    const row = dialog.locator('#param-rows tr').nth(index);
    await row.locator('.p-name').fill(name);
    await row.locator('.p-type').selectOption(type);
    await row.locator('.p-value').fill(value);
    await row.locator('.p-id').setChecked(identifying);
  };
  await fill('items', 'long', String(ITEMS), true);
  await fill('itemDelayMs', 'long', '15', false);
  await fill('chunkSize', 'long', '5', false);
  await dialog.locator('#start-submit').click();
  await page.waitForURL(/#\/executions\/\d+$/);
  const firstId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  seen.started = firstId;

  // The counts rise from the event stream, without a reload.
  const read = page.locator('#steps tr[data-step="demoChunkStep"] [data-counter="read"]');
  const status = () => page.locator('#execution-title .status').getAttribute('data-status');
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
  assert.equal(await status(), 'STARTED');
  await page.locator('#steps .progress').waitFor();
  seen.rising = counts;

  // The execution context panel follows the run too: the reader's position rises in it.
  const contextCount = async () => {
    const shown = JSON.parse(await page.locator('#context').textContent());
    const [step] = Object.values(shown.stepExecutionContexts);
    return step ? Number(step['numbers.read.count'] ?? 0) : 0;
  };
  const contextCounts = [];
  const contextDeadline = Date.now() + TIMEOUT;
  while (contextCounts.length < 3 && Date.now() < contextDeadline) {
    const value = await contextCount();
    if (value > 0 && (contextCounts.length === 0 || value > contextCounts[contextCounts.length - 1])) {
      contextCounts.push(value);
    }
    await page.waitForTimeout(150);
  }
  assert.ok(contextCounts.length >= 3, `context did not follow the run: ${contextCounts}`);
  assert.equal(await status(), 'STARTED');
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');
  seen.contextRising = contextCounts;

  // Recover is refused while the owner's lease is live: disabled, and the tooltip says why.
  const recover = page.locator('button[data-action="recover"]');
  await page.waitForFunction(() => /lease is live/.test(
    document.querySelector('button[data-action="recover"]')?.title ?? ''));
  assert.ok(await recover.isDisabled(), 'Recover is enabled on a live owner\'s execution');
  seen.recoverTitle = await recover.getAttribute('title');
  assert.ok(seen.recoverTitle.includes(serverNode), seen.recoverTitle);
  await page.screenshot({ path: path.join(shots, 'dashboard-running.png'), fullPage: true });

  // Stop asks first: cancelled, the run goes on; confirmed, it stops.
  const confirm = page.locator('#confirm-dialog');
  await page.locator('button[data-action="stop"]').click();
  await confirm.waitFor();
  seen.stopQuestion = await confirm.locator('#confirm-title').textContent();
  assert.match(seen.stopQuestion, new RegExp(`Stop demoChunkJob #${firstId}`));
  await page.screenshot({ path: path.join(shots, 'dashboard-confirm.png'), fullPage: true });
  await confirm.locator('#confirm-cancel').click();
  await confirm.waitFor({ state: 'hidden' });
  const afterCancel = Number(await read.textContent());
  await page.waitForFunction(([id, before]) => fetch(`/api/executions/${id}`).then((r) => r.json())
    .then((e) => e.status === 'STARTED' && e.stepExecutions[0].readCount > before), [firstId, afterCancel]);
  assert.equal(await status(), 'STARTED');
  await page.locator('button[data-action="stop"]').click();
  await confirm.locator('#confirm-ok').click();
  await page.locator('#execution-title .status[data-status="STOPPED"]').waitFor();
  const stoppedAt = Number(await read.textContent());
  assert.ok(stoppedAt < ITEMS, `stopped after all items: ${stoppedAt}`);
  seen.stoppedAt = stoppedAt;
  assert.equal(await page.locator('#exit-code').textContent(), 'STOPPED');

  // Abandon asks too; cancelled, the execution stays STOPPED (and restartable).
  await page.locator('button[data-action="abandon"]').click();
  await confirm.waitFor();
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'hidden' });
  const kept = await page.evaluate((id) => fetch(`/api/executions/${id}`).then((r) => r.json()), firstId);
  assert.equal(kept.status, 'STOPPED');
  await page.locator('button[data-action="restart"]').click();
  await page.waitForURL((url) => /#\/executions\/\d+$/.test(url.href) && !url.href.endsWith(`/${firstId}`));
  const secondId = Number(page.url().match(/executions\/(\d+)$/)[1]);
  await page.locator('#execution-title .status[data-status="COMPLETED"]').waitFor({ timeout: TIMEOUT });
  const finalRead = Number(await read.textContent());
  // The restart resumed after the last commit: both runs together read each item once.
  assert.equal(finalRead + stoppedAt, ITEMS, `restart read ${finalRead} after ${stoppedAt}`);
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');
  seen.restarted = secondId;
  seen.finalRead = finalRead;
  await page.locator('#context').filter({ hasText: 'jobop.owner' }).waitFor();
  // The context read after the end: the reader's last position.
  await page.waitForFunction((count) => {
    const [step] = Object.values(JSON.parse(document.getElementById('context').textContent).stepExecutionContexts);
    return step && Number(step['numbers.read.count']) === count;
  }, ITEMS);
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

  // Abandon, confirmed: ABANDONED.
  await page.evaluate((id) => { location.hash = `#/executions/${id}`; }, started);
  await page.locator('#execution-title .status[data-status="STOPPED"]').waitFor();
  await page.locator('button[data-action="abandon"]').click();
  await confirm.locator('#confirm-ok').click();
  await page.locator('#execution-title .status[data-status="ABANDONED"]').waitFor();

  // An execution no owner ever ran (its server died before it started): Recover is
  // enabled and says why; confirmed, the execution is FAILED (and so restartable).
  await page.evaluate((id) => { location.hash = `#/executions/${id}`; }, orphan);
  await page.locator('#execution-title .status[data-status="STARTING"]').waitFor();
  assert.ok(await recover.isEnabled(), 'Recover is disabled on an execution without owner');
  seen.orphanRecoverTitle = await recover.getAttribute('title');
  assert.match(seen.orphanRecoverTitle, /no owner/);
  await recover.click();
  await confirm.waitFor();
  assert.match(await confirm.locator('#confirm-title').textContent(), new RegExp(`#${orphan}`));
  await confirm.locator('#confirm-ok').click();
  // No jobop node owns it: the server wants force, and the page asks whether the owner is
  // dead before sending it.
  await page.locator('#confirm-title', { hasText: 'anyway' }).waitFor();
  await confirm.locator('#confirm-ok').click();
  await page.locator('#execution-title .status[data-status="FAILED"]').waitFor();
  assert.equal(await page.evaluate(() => window.jobopNoReload), 'still here');

  // The rule behind Recover's state, for owners this server cannot show: the recorded
  // owner (host and pid) is the node that started before the execution did; only a live
  // lease refuses.
  seen.recoverRule = await page.evaluate(() => {
    const execution = { status: 'STARTED', startTime: '2026-01-01T10:00:00Z' };
    const context = { jobExecutionContext: { 'jobop.owner': { host: 'h', pid: 1 } } };
    const node = (nodeId, state, started, host = 'h') => ({ nodeId, state, started, host, pid: 1 });
    const refusal = (nodes) => recoverRefusal(execution, context, nodes);
    return {
      live: refusal([node('a', 'live', '2026-01-01T09:00:00Z')]),
      expired: refusal([node('a', 'expired', '2026-01-01T09:00:00Z')]),
      lost: refusal([node('a', 'lost', '2026-01-01T09:00:00Z')]),
      // The pid is reused by the next server on that host (a container's pid 1).
      reused: refusal([node('b', 'live', '2026-01-01T11:00:00Z'), node('a', 'lost', '2026-01-01T09:00:00Z')]),
      otherHost: refusal([node('a', 'live', '2026-01-01T09:00:00Z', 'g')]),
      ended: recoverRefusal({ status: 'COMPLETED' }, context, []),
    };
  });
  assert.match(seen.recoverRule.live, /node a .*lease is live/);
  assert.equal(seen.recoverRule.expired, null);
  assert.equal(seen.recoverRule.lost, null);
  assert.equal(seen.recoverRule.reused, null);
  assert.equal(seen.recoverRule.otherHost, null);
  assert.match(seen.recoverRule.ended, /COMPLETED/);

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
  await close();
}
console.log(JSON.stringify(seen));
