'use strict';
// chromium.js opens pages in headless Chromium, Debian's /usr/bin/chromium (never a browser
// downloaded by Playwright), driven by playwright-core, for wsx's interop tests.
//
//   node chromium.js '{"pages": ["http://127.0.0.1:1234/page?test=echo&ws=..."]}'
//
// It writes JSON lines to stdout: {ev: "ready", chromium, userDataDir} once the browser
// runs, then {ev: "page", url, result, console} for each page in turn, where result is the
// page's window.wsxResult, and {ev: "done"} after the browser has exited. Closing stdin
// stops it early. config.args adds Chromium flags (see browser.js).

const { emit, run } = require('./browser');

const config = JSON.parse(process.argv[2] || '{}');
// A page's wait is generous: on a loaded 2-core machine a 1 MiB compressed echo in every
// size takes Chromium tens of seconds (a test run beside the benchmark took over 30).
const timeout = config.timeoutMs || 90000;

run(config.executablePath, async (page) => {
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
      // Where the page got to says whether it waited for the server or the server for it.
      const progress = await page.evaluate(() => window.wsxProgress).catch(() => undefined);
      result = { error: `driving the page: ${err.message}${progress ? ` (${progress})` : ''}` };
    }
    emit({ ev: 'page', url, result, console: log });
  }
}, config.args);
