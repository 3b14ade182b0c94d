// Drives the dashboard's workload parts of a running `jobop serve` in headless Chromium:
// the jobs table shows demoTaskletJob's limit (1), running (1) and queued (1) counts; the
// queue panel shows the waiting start WAITING (an execution id set by the Python side)
// with its priority and why it waits; Pause (the button) holds it ("is paused"), Resume
// gives the limit back as the reason; a stop of RUNNING frees the slot and the panel empties
// without a reload; OVERDUE (an execution marked overdue) carries the overdue badge in the
// jobs table and on its own page. Any console error or CSP violation fails it. Run by
// tests/e2e/test_dashboard_workload.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 RUNNING=1 WAITING=2 OVERDUE=3 node workload.mjs
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
const JOB = 'demoTaskletJob';
const running = Number(process.env.RUNNING);
const waiting = Number(process.env.WAITING);
const overdue = Number(process.env.OVERDUE);
const overdueJob = process.env.OVERDUE_JOB;
assert.ok(base && running > 0 && waiting > 0 && overdue > 0 && overdueJob, 'JOBOP_URL, RUNNING, WAITING, OVERDUE or OVERDUE_JOB is not set');

const { context, close } = await launchChromium(chromium, { width: 1400, height: 900 });
const seen = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  const watch = await watchPage(context, page);
  await page.goto(`${base}/`);
  const row = page.locator(`#jobs tr[data-job="${JOB}"]`);
  const cell = (field) => row.locator(`td[data-field="${field}"]`);
  await row.waitFor();
  await page.evaluate(() => { window.jobopNoReload = 'still here'; });
  // The limit, the one running and the one waiting.
  await page.waitForFunction((job) => {
    const cells = document.querySelectorAll(`#jobs tr[data-job="${job}"] td[data-field]`);
    const text = Object.fromEntries([...cells].map((td) => [td.dataset.field, td.textContent]));
    return text.limit === '1' && text.running === '1' && text.queued === '1';
  }, JOB);
  const entry = page.locator(`#queue tr[data-execution="${waiting}"]`);
  const reason = entry.locator('td[data-field="waitingFor"]');
  await entry.waitFor();
  seen.limitReason = await reason.textContent();
  assert.equal(seen.limitReason, `limit 1 of ${JOB} reached (1 running)`);
  seen.priority = await entry.locator('td[data-field="priority"]').textContent();
  assert.equal(seen.priority, '3');
  assert.equal((await entry.locator('td').first().textContent()).trim(), '1'); // its position
  await page.screenshot({ path: path.join(shots, 'dashboard-queue.png'), fullPage: true });

  // Pause with the button: the job shows paused, its start waits for the pause.
  assert.equal(await row.getAttribute('data-paused'), 'false');
  await row.locator('button[data-action="pause"]').click();
  await page.waitForFunction((job) => document.querySelector(`#jobs tr[data-job="${job}"]`).dataset.paused === 'true', JOB);
  assert.equal(await cell('state').locator('[data-paused="true"]').count(), 1);
  await page.waitForFunction(([id, job]) => {
    const td = document.querySelector(`#queue tr[data-execution="${id}"] td[data-field="waitingFor"]`);
    return td && td.textContent === `${job} is paused`;
  }, [waiting, JOB]);
  seen.pausedReason = await reason.textContent();
  const settings = await page.evaluate((job) => fetch(`/api/jobs/${job}/settings`).then((r) => r.json()), JOB);
  assert.equal(settings.paused, true, 'the button did not pause the job on the server');
  await page.screenshot({ path: path.join(shots, 'dashboard-paused.png'), fullPage: true });

  // Resume with the button: the limit is the reason again.
  await row.locator('button[data-action="resume"]').click();
  await page.waitForFunction((job) => document.querySelector(`#jobs tr[data-job="${job}"]`).dataset.paused === 'false', JOB);
  await page.waitForFunction(([id, job]) => {
    const td = document.querySelector(`#queue tr[data-execution="${id}"] td[data-field="waitingFor"]`);
    return td && td.textContent.startsWith(`limit 1 of ${job}`);
  }, [waiting, JOB]);
  seen.resumed = (await page.evaluate((job) => fetch(`/api/jobs/${job}/settings`).then((r) => r.json()), JOB)).paused === false;

  // A stop frees the slot: the waiting start runs, and the panel empties by itself.
  const stopped = await page.evaluate((id) => fetch(`/api/executions/${id}/stop`, { method: 'POST' }).then((r) => r.status), running);
  assert.equal(stopped, 200);
  await page.locator('#queue td', { hasText: 'Nothing waits.' }).waitFor();
  await page.waitForFunction((job) => {
    const td = document.querySelector(`#jobs tr[data-job="${job}"] td[data-field="queued"]`);
    return td && td.textContent === '0';
  }, JOB);

  // The overdue badge: in the jobs table (its job's latest execution) and on its page.
  await page.locator(`#jobs tr[data-job="${overdueJob}"] [data-overdue="true"]`).waitFor();
  assert.equal(await page.locator(`#jobs tr[data-job="${JOB}"] [data-overdue="true"]`).count(), 0);
  await page.goto(`${base}/#/executions/${overdue}`);
  await page.locator('#execution-title [data-overdue="true"]').waitFor();
  seen.overdueTitle = await page.locator('#execution-title').textContent();
  await page.screenshot({ path: path.join(shots, 'dashboard-overdue.png'), fullPage: true });
  seen.noReload = await page.evaluate(() => window.jobopNoReload ?? null);
  assert.deepEqual(watch.problems, []);
} finally {
  await close();
}
console.log(JSON.stringify(seen));
