// Drives the dashboard's Executions page of a running `jobop serve` (with a tokens file) in
// headless Chromium. As a viewer: #/executions?job=demoTaskletJob&status=STARTED lists the
// RUNNING executions (and says how many match), a reload shows the same view, a filter the
// server refuses is said, the filter form writes a status into the URL; demoChunkJob's
// run-history chart has one mark per execution (CHUNKS), items/s in each mark's title, a
// mark opens its execution by Enter and by a click. The running rows are checked by
// keyboard (Space); Stop asks first and sends the checked ids, and the viewer's 403 is said
// on the progress line. As an operator (the token changed), one execution a page (Older,
// Newer): the newest stopped by its checkbox, then the two others by "all matching the
// filter" (a dry run counts them for the question), each progress line ending DONE. Any
// console error (but the 400, 401 and 403 it provokes) or CSP violation fails it. Run by
// tests/e2e/test_dashboard_executions.py:
//
//   JOBOP_URL=... VIEWER_TOKEN=... OPERATOR_TOKEN=... RUNNING=4,5,6 CHUNKS=1,2,3 FAILED=3 node executions.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failed expectation.
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';

import { chromium } from 'playwright-core';

import { launchChromium, watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const viewer = process.env.VIEWER_TOKEN;
const operator = process.env.OPERATOR_TOKEN;
const ids = (name) => (process.env[name] ?? '').split(',').filter(Boolean).map(Number);
const running = ids('RUNNING');
const chunks = ids('CHUNKS');
const failed = Number(process.env.FAILED);
const shots = process.env.SCREENSHOT_DIR ?? os.tmpdir();
assert.ok(base && viewer && operator && running.length && chunks.length && failed, 'an input is not set');

const { context, close } = await launchChromium(chromium, { width: 1280, height: 900 });
const seen = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60000);
  const watch = await watchPage(context, page, { allowConsole: [/status of 40[013] \((Bad Request|Unauthorized|Forbidden)\)/] });
  const rowsShown = () => page.locator('#executions tbody tr[data-execution]');
  const shownIds = async () => (await rowsShown().evaluateAll((rows) => rows.map((row) => Number(row.dataset.execution))));
  const filtered = `${base}/#/executions?job=demoTaskletJob&status=STARTED`;

  // The viewer signs in on the filtered view: the URL's filter is shown and applied.
  await page.goto(filtered);
  await page.locator('#token-input').fill(viewer);
  await page.locator('#token-submit').click();
  await page.locator('#executions tbody tr[data-execution]').first().waitFor();
  assert.deepEqual((await shownIds()).sort(), [...running].sort());
  assert.equal(await page.locator('#f-job').inputValue(), 'demoTaskletJob');
  assert.ok(await page.locator('#f-status input[value="STARTED"]').isChecked());
  assert.ok(!(await page.locator('#f-status input[value="FAILED"]').isChecked()));
  await page.locator(`#executions-count[data-count="${running.length}"]`).waitFor();
  seen.count = await page.locator('#executions-count').textContent();
  // A reload shows the same view.
  await page.reload();
  await page.locator('#executions tbody tr[data-execution]').first().waitFor();
  assert.deepEqual((await shownIds()).sort(), [...running].sort());

  // A filter the server refuses is said, with the form to correct it.
  await page.goto(`${base}/#/executions?status=running&job=demoChunkJob`);
  await page.locator('#listing-error').waitFor();
  seen.badFilter = await page.locator('#listing-error').textContent();
  assert.match(seen.badFilter, /status must be one of/);

  // The form writes the URL: FAILED demoChunkJob executions.
  await page.locator('#f-job').fill('demoChunkJob');
  await page.locator('#f-status input[value="STARTED"]').uncheck();
  await page.locator('#f-status input[value="FAILED"]').check();
  await page.locator('#filter-apply').click();
  await page.waitForURL(/#\/executions\?job=demoChunkJob&status=FAILED$/);
  await page.locator(`#executions tbody tr[data-execution="${failed}"][data-status="FAILED"]`).waitFor();
  assert.deepEqual(await shownIds(), [failed]);
  // The job named has its chart above the rows.
  await page.locator('figure.history[data-job="demoChunkJob"] svg a.mark').first().waitFor();

  // demoChunkJob's run history: a mark per execution, coloured by status, items/s.
  await page.goto(`${base}/#/jobs/demoChunkJob`);
  await page.locator('#filter-job').waitFor(); // the job's page, not the last one's chart
  const chart = page.locator('figure.history[data-job="demoChunkJob"] svg.history-chart');
  await chart.waitFor();
  const marks = chart.locator('a.mark');
  seen.marks = await marks.count();
  assert.equal(Number(await chart.getAttribute('data-marks')), seen.marks);
  seen.titles = await marks.locator('title').allTextContents();
  const failedMark = chart.locator(`a.mark[data-execution="${failed}"]`);
  assert.equal(await failedMark.getAttribute('data-status'), 'FAILED');
  const fill = await failedMark.locator('circle').evaluate((dot) => getComputedStyle(dot).fill);
  const ok = await chart.locator(`a.mark[data-execution="${chunks[0]}"] circle`).evaluate((dot) => getComputedStyle(dot).fill);
  assert.notEqual(fill, ok); // FAILED and COMPLETED differ
  await page.screenshot({ path: path.join(shots, 'dashboard-run-history.png'), fullPage: true });
  // By keyboard: a mark takes the focus, Enter opens its execution.
  const firstMark = chart.locator(`a.mark[data-execution="${chunks[0]}"]`);
  await firstMark.focus();
  assert.equal(await page.evaluate(() => document.activeElement.dataset.execution), String(chunks[0]));
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`#/executions/${chunks[0]}$`));
  await page.goBack();
  // A fresh load of the job's page: after going back the view may be drawn twice, and a
  // mark of the first drawing is detached under the click.
  await page.reload();
  await page.locator('#filter-job').waitFor();
  await chart.locator('a.mark').nth(seen.marks - 1).waitFor();
  await failedMark.click();
  await page.waitForURL(new RegExp(`#/executions/${failed}$`));
  await page.locator('#execution-title', { hasText: `#${failed}` }).waitFor();
  seen.opened = Number(new URL(page.url()).hash.split("/").pop());

  // To the running ones; check them all by keyboard, then one off and on.
  await page.goto(filtered);
  const runningRow = page.locator(`#executions tr[data-execution="${running[0]}"]`);
  await runningRow.waitFor();
  const bulkButton = (action) => page.locator(`#bulk button[data-bulk="${action}"]`);
  assert.ok(await bulkButton('stop').isDisabled());
  await page.locator('#select-all').focus();
  await page.keyboard.press('Space');
  await page.locator('#bulk-selected', { hasText: `${running.length} selected` }).waitFor();
  const first = page.locator(`#executions tr[data-execution="${running[0]}"] input.pick`);
  await first.focus();
  await page.keyboard.press('Space');
  await page.locator('#bulk-selected', { hasText: `${running.length - 1} selected` }).waitFor();
  assert.equal(await page.locator('#select-all').evaluate((box) => box.indeterminate), true);
  await page.keyboard.press('Space');
  await page.locator('#bulk-selected', { hasText: `${running.length} selected` }).waitFor();
  assert.ok(!(await bulkButton('stop').isDisabled()));

  // Stop asks first; cancelling sends nothing.
  let posts = 0;
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/executions/stop') posts += 1;
  });
  await bulkButton('stop').click();
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor();
  seen.question = await page.locator('#confirm-title').textContent();
  assert.equal(seen.question, `Stop ${running.length} executions?`);
  await page.locator('#confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(posts, 0);

  // Confirmed, as a viewer: the request carries the checked ids; the 403 is said.
  await bulkButton('stop').click();
  const sent = page.waitForRequest((request) => request.method() === 'POST' && request.url().endsWith('/api/executions/stop'));
  await page.locator('#confirm-ok').click();
  seen.sent = (await sent).postDataJSON();
  await page.locator('#bulk-progress.bad').waitFor();
  seen.refused = await page.locator('#bulk-progress').textContent();
  await page.screenshot({ path: path.join(shots, 'dashboard-executions-refused.png'), fullPage: true });

  // As an operator (the tab's token changed), one execution a page: paging by tokens.
  const [oldest, middle, newest] = [...running].sort((a, b) => a - b);
  const only = async (id) => {
    await page.locator(`#executions tr[data-execution="${id}"]`).waitFor();
    assert.deepEqual(await shownIds(), [id]);
  };
  await page.evaluate((token) => sessionStorage.setItem('jobop.token', token), operator);
  await page.goto(`${filtered}&pageSize=1`);
  await page.reload();
  await only(newest);
  await page.locator('#page-older').click();
  await page.waitForURL(/pageToken=/);
  await only(middle);
  await page.locator('#page-newer').click();
  await only(newest);
  const operationOf = async (before) => {
    await page.locator(`#bulk-progress[data-state="DONE"]:not([data-operation="${before}"])`).waitFor();
    const id = await page.locator('#bulk-progress').getAttribute('data-operation');
    return page.evaluate((n) => fetch(`/api/operations/${n}`).then((r) => r.json()), id);
  };
  const posted = () => page.waitForRequest((request) => request.method() === 'POST' &&
    request.url().endsWith('/api/executions/stop') && !request.postDataJSON().dryRun);

  // The newest by its checkbox: stopped by id.
  await page.locator(`#executions tr[data-execution="${newest}"] input.pick`).check();
  await bulkButton('stop').click();
  let request = posted();
  await page.locator('#confirm-ok').click();
  seen.byIds = { sent: (await request).postDataJSON(), operation: await operationOf(0) };
  seen.progress = await page.locator('#bulk-progress').textContent();
  assert.match(seen.progress, /1 of 1 done, 0 failed · DONE/);

  // The page is read again: two left, one shown; all that match, by the filter.
  await only(middle);
  await page.locator('#executions-count[data-count="2"]').waitFor();
  await page.locator('#select-all').check();
  await page.locator('#select-matching').click();
  await page.locator('#bulk-selected', { hasText: 'all 2 matching the filter selected' }).waitFor();
  await bulkButton('stop').click();
  await dialog.waitFor();
  assert.equal(await page.locator('#confirm-title').textContent(), 'Stop 2 executions matching the filter?');
  request = posted();
  await page.locator('#confirm-ok').click();
  seen.byFilter = { sent: (await request).postDataJSON(), operation: await operationOf(seen.byIds.operation.id) };
  // Nothing STARTED is left (STOPPING ones may be, briefly).
  await page.waitForFunction(() => !document.querySelector('#executions tr[data-status="STARTED"]'));
  await page.screenshot({ path: path.join(shots, 'dashboard-executions-stopped.png'), fullPage: true });

  assert.deepEqual(watch.problems, []);
} finally {
  await close();
}
console.log(JSON.stringify(seen));
