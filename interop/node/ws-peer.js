'use strict';
// ws-peer.js runs Node's ws package as a WebSocket client or server for wsx's
// interop tests, scripted by the Go test that starts it.
//
//   node ws-peer.js '<config JSON>'
//
// config: {mode: "client", url, protocols, options, echo} opens a connection to url
//         (or none without url); {mode: "server", protocols, options, echo} listens on
//         127.0.0.1 on a free port and accepts connections. options go to ws as they
//         are (for example perMessageDeflate, maxPayload); protocols is the server's
//         preference order; echo sends every message back.
//
// Commands arrive as JSON lines on stdin and apply to the latest connection:
//   {op: "send", binary, data}            one message; data is base64
//   {op: "send", binary, fragments: [..], fin, pingBetween}
//                                         one message, one frame per fragment (§5.4)
//   {op: "ping", data} / {op: "pong", data}
//   {op: "close", code, reason}           reason is a string, or reasonBase64 raw bytes
//   {op: "terminate"}                     drop the TCP connection
//   {op: "connect", url, protocols, options, echo} a new client connection
//   {op: "listen", protocols, options, echo} another server
// Everything ws reports is written to stdout as JSON lines, {ev: ...}. Payloads are
// reported by length and SHA-256 (and base64 when short), so that megabyte messages
// stay cheap to compare. The process exits when stdin closes.

const crypto = require('node:crypto');
const readline = require('node:readline');
const WebSocket = require('ws');

const config = JSON.parse(process.argv[2] || '{}');
let current = null; // the connection commands apply to

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

function describe(buf) {
  const d = {
    len: buf.length,
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
  };
  if (buf.length <= 256) d.data = buf.toString('base64');
  return d;
}

function toBuffer(data) {
  if (Array.isArray(data)) return Buffer.concat(data); // fragmented message
  return Buffer.from(data);
}

function watch(ws, echo) {
  current = ws;
  ws.on('message', (data, isBinary) => {
    const buf = toBuffer(data);
    emit({ ev: 'message', binary: isBinary, ...describe(buf) });
    if (echo) ws.send(buf, { binary: isBinary });
  });
  ws.on('ping', (data) => emit({ ev: 'ping', data: data.toString('base64') }));
  ws.on('pong', (data) => emit({ ev: 'pong', data: data.toString('base64') }));
  ws.on('close', (code, reason) => emit({ ev: 'close', code, reason: reason.toString() }));
  ws.on('error', (err) => emit({ ev: 'error', message: err.message, errorCode: err.code }));
}

function run(cmd) {
  const ws = current;
  if (!ws && cmd.op !== 'connect' && cmd.op !== 'listen') throw new Error('no connection');
  switch (cmd.op) {
    case 'send': {
      const binary = Boolean(cmd.binary);
      if (cmd.fragments) {
        // ws sends each call as one frame when fin is false; the first frame's
        // opcode comes from binary, the rest are continuations.
        // fin: false leaves the message unfinished; pingBetween sends a ping
        // after every fragment but the last (control frames may be injected
        // between fragments, §5.4).
        const last = cmd.fragments.length - 1;
        cmd.fragments.forEach((f, i) => {
          ws.send(Buffer.from(f, 'base64'), { binary, fin: i === last && cmd.fin !== false });
          if (i < last && cmd.pingBetween !== undefined) ws.ping(Buffer.from(cmd.pingBetween, 'base64'));
        });
      } else {
        ws.send(Buffer.from(cmd.data || '', 'base64'), { binary });
      }
      break;
    }
    case 'sendZeros': // a large binary message, without carrying it through the command pipe
      ws.send(Buffer.alloc(cmd.size), { binary: true });
      break;
    case 'ping':
      ws.ping(Buffer.from(cmd.data || '', 'base64'));
      break;
    case 'pong':
      ws.pong(Buffer.from(cmd.data || '', 'base64'));
      break;
    case 'close': {
      const reason = cmd.reasonBase64 !== undefined ? Buffer.from(cmd.reasonBase64, 'base64') : cmd.reason;
      if (cmd.code === undefined) ws.close();
      else ws.close(cmd.code, reason);
      break;
    }
    case 'connect': // a new client connection, which later commands apply to
      startClient(cmd);
      break;
    case 'listen': // another server, with other options
      startServer(cmd);
      break;
    case 'terminate':
      ws.terminate();
      break;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

function startClient(c) {
  const ws = new WebSocket(c.url, c.protocols || [], c.options || {});
  ws.on('upgrade', (res) => {
    emit({
      ev: 'upgrade',
      status: res.statusCode,
      protocol: res.headers['sec-websocket-protocol'] || '',
      extensions: res.headers['sec-websocket-extensions'] || '',
    });
  });
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => emit({ ev: 'unexpected-response', status: res.statusCode, body }));
  });
  ws.on('open', () => emit({ ev: 'open', protocol: ws.protocol, extensions: ws.extensions }));
  watch(ws, c.echo);
}

function startServer(c) {
  const preference = c.protocols || [];
  const wss = new WebSocket.WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    ...(c.options || {}),
    // Choose in the server's order of preference, like wsx does.
    handleProtocols: (offered) => preference.find((p) => offered.has(p)) || false,
  });
  let response = {};
  wss.on('headers', (headers) => {
    response = {};
    for (const h of headers) {
      const i = h.indexOf(':');
      if (i > 0) response[h.slice(0, i).toLowerCase()] = h.slice(i + 1).trim();
    }
  });
  wss.on('connection', (ws, req) => {
    emit({
      ev: 'connection',
      offeredProtocols: req.headers['sec-websocket-protocol'] || '',
      offeredExtensions: req.headers['sec-websocket-extensions'] || '',
      origin: req.headers.origin || '',
      protocol: ws.protocol,
      extensions: response['sec-websocket-extensions'] || '',
    });
    watch(ws, c.echo);
  });
  wss.on('error', (err) => emit({ ev: 'error', message: err.message }));
  wss.on('listening', () => emit({ ev: 'listening', port: wss.address().port }));
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  try {
    run(JSON.parse(line));
  } catch (err) {
    emit({ ev: 'error', message: `command ${line.slice(0, 80)}: ${err.message}` });
  }
}).on('close', () => process.exit(0));

emit({ ev: 'ready', ws: require('ws/package.json').version, node: process.version });
if (config.mode === 'server') startServer(config);
else if (config.url) startClient(config);
