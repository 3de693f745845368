#!/usr/bin/env bash
# cmd/process_limits.sh — what every `cairn` process does about its
# environment before serving: `cairn version` (and --version) prints the
# CMake project version and the source commit; the soft open-file limit is
# raised to the hard one (a gateway started with a soft limit of 1024 runs
# with the hard limit); `cairn gateway` and `cairn up` refuse, with exit 2
# and one line naming both numbers, a --max-conns the hard limit cannot hold.
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
SRC=${CAIRN_SRC:?set CAIRN_SRC to the source tree}
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-limits.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# version: "cairn X.Y.Z (commit C)" with X.Y.Z from CMakeLists.txt's project()
want=$(sed -n 's/^project(cairn VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$want" ] || fail "no project version in CMakeLists.txt"
out=$("$BIN" version) || fail "cairn version exited $?"
echo "$out" | grep -Eq "^cairn $want \\(commit ([0-9a-f]{12}(-dirty)?|unknown)\\)$" ||
    fail "cairn version printed '$out', want 'cairn $want (commit ...)'"
if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
    c=$(git -C "$SRC" rev-parse --short=12 HEAD)
    echo "$out" | grep -q "$c" || fail "cairn version '$out' does not name HEAD $c"
fi
[ "$("$BIN" --version)" = "$out" ] || fail "--version differs from version"
"$BIN" version extra >/dev/null 2>&1
[ $? = 2 ] || fail "cairn version with an argument is not a usage error"

hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -lt 4096 ]; then
    echo "skip the limit checks: hard open-file limit is $hard"
else
    # The soft limit is raised to the hard one.
    prlimit --nofile=1024:"$hard" "$BIN" gateway --log "$T/g" --listen 127.0.0.1:0 \
        --max-conns 1000 --port-file "$T/port" 2>"$T/g.err" &
    gp=$!
    PIDS+=($gp)
    for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
    soft=$(awk '/Max open files/ {print $4}' "/proc/$gp/limits" 2>/dev/null)
    [ "$soft" = "$hard" ] || fail "gateway's soft open-file limit is '$soft', want the hard $hard"
    kill -TERM "$gp"
    wait "$gp" || fail "gateway exited $? after SIGTERM: $(cat "$T/g.err")"

    # A --max-conns the hard limit cannot hold is refused before anything starts.
    for cmd in "gateway --log $T/g2 --listen 127.0.0.1:0" "up --data $T/u --http 127.0.0.1:0 --kafka 127.0.0.1:0"; do
        # shellcheck disable=SC2086
        prlimit --nofile=1024:1024 "$BIN" $cmd --max-conns 2000 >"$T/out" 2>"$T/err"
        rc=$?
        [ "$rc" = 2 ] || fail "$cmd with a hard limit of 1024 and --max-conns 2000: exit $rc, want 2"
        [ "$(wc -l <"$T/err")" = 1 ] || fail "$cmd: stderr is not one line: $(cat "$T/err")"
        grep -Eq "needs (2064|3024) open files" "$T/err" && grep -q "1024" "$T/err" ||
            fail "$cmd: the refusal does not name the numbers: $(cat "$T/err")"
    done
    [ ! -e "$T/u" ] || fail "up created its data directory before refusing"
fi

if [ "$fails" != 0 ]; then echo "$fails failures"; exit 1; fi
echo ok
