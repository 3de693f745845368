// SPDX-License-Identifier: MIT
/*
 * batch/kafkajs_consumer — batches made by cairn's builder are read by kafkajs
 * 2.2.4 (npm, tests/node): uncompressed and gzip (kafkajs decodes snappy,
 * lz4 and zstd only with third-party plugins, which cairn does not ship).
 * The batches and manifest come from `test_lg_batch_interop --write DIR`
 * (see batch/kafka_python_decode); each is produced verbatim to a real `cairn logd` with a raw
 * Produce v3 request, then a kafkajs consumer reads it and every record's
 * offset, timestamp, key, value and headers must match the manifest.
 * Needs CAIRN_BUILD/CAIRN_BIN (ctest sets them) and `npm ci --prefix tests/node`.
 */
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const path = require('path');
const fs = require('fs');
const os = require('os');
const net = require('net');
const { spawn, execFileSync } = require('child_process');

let kafkajs;
try {
  kafkajs = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'kafkajs'));
} catch (e) {
  console.error('batch/kafkajs_consumer: kafkajs is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}
const { Kafka, logLevel } = kafkajs;
const BUILD = process.argv[2] || process.env.CAIRN_BUILD;
if (!BUILD) {
  console.error('batch/kafkajs_consumer: set CAIRN_BUILD or pass the build directory');
  process.exit(2);
}
const BIN = process.env.CAIRN_BIN || path.join(BUILD, 'cairn');

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startLogd(tmp) {
  const portFile = path.join(tmp, 'port');
  const proc = spawn(BIN, ['logd', '--data', path.join(tmp, 'data'), '--kafka-listen',
    '127.0.0.1:0', '--port-file', portFile, '--partitions', '1', '--auto-create'],
  { stdio: 'ignore' });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) {
      return { proc, port: parseInt(fs.readFileSync(portFile, 'utf8'), 10) };
    }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error('logd did not start');
}

function kstr(s) {
  const b = Buffer.from(s);
  const h = Buffer.alloc(2);
  h.writeInt16BE(b.length);
  return Buffer.concat([h, b]);
}

/* Produce v3 (transactional id null, acks -1) of one batch to partition 0;
 * resolves with the partition's error code. */
function produceRaw(port, topic, batch, corr) {
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };
  const i16 = (v) => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b; };
  const body = Buffer.concat([i16(-1), i16(-1), i32(10000), i32(1), kstr(topic), i32(1),
    i32(0), i32(batch.length), batch]);
  const hdr = Buffer.concat([i16(0), i16(3), i32(corr), kstr('raw')]);
  const frame = Buffer.concat([i32(hdr.length + body.length), hdr, body]);
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(frame));
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        s.end();
        const r = buf.subarray(4);
        assert(r.readInt32BE(0) === corr, 'correlation id');
        let pos = 8;
        pos += 2 + r.readInt16BE(pos) + 4;
        resolve(r.readInt16BE(pos + 4));
      }
    });
    s.on('error', reject);
  });
}

const unhex = (h) => (h === null ? null : Buffer.from(h, 'hex'));
const same = (a, b) => (a === null || b === null ? a === b : Buffer.compare(a, b) === 0);

async function consumeAll(kafka, topic, n) {
  const got = [];
  const c = kafka.consumer({ groupId: 'g-' + topic, maxBytes: 8 << 20 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({ eachMessage: async ({ message }) => { got.push(message); } });
  for (let i = 0; i < 300 && got.length < n; i++) await sleep(50);
  await c.disconnect();
  return got;
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-batch-kafkajs-'));
  execFileSync(path.join(BUILD, 'tests', 'test_lg_batch_interop'), ['--write', tmp]);
  const manifest = JSON.parse(fs.readFileSync(path.join(tmp, 'manifest.json'), 'utf8'));
  const node = await startLogd(tmp);
  const kafka = new Kafka({ brokers: ['127.0.0.1:' + node.port], clientId: 'c0203',
    logLevel: logLevel.NOTHING });
  let corr = 1;
  try {
    for (const want of manifest.filter((m) => m.codec <= 1)) {
      const topic = 'interop-' + want.file.replace('.bin', '');
      const err = await produceRaw(node.port, topic, fs.readFileSync(path.join(tmp, want.file)), corr++);
      assert(err === 0, topic + ': Produce error ' + err);
      const got = await consumeAll(kafka, topic, want.records.length);
      assert(got.length === want.records.length, topic + ': ' + got.length + ' records');
      want.records.forEach((w, i) => {
        const g = got[i];
        const where = topic + ' offset ' + w.offset;
        assert(g.offset === String(w.offset), where + ' offset ' + g.offset);
        assert(g.timestamp === String(w.timestamp), where + ' timestamp ' + g.timestamp);
        assert(same(g.key, unhex(w.key)), where + ' key');
        assert(same(g.value, unhex(w.value)), where + ' value');
        const hk = Object.keys(g.headers || {});
        assert(hk.length === w.headers.length, where + ' header count ' + hk.length);
        w.headers.forEach(([k, v]) => {
          const name = unhex(k).toString('utf8');
          const gv = g.headers[name];
          assert(same(gv === undefined || gv === null ? null : gv, unhex(v)), where + ' header ' + name);
        });
      });
      console.log('ok ' + topic + ': ' + got.length + ' records read back by kafkajs');
    }
  } finally {
    const exited = new Promise((r) => node.proc.on('exit', r));
    node.proc.kill('SIGTERM');
    const code = await exited;
    fs.rmSync(tmp, { recursive: true, force: true });
    assert(code === 0, 'logd exit status ' + code);
  }
  console.log('batch/kafkajs_consumer: ok');
}

main().catch((e) => {
  console.error('batch/kafkajs_consumer: ' + e.message);
  process.exit(1);
});
