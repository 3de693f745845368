// SPDX-License-Identifier: MIT
/*
 * kafka/kafkajs — kafkajs 2.2.4 (npm, tests/node; no flexible
 * versions, ignores the broker's minimum versions) against a real
 * `cairn logd`:
 *   - admin: createTopics, fetchTopicMetadata, listTopics, fetchTopicOffsets;
 *   - producer: keyed records with headers, acks -1, gzip;
 *   - a consumer group of two members: every record consumed, offsets
 *     committed (admin.fetchOffsets equals the high watermarks).
 * Needs `npm ci --prefix tests/node` (scripts/test does it).
 */
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn } = require('child_process');

let kafkajs;
try {
  kafkajs = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'kafkajs'));
} catch (e) {
  console.error('kafka/kafkajs: kafkajs is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}
const { Kafka, logLevel, CompressionTypes } = kafkajs;

const BIN = process.env.CAIRN_BIN || path.join(__dirname, '..', '..', '..', 'build', 'cairn');
const N = 600;

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function startLogd() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-kfjs-'));
  const portFile = path.join(tmp, 'port');
  const log = fs.openSync(path.join(tmp, 'logd.log'), 'a');
  const proc = spawn(BIN, ['logd', '--data', path.join(tmp, 'data'), '--kafka-listen', '127.0.0.1:0',
    '--port-file', portFile, '--partitions', '3'], { stdio: ['ignore', log, log] });
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(portFile)) {
      return { proc, tmp, port: parseInt(fs.readFileSync(portFile, 'utf8'), 10) };
    }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error('logd did not start: ' + fs.readFileSync(path.join(tmp, 'logd.log'), 'utf8'));
}

async function stopLogd(node) {
  const exited = new Promise((r) => node.proc.on('exit', (code) => r(code)));
  node.proc.kill('SIGTERM');
  const code = await exited;
  assert(code === 0, 'logd exit status ' + code + ' after SIGTERM');
}

async function main() {
  const node = await startLogd();
  const kafka = new Kafka({ clientId: 'kfjs', brokers: ['127.0.0.1:' + node.port], logLevel: logLevel.NOTHING,
    retry: { retries: 5 } });
  const admin = kafka.admin();
  const consumers = [];
  try {
    await admin.connect();
    const created = await admin.createTopics({ topics: [{ topic: 'js-topic', numPartitions: 4 }], waitForLeaders: true });
    assert(created === true, 'createTopics returned ' + created);
    const again = await admin.createTopics({ topics: [{ topic: 'js-topic', numPartitions: 4 }] });
    assert(again === false, 'second createTopics should report the topic exists');
    const md = await admin.fetchTopicMetadata({ topics: ['js-topic', 'ble-raw'] });
    const byName = Object.fromEntries(md.topics.map((t) => [t.name, t]));
    assert(byName['js-topic'].partitions.length === 4, 'js-topic partitions');
    assert(byName['ble-raw'].partitions.length === 3, 'ble-raw partitions');
    assert(byName['js-topic'].partitions.every((p) => p.leader === 0), 'leader 0');
    const topics = await admin.listTopics();
    assert(topics.includes('js-topic') && topics.includes('hunt-events'), 'listTopics ' + topics);

    const producer = kafka.producer();
    await producer.connect();
    for (let b = 0; b < N; b += 100) {
      const messages = [];
      for (let i = b; i < b + 100; i++) {
        messages.push({ key: 'player-' + (i % 13), value: 'js-' + i, headers: { n: String(i) } });
      }
      const res = await producer.send({ topic: 'js-topic', acks: -1, messages,
        compression: b % 200 === 0 ? CompressionTypes.GZIP : CompressionTypes.None });
      assert(res.every((r) => r.errorCode === 0), 'produce errors ' + JSON.stringify(res));
    }
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('js-topic');
    const total = offsets.reduce((s, o) => s + Number(o.high), 0);
    assert(total === N, 'high watermarks sum to ' + total);

    const seen = new Map();
    let bad = null;
    for (let m = 0; m < 2; m++) {
      const c = kafka.consumer({ groupId: 'js-group', sessionTimeout: 10000, heartbeatInterval: 500,
        rebalanceTimeout: 10000 });
      await c.connect();
      await c.subscribe({ topic: 'js-topic', fromBeginning: true });
      await c.run({
        eachMessage: async ({ message }) => {
          const v = message.value.toString();
          const i = parseInt(v.slice(3), 10);
          if (message.headers.n.toString() !== String(i) || message.key.toString() !== 'player-' + (i % 13)) {
            bad = 'mismatch at ' + v;
          }
          seen.set(v, (seen.get(v) || 0) + 1);
        },
      });
      consumers.push(c);
    }
    for (let i = 0; i < 300 && seen.size < N; i++) await sleep(100);
    assert(bad === null, bad);
    assert(seen.size === N, 'consumed ' + seen.size + ' of ' + N);
    // Let the auto-commit of the last batch land, then stop the members.
    await sleep(1500);
    for (const c of consumers) await c.disconnect();
    consumers.length = 0;
    const committed = await admin.fetchOffsets({ groupId: 'js-group', topics: ['js-topic'] });
    const parts = committed[0].partitions;
    for (const o of offsets) {
      const p = parts.find((x) => x.partition === o.partition);
      assert(p && p.offset === o.high, 'partition ' + o.partition + ' committed ' + (p && p.offset) + ' high ' + o.high);
    }
    await admin.disconnect();
    console.log('kafka/kafkajs: ok');
  } catch (e) {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    console.error(fs.readFileSync(path.join(node.tmp, 'logd.log'), 'utf8').slice(-4000));
    await stopLogd(node).catch(() => {});
    throw e;
  }
  await stopLogd(node);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
