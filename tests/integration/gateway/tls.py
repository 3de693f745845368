# SPDX-License-Identifier: MIT
"""
gateway/tls — wss:// on `cairn gateway --tls-cert --tls-key` with real
peers (python3-websockets, python's ssl) and a test CA this test makes with
the openssl CLI:
  - a JSON ping over wss:// is acknowledged and is in the log; /healthz and
    /metrics answer over https:// on the same port; a second connection
    resumes the first one's TLS session (stateless ticket);
  - a client that does not trust the certificate fails with its usual
    error (ssl.SSLCertVerificationError) and the server counts a failed
    handshake;
  - a plain ws:// client on the TLS port gets a clean HTTP 400 (counted as
    plain_http), not a hang;
  - garbage bytes where a ClientHello belongs are refused at once
    (counted as failed, not as a timeout); a truncated ClientHello is
    dropped at --handshake-timeout (counted as timeout);
  - a handshake flood (full handshakes from several threads) plus slow TLS
    clients that send a few bytes of a ClientHello and stall do not starve
    an established connection: every ping it sends meanwhile is acked, and
    the stalled ones are dropped at the deadline;
  - SIGHUP reloads the certificate: a new connection sees the new one while
    a connection opened before keeps working (its pings are acked); a
    reload from a broken file keeps the old certificate (counted failed);
  - the same across `--workers 2`: SIGHUP to the supervisor reaches every
    worker (ten new connections in a row present the new certificate) and
    a connection opened before the reload keeps working;
  - --max-tls-handshakes: with that many handshakes stalled, the next is
    shed (closed at its first bytes, counted); once the stalled ones are
    dropped at the deadline, clients get in again;
  - without TLS, SIGHUP is logged and ignored (the gateway keeps serving);
  - bad flags: --tls-cert without --tls-key is a usage error (exit 2); a
    key that does not match the certificate is refused at start (exit 1)
    with OpenSSL's reason.
"""
import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import BIN, Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def ping(pid):
    return json.dumps({"id": pid, "beacon": "b-01", "rssi": -60, "ts": now_ms()})


def client_hello():
    """The first flight of a real TLS client (python's ssl), as bytes."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def wait_closed(sock, timeout=60):
    """True once the server closed (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            d = sock.recv(4096)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def start_tls_gateway(tmp, cert, ca, extra=()):
    gw = Gateway(["--tls-cert", cert[0], "--tls-key", cert[1], "--handshake-timeout", "2s"] +
                 list(extra), tmp=tmp)
    gw.cafile = ca[0]
    return gw.start()


async def basics(gw, tmp):
    async with websockets.connect(gw.url("player=alice"), ssl=gw.ssl_context()) as ws:
        await ws.send(ping("t-1"))
        check(json.loads(await ws.recv()) == {"ack": ["t-1"]}, "ping over wss:// acked")
    st, body = gw.http_get("/healthz")
    check(st == 200 and body.strip() == "ok", "https /healthz: %r %r" % (st, body))
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="ok"}') >= 2, "handshakes counted")

    # resumption: the ticket of one connection lets the next skip the full handshake
    ctx = ssl.create_default_context(cafile=gw.cafile)
    sess = None
    for i in range(2):
        with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=sess) as c:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                check(gwutil.recv_all(c, timeout=30).startswith(b"HTTP/1.1 200"), "healthz over TLS")
                check(c.session_reused == (i == 1), "session reused on the second connection only")
                sess = c.session

    # a client that does not trust our CA: its usual verification error
    failed0 = gw.metric('cairn_gateway_tls_handshakes_total{result="failed"}')
    try:
        async with websockets.connect(gw.url(), ssl=ssl.create_default_context()):
            check(False, "untrusted certificate accepted")
    except ssl.SSLCertVerificationError as e:
        check("certificate verify failed" in str(e), "untrusted: %s" % e)
    time.sleep(0.2)
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="failed"}') == failed0 + 1,
          "the refused handshake is counted as failed")

    # plain ws:// on the TLS port: a clean 400, not a hang
    try:
        async with websockets.connect(gw.url().replace("wss://", "ws://"), open_timeout=30):
            check(False, "plain client upgraded on the TLS port")
    except websockets.exceptions.InvalidStatusCode as e:
        check(e.status_code == 400, "plain client status %d" % e.status_code)
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = gwutil.recv_all(s, timeout=30)
    s.close()
    check(answer.startswith(b"HTTP/1.1 400") and b"speaks TLS" in answer,
          "plain HTTP answer: %r" % answer[:120])
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="plain_http"}') == 2,
          "plain HTTP on the TLS port counted")


def hostile_hellos(gw):
    failed0 = gw.metric('cairn_gateway_tls_handshakes_total{result="failed"}')
    tmo0 = gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}')
    hello = client_hello()
    check(len(hello) > 100 and hello[0] == 0x16, "python made a ClientHello")
    garbage = [b"\x00" * 64,                                   # not a TLS record at all
               b"\x16\x03\x01\x00\x08" + b"\xff" * 8,          # a handshake record of nonsense
               hello[:5] + bytes(b ^ 0x5A for b in hello[5:])]  # a ClientHello with its body scrambled
    for g in garbage:
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        s.sendall(g)
        check(wait_closed(s), "garbage hello %r... closed" % g[:8])
        s.close()
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="failed"}') == failed0 + 3,
          "garbage hellos counted as failed handshakes")
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}') == tmo0,
          "garbage hellos were refused, not left to time out")
    # truncated: half a ClientHello, then silence until the deadline
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
    s.sendall(hello[:len(hello) // 2])
    check(wait_closed(s), "truncated hello dropped")
    s.close()
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}') == tmo0 + 1,
          "truncated hello counted as a handshake timeout")


def flood(gw, stop, counts):
    """Full handshakes, one after another, until stop is set."""
    ctx = ssl.create_default_context(cafile=gw.cafile)
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost"):
                    counts["ok"] += 1
        except OSError:
            counts["err"] += 1


async def flood_and_slow_clients(gw):
    hello = client_hello()
    tmo0 = gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}')
    ok0 = gw.metric('cairn_gateway_tls_handshakes_total{result="ok"}')
    async with websockets.connect(gw.url("player=steady"), ssl=gw.ssl_context()) as ws:
        slow = []
        for _ in range(100):  # slow TLS clients: a few bytes, then nothing
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.sendall(hello[:10])
            slow.append(s)
        stop, counts = threading.Event(), {"ok": 0, "err": 0}
        threads = [threading.Thread(target=flood, args=(gw, stop, counts)) for _ in range(4)]
        for t in threads:
            t.start()
        acked, sent, worst = 0, 0, 0.0
        try:
            for i in range(60):
                t0 = time.monotonic()
                await ws.send(ping("steady-%d" % i))
                sent += 1
                reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                worst = max(worst, time.monotonic() - t0)
                if reply == {"ack": ["steady-%d" % i]}:
                    acked += 1
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join()
        print("flood: %d full handshakes (%d errors) while %d/%d pings were acked; slowest ack %.0f ms"
              % (counts["ok"], counts["err"], acked, sent, worst * 1000))
        check(acked == sent, "every ping of the established connection acked during the flood")
        check(counts["ok"] >= 20, "the flood made handshakes: %r" % counts)
        closed = sum(1 for s in slow if wait_closed(s))
        check(closed == len(slow), "slow TLS clients dropped at the deadline: %d/%d" % (closed, len(slow)))
        for s in slow:
            s.close()
        await ws.send(ping("steady-after"))
        check(json.loads(await ws.recv()) == {"ack": ["steady-after"]}, "still served after the flood")
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}') >= tmo0 + 100,
          "slow clients counted as handshake timeouts")
    check(gw.metric('cairn_gateway_tls_handshakes_total{result="ok"}') >= ok0 + counts["ok"],
          "flood handshakes counted")


def replace_files(cert, dst):
    """Renew in place the way certbot-style tools do: write aside, rename."""
    for src, d in ((cert[0], dst[0]), (cert[1], dst[1])):
        with open(src, "rb") as f:
            data = f.read()
        with open(d + ".new", "wb") as f:
            f.write(data)
        os.rename(d + ".new", d)


def wait_for_cert(port, cafile, der, in_a_row=1, timeout=60):
    deadline, run = time.time() + timeout, 0
    while time.time() < deadline:
        if gwutil.tls_peer_cert(port, cafile) == der:
            run += 1
            if run >= in_a_row:
                return True
        else:
            run = 0
            time.sleep(0.1)
    return False


async def reload(gw, live, a, b, sig_target):
    check(gwutil.tls_peer_cert(gw.port, gw.cafile) == gwutil.cert_der(a[0]), "serves cert A first")
    async with websockets.connect(gw.url("player=old"), ssl=gw.ssl_context()) as old:
        await old.send(ping("old-1"))
        check(json.loads(await old.recv()) == {"ack": ["old-1"]}, "old connection acked before reload")
        replace_files(b, live)
        sig_target.send_signal(signal.SIGHUP)
        check(wait_for_cert(gw.port, gw.cafile, gwutil.cert_der(b[0]), in_a_row=10),
              "new connections present cert B after SIGHUP")
        await old.send(ping("old-2"))
        check(json.loads(await old.recv()) == {"ack": ["old-2"]},
              "the connection opened before the reload keeps working")


async def reload_single(tmp, ca):
    a = gwutil.make_cert(tmp, ca, "a")
    b = gwutil.make_cert(tmp, ca, "b")
    live = (os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key"))
    replace_files(a, live)
    gw = start_tls_gateway(tmp, live, ca)
    try:
        await reload(gw, live, a, b, gw.proc)
        check(gw.metric('cairn_gateway_tls_reloads_total{result="ok"}') == 1, "reload counted")
        with open(live[0], "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 60
        while time.time() < deadline and gw.metric('cairn_gateway_tls_reloads_total{result="failed"}') < 1:
            time.sleep(0.1)
        check(gw.metric('cairn_gateway_tls_reloads_total{result="failed"}') == 1, "broken reload counted")
        check(gwutil.tls_peer_cert(gw.port, gw.cafile) == gwutil.cert_der(b[0]),
              "a broken reload keeps the old certificate")
        check("not reloaded, the old one stays" in gw.log(), "broken reload logged")
    finally:
        gw.stop()


async def reload_workers(tmp, ca):
    a = gwutil.make_cert(tmp, ca, "wa")
    b = gwutil.make_cert(tmp, ca, "wb")
    live = (os.path.join(tmp, "wlive.pem"), os.path.join(tmp, "wlive.key"))
    replace_files(a, live)
    wtmp = tempfile.mkdtemp(prefix="cairn-gwtlsw-", dir=tmp)
    gw = start_tls_gateway(wtmp, live, ca, ["--workers", "2"])
    try:
        check(gwutil.tls_peer_cert(gw.port, gw.cafile) == gwutil.cert_der(a[0]), "workers serve cert A")
        await reload(gw, live, a, b, gw.proc)
    finally:
        gw.stop()


def bad_flags(tmp, ca, cert):
    other = gwutil.make_cert(tmp, ca, "other")
    r = subprocess.run([BIN, "gateway", "--log", os.path.join(tmp, "bf"), "--tls-cert", cert[0]],
                       capture_output=True, timeout=60)
    check(r.returncode == 2 and b"--tls-key" in r.stderr, "cert without key: %d %r" % (r.returncode, r.stderr))
    r = subprocess.run([BIN, "gateway", "--log", os.path.join(tmp, "bf"), "--listen", "127.0.0.1:0",
                        "--tls-cert", cert[0], "--tls-key", other[1]], capture_output=True, timeout=60)
    check(r.returncode == 1 and b"private key" in r.stderr and r.stderr.count(b"\n") == 1,
          "mismatched key: %d %r" % (r.returncode, r.stderr))


def handshake_cap(tmp, ca, cert):
    """--max-tls-handshakes: past the cap a new handshake is shed at its first
    bytes (the client sees the connection end), and once the stalled ones
    are dropped at the deadline, clients get in again."""
    gtmp = os.path.join(tmp, "cap")
    os.mkdir(gtmp)
    gw = start_tls_gateway(gtmp, cert, ca, ["--max-tls-handshakes", "5"])
    try:
        hello = client_hello()
        stalled = []
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            s.sendall(hello[:10])
            stalled.append(s)
        time.sleep(0.5)  # the gateway has read them: five handshakes in progress
        try:
            gwutil.tls_peer_cert(gw.port, ca[0])
            check(False, "a sixth handshake got through --max-tls-handshakes 5")
        except (OSError, ssl.SSLError):
            pass
        check(all(wait_closed(s) for s in stalled), "stalled handshakes dropped at the deadline")
        for s in stalled:
            s.close()
        check(gwutil.tls_peer_cert(gw.port, ca[0]) == gwutil.cert_der(cert[0]), "served again after")
        check(gw.metric('cairn_gateway_tls_handshakes_total{result="shed"}') == 1, "the shed one counted")
        check(gw.metric('cairn_gateway_tls_handshakes_total{result="timeout"}') == 5, "the stalled ones counted")
    finally:
        gw.stop()


def sighup_without_tls(tmp):
    """SIGHUP to a plain gateway is logged and ignored, never its end."""
    gtmp = os.path.join(tmp, "plainhup")
    os.mkdir(gtmp)
    gw = Gateway([], tmp=gtmp).start()
    try:
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 60
        while "nothing to reload" not in gw.log() and time.time() < deadline:
            time.sleep(0.05)
        check("SIGHUP: no --tls-cert, nothing to reload" in gw.log(), "plain SIGHUP logged")
        check(gw.proc.poll() is None and gw.http_get("/healthz")[0] == 200, "plain gateway still serves")
    finally:
        gw.stop()


async def main():
    tmp = tempfile.mkdtemp(prefix="cairn-gwtls-")
    ca = gwutil.make_ca(tmp)
    cert = gwutil.make_cert(tmp, ca, "srv")
    one = os.path.join(tmp, "one")
    os.mkdir(one)
    gw = start_tls_gateway(one, cert, ca)
    try:
        await basics(gw, tmp)
        hostile_hellos(gw)
        await flood_and_slow_clients(gw)
    finally:
        gw.stop()
    ids = gwutil.log_dump_ping_ids(gw.data)
    check("t-1" in ids and "steady-after" in ids, "acked pings are in the log")
    await reload_single(tmp, ca)
    await reload_workers(tmp, ca)
    bad_flags(tmp, ca, cert)
    handshake_cap(tmp, ca, cert)
    sighup_without_tls(tmp)


asyncio.run(main())
if fails:
    print("%d checks failed" % len(fails))
    sys.exit(1)
print("gateway/tls: ok")
