#!/usr/bin/env bash
# cmd/renamed_flags.sh — flags renamed so that one name means one thing in
# every command keep their old spelling working, through the real binary:
# cairn hunt's --log and --create-partitions (now --data and --partitions)
# create a log with that many partitions; a list given to hunt's
# --partitions (once the set to consume, now --assign) is refused with
# exit 2 and one line naming --assign; `cairn config check` accepts the old
# names as keys; gateway's --log and up's --http/--kafka/--idle-close are
# covered by gateway/cli and up/cli.
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-renamed.XXXXXX")
trap 'rm -rf "$T"' EXIT
HUNT="$(cd "$(dirname "$0")/../../.." && pwd)/hunt/sample-hunt.json"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Old names on the command line: a rebuild of an empty log creates the topics.
"$BIN" hunt --log "$T/old" --create-partitions 3 --assign all --state "$T/s1" --hunt "$HUNT" --http '' \
    --rebuild >"$T/out" 2>"$T/err" || fail "hunt with --log/--create-partitions: $(cat "$T/err")"
n=$(ls "$T/old/topics/ble-raw" 2>/dev/null | grep -c '^[0-9]')
[ "$n" = 3 ] || fail "--create-partitions 3 made $n partitions of ble-raw"
# New names, same effect.
"$BIN" hunt --data "$T/new" --partitions 2 --state "$T/s2" --hunt "$HUNT" --http '' --rebuild >"$T/out" 2>"$T/err" ||
    fail "hunt with --data/--partitions: $(cat "$T/err")"
n=$(ls "$T/new/topics/ble-raw" 2>/dev/null | grep -c '^[0-9]')
[ "$n" = 2 ] || fail "--partitions 2 made $n partitions of ble-raw"

# A list for --partitions: refused, pointing at --assign.
"$BIN" hunt --data "$T/x" --partitions 0,2 --state "$T/s3" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 2 ] || fail "hunt --partitions 0,2 exited $rc, want 2"
grep -q -- "--assign" "$T/err" || fail "the refusal does not name --assign: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "the refusal is not one line: $(cat "$T/err")"
[ -e "$T/x" ] && fail "a usage error created the data directory"
"$BIN" hunt --data "$T/x" --assign 0,0 --state "$T/s3" >"$T/out" 2>"$T/err"
[ $? = 2 ] || fail "hunt --assign 0,0 (a repeat) was accepted"

# Old names as --config keys.
cat >"$T/old.toml" <<'TOML'
[up]
http = "127.0.0.1:8080"
kafka = "127.0.0.1:9092"
idle-close = "5s"
[gateway]
log = "/srv/cairn"
idle-close = "5s"
[hunt]
log = "/srv/cairn"
create-partitions = 4
TOML
"$BIN" config check "$T/old.toml" >"$T/out" 2>"$T/err" || fail "config check refused old names: $(cat "$T/err")"

[ "$fails" = 0 ] && echo "ok: renamed flags" || exit 1
