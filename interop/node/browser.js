'use strict';
// browser.js is the one way the interop scripts run headless Chromium: Debian's
// /usr/bin/chromium (never a browser downloaded by Playwright), driven by playwright-core, with
// a fresh profile and flags that keep it from reaching anything but the page under test. The
// scripts speak JSON lines on stdout; closing their stdin stops them early.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

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
  userDataDir = null;
  process.exit(code);
}

// run starts Chromium, emits {ev: "ready", chromium, userDataDir}, hands a page to body, closes
// the browser and emits {ev: "done"}, or {ev: "error", message} if anything throws.
// extraArgs are more Chromium flags; "--enable-quic" among them drops "--disable-quic".
function run(executablePath, body, extraArgs) {
  extraArgs = extraArgs || [];
  process.stdin.on('end', () => shutdown(0));
  process.stdin.resume();
  process.on('SIGTERM', () => shutdown(1));
  (async () => {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsx-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: executablePath || '/usr/bin/chromium',
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
      ]
        .filter((a) => !(a === '--disable-quic' && extraArgs.includes('--enable-quic')))
        .concat(extraArgs),
    });
    emit({ ev: 'ready', chromium: context.browser()?.version() || '', userDataDir });
    const page = context.pages()[0] || (await context.newPage());
    await body(page);
    const c = context;
    context = null;
    await c.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
    userDataDir = null;
    emit({ ev: 'done' });
    process.exit(0);
  })().catch((err) => {
    emit({ ev: 'error', message: err.message });
    shutdown(1);
  });
}

module.exports = { emit, run };
