'use strict';
// chromium.js opens pages in headless Chromium, Debian's /usr/bin/chromium (never a browser
// downloaded by Playwright), driven by playwright-core, for wsx's interop tests.
//
//   node chromium.js '{"pages": ["http://127.0.0.1:1234/page?test=echo&ws=..."]}'
//
// It writes JSON lines to stdout: {ev: "ready", chromium, userDataDir} once the browser
// runs, then {ev: "page", url, result, console} for each page in turn, where result is the
// page's window.wsxResult, and {ev: "done"} after the browser has exited. Closing stdin
// stops it early.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const config = JSON.parse(process.argv[2] || '{}');
const executablePath = config.executablePath || '/usr/bin/chromium';
const timeout = config.timeoutMs || 30000;

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

let context = null;
let userDataDir = null;

async function shutdown(code) {
  if (context) {
    const c = context;
    context = null;
    await c.close().catch(() => {});
  }
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(code);
}

process.stdin.on('end', () => shutdown(0));
process.stdin.resume();
process.on('SIGTERM', () => shutdown(1));

async function main() {
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsx-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  emit({ ev: 'ready', chromium: context.browser()?.version() || '', userDataDir });
  const page = context.pages()[0] || (await context.newPage());
  let log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  for (const url of config.pages || []) {
    log = [];
    let result;
    try {
      await page.goto(url, { timeout });
      await page.waitForFunction(() => window.wsxResult !== undefined, null, { timeout });
      result = await page.evaluate(() => window.wsxResult);
    } catch (err) {
      result = { error: `driving the page: ${err.message}` };
    }
    emit({ ev: 'page', url, result, console: log });
  }
  const c = context;
  context = null;
  await c.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
  emit({ ev: 'done' });
  process.exit(0);
}

main().catch((err) => {
  emit({ ev: 'error', message: err.message });
  shutdown(1);
});
