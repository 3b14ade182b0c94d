// What a dashboard page must never do in these tests: throw, log an error to the console, or
// break its Content-Security-Policy (each `securitypolicyviolation` event is recorded, besides
// the console line Chromium writes for it). `problems` lists them; a test asserts it empty.
//
//   const watch = await watchPage(context, page, { allowConsole: [/status of 401/] });
//   ...
//   assert.deepEqual(watch.problems, []);

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function watchPage(context, page, { allowConsole = [] } = {}) {
  const problems = [];
  const violations = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (!allowConsole.some((pattern) => pattern.test(text))) problems.push(`console error: ${text}`);
  });
  await context.exposeBinding('jobopCspViolation', (source, violation) => {
    violations.push(violation);
    problems.push(`CSP violation: ${JSON.stringify(violation)}`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.jobopCspViolation({
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        source: event.sourceFile,
        line: event.lineNumber,
        sample: event.sample,
      });
    });
  });
  return { problems, violations };
}

// Debian's headless Chromium in a profile of its own (removed by `close`).
export async function launchChromium(chromium, viewport) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobop-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
    ],
  });
  const close = async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}
