// SPDX-License-Identifier: MIT
/*
 * kafkajs_failover — the kafkajs side of log/cluster_clients (a helper the
 * Python test runs, not a test itself): an idempotent acks=-1 producer sends
 * COUNT records "<PREFIX><n>" to ble-raw/0 one at a time (awaiting each),
 * printing "acked <value>" as each is acknowledged or "failed <value> <why>";
 * a consumer group member (a fresh group, from the beginning) runs
 * throughout and prints "read <value>" for every record of PREFIX it gets.
 * Once the producer is done and every acknowledged record was read (or
 * WAIT_MS passed) it prints "done" and exits 0.  The test kills the
 * partition's leader while this runs and judges the lines.
 * usage: node kafkajs_failover.js BROKERS PREFIX COUNT
 */
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const path = require('path');
const { Kafka, logLevel } = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'kafkajs'));

const [brokers, prefix, countArg] = process.argv.slice(2);
const COUNT = parseInt(countArg, 10);
const WAIT_MS = 90000;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function main() {
  const kafka = new Kafka({
    clientId: 'kfjs-failover', brokers: brokers.split(','),
    logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.WARN,
    // Its log goes to stderr: stdout carries this helper's lines.
    logCreator: () => ({ namespace, level, label, log }) => {
      process.stderr.write(JSON.stringify(Object.assign({ level: label, namespace }, log)) + '\n');
    },
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  const read = new Set();
  // A consumer whose group coordinator died keeps retrying that node until
  // its retries run out, then restarts and finds a new coordinator: few,
  // short retries (against Kafka as here).
  // metadataMaxAge as the librdkafka clients' topic.metadata.refresh.interval.ms:
  // kafkajs 2.2.4 keeps fetchers only for the brokers its metadata names as
  // leaders, so when the partition's leader dies and the group coordinator
  // does not (no rebalance), only a metadata refresh finds the new leader.
  const consumer = kafka.consumer({ groupId: 'kfjs-failover-' + prefix, sessionTimeout: 30000,
    heartbeatInterval: 1000, metadataMaxAge: 1000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
  await consumer.connect();
  await consumer.subscribe({ topic: 'ble-raw', fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const v = message.value.toString();
      if (partition === 0 && v.startsWith(prefix)) {
        read.add(v);
        process.stdout.write('read ' + v + '\n');
      }
    },
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 } });
  await producer.connect();
  const acked = [];
  for (let i = 0; i < COUNT; i++) {
    const v = prefix + String(i).padStart(5, '0');
    try {
      await producer.send({ topic: 'ble-raw', acks: -1, messages: [{ value: v, partition: 0 }] });
      acked.push(v);
      process.stdout.write('acked ' + v + '\n');
    } catch (e) {
      process.stdout.write('failed ' + v + ' ' + String(e.message || e).replace(/\s+/g, ' ') + '\n');
    }
  }
  await producer.disconnect();
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline && !acked.every((v) => read.has(v))) await sleep(100);
  await consumer.disconnect().catch(() => {});
  process.stdout.write('done\n');
}

main().catch((e) => {
  process.stdout.write('fatal ' + String(e.stack || e).replace(/\s+/g, ' ') + '\n');
  process.exit(1);
});
