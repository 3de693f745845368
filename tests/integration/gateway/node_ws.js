// SPDX-License-Identifier: MIT
/*
 * gateway/node_ws — the npm `ws` client (8.18.0, tests/node) against a
 * real `cairn gateway --log DIR`: JSON ping, JSON array and protobuf
 * PingBatch are acknowledged (protobuf Ack decoded by hand), a bad ping
 * gets an error frame with its code and the connection stays, the idle
 * close arrives with 1000 "idle" within --idle-close of the last ping
 * (generous bounds), and a wrong token gets HTTP 401 (no upgrade).
 * Needs `npm ci --prefix tests/node` (scripts/test does it).
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn, execFileSync } = require('child_process');

let WebSocket;
try {
  WebSocket = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'ws'));
} catch (e) {
  console.error('gateway/node_ws: ws is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}

const BIN = process.env.CAIRN_BIN || path.join(__dirname, '..', '..', '..', 'build', 'cairn');
const IDLE_MS = 1500;

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startGateway(args) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-gwjs-'));
  const pf = path.join(tmp, 'port');
  const log = fs.openSync(path.join(tmp, 'gateway.log'), 'a');
  const proc = spawn(BIN, ['gateway', '--log', path.join(tmp, 'data'), '--listen', '127.0.0.1:0',
    '--port-file', pf, ...args], { stdio: ['ignore', log, log] });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(pf)) return { proc, tmp, port: parseInt(fs.readFileSync(pf, 'utf8'), 10) };
    if (proc.exitCode !== null) throw new Error('gateway exited ' + proc.exitCode);
    await sleep(50);
  }
  throw new Error('gateway did not start');
}

async function stopGateway(g) {
  const done = new Promise((r) => g.proc.on('exit', (code) => r(code)));
  g.proc.kill('SIGTERM');
  const code = await done;
  assert(code === 0, 'gateway exit status after SIGTERM: ' + code);
}

// ---- protobuf by hand (cairn.v1) ----
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
function ld(field, buf) {
  return Buffer.concat([varint((field << 3) | 2), varint(buf.length), buf]);
}
function pbPing(id, beacon, rssi, ts) {
  const zz = ((rssi << 1) ^ (rssi >> 31)) >>> 0;
  return Buffer.concat([ld(1, Buffer.from(id)), ld(2, Buffer.from(beacon)), varint(3 << 3), varint(zz),
    varint(4 << 3), varint(ts)]);
}
function pbAckIds(buf) {
  const ids = [];
  let i = 0;
  const rv = () => {
    let n = 0, s = 0, c;
    do { c = buf[i++]; n += (c & 0x7f) * 2 ** s; s += 7; } while (c & 0x80);
    return n;
  };
  while (i < buf.length) {
    const key = rv();
    const len = rv();
    if (key === ((1 << 3) | 2)) ids.push(buf.subarray(i, i + len).toString());
    i += len;
  }
  return ids;
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const msgs = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift()(m); else msgs.push(m);
    });
    ws.next = () => new Promise((r) => { if (msgs.length) r(msgs.shift()); else waiters.push(r); });
    ws.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString(), t: Date.now() })));
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error('HTTP ' + res.statusCode), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

async function main() {
  const g = await startGateway(['--idle-close', IDLE_MS + 'ms']);
  const base = `ws://127.0.0.1:${g.port}/ws`;
  try {
    const ws = await open(base + '?player=node-1');
    ws.send(JSON.stringify({ id: 'j-1', beacon: 'b-07', rssi: -61, ts: Date.now() }));
    let m = await ws.next();
    assert(!m.isBinary && m.data.toString() === '{"ack":["j-1"]}', 'JSON ack: ' + m.data);
    ws.send(JSON.stringify([1, 2, 3].map((i) => ({ id: 'j-a' + i, beacon: 'b-01', rssi: -70, ts: Date.now() }))));
    m = await ws.next();
    assert(JSON.stringify(JSON.parse(m.data)) === '{"ack":["j-a1","j-a2","j-a3"]}', 'array ack: ' + m.data);
    ws.send(JSON.stringify({ id: 'j-bad', beacon: 'b-01', rssi: -70, ts: 'yesterday' }));
    m = JSON.parse((await ws.next()).data);
    assert(m.error === 'bad_ts' && m.id === 'j-bad', 'error frame: ' + JSON.stringify(m));
    const batch = ld(1, pbPing('pb-1', 'b-02', -55, Date.now()));
    ws.send(Buffer.concat([batch, ld(1, pbPing('pb-2', 'b-03', -81, Date.now()))]));
    m = await ws.next();
    assert(m.isBinary && JSON.stringify(pbAckIds(m.data)) === '["pb-1","pb-2"]', 'protobuf ack ' + m.data.toString('hex'));
    const t0 = Date.now();
    const c = await ws.closed;
    const dt = c.t - t0;
    assert(c.code === 1000 && c.reason === 'idle', 'idle close code/reason ' + JSON.stringify(c));
    assert(dt >= IDLE_MS * 0.8 && dt <= IDLE_MS + 3000, 'idle close after ' + dt + ' ms');
    let status = 0;
    try {
      await open(base + '?token=not-a-token');
    } catch (e) {
      status = e.status;
    }
    // without --auth-key a token cannot be checked: ?player= is required
    assert(status === 401, 'no valid identity → 401, got ' + status);
  } finally {
    await stopGateway(g);
  }
  // with a key: a real token works, a forged one gets 401
  const kd = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-gwjs-k-'));
  execFileSync(BIN, ['token', 'keygen', '--out', path.join(kd, 'k')]);
  const tok = execFileSync(BIN, ['token', 'issue', '--key', path.join(kd, 'k'), '--player', 'node-2']).toString().trim();
  const g2 = await startGateway(['--auth-key', path.join(kd, 'k.pub')]);
  try {
    const ws = await open(`ws://127.0.0.1:${g2.port}/ws?token=${tok}`);
    ws.send(JSON.stringify({ id: 't-1', beacon: 'b-07', rssi: -61, ts: Date.now() }));
    const m = await ws.next();
    assert(m.data.toString() === '{"ack":["t-1"]}', 'token client acked');
    ws.close(1000);
    let status = 0;
    try {
      await open(`ws://127.0.0.1:${g2.port}/ws?token=${tok.slice(0, -3)}xyz`);
    } catch (e) {
      status = e.status;
    }
    assert(status === 401, 'forged token → 401, got ' + status);
  } finally {
    await stopGateway(g2);
  }
  console.log('ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
