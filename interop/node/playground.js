'use strict';
// playground.js drives the playground page of "wsx serve" in headless Chromium, Debian's
// /usr/bin/chromium (never a browser downloaded by Playwright), through playwright-core, the
// way a person would: typing, clicking, reading what the page shows.
//
//   node playground.js http://127.0.0.1:8080/
//   node playground.js '{"url": "http://127.0.0.1:8080/", "keys": [...], ...}'
//
// It writes JSON lines to stdout: {ev: "ready", chromium, userDataDir} once the browser runs,
// {ev: "result", result, console} when the session is over, and {ev: "done"} after the
// browser has exited (or {ev: "error", message}). The result holds what the page showed; the
// caller judges it. Closing stdin stops the script early.

const { emit, run } = require('./browser');

const arg = process.argv[2] || '';
const config = arg.startsWith('{') ? JSON.parse(arg) : { url: arg };
const timeout = config.timeoutMs || 15000;
// keys: the Sec-WebSocket-Keys to type, each with the Accept value the page should show for
// it, so that the script knows when the page has finished computing.
const keys = config.keys || [{ key: 'dGhlIHNhbXBsZSBub25jZQ==', accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' }];
const protocols = config.protocols || '';
const text = config.text || 'Hello, WebSocket!';
const binary = config.binary || 'binary \u2713';
const closeCode = String(config.closeCode || 4001);
const closeReason = config.closeReason || 'bye';

// logEntries returns the lines of the page's message log.
function logEntries(page) {
  return page.$$eval('#log li', (lis) => lis.map((li) => ({ class: li.className, type: li.dataset.type || '', text: li.textContent })));
}

// waitForLog waits until the log has n entries of class cls (and type, if given).
function waitForLog(page, n, cls, type) {
  return page.waitForFunction(
    ([n, cls, type]) => document.querySelectorAll(`#log li.${cls}` + (type ? `[data-type=${type}]` : '')).length >= n,
    [n, cls, type],
    { timeout },
  );
}

async function session(page, result) {
  await page.goto(config.url, { timeout });
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout });
  result.title = await page.title();
  result.defaultURL = await page.inputValue('#url');
  result.sections = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));

  // The key calculator: typed key by key, as a person would; the page recomputes on every
  // keystroke and shows the latest.
  result.keys = [];
  for (const k of keys) {
    await page.fill('#key', '');
    await page.locator('#key').pressSequentially(k.key);
    let waited = true;
    await page
      .waitForFunction((want) => document.getElementById('accept').textContent === want, k.accept, { timeout })
      .catch(() => (waited = false));
    result.keys.push({
      key: await page.inputValue('#key'),
      accept: await page.textContent('#accept'),
      note: await page.textContent('#key-note'),
      noteColor: await page.$eval('#key-note', (e) => getComputedStyle(e).color),
      waited,
    });
  }

  // Connect to the default URL, this server's echo.
  await page.fill('#protocols', protocols);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('state').dataset.state !== 'connecting', null, { timeout });
  result.state = await page.textContent('#state');
  result.agreed = await page.textContent('#subprotocol');
  if (result.state !== 'open') {
    result.log = await logEntries(page);
    return;
  }

  // A text message, then the UTF-8 bytes of another as a binary message.
  await page.fill('#message', text);
  await page.click('#send');
  await waitForLog(page, 1, 'received', 'text');
  await page.check('#binary');
  await page.fill('#message', binary);
  await page.click('#send');
  await waitForLog(page, 1, 'received', 'binary');

  // The handshake request as the server received it.
  await page.waitForFunction(() => document.getElementById('handshake').textContent !== '', null, { timeout });
  result.handshake = await page.textContent('#handshake');
  result.handshakeNote = await page.textContent('#handshake-note');

  // The closing handshake with a code and reason of our choosing.
  await page.fill('#close-code', closeCode);
  await page.fill('#close-reason', closeReason);
  await page.click('#disconnect');
  await page.waitForFunction(() => document.getElementById('state').dataset.state === 'closed', null, { timeout });
  result.closedState = await page.textContent('#state');
  result.closedAgreed = await page.textContent('#subprotocol');
  result.log = await logEntries(page);
}

run(config.executablePath, async (page) => {
  const consoleLog = [];
  page.on('console', (m) => consoleLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLog.push(`pageerror: ${e.message}`));
  const result = {};
  try {
    await session(page, result);
  } catch (err) {
    result.error = `driving the page: ${err.message}`;
    result.log = await logEntries(page).catch(() => []);
  }
  emit({ ev: 'result', result, console: consoleLog });
});
