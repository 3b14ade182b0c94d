// The dashboard against a `jobop serve` that needs a bearer token, in headless Chromium:
// it asks for the token, asks again after a wrong one, keeps the right one for the tab
// (a reload does not ask again), follows the live stream with it (the fetch-based event
// reader of auth.js) and, with an operator's token, starts a job that runs to COMPLETED.
// Run by tests/e2e/test_dashboard.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 JOBOP_TOKEN=... node token.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failed expectation, a console
// error other than the 401s it provokes, or a Content-Security-Policy violation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const token = process.env.JOBOP_TOKEN;
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
assert.ok(base && token, 'JOBOP_URL or JOBOP_TOKEN is not set');

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobop-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const seen = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60000);
  const watch = await watchPage(context, page, { allowConsole: [/status of 401 \(Unauthorized\)/] });
  await page.goto(`${base}/`);
  const dialog = page.locator('#token-dialog');
  await dialog.waitFor();
  seen.hint = await dialog.locator('.hint').textContent();
  await dialog.locator('#token-input').fill('not-a-token');
  await dialog.locator('#token-submit').click();
  await dialog.waitFor(); // asked again
  await dialog.locator('#token-input').fill(token);
  await dialog.locator('#token-submit').click();
  await page.locator('#jobs tr[data-job="demoTaskletJob"]').waitFor();
  await page.locator('#live.on').waitFor(); // the event stream is open, with the token
  seen.kept = await page.evaluate(() => sessionStorage.getItem('jobop.token') !== null);
  await page.reload();
  await page.locator('#jobs tr[data-job="demoTaskletJob"]').waitFor();
  seen.askedAfterReload = await dialog.count();

  // Start from the form; the execution view follows its stream to COMPLETED.
  await page.locator('#jobs tr[data-job="demoTaskletJob"] button', { hasText: 'Start' }).click();
  // run.id in its typed field where the job declares it, else in a free row.
  await page.waitForFunction(() => document.querySelector('#declared-rows tr, #param-rows tr'));
  const declaredRunId = page.locator('#declared-rows tr[data-param="run.id"] .d-value');
  if (await declaredRunId.count()) {
    await declaredRunId.fill(String(Date.now()));
  } else {
    await page.locator('#start-dialog .p-name').first().fill('run.id');
    await page.locator('#start-dialog .p-type').first().selectOption('long');
    await page.locator('#start-dialog .p-value').first().fill(String(Date.now()));
  }
  await page.locator('#start-submit').click();
  await page.waitForURL(/#\/executions\/\d+$/);
  seen.started = Number(page.url().match(/executions\/(\d+)$/)[1]);
  await page.locator('.status[data-status="COMPLETED"]').first().waitFor();
  assert.deepEqual(watch.problems, []);
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(seen));
