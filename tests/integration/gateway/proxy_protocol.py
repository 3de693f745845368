# SPDX-License-Identifier: MIT
"""
gateway/proxy_protocol — the gateway behind a proxy, over real sockets
(the proxy played by this test from 127.0.0.1, untrusted peers from
127.0.0.2 and 127.0.0.3), with --max-conns-per-ip 1 so that the per-IP
table shows whose address a connection is counted under, and
CAIRN_LOG=debug so that the log shows it too:
  - --proxy-protocol: a v1 TCP4 header, a v2 IPv4 and a v2 IPv6 header
    each make the connection the client's (a second connection of the
    same client gets 429, another client gets in); v2 LOCAL (the proxy's
    own health check) answers /healthz; a header split over several
    writes is put together; malformed, oversized and non-header bytes
    from the trusted proxy close the connection (counted bad); a
    truncated header is dropped at --handshake-timeout (counted bad);
  - a PROXY header from an untrusted peer is not believed: its bytes are
    taken as HTTP (400) and the address it names appears nowhere;
  - with TLS: a v2 header, then the TLS handshake, then wss (what a TCP
    load balancer in front of a TLS gateway sends); a client over its
    per-IP limit is closed right after its header, before any handshake;
  - X-Forwarded-For from a trusted proxy names the client (the rightmost
    entry that is not a trusted proxy); from an untrusted peer it is
    ignored (the peer is counted, the named address appears nowhere); a
    garbage X-Forwarded-For leaves the proxy as the client (counted bad);
  - usage errors (exit 2, one line): --proxy-protocol without
    --trusted-proxies, a block with host bits set, a prefix over 32, a name.
"""
import json
import os
import socket
import ssl
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import Gateway, now_ms  # noqa: E402

fails = []
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def v1(src, dst="127.0.0.1"):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s 40000 8080\r\n" % (fam, src, dst)).encode()


def v2(src=None, local=False, body_extra=b""):
    if local:
        return SIG + bytes([0x20, 0x00]) + struct.pack(">H", len(body_extra)) + body_extra
    if ":" in src:
        addrs = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1")
        fam, body = 0x21, addrs + struct.pack(">HH", 40000, 8080)
    else:
        addrs = socket.inet_aton(src) + socket.inet_aton("127.0.0.1")
        fam, body = 0x11, addrs + struct.pack(">HH", 40000, 8080)
    body += body_extra
    return SIG + bytes([0x21, fam]) + struct.pack(">H", len(body)) + body


def conn(gw, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(30)
    s.bind((source, 0))
    s.connect(("127.0.0.1", gw.port))
    return s


def read_head(s):
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            break
        head += d
    return head


def status_of(head):
    try:
        return int(head.split(b" ")[1])
    except (IndexError, ValueError):
        return 0


def upgrade(s, gw, player, extra=""):
    s.sendall(gwutil.handshake_bytes(gw.port, "player=" + player, extra))
    return status_of(read_head(s))


def ping_acked(s, pid):
    payload = json.dumps({"id": pid, "beacon": "b-01", "rssi": -60, "ts": now_ms()}).encode()
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    hdr = s.recv(2)
    body = b""
    while len(body) < (hdr[1] & 0x7f):
        body += s.recv(4096)
    return json.loads(body) == {"ack": [pid]}


_metric_src = [0]


def metric(gw, name):
    """One /metrics scrape from a fresh untrusted address each time (127.0.1.N),
    so --max-conns-per-ip 1 never refuses it and no PROXY header is due."""
    _metric_src[0] += 1
    s = conn(gw, "127.0.1.%d" % _metric_src[0])
    if gw.cafile:
        s = ssl.create_default_context(cafile=gw.cafile).wrap_socket(s, server_hostname="localhost")
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = gwutil.recv_all(s).decode()
    s.close()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise KeyError(name)


def closed(s, timeout=60):
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def proxy_protocol(tmp):
    gw = Gateway(["--trusted-proxies", "127.0.0.1/32", "--proxy-protocol", "--max-conns-per-ip", "1",
                  "--handshake-timeout", "2s", "--idle-close", "60s"], tmp=tmp)
    os.environ["CAIRN_LOG"] = "debug"
    gw.start()
    os.environ.pop("CAIRN_LOG")
    held = []
    try:
        for name, hdr, other in (("v1", v1("192.0.2.7"), v1("192.0.2.8")),  # names go into player ids: no spaces
                                 ("v2-ipv4", v2("192.0.2.17"), v2("192.0.2.18")),
                                 ("v2-ipv6", v2("2001:db8:1::7"), v2("2001:db8:2::7"))):
            a = conn(gw)
            a.sendall(hdr)
            check(upgrade(a, gw, "pp-" + name) == 101, name + ": client upgraded")
            check(ping_acked(a, "pp-" + name), name + ": ping acked")
            b = conn(gw)
            b.sendall(hdr)
            check(upgrade(b, gw, "pp2-" + name) == 429, name + ": the same client again gets 429")
            b.close()
            c = conn(gw)
            c.sendall(other)
            check(upgrade(c, gw, "pp3-" + name) == 101, name + ": another client behind the same proxy")
            held += [a, c]
        # split over several writes, one byte at a time
        s = conn(gw)
        for byte in v1("192.0.2.30"):
            s.sendall(bytes([byte]))
            time.sleep(0.002)
        check(upgrade(s, gw, "pp-split") == 101, "header in single bytes")
        held.append(s)
        # LOCAL: the proxy's own health check
        s = conn(gw)
        s.sendall(v2(local=True) + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        check(read_head(s).startswith(b"HTTP/1.1 200"), "v2 LOCAL health check answered")
        s.close()
        check(metric(gw, 'cairn_gateway_proxy_headers_total{result="local"}') == 1, "LOCAL counted")
        ok = metric(gw, 'cairn_gateway_proxy_headers_total{result="ok"}')
        check(ok == 10, "headers counted ok: %r" % ok)

        bad0 = metric(gw, 'cairn_gateway_proxy_headers_total{result="bad"}')
        hostile = [b"PROXY TCP4 192.0.2.7 127.0.0.1 01 8080\r\n",          # leading zero
                   b"PROXY TCP4 192.0.2.7  127.0.0.1 1 8080\r\n",          # double space
                   b"PROXY TCP4 " + b"9" * 120,                           # no CRLF within 107
                   SIG + bytes([0x21, 0x11]) + struct.pack(">H", 1000) + b"\x00" * 1000,  # oversized
                   SIG + bytes([0x21, 0x12, 0, 12]) + b"\x00" * 12,      # UDP
                   SIG + bytes([0x31, 0x11, 0, 12]) + b"\x00" * 12,      # version 3
                   b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",          # no header at all
                   b"\x16\x03\x01\x00\x05hello"]                         # TLS where the header belongs
        for h in hostile:
            s = conn(gw)
            s.sendall(h)
            check(closed(s), "hostile header %r closed" % h[:16])
            s.close()
        check(metric(gw, 'cairn_gateway_proxy_headers_total{result="bad"}') == bad0 + len(hostile),
              "hostile headers counted bad")
        s = conn(gw)
        s.sendall(v2("192.0.2.40")[:20])
        check(closed(s), "truncated header dropped at the deadline")
        s.close()
        check(metric(gw, 'cairn_gateway_proxy_headers_total{result="bad"}') == bad0 + len(hostile) + 1,
              "truncated header counted bad")

        # an untrusted peer sending a PROXY header is not believed
        s = conn(gw, "127.0.0.2")
        s.sendall(v1("192.0.2.99") + gwutil.handshake_bytes(gw.port, "player=spoof"))
        check(status_of(read_head(s)) == 400, "spoofed PROXY header from an untrusted peer: 400")
        s.close()
        s = conn(gw, "127.0.0.2")
        check(upgrade(s, gw, "direct") == 101, "an untrusted peer without a header is served")
        held.append(s)
        t = conn(gw, "127.0.0.2")
        check(upgrade(t, gw, "direct2") == 429, "... and counted under its own address")
        t.close()
        time.sleep(0.3)
        log = gw.log()
        for addr in ("192.0.2.7", "192.0.2.17", "2001:db8:1::7", "192.0.2.30"):
            check("client %s (proxy protocol)" % addr in log, "the log names client %s" % addr)
        check("192.0.2.99" not in log, "the spoofed address appears nowhere in the log")
    finally:
        for s in held:
            s.close()
        gw.stop()


def proxy_protocol_tls(tmp):
    ca = gwutil.make_ca(tmp)
    cert = gwutil.make_cert(tmp, ca, "srv")
    gw = Gateway(["--trusted-proxies", "127.0.0.0/30", "--proxy-protocol", "--max-conns-per-ip", "1",
                  "--tls-cert", cert[0], "--tls-key", cert[1]], tmp=os.path.join(tmp, "tls"))
    os.mkdir(gw.tmp)
    gw.cafile = ca[0]
    gw.start()
    try:
        ctx = ssl.create_default_context(cafile=ca[0])
        raw = conn(gw)
        raw.sendall(v2("198.51.100.23"))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        check(upgrade(s, gw, "tls-pp") == 101, "TLS after a v2 header: upgraded")
        check(ping_acked(s, "tls-pp-1"), "wss ping acked behind PROXY v2")
        # the same client again: over --max-conns-per-ip as soon as the header
        # names it, so the connection is closed before any handshake work
        raw = conn(gw)
        raw.sendall(v2("198.51.100.23"))
        try:
            ctx.wrap_socket(raw, server_hostname="localhost")
            check(False, "the same client got a TLS session past its per-IP limit")
        except OSError:
            pass
        raw.close()
        check(metric(gw, 'cairn_gateway_refused_total{limit="max_conns_per_ip"}') == 1,
              "refused by the client's address")
        check(metric(gw, 'cairn_gateway_tls_handshakes_total{result="ok"}') == 3,
              "no handshake for the refused one (the others: the client and two scrapes)")
        s.close()
    finally:
        gw.stop()


def forwarded_for(tmp):
    gw = Gateway(["--trusted-proxies", "127.0.0.1", "--max-conns-per-ip", "1", "--idle-close", "60s"],
                 tmp=os.path.join(tmp, "xff"))
    os.mkdir(gw.tmp)
    os.environ["CAIRN_LOG"] = "debug"
    gw.start()
    os.environ.pop("CAIRN_LOG")
    held = []
    try:
        def xff(value, source="127.0.0.1", player="x"):
            s = conn(gw, source)
            st = upgrade(s, gw, player, "X-Forwarded-For: %s\r\n" % value)
            held.append(s)
            return st
        check(xff("192.0.2.7") == 101, "XFF client in")
        check(xff("192.0.2.7") == 429, "the same XFF client again: 429")
        check(xff("192.0.2.8") == 101, "another XFF client")
        check(xff("203.0.113.66, 192.0.2.9, 127.0.0.1") == 101, "chain: client after trusted hops")
        check(xff("192.0.2.9") == 429, "... which was counted as 192.0.2.9")
        # garbage: the proxy itself is the client (counted once)
        check(xff("not-an-address") == 101, "garbage XFF: served as the proxy")
        check(xff("still garbage") == 429, "... and counted under the proxy's address")
        check(metric(gw, 'cairn_gateway_forwarded_for_total{result="bad"}') == 2, "garbage XFF counted")
        # an untrusted peer's X-Forwarded-For is ignored
        check(xff("192.0.2.50", "127.0.0.3") == 101, "untrusted peer served")
        check(xff("192.0.2.51", "127.0.0.3") == 429, "untrusted peer counted by its own address")
        time.sleep(0.3)
        log = gw.log()
        for addr in ("192.0.2.7", "192.0.2.8", "192.0.2.9"):
            check("client %s (x-forwarded-for)" % addr in log, "the log names XFF client %s" % addr)
        check("192.0.2.50" not in log and "192.0.2.51" not in log and "203.0.113.66" not in log,
              "addresses claimed by untrusted parties appear nowhere in the log")
        check(metric(gw, 'cairn_gateway_forwarded_for_total{result="used"}') == 5, "XFF used counted")
    finally:
        for s in held:
            s.close()
        gw.stop()


def bad_flags(tmp):
    import subprocess
    for args, want in ((["--proxy-protocol"], "--proxy-protocol needs --trusted-proxies"),
                       (["--trusted-proxies", "10.0.0.0/8,10.1.2.3/8"], "'10.1.2.3/8' is not"),
                       (["--trusted-proxies", "10.0.0.0/33"], "'10.0.0.0/33' is not"),
                       (["--trusted-proxies", "proxy.example"], "'proxy.example' is not")):
        r = subprocess.run([gwutil.BIN, "gateway", "--log", os.path.join(tmp, "bf")] + args,
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and want in r.stderr and r.stderr.count("\n") == 1,
              "usage error for %s: %d %r" % (args, r.returncode, r.stderr))


def main():
    tmp = tempfile.mkdtemp(prefix="cairn-gwpp-")
    bad_flags(tmp)
    proxy_protocol(tmp)
    proxy_protocol_tls(tmp)
    forwarded_for(tmp)


main()
if fails:
    print("%d checks failed" % len(fails))
    sys.exit(1)
print("gateway/proxy_protocol: ok")
