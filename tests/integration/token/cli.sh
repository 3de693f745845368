#!/usr/bin/env bash
# token/cli.sh — `cairn token keygen|issue|check` end to end through the
# real binary: key files and their modes, a token round trip with claims,
# refusal of tampered, truncated, foreign-key and expired tokens (exit 1,
# one line on stderr naming the reason), and usage errors (exit 2).
set -u
BIN=${CAIRN_BIN:?set CAIRN_BIN to the built cairn binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-token-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0

# expect CODE DESCRIPTION -- COMMAND...: run, check the exit status; on a
# failure status also check stderr is exactly one line.
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want; stderr: $(cat "$T/err")"
        fails=$((fails + 1))
        return
    fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$T/err")" != 1 ]; then
        echo "FAIL: $what: stderr is not one line:"; cat "$T/err"
        fails=$((fails + 1))
    fi
}
# grep_in FILE PATTERN DESCRIPTION
grep_in() {
    if ! grep -Eq -- "$2" "$T/$1"; then
        echo "FAIL: $3: '$2' not in $1: $(cat "$T/$1")"
        fails=$((fails + 1))
    fi
}

# --- help and usage (exit 0 / 2) ---
expect 0 "token --help" -- "$BIN" token --help
grep_in out "keygen" "token --help lists subcommands"
expect 0 "issue --help" -- "$BIN" token issue --help
grep_in out "--ttl DURATION.*default: 12h" "issue --help shows the ttl default"
expect 2 "token without subcommand" -- "$BIN" token
expect 2 "unknown subcommand" -- "$BIN" token frobnicate
expect 2 "keygen without --out" -- "$BIN" token keygen
expect 2 "keygen unknown flag" -- "$BIN" token keygen --out "$T/x" --bogus 1

# --- keygen ---
expect 0 "keygen" -- "$BIN" token keygen --out "$T/k"
[ "$(stat -c %a "$T/k")" = 600 ] || { echo "FAIL: secret key mode $(stat -c %a "$T/k"), want 600"; fails=$((fails + 1)); }
[ -f "$T/k.pub" ] || { echo "FAIL: no k.pub"; fails=$((fails + 1)); }
grep -q '^cairn-ed25519-public:' "$T/k.pub" || { echo "FAIL: k.pub format"; fails=$((fails + 1)); }
expect 1 "keygen refuses to overwrite" -- "$BIN" token keygen --out "$T/k"
grep_in err "already exists" "overwrite refusal says why"
expect 1 "keygen into a missing directory" -- "$BIN" token keygen --out "$T/no/such/dir/k"
[ ! -e "$T/no" ] || { echo "FAIL: keygen left files behind"; fails=$((fails + 1)); }
expect 0 "second key pair" -- "$BIN" token keygen --out "$T/other"

# --- issue and check ---
expect 0 "issue" -- "$BIN" token issue --key "$T/k" --player p-1 --hunt museum-night --ttl 12h
TOK=$(cat "$T/out")
[[ "$TOK" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "FAIL: token is not url-safe base64: $TOK"; fails=$((fails + 1)); }
expect 0 "check valid" -- "$BIN" token check --key "$T/k.pub" "$TOK"
grep_in out "^valid player=p-1 hunt=museum-night issued=[0-9T:.-]+Z expires=[0-9T:.-]+Z$" "claims printed"
expect 0 "issue without hunt" -- "$BIN" token issue --key "$T/k" --player 'u_2@venue:a.b'
expect 0 "check without hunt" -- "$BIN" token check --key "$T/k.pub" "$(cat "$T/out")"
grep_in out "^valid player=u_2@venue:a.b issued=" "no hunt claim"

expect 1 "check with another key" -- "$BIN" token check --key "$T/other.pub" "$TOK"
grep_in err "bad signature" "foreign key named"
# Flip one character inside the signed payload (the issue time).
c=${TOK:12:1}; if [ "$c" = A ]; then r=B; else r=A; fi
BAD="${TOK:0:12}$r${TOK:13}"
expect 1 "tampered token" -- "$BIN" token check --key "$T/k.pub" "$BAD"
grep_in err "bad signature" "tampering detected"
# Flip one character of the signature itself.
n=${#TOK}; c=${TOK:n-5:1}; if [ "$c" = A ]; then r=B; else r=A; fi
expect 1 "tampered signature" -- "$BIN" token check --key "$T/k.pub" "${TOK:0:n-5}$r${TOK:n-4}"
grep_in err "bad signature" "signature tampering detected"
expect 1 "truncated token" -- "$BIN" token check --key "$T/k.pub" "${TOK:0:40}"
grep_in err "malformed" "truncation named"
expect 1 "garbage token" -- "$BIN" token check --key "$T/k.pub" '!!not-base64!!'
grep_in err "malformed" "garbage named"
expect 1 "oversized token" -- "$BIN" token check --key "$T/k.pub" "$(head -c 3000 /dev/zero | tr '\0' A)"
grep_in err "malformed" "oversize named"

# --- expiry: a 1 ms token is refused once that millisecond has passed ---
expect 0 "issue 1ms" -- "$BIN" token issue --key "$T/k" --player p-2 --ttl 1ms
SHORT=$(cat "$T/out")
sleep 0.05
expect 1 "expired token" -- "$BIN" token check --key "$T/k.pub" "$SHORT"
grep_in err "expired at .*player=p-2" "expiry named"

# --- wrong key files (exit 1) and bad flags (exit 2) ---
expect 1 "issue with the public key" -- "$BIN" token issue --key "$T/k.pub" --player p
grep_in err "not a cairn secret key" "public key misuse named"
expect 1 "check with the secret key" -- "$BIN" token check --key "$T/k" "$TOK"
grep_in err "not a cairn public key" "secret key misuse named"
expect 1 "issue with a missing key" -- "$BIN" token issue --key "$T/nope" --player p
grep_in err "keygen" "missing key suggests keygen"
printf 'cairn-ed25519-secret:AAAA\n' >"$T/short"
expect 1 "issue with a corrupt key" -- "$BIN" token issue --key "$T/short" --player p
expect 2 "issue without --player" -- "$BIN" token issue --key "$T/k"
expect 2 "issue with a bad player id" -- "$BIN" token issue --key "$T/k" --player 'a b'
expect 2 "issue with a 65-char player id" -- "$BIN" token issue --key "$T/k" --player "$(head -c 65 /dev/zero | tr '\0' p)"
expect 0 "issue with a 64-char player id" -- "$BIN" token issue --key "$T/k" --player "$(head -c 64 /dev/zero | tr '\0' p)"
expect 2 "issue with a bad hunt id" -- "$BIN" token issue --key "$T/k" --player p --hunt 'x/y'
expect 2 "issue with ttl 0" -- "$BIN" token issue --key "$T/k" --player p --ttl 0
expect 2 "issue with a bogus ttl" -- "$BIN" token issue --key "$T/k" --player p --ttl soon
expect 2 "issue with a too long ttl" -- "$BIN" token issue --key "$T/k" --player p --ttl 3651d
expect 0 "issue with the longest ttl" -- "$BIN" token issue --key "$T/k" --player p --ttl 3650d
expect 2 "check without a token" -- "$BIN" token check --key "$T/k.pub"
expect 2 "check with two tokens" -- "$BIN" token check --key "$T/k.pub" "$TOK" "$TOK"

if [ "$fails" -ne 0 ]; then
    echo "token/cli: $fails failure(s)"
    exit 1
fi
echo "token/cli: ok"
