#!/usr/bin/env bash
# packaging/deb.sh — the .deb that `cpack` builds from this build tree, and
# what it installs, checked the way a venue's box would use them:
#  - the package: name, version from CMake, Depends computed from the binary's
#    libraries, /etc/default/cairn a conffile, maintainer scripts present;
#  - its files: the binary (runs `version`), the man page (renders with groff
#    without warnings; names every command and every flag of `cairn up` and
#    `cairn logd`), the bash completion (completes commands, subcommands,
#    flags and file names), the docs;
#  - the systemd unit: `systemd-analyze verify` accepts it (with its
#    ExecStart pointed at the unpacked binary; the man: link is not checked
#    because the page is not installed on this machine), and its hardening
#    scores "OK" or better in `systemd-analyze security`;
#  - the service runs as systemd would run it: ExecStart with the flags from
#    /etc/default/cairn, as an unprivileged user, umask 0027, in an empty
#    state directory; /healthz answers 200; SIGTERM (the unit's KillSignal)
#    drains and exits 0 within the unit's TimeoutStopSec.
# Skipped (exit 77) in builds without the manual (sanitizer and fuzz builds).
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
BUILD=${CAIRN_BUILD:?set CAIRN_BUILD to the build directory}
if [ ! -f "$BUILD/manual/cairn.1" ]; then
    echo "skip: $BUILD has no manual (a sanitizer or fuzz build)"; exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-deb.XXXXXX")
chmod 755 "$T"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# --- the package --------------------------------------------------------
if ! cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1; then
    echo "FAIL: cpack:"; cat "$T/cpack.log"; exit 1
fi
deb=$(ls "$T"/pkg/cairn_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "FAIL: no .deb in $T/pkg"; ls -R "$T/pkg"; exit 1; }
ver=$("$BIN" version | awk '{print $2}')
[ "$(dpkg-deb -f "$deb" Package)" = cairn ] || fail "package name is not cairn"
[ "$(dpkg-deb -f "$deb" Version)" = "$ver" ] || fail "package version $(dpkg-deb -f "$deb" Version) != binary's $ver"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in librocksdb liblmdb0 libevent-core librdkafka1 libsodium23 libc6; do
    echo "$deps" | grep -q "$lib" || fail "Depends lacks $lib: $deps"
done
dpkg-deb -e "$deb" "$T/ctl"
grep -qx /etc/default/cairn "$T/ctl/conffiles" || fail "/etc/default/cairn is not a conffile"
for s in postinst prerm postrm; do
    [ -x "$T/ctl/$s" ] || fail "$s missing or not executable"
    sh -n "$T/ctl/$s" || fail "$s is not valid sh"
done

# --- its files ----------------------------------------------------------
R=$T/root
dpkg-deb -x "$deb" "$R"
for f in usr/bin/cairn usr/lib/systemd/system/cairn.service etc/default/cairn \
         usr/share/man/man1/cairn.1 usr/share/bash-completion/completions/cairn \
         usr/share/doc/cairn/operations.md usr/share/doc/cairn/README.md; do
    [ -f "$R/$f" ] || fail "the package lacks /$f"
done
"$R/usr/bin/cairn" version | grep -q "^cairn $ver " || fail "the packaged binary's version"

man=$R/usr/share/man/man1/cairn.1
warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
[ -z "$warn" ] || fail "groff warns about cairn.1: $warn"
for c in log token logd gateway hunt up sim version; do
    grep -q "^\.SS cairn $c\$" "$man" || fail "cairn.1 has no section for cairn $c"
done
for c in up logd; do
    for f in $("$BIN" $c --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p'); do
        [ "$f" = help ] && continue
        grep -q "fB\\\\-\\\\-$(echo "$f" | sed 's/-/\\\\-/g')\\\\fR" "$man" || fail "cairn.1 lacks cairn $c --$f"
    done
done

complete_words() { # complete_words WORD... -> the completions of the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cairn; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$R/usr/share/bash-completion/completions/cairn" "$@"
}
has() { # has WANT... -- COMPLETIONS
    local got=$1; shift
    for w in "$@"; do echo "$got" | grep -qx -- "$w" || fail "completion lacks '$w' (got: $(echo $got))"; done
}
has "$(complete_words cairn lo)" log logd
has "$(complete_words cairn log d)" describe dump
has "$(complete_words cairn token i)" issue
has "$(complete_words cairn logd --clu)" --cluster --cluster-kafka
has "$(complete_words cairn up --data "$T/ro")" "$T/root"
[ -z "$(complete_words cairn up --zz)" ] || fail "completion invents flags"

# --- the systemd unit ---------------------------------------------------
unit=$R/usr/lib/systemd/system/cairn.service
exec_line=$(sed -n 's/^ExecStart=//p' "$unit")
case "$exec_line" in
    /usr/bin/cairn\ up\ *) ;;
    *) fail "ExecStart is '$exec_line', want /usr/bin/cairn up ..." ;;
esac
sed "s#^ExecStart=/usr/bin/cairn#ExecStart=$R/usr/bin/cairn#" "$unit" >"$T/cairn.service"
systemd-analyze verify --man=no "$T/cairn.service" >"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
for k in DynamicUser=yes StateDirectory=cairn LimitNOFILE= KillSignal=SIGTERM NoNewPrivileges=yes ProtectSystem=strict; do
    grep -q "^$k" "$unit" || fail "the unit lacks $k"
done
level=$(systemd-analyze security --offline=yes "$T/cairn.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for cairn.service: [0-9.]* \([A-Z]*\).*/\1/p')
case "$level" in
    SAFE|OK) ;;
    *) fail "systemd-analyze security rates the unit '$level', want OK or SAFE" ;;
esac

# --- the service, run as systemd would run it -----------------------------
state=$T/state
mkdir -m 0750 "$state"
run_as=()
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$state" && run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
# EnvironmentFile: the shell reads it as systemd does for a plain KEY="..." file.
# shellcheck disable=SC1091
. "$R/etc/default/cairn"
ports=$(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
set -- $ports
flags=${CAIRN_UP_FLAGS//0.0.0.0:8080/127.0.0.1:$1}
flags=${flags//127.0.0.1:9092/127.0.0.1:$2}
[ "$flags" != "$CAIRN_UP_FLAGS" ] || fail "/etc/default/cairn no longer sets --http 0.0.0.0:8080"
cmdline=${exec_line/\/usr\/bin\/cairn/$R/usr/bin/cairn}
cmdline=${cmdline/\/var\/lib\/cairn/$state}
cmdline=${cmdline/\$CAIRN_UP_FLAGS/$flags}
# shellcheck disable=SC2086
(umask 0027; exec "${run_as[@]}" $cmdline) >"$T/up.out" 2>"$T/up.err" &
up=$!
PIDS+=($up)
code=000
for _ in $(seq 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/healthz")
    [ "$code" = 200 ] && break
    kill -0 "$up" 2>/dev/null || break
    sleep 0.2
done
[ "$code" = 200 ] || fail "/healthz of the service: $code; stderr: $(tail -5 "$T/up.err")"
[ -d "$state/hunt-state" ] || fail "the service did not make its state under the state directory"
stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
kill -TERM "$up"
for _ in $(seq $((${stop_timeout:-60} * 10))); do kill -0 "$up" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$up" 2>/dev/null; then
    fail "the service did not stop within TimeoutStopSec=${stop_timeout}s of SIGTERM"
else
    wait "$up"; rc=$?
    [ "$rc" = 0 ] || fail "the service exited $rc after SIGTERM: $(tail -5 "$T/up.err")"
fi

if [ "$fails" != 0 ]; then echo "$fails failures"; exit 1; fi
echo ok
