#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# logd/cli — the `cairn logd` command line contract (docs/cli.md):
# --help lists every flag with its default (exit 0); usage errors exit 2
# with one line on stderr; a port already in use and a data directory held
# by another node exit 1 with one line saying what to do; --advertise is
# what Metadata returns; SIGINT and SIGTERM drain and exit 0.
set -euo pipefail
BIN=${CAIRN_BIN:-$(dirname "$0")/../../../build/cairn}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "logd/cli: $*" >&2; exit 1; }

out=$("$BIN" logd --help) || fail "--help exited $?"
for f in data kafka-listen advertise partitions max-request-bytes auto-create durability node-id idle-timeout \
  http cluster cluster-kafka cluster-listen replication-factor; do
  grep -q -- "--$f" <<<"$out" || fail "--help does not list --$f"
done
grep -q "default: 127.0.0.1:9092" <<<"$out" || fail "--help does not show the listener default"
"$BIN" --help | grep -q "logd" || fail "cairn --help does not list logd"

expect_usage() {
  set +e
  err=$("$BIN" logd "$@" 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "logd $* exited $rc, want 2"
  [ "$(wc -l <<<"$err")" -eq 1 ] || fail "logd $*: want one line on stderr, got: $err"
}
expect_usage --no-such-flag
expect_usage --partitions 0
expect_usage --partitions many
expect_usage --max-request-bytes 10
expect_usage --durability sometimes
expect_usage --advertise nohostport
expect_usage --cluster-listen 127.0.0.1:9192
expect_usage --node-id 1 --cluster 1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194 \
  --cluster-kafka 1@127.0.0.1:9092,2@127.0.0.1:9093,3@127.0.0.1:9094 --cluster-listen nohostport

# A running node: its port and its data directory are taken.
"$BIN" logd --data "$tmp/a" --kafka-listen 127.0.0.1:0 --port-file "$tmp/a.port" 2>"$tmp/a.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/a.port" ] && break; sleep 0.05; done
port=$(cat "$tmp/a.port")
set +e
err=$("$BIN" logd --data "$tmp/b" --kafka-listen "127.0.0.1:$port" 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a busy port exited $rc, want 1"
grep -q "kafka-listen" <<<"$err" || fail "busy port error does not say what to do: $err"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "busy port: want one line on stderr, got: $err"
set +e
err=$("$BIN" logd --data "$tmp/a" --kafka-listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a locked data dir exited $rc, want 1"
grep -qi "another cairn process" <<<"$err" || fail "locked dir error unclear: $err"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "locked dir: want one line on stderr, got: $err"

# --advertise is what Metadata hands out (clients connect there next).
"$BIN" logd --data "$tmp/c" --kafka-listen 127.0.0.1:0 --port-file "$tmp/c.port" \
  --advertise cairn.example:19092 --durability none 2>"$tmp/c.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/c.port" ] && break; sleep 0.05; done
md=$(timeout 20 kcat -b "127.0.0.1:$(cat "$tmp/c.port")" -L -m 5 2>&1) || fail "kcat -L: $md"
grep -q "broker 0 at cairn.example:19092" <<<"$md" || fail "advertised address not in metadata: $md"
kill -TERM "${pids[1]}"
set +e
wait "${pids[1]}"; rc=$?
set -e
[ "$rc" -eq 0 ] || fail "SIGTERM drain exited $rc"

kill -INT "${pids[0]}"
set +e
wait "${pids[0]}"; rc=$?
set -e
pids=()
[ "$rc" -eq 0 ] || fail "SIGINT drain exited $rc: $(cat "$tmp/a.log")"
echo "logd/cli: ok"
