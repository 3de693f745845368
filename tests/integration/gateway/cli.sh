#!/usr/bin/env bash
# gateway/cli.sh — `cairn gateway` flags and exit statuses through the
# real binary: --help lists every flag with its default (exit 0); usage
# errors exit 2 with one line on stderr naming the flag; runtime failures
# (port in use, unreadable key, unreachable brokers' topic) exit 1 with one
# line; a clean start then SIGTERM exits 0.
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-gateway-cli.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fails=0

expect() { # expect CODE WHAT -- CMD...
    local want=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want; stderr: $(cat "$T/err")"; fails=$((fails + 1)); return
    fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$T/err")" != 1 ]; then
        echo "FAIL: $what: stderr is not one line:"; cat "$T/err"; fails=$((fails + 1))
    fi
}
grep_in() { # grep_in FILE PATTERN WHAT
    if ! grep -Eq -- "$2" "$T/$1"; then echo "FAIL: $3: '$2' not in $1: $(cat "$T/$1")"; fails=$((fails + 1)); fi
}

expect 0 "gateway --help" -- "$BIN" gateway --help
for f in listen workers data brokers topic idle-timeout handshake-timeout auth-key max-conns max-conns-per-ip \
         max-msg-bytes max-inflight; do
    grep_in out "--$f" "--help lists --$f"
done
grep_in out "default: 5s" "--help shows the idle-timeout default"
for f in log idle-close; do grep_in out "formerly --$f," "--help names the old --$f"; done
grep_in out "default: 127.0.0.1:8080" "--help shows the listen default"
grep -q "gateway" <("$BIN" --help) || { echo "FAIL: cairn --help lists gateway"; fails=$((fails + 1)); }

expect 2 "no backend" -- "$BIN" gateway
grep_in err "exactly one of --data" "names the missing choice"
expect 2 "both backends" -- "$BIN" gateway --log "$T/d" --brokers 127.0.0.1:1
expect 2 "bad duration" -- "$BIN" gateway --log "$T/d" --idle-close soon
grep_in err "idle-timeout" "names the bad flag by its name now"
expect 2 "bad duration, new name" -- "$BIN" gateway --data "$T/d" --idle-timeout soon
expect 2 "bad listen" -- "$BIN" gateway --log "$T/d" --listen nohost
expect 2 "bad size" -- "$BIN" gateway --log "$T/d" --max-msg-bytes 1TiB
expect 2 "bad workers" -- "$BIN" gateway --log "$T/d" --workers 0
expect 2 "unknown flag" -- "$BIN" gateway --log "$T/d" --frobnicate

# runtime failures: exit 1, one line
/usr/bin/python3 -c "
import socket, time, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
open('$T/busy', 'w').write(str(s.getsockname()[1])); sys.stdout.flush(); time.sleep(30)" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/busy" ] && break; sleep 0.1; done
expect 1 "port in use" -- "$BIN" gateway --log "$T/d1" --listen "127.0.0.1:$(cat "$T/busy")"
grep_in err "Address already in use" "says why the listen failed"
echo "not a key" >"$T/bad.pub"
expect 1 "bad key file" -- "$BIN" gateway --log "$T/d2" --listen 127.0.0.1:0 --auth-key "$T/bad.pub"
grep_in err "bad.pub" "names the key file"
expect 1 "missing key file" -- "$BIN" gateway --log "$T/d3" --listen 127.0.0.1:0 --auth-key "$T/nope.pub"

# a clean start and drain: exit 0
"$BIN" gateway --log "$T/d4" --listen 127.0.0.1:0 --port-file "$T/port" 2>"$T/run.err" &
gp=$!
PIDS+=($gp)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
if [ ! -s "$T/port" ]; then echo "FAIL: gateway did not start: $(cat "$T/run.err")"; fails=$((fails + 1)); fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$T/port")/healthz")
[ "$code" = 200 ] || { echo "FAIL: /healthz: $code"; fails=$((fails + 1)); }
kill -TERM "$gp"
wait "$gp"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL: exit $rc after SIGTERM: $(cat "$T/run.err")"; fails=$((fails + 1)); }

if [ "$fails" != 0 ]; then echo "$fails failures"; exit 1; fi
echo ok
