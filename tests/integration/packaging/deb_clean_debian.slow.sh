#!/usr/bin/env bash
# packaging/deb_clean_debian.slow.sh — the .deb on a clean Debian 12: a
# minimal bookworm made by debootstrap (from this machine's Debian mirror),
# where `apt-get install ./cairn_*.deb` must pull in every library the
# binary needs and enable the service; then the service's ExecStart, run
# inside that root as an unprivileged user with the flags from
# /etc/default/cairn, answers /healthz and drains on SIGTERM with exit 0;
# `apt-get remove` leaves /var/lib/cairn in place.  Needs root and the
# Debian archive (opt-in: label slow; downloads ~100 MB).
set -u
BUILD=${CAIRN_BUILD:?set CAIRN_BUILD to the build directory}
[ "$(id -u)" = 0 ] || { echo "skip: needs root (debootstrap, chroot)"; exit 77; }
[ -f "$BUILD/manual/cairn.1" ] || { echo "skip: a sanitizer or fuzz build"; exit 77; }
command -v debootstrap >/dev/null || { echo "FAIL: debootstrap is not installed (scripts/setup)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-debian.XXXXXX")
R=$T/root
UP=
cleanup() {
    [ -n "$UP" ] && kill -KILL "$UP" 2>/dev/null
    for m in proc dev/pts dev; do umount -l "$R/$m" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log"; exit 1; }
deb=$(ls "$T"/pkg/cairn_*.deb | head -1)
mirror=$(sed -n 's/^URIs: \(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
echo "debootstrap bookworm from $mirror"
if ! debootstrap --variant=minbase bookworm "$R" "$mirror" >"$T/debootstrap.log" 2>&1; then
    echo "FAIL: debootstrap:"; tail -20 "$T/debootstrap.log"; exit 1
fi
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc" && mount --bind /dev "$R/dev" && mount --bind /dev/pts "$R/dev/pts"
cp "$deb" "$R/tmp/cairn.deb"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if ! in_root sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/cairn.deb' >"$T/apt.log" 2>&1; then
    echo "FAIL: apt-get install ./cairn.deb on a clean bookworm:"; tail -20 "$T/apt.log"; exit 1
fi
in_root cairn version || fail "cairn version in the clean root"
[ -L "$R/etc/systemd/system/multi-user.target.wants/cairn.service" ] ||
    fail "the package did not enable cairn.service (no multi-user.target.wants link)"
missing=$(in_root ldd /usr/bin/cairn | grep "not found")
[ -z "$missing" ] || fail "libraries not installed by the package's Depends: $missing"

# The unit's ExecStart as systemd would run it (DynamicUser: an unprivileged uid; StateDirectory).
exec_line=$(sed -n 's/^ExecStart=//p' "$R/usr/lib/systemd/system/cairn.service")
mkdir -m 0750 "$R/var/lib/cairn" && chown 65534:65534 "$R/var/lib/cairn"
# shellcheck disable=SC1091
. "$R/etc/default/cairn"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
flags=${CAIRN_UP_FLAGS//0.0.0.0:8080/127.0.0.1:$port}
flags=${flags//127.0.0.1:9092/127.0.0.1:$kport}
cmdline=${exec_line/\$CAIRN_UP_FLAGS/$flags}
# shellcheck disable=SC2086
chroot --userspec=65534:65534 "$R" /bin/sh -c "umask 0027; exec $cmdline" >"$T/up.out" 2>"$T/up.err" &
UP=$!
code=000
for _ in $(seq 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
    [ "$code" = 200 ] && break
    kill -0 "$UP" 2>/dev/null || break
    sleep 0.2
done
[ "$code" = 200 ] || fail "/healthz in the clean root: $code; $(tail -5 "$T/up.err")"
kill -TERM "$UP"
wait "$UP"; rc=$?
UP=
[ "$rc" = 0 ] || fail "the service exited $rc after SIGTERM: $(tail -5 "$T/up.err")"

in_root apt-get remove -y -qq cairn >"$T/remove.log" 2>&1 || fail "apt-get remove: $(tail -5 "$T/remove.log")"
[ ! -e "$R/usr/bin/cairn" ] || fail "remove left /usr/bin/cairn"
[ -d "$R/var/lib/cairn/hunt-state" ] || fail "remove deleted the venue's state in /var/lib/cairn"

if [ "$fails" != 0 ]; then echo "$fails failures"; exit 1; fi
echo ok
