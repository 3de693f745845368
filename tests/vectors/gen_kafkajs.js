#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/*
 * gen_kafkajs.js — interop test vectors written by kafkajs 2.2.4 (npm,
 * tests/node), uncompressed and gzip (kafkajs's built-in codec; snappy,
 * lz4 and zstd need third-party plugins, so kafkajs users mostly run gzip).
 *
 * Like gen_rdkafka.py: start a real `cairn logd` (its segment files keep
 * each batch byte for byte as sent, with only baseOffset and the leader
 * epoch stamped, both outside the CRC), produce the records of
 * batches.json that kafkajs can express — its headers are an object, so
 * records with a null header value are left out — with timestamps, keys,
 * null values and binary headers, stop logd, and write
 * tests/vectors/kafkajs-<codec>-<n>.bin plus kafkajs.json: "indices" are
 * the batches.json records sent (in order), and each file holds the slice
 * [first, first + count) of them.  tests/unit/test_lg_batch_iter.c decodes
 * them record by record.
 *
 * Run: node tests/vectors/gen_kafkajs.js BUILD/cairn [OUTDIR]
 */
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn } = require('child_process');

const { Kafka, logLevel, CompressionTypes } =
  require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function startLogd(bin, tmp) {
  const portFile = path.join(tmp, 'port');
  const proc = spawn(bin, ['logd', '--data', path.join(tmp, 'data'), '--kafka-listen',
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

function splitBatches(seg) {
  const out = [];
  let pos = 0;
  while (pos + 12 <= seg.length) {
    const n = seg.readInt32BE(pos + 8);
    out.push(seg.subarray(pos, pos + 12 + n));
    pos += 12 + n;
  }
  if (pos !== seg.length) throw new Error('torn segment');
  return out;
}

async function main() {
  const bin = process.argv[2];
  const outdir = process.argv[3] || __dirname;
  if (!bin) throw new Error('usage: gen_kafkajs.js BUILD/cairn [OUTDIR]');
  const all = JSON.parse(fs.readFileSync(path.join(__dirname, 'batches.json'), 'utf8')).records;
  const indices = [];
  all.forEach((r, i) => { if (r.headers.every(([, v]) => v !== null)) indices.push(i); });
  const recs = indices.map((i) => all[i]);
  const hex = (h) => (h === null ? null : Buffer.from(h, 'hex'));
  const messages = recs.map((r) => {
    const headers = {};
    for (const [k, v] of r.headers) headers[hex(k).toString('utf8')] = hex(v);
    return { key: hex(r.key), value: hex(r.value), headers, timestamp: String(r.timestamp) };
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-kjs-'));
  const node = await startLogd(bin, tmp);
  const kafka = new Kafka({ brokers: ['127.0.0.1:' + node.port], clientId: 'vectors',
    logLevel: logLevel.NOTHING });
  const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };
  try {
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    for (const [name, c] of Object.entries(codecs)) {
      await producer.send({ topic: 'vec-' + name, compression: c, acks: -1,
        messages: messages.map((m) => ({ ...m, partition: 0 })) });
    }
    await producer.disconnect();
  } finally {
    const exited = new Promise((r) => node.proc.on('exit', r));
    node.proc.kill('SIGTERM');
    await exited;
  }
  const vectors = [];
  for (const [name, c] of Object.entries(codecs)) {
    const dir = path.join(tmp, 'data', 'topics', 'vec-' + name, '0');
    const segs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    let first = 0;
    let n = 0;
    for (const s of segs) {
      for (const b of splitBatches(fs.readFileSync(path.join(dir, s)))) {
        const count = b.readInt32BE(57);
        const file = `kafkajs-${name}-${n++}.bin`;
        fs.writeFileSync(path.join(outdir, file), b);
        vectors.push({ file, codec: b.readInt16BE(21) & 7, producer_id: Number(b.readBigInt64BE(43)),
          producer_epoch: b.readInt16BE(51), base_sequence: b.readInt32BE(53), first, count });
        if ((b.readInt16BE(21) & 7) !== c) throw new Error(file + ': codec ' + (b.readInt16BE(21) & 7));
        first += count;
      }
    }
    if (first !== recs.length) throw new Error(name + ': ' + first + ' of ' + recs.length + ' records');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.writeFileSync(path.join(outdir, 'kafkajs.json'),
    '{"generator": "kafkajs 2.2.4",\n "records": "batches.json",\n "indices": ' +
    JSON.stringify(indices) + ',\n "vectors": [\n  ' +
    vectors.map((v) => JSON.stringify(v)).join(',\n  ') + '\n ]}\n');
}

main().catch((e) => {
  console.error('gen_kafkajs: ' + e.message);
  process.exit(1);
});
