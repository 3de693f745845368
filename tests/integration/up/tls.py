# SPDX-License-Identifier: MIT
"""
up/tls — `cairn up --tls-cert --tls-key`: one TLS port for everything.
With a test CA made here (openssl CLI): a python3-websockets client over
wss:// gets its ping acknowledged; the dashboard (/), the API
(/api/leaderboard) and /metrics answer over https:// — the dashboard and
the API through the gateway's hand-over to the worker's HTTP server, which
keeps the connection's TLS session (gw_proxy); the start block prints
https:// and wss:// addresses; SIGHUP reloads the certificate (a new
connection presents the new one); SIGTERM drains and exits 0.
"""
import asyncio
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from uputil import Up  # noqa: E402

import websockets  # noqa: E402


async def main():
    tmp = tempfile.mkdtemp(prefix="cairn-uptls-")
    ca = gwutil.make_ca(tmp)
    a = gwutil.make_cert(tmp, ca, "a")
    b = gwutil.make_cert(tmp, ca, "b")
    live = (os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key"))
    for src, dst in zip(a, live):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    up = Up(tmp, os.path.join(tmp, "data"), ["--tls-cert", live[0], "--tls-key", live[1]]).start()
    try:
        out = up.stdout()
        assert "https://127.0.0.1:%d/" % up.port in out and "wss://127.0.0.1:%d/ws" % up.port in out, out
        ctx = __import__("ssl").create_default_context(cafile=ca[0])
        async with websockets.connect("wss://127.0.0.1:%d/ws?player=tls-1" % up.port, ssl=ctx) as ws:
            await ws.send(json.dumps({"id": "u-1", "beacon": "b-01", "rssi": -60, "ts": gwutil.now_ms()}))
            assert json.loads(await ws.recv()) == {"ack": ["u-1"]}
        st, body = gwutil.https_get(up.port, "/", ca[0])
        assert st == 200 and "<html" in body.lower(), (st, body[:200])
        st, body = gwutil.https_get(up.port, "/api/leaderboard", ca[0])
        assert st == 200 and isinstance(json.loads(body), (list, dict)), (st, body[:200])
        st, body = gwutil.https_get(up.port, "/metrics", ca[0])
        assert st == 200 and 'cairn_gateway_tls_handshakes_total{result="ok"}' in body, body[:200]
        for src, dst in zip(b, live):
            with open(src, "rb") as f, open(dst + ".new", "wb") as g:
                g.write(f.read())
            os.rename(dst + ".new", dst)
        up.proc.send_signal(signal.SIGHUP)
        want, deadline = gwutil.cert_der(b[0]), time.time() + 60
        while gwutil.tls_peer_cert(up.port, ca[0]) != want:
            assert time.time() < deadline, "cairn up did not present the new certificate after SIGHUP"
            time.sleep(0.1)
    finally:
        rc = up.stop()
    assert rc == 0, "cairn up exit %d: %s" % (rc, up.stderr())
    print("up/tls: ok")


asyncio.run(main())
