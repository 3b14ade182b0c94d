// Drives the dashboard's Schedules pages of a running `jobop serve` in headless Chromium:
// SCHEDULE (created by the Python side, not paused) is listed with five next fire times
// in its zone's offset (OFFSET); pause it (the row says paused), resume it, trigger it
// (a LAUNCHED fire); open its page, see the fire with a link to its execution, follow
// the link to the execution's page. Any console error or CSP violation fails it. Run by
// tests/e2e/test_dashboard_schedules.py:
//
//   JOBOP_URL=http://127.0.0.1:8080 SCHEDULE=nightly OFFSET=+05:30 node schedules.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failed expectation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { watchPage } from './watch.mjs';

const base = process.env.JOBOP_URL;
const name = process.env.SCHEDULE;
const offset = process.env.OFFSET;
const shots = process.env.SCREENSHOT_DIR ?? os.tmpdir();
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 60000;
assert.ok(base && name && offset, 'JOBOP_URL, SCHEDULE or OFFSET is not set');

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
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  const watch = await watchPage(context, page);
  await page.goto(`${base}/`);
  await page.locator('#nav-schedules').click();
  const row = page.locator(`#schedules tr[data-schedule="${name}"]`);
  await row.waitFor();
  // The list may be drawn after the row (a redraw on a busy machine): wait for it, then count.
  await row.locator('td[data-field="next"] li').first().waitFor();
  seen.nextFires = await row.locator('td[data-field="next"] li').allTextContents();
  assert.equal(seen.nextFires.length, 5);
  assert.ok(seen.nextFires.every((text) => text.endsWith(offset)), seen.nextFires.join(' '));
  assert.match(await row.locator('td[data-field="last"]').textContent(), /never fired/);
  await page.screenshot({ path: path.join(shots, 'dashboard-schedules.png'), fullPage: true });

  await row.locator('button[data-action="pause"]').click();
  await row.locator('button[data-action="resume"]').waitFor();
  assert.equal(await row.locator('td[data-field="next"]').textContent(), 'paused');
  const paused = await page.evaluate((n) => fetch(`/api/schedules/${n}`).then((r) => r.json()), name);
  assert.equal(paused.paused, true);
  await row.locator('button[data-action="resume"]').click();
  await row.locator('button[data-action="pause"]').waitFor();
  await row.locator('td[data-field="next"] li').first().waitFor();

  await row.locator('button[data-action="trigger"]').click();
  await row.locator('td[data-field="last"] [data-outcome="LAUNCHED"]').waitFor();
  const execution = await row.locator('td[data-field="last"] a[data-execution]').getAttribute('data-execution');
  seen.execution = Number(execution);
  assert.ok(seen.execution > 0);

  await row.locator(`a[href="#/schedules/${name}"]`).click();
  const fire = page.locator(`#fires tr[data-outcome="LAUNCHED"] a[data-execution="${execution}"]`);
  await fire.waitFor();
  assert.match(await page.locator('#schedule-facts').textContent(), /overlap/);
  seen.fires = await page.locator('#fires tbody tr').count();
  await page.screenshot({ path: path.join(shots, 'dashboard-schedule.png'), fullPage: true });
  // A trigger from the schedule's own page adds a fire there.
  await page.locator('h1 button[data-action="trigger"]').click();
  await page.waitForFunction(() => document.querySelectorAll('#fires tbody tr[data-outcome]').length >= 2);
  await fire.first().click();
  await page.waitForURL(new RegExp(`#/executions/${execution}$`));
  await page.locator("#execution-title", { hasText: `${execution}` }).waitFor();
  assert.deepEqual(watch.problems, []);
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(seen));
