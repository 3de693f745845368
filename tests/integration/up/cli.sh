#!/usr/bin/env bash
# up/cli.sh — `cairn up` flags and exit statuses through the real
# binary: --help lists every flag with its default (exit 0); usage errors
# exit 2 with one line on stderr naming the flag; runtime failures (a
# missing or invalid hunt file, the HTTP port in use, a data directory
# another process owns, a missing key) exit 1 with one line saying what to
# do; a clean start then SIGTERM exits 0, and the start block is printed;
# bad HTTP requests on the one port get 400/405/431 and the service stays.
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-up-cli.XXXXXX")
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"; }
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
P0=(--listen 127.0.0.1:0 --kafka-listen 127.0.0.1:0)

expect 0 "up --help" -- "$BIN" up --help
for f in data hunt listen kafka-listen partitions node state durability idle-timeout handshake-timeout auth-key max-conns batch; do
    grep_in out "--$f" "--help lists --$f"
done
# Renamed flags: --help names the old spelling, which is still accepted.
for f in http kafka idle-close; do grep_in out "formerly --$f," "--help names the old --$f"; done
grep_in out "default: ./cairn-data" "--help shows the data default"
grep_in out "default: 127.0.0.1:8080" "--help shows the HTTP default"
grep_in out "default: 127.0.0.1:9092" "--help shows the Kafka default"
grep_in out "default: DATA/hunt-state" "--help shows the state default"
grep -q "^  up " <("$BIN" --help) || { echo "FAIL: cairn --help lists up"; fails=$((fails + 1)); }

expect 2 "unknown flag" -- "$BIN" up --frobnicate
expect 2 "bad partitions" -- "$BIN" up --data "$T/d" --partitions 0
grep_in err "partitions" "names --partitions"
expect 2 "bad durability" -- "$BIN" up --data "$T/d" --durability sometimes
grep_in err "durability" "names --durability"
expect 2 "bad idle-timeout" -- "$BIN" up --data "$T/d" --idle-timeout soon
grep_in err "idle-timeout" "names --idle-timeout"
expect 2 "bad idle-close (old name)" -- "$BIN" up --data "$T/d" --idle-close soon
grep_in err "idle-timeout" "an old name's error names the flag as it is now"
expect 2 "bad node" -- "$BIN" up --data "$T/d" --node "a b"
expect 2 "bad http" -- "$BIN" up --data "$T/d" --http nohost
grep_in err "HOST:PORT" "says what --http wants"
[ -e "$T/d" ] && { echo "FAIL: a usage error created the data directory"; fails=$((fails + 1)); }

expect 1 "missing hunt file" -- "$BIN" up --data "$T/d" "${P0[@]}" --hunt "$T/nope.json"
grep_in err "nope.json" "names the hunt file"
echo '{"id":"x","name":"X","found":{"rssi_min":-70,"hits":0,"window_s":10},"beacons":[]}' >"$T/bad.json"
expect 1 "invalid hunt file" -- "$BIN" up --data "$T/d" "${P0[@]}" --hunt "$T/bad.json"
grep_in err "bad.json" "names the hunt file"
expect 1 "missing key" -- "$BIN" up --data "$T/d" "${P0[@]}" --auth-key "$T/none.pub"
grep_in err "none.pub" "names the key"

# a running venue: start block, then the busy cases against it
"$BIN" up --data "$T/d" "${P0[@]}" --port-file "$T/port" >"$T/up.out" 2>"$T/up.err" &
PID=$!
for _ in $(seq 1 300); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port" 2>/dev/null)
[ -n "$port" ] || { echo "FAIL: cairn up did not start: $(cat "$T/up.err")"; exit 1; }
grep_in up.out "dashboard  http://127.0.0.1:$port/" "start block: dashboard"
grep_in up.out "websocket  ws://127.0.0.1:$port/ws" "start block: websocket"
grep_in up.out "kafka      127.0.0.1:[0-9]+" "start block: kafka"
grep_in up.out "museum-night" "start block: hunt"
expect 1 "data directory in use" -- "$BIN" up --data "$T/d" "${P0[@]}"
grep_in err "another cairn process owns it" "says the directory is owned"
expect 1 "HTTP port in use" -- "$BIN" up --data "$T/d2" --http "127.0.0.1:$port" --kafka 127.0.0.1:0
grep_in err "cannot listen on --listen" "names --listen (given as the old --http)"
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "FAIL: /healthz"; fails=$((fails + 1)); }
curl -s "http://127.0.0.1:$port/nope" -o "$T/nope" -w "%{http_code}" >"$T/code"
grep_in code "404" "an unknown path is 404"
# bad requests on the HTTP port get the HTTP error of whoever serves the path
curl -s "http://127.0.0.1:$port/api/leaderboard?limit=abc" -o /dev/null -w "%{http_code}" >"$T/code"
grep_in code "400" "a bad ?limit= is 400 (the worker's API, through the gateway's port)"
curl -s -X POST "http://127.0.0.1:$port/api/leaderboard" -o /dev/null -w "%{http_code}" >"$T/code"
grep_in code "405" "POST is 405 (the worker's API)"
curl -s -X POST -d x "http://127.0.0.1:$port/api/leaderboard" -o /dev/null -w "%{http_code}" >"$T/code"
grep_in code "400" "a request body is 400 (the gateway's head parser, before any hand-over)"
curl -s -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$port/api/beacons" -o /dev/null \
    -w "%{http_code}" >"$T/code"
grep_in code "431" "an oversized head is refused by the gateway before any hand-over (431)"
curl -sf "http://127.0.0.1:$port/api/beacons" | grep -q '"b-12"' || { echo "FAIL: /api/beacons after bad requests"; fails=$((fails + 1)); }
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=""
[ "$rc" = 0 ] || { echo "FAIL: SIGTERM exit $rc: $(cat "$T/up.err")"; fails=$((fails + 1)); }

[ "$fails" = 0 ] && echo "ok: cairn up CLI" || { echo "$fails failures"; exit 1; }
