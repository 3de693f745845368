// SPDX-License-Identifier: MIT
/*
 * gateway/node_wss — the npm `ws` client (8.18.0, tests/node) over wss://
 * against a real `cairn gateway --tls-cert --tls-key`, with a test CA this
 * test makes with the openssl CLI: a client given the CA (`ca` option)
 * gets its JSON ping acknowledged and closes normally; a client that does
 * not trust the CA fails with Node's usual certificate error
 * (UNABLE_TO_VERIFY_LEAF_SIGNATURE: the server sends its leaf, signed by
 * a CA the client does not have), and so does one that trusts the CA but
 * connects to a certificate of another CA; a ws:// client on the TLS port
 * gets HTTP 400.  Needs `npm ci --prefix tests/node`.
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
  console.error('gateway/node_wss: ws is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}

const BIN = process.env.CAIRN_BIN || path.join(__dirname, '..', '..', '..', 'build', 'cairn');

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openssl(...args) {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir, name) {
  const crt = path.join(dir, name + '.pem');
  const key = path.join(dir, name + '.key');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=cairn node test CA ' + name);
  return { crt, key };
}

function makeCert(dir, ca, name) {
  const crt = path.join(dir, name + '.pem');
  const key = path.join(dir, name + '.key');
  const csr = path.join(dir, name + '.csr');
  const ext = path.join(dir, name + '.ext');
  fs.writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
    '-out', csr, '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial',
    '-out', crt, '-days', '2', '-extfile', ext);
  return { crt, key };
}

async function startGateway(tmp, cert) {
  const pf = path.join(tmp, 'port-' + path.basename(cert.crt));
  const log = fs.openSync(path.join(tmp, 'gateway.log'), 'a');
  const proc = spawn(BIN, ['gateway', '--log', path.join(tmp, 'data-' + path.basename(cert.crt)),
    '--listen', '127.0.0.1:0', '--port-file', pf, '--tls-cert', cert.crt, '--tls-key', cert.key],
  { stdio: ['ignore', log, log] });
  for (let i = 0; i < 600; i++) {
    if (fs.existsSync(pf)) return { proc, port: parseInt(fs.readFileSync(pf, 'utf8'), 10) };
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

function open(url, opts) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const msgs = [];
    const waiters = [];
    ws.on('message', (data) => { const w = waiters.shift(); if (w) w(data); else msgs.push(data); });
    ws.next = () => new Promise((r) => { if (msgs.length) r(msgs.shift()); else waiters.push(r); });
    ws.closed = new Promise((r) => ws.on('close', (code) => r(code)));
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error('HTTP ' + res.statusCode), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

async function refusal(url, opts) {
  try {
    const ws = await open(url, opts);
    ws.terminate();
    return { code: 'CONNECTED' };
  } catch (e) {
    return e;
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-gwjs-tls-'));
  const ca = makeCa(tmp, 'ca');
  const other = makeCa(tmp, 'other');
  const g = await startGateway(tmp, makeCert(tmp, ca, 'srv'));
  const g2 = await startGateway(tmp, makeCert(tmp, other, 'stranger'));
  try {
    const url = `wss://localhost:${g.port}/ws?player=node-tls`;
    const ws = await open(url, { ca: fs.readFileSync(ca.crt) });
    ws.send(JSON.stringify({ id: 'n-1', beacon: 'b-07', rssi: -61, ts: Date.now() }));
    const m = await ws.next();
    assert(m.toString() === '{"ack":["n-1"]}', 'ack over wss: ' + m);
    ws.close(1000);
    assert(await ws.closed === 1000, 'normal close');

    let e = await refusal(url, {});
    assert(e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'untrusted CA refused: ' + e.code + ' ' + e.message);
    e = await refusal(`wss://localhost:${g2.port}/ws?player=node-tls`, { ca: fs.readFileSync(ca.crt) });
    assert(e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'another CA\'s certificate refused: ' + e.code);
    e = await refusal(`ws://localhost:${g.port}/ws?player=node-tls`, {});
    assert(e.status === 400, 'ws:// on the TLS port: HTTP 400, got ' + (e.status || e.code));
  } finally {
    await stopGateway(g);
    await stopGateway(g2);
  }
  console.log('ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
