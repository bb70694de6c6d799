'use strict';
// h2-peer.js runs Node's core http2 module as a peer of WebSockets over HTTP/2 (RFC 8441) for
// wsx's interop tests: an extended CONNECT made or answered by hand, and WebSocket frames
// (RFC 6455 §5) written and parsed here, since the ws package does not speak HTTP/2.
//
//   node h2-peer.js '<config JSON>'
//
// config: {mode: "client", url, protocols, messages, close: {code, reason}} waits for the
//         server's SETTINGS, opens a stream with :protocol websocket, sends each message
//         (a string) as a masked text frame and waits for its echo, then closes;
//         {mode: "server", key, cert, protocol} listens on 127.0.0.1 (TLS, h2 only) with
//         enableConnectProtocol, accepts extended CONNECTs (choosing protocol if offered)
//         and echoes messages until the client closes.
// Events go to stdout as JSON lines: settings, response, request, message, close, end,
// listening, error. The process exits when stdin closes.

const crypto = require('node:crypto');
const http2 = require('node:http2');

const config = JSON.parse(process.argv[2] || '{}');

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

// frame encodes one final frame, masked with a random key when mask is set.
function frame(opcode, payload, mask) {
  const len = payload.length;
  const head = [0x80 | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

function closePayload(code, reason) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason || '')]);
}

// Parser collects bytes and returns whole frames: {fin, opcode, masked, payload}.
class Parser {
  constructor() {
    this.buf = Buffer.alloc(0);
  }
  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const frames = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const keyOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyOff + (i & 3)];
      frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, masked, payload });
      this.buf = b.subarray(off + len);
    }
    return frames;
  }
}

function client() {
  const url = new URL(config.url);
  const session = http2.connect(url.origin, { rejectUnauthorized: false });
  session.on('error', (err) => emit({ ev: 'error', message: err.message }));
  session.once('remoteSettings', (settings) => {
    emit({ ev: 'settings', result: settings });
    const headers = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': url.pathname + url.search,
      ':authority': url.host,
      'sec-websocket-version': '13',
    };
    if (config.protocols) headers['sec-websocket-protocol'] = config.protocols.join(', ');
    const req = session.request(headers, { endStream: false });
    req.on('error', (err) => emit({ ev: 'error', message: err.message }));
    const parser = new Parser();
    const messages = config.messages || [];
    let sent = 0;
    const sendNext = () => {
      if (sent < messages.length) {
        req.write(frame(0x1, Buffer.from(messages[sent++]), true));
      } else {
        const c = config.close || { code: 1000, reason: '' };
        req.write(frame(0x8, closePayload(c.code, c.reason), true));
      }
    };
    req.on('response', (h) => {
      emit({ ev: 'response', status: h[':status'], protocol: h['sec-websocket-protocol'] || '', result: h });
      if (h[':status'] === 200) sendNext();
    });
    req.on('data', (chunk) => {
      for (const f of parser.push(chunk)) {
        if (f.masked) emit({ ev: 'error', message: 'masked frame from the server (RFC 6455 §5.1)' });
        if (f.opcode === 0x1) {
          emit({ ev: 'message', message: f.payload.toString('utf8') });
          sendNext();
        } else if (f.opcode === 0x8) {
          emit({ ev: 'close', code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') });
          req.end(); // END_STREAM: the orderly end of our half (RFC 8441 §5)
        }
      }
    });
    req.on('end', () => {
      emit({ ev: 'end' });
      session.close();
    });
  });
}

function server() {
  const srv = http2.createSecureServer({
    key: config.key,
    cert: config.cert,
    settings: { enableConnectProtocol: true },
  });
  srv.on('stream', (stream, headers) => {
    emit({ ev: 'request', result: headers });
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    const offered = (headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim()).filter(Boolean);
    const response = { ':status': 200 };
    if (config.protocol && offered.includes(config.protocol)) response['sec-websocket-protocol'] = config.protocol;
    stream.respond(response);
    const parser = new Parser();
    stream.on('error', (err) => emit({ ev: 'error', message: err.message }));
    stream.on('data', (chunk) => {
      for (const f of parser.push(chunk)) {
        if (!f.masked) emit({ ev: 'error', message: 'unmasked frame from the client (RFC 6455 §5.1)' });
        if (f.opcode === 0x1 || f.opcode === 0x2) {
          emit({ ev: 'message', message: f.payload.toString('utf8'), len: f.payload.length });
          stream.write(frame(f.opcode, f.payload, false));
        } else if (f.opcode === 0x9) {
          stream.write(frame(0xa, f.payload, false));
        } else if (f.opcode === 0x8) {
          const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
          emit({ ev: 'close', code, reason: f.payload.subarray(2).toString('utf8') });
          stream.end(frame(0x8, code === 1005 ? Buffer.alloc(0) : closePayload(code, ''), false));
        }
      }
    });
    stream.on('end', () => emit({ ev: 'end' }));
  });
  srv.listen(0, '127.0.0.1', () => emit({ ev: 'listening', port: srv.address().port }));
  process.stdin.on('end', () => srv.close());
}

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
if (config.mode === 'server') server();
else client();
