// SPDX-License-Identifier: MIT
/*
 * kafka/kafkajs_transactions — kafkajs 2.2.4's transactional producer and
 * its consumers against a real `cairn logd`:
 *   - a committed transaction is read by a read_committed consumer
 *     (kafkajs' default), an aborted one never is, and a read_uncommitted
 *     consumer reads both;
 *   - offsets sent with sendOffsets are committed with their transaction
 *     (admin.fetchOffsets), and not when it aborts;
 *   - a second producer with the same transactionalId fences the first:
 *     the first's open transaction is aborted and its commit fails.
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
  console.error('kafka/kafkajs_transactions: kafkajs is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}
const { Kafka, logLevel } = kafkajs;

const BIN = process.env.CAIRN_BIN || path.join(__dirname, '..', '..', '..', 'build', 'cairn');
const TOPIC = 'ble-raw';

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function startLogd() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-kfjs-txn-'));
  const portFile = path.join(tmp, 'port');
  const log = fs.openSync(path.join(tmp, 'logd.log'), 'a');
  const proc = spawn(BIN, ['logd', '--data', path.join(tmp, 'data'), '--kafka-listen', '127.0.0.1:0',
    '--port-file', portFile, '--partitions', '2'], { stdio: ['ignore', log, log] });
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

function txProducer(kafka, id) {
  return kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1,
    transactionTimeout: 60000 });
}

/* Every value a consumer at this isolation level reads: wait for `want`
 * values (20 s at most), then 1.5 s more so that any extra one shows. */
async function readAll(kafka, readUncommitted, want) {
  const c = kafka.consumer({ groupId: 'reader-' + readUncommitted + '-' + Date.now(), readUncommitted,
    sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 10000 });
  await c.connect();
  await c.subscribe({ topic: TOPIC, fromBeginning: true });
  const got = [];
  await c.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); } });
  for (let i = 0; i < 200 && got.length < want; i++) await sleep(100);
  await sleep(1500); // anything beyond `want` (which would be a failure) has time to arrive
  await c.disconnect();
  return got.sort();
}

async function main() {
  const node = await startLogd();
  const kafka = new Kafka({ clientId: 'kfjs-txn', brokers: ['127.0.0.1:' + node.port],
    logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const p = txProducer(kafka, 'js-tx');
    await p.connect();
    let t = await p.transaction();
    await t.send({ topic: TOPIC, messages: [0, 1, 2, 3].map((i) => ({ value: 'c-' + i, partition: i % 2 })) });
    await t.commit();
    t = await p.transaction();
    await t.send({ topic: TOPIC, messages: [0, 1, 2].map((i) => ({ value: 'a-' + i, partition: i % 2 })) });
    await t.abort();

    // Offsets with the transaction: dropped with an abort, committed with a commit.
    t = await p.transaction();
    await t.send({ topic: TOPIC, messages: [{ value: 'o-aborted', partition: 0 }] });
    await t.sendOffsets({ consumerGroupId: 'js-txn-group', topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '3' }] }] });
    await t.abort();
    let off = await admin.fetchOffsets({ groupId: 'js-txn-group', topics: [TOPIC] });
    assert(off[0].partitions.every((x) => x.offset === '-1'), 'aborted offsets committed: ' + JSON.stringify(off));
    t = await p.transaction();
    await t.send({ topic: TOPIC, messages: [{ value: 'o-committed', partition: 0 }] });
    await t.sendOffsets({ consumerGroupId: 'js-txn-group', topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '2' }] }] });
    await t.commit();
    off = await admin.fetchOffsets({ groupId: 'js-txn-group', topics: [TOPIC] });
    const byPart = Object.fromEntries(off[0].partitions.map((x) => [x.partition, x.offset]));
    assert(byPart[0] === '5' && byPart[1] === '2', 'committed offsets ' + JSON.stringify(byPart));

    const committed = ['c-0', 'c-1', 'c-2', 'c-3', 'o-committed'];
    const all = committed.concat(['a-0', 'a-1', 'a-2', 'o-aborted']).sort();
    const rc = await readAll(kafka, false, committed.length);
    assert(JSON.stringify(rc) === JSON.stringify(committed.sort()), 'read_committed read ' + rc);
    const ru = await readAll(kafka, true, all.length);
    assert(JSON.stringify(ru) === JSON.stringify(all), 'read_uncommitted read ' + ru);

    // Fencing: a second producer with the same transactionalId.
    t = await p.transaction();
    await t.send({ topic: TOPIC, messages: [{ value: 'zombie', partition: 1 }] });
    const q = txProducer(kafka, 'js-tx');
    await q.connect(); // InitProducerId: aborts p's open transaction, bumps the epoch
    const tq = await q.transaction();
    await tq.send({ topic: TOPIC, messages: [{ value: 'successor', partition: 1 }] });
    await tq.commit();
    let fenced = null;
    try {
      await t.commit();
    } catch (e) {
      fenced = e;
    }
    assert(fenced !== null, 'the fenced producer committed');
    assert(/fenced|epoch/i.test(String(fenced.type || '') + ' ' + fenced.message), 'fenced with ' + fenced);
    const rc2 = await readAll(kafka, false, committed.length + 1);
    assert(rc2.includes('successor') && !rc2.includes('zombie'), 'after fencing read_committed read ' + rc2);
    await q.disconnect();
    await p.disconnect().catch(() => {});
    await admin.disconnect();
    console.log('kafka/kafkajs_transactions: ok (fenced producer: ' + (fenced.type || fenced.message) + ')');
  } catch (e) {
    await admin.disconnect().catch(() => {});
    console.error(fs.readFileSync(path.join(node.tmp, 'logd.log'), 'utf8').slice(-4000));
    await stopLogd(node).catch(() => {});
    throw e;
  }
  await stopLogd(node);
  fs.rmSync(node.tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
