# SPDX-License-Identifier: MIT
"""
gateway/nginx — the nginx set-up docs/operations.md shows ("Behind a proxy"),
run for real: nginx (Debian's nginx-light) terminates TLS with a certificate
of a test CA made here and proxies the WebSocket upgrade to a plain
`cairn gateway --trusted-proxies 127.0.0.1`, naming the phone in
X-Forwarded-For.  Phones are python3-websockets clients over wss:// from
127.0.0.5 and 127.0.0.6 (nginx itself talks to the gateway from 127.0.0.1):
a ping is acknowledged through nginx; with --max-conns-per-ip 1 a second
phone from 127.0.0.5 gets 429 through nginx while 127.0.0.6 gets in (the
gateway counts phones, not nginx); the gateway's debug log names
127.0.0.5 and never 127.0.0.1; a phone that claims another address in its
own X-Forwarded-For is still counted as itself.  The configuration is the
one in the docs: this test reads it from docs/operations.md and fills in
the ports and paths.
"""
import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

SRC = os.environ.get("CAIRN_SRC") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "..")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def docs_config():
    """The nginx configuration block of docs/operations.md."""
    text = open(os.path.join(SRC, "docs", "operations.md")).read()
    m = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert m, "docs/operations.md has no nginx block"
    return m.group(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Nginx:
    def __init__(self, tmp, gw_port, crt, key):
        self.port = free_port()
        self.tmp = tmp
        cfg = docs_config()
        for a, b in (("PORT", str(self.port)), ("GATEWAY", "127.0.0.1:%d" % gw_port),
                     ("CERT", crt), ("KEY", key)):
            cfg = cfg.replace(a, b)
        # What a test needs beyond the docs' http block: its own pid file and
        # error log, in the foreground, as root's workers.
        main = ("daemon off;\nuser root;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/error.log;\nevents { worker_connections 1024; }\n"
                "http {\naccess_log off;\n%s}\n" % (tmp, tmp, cfg))
        self.path = os.path.join(tmp, "nginx.conf")
        with open(self.path, "w") as f:
            f.write(main)
        self.log = open(os.path.join(tmp, "nginx.out"), "w")
        self.proc = subprocess.Popen(["nginx", "-p", tmp, "-c", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("nginx exited %d: %s %s" % (
                    self.proc.returncode, open(self.log.name).read(), self.errors()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("nginx did not listen")

    def errors(self):
        p = os.path.join(self.tmp, "error.log")
        return open(p).read() if os.path.exists(p) else ""

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


async def ping(ws, pid):
    await ws.send(json.dumps({"id": pid, "beacon": "b-01", "rssi": -60, "ts": now_ms()}))
    return json.loads(await ws.recv()) == {"ack": [pid]}


async def main():
    tmp = tempfile.mkdtemp(prefix="cairn-nginx-")
    ca = gwutil.make_ca(tmp, "ca")
    crt, key = gwutil.make_cert(tmp, ca, "nginx")
    gtmp = os.path.join(tmp, "gw")
    os.mkdir(gtmp)
    gw = Gateway(["--trusted-proxies", "127.0.0.1", "--max-conns-per-ip", "1",
                  "--idle-timeout", "60s"], tmp=gtmp)
    os.environ["CAIRN_LOG"] = "debug"
    gw.start()
    os.environ.pop("CAIRN_LOG")
    ng = None
    try:
        ng = Nginx(tmp, gw.port, crt, key)
        ctx = ssl.create_default_context(cafile=ca[0])
        url = "wss://localhost:%d/ws?player=" % ng.port
        async with websockets.connect(url + "phone-a", ssl=ctx, local_addr=("127.0.0.5", 0)) as a:
            check(await ping(a, "n-1"), "a ping acked through nginx")
            try:
                async with websockets.connect(url + "phone-a2", ssl=ctx,
                                              local_addr=("127.0.0.5", 0)):
                    check(False, "a second phone from 127.0.0.5 got in past --max-conns-per-ip 1")
            except websockets.exceptions.InvalidStatusCode as e:
                check(e.status_code == 429, "second phone from 127.0.0.5: %d" % e.status_code)
            # A phone's own X-Forwarded-For is written before nginx's entry: not believed.
            try:
                async with websockets.connect(url + "phone-a3", ssl=ctx,
                                              local_addr=("127.0.0.5", 0),
                                              extra_headers={"X-Forwarded-For": "127.0.0.9"}):
                    check(False, "a phone claiming another address escaped its per-IP count")
            except websockets.exceptions.InvalidStatusCode as e:
                check(e.status_code == 429, "spoofed X-Forwarded-For: %d" % e.status_code)
            async with websockets.connect(url + "phone-b", ssl=ctx,
                                          local_addr=("127.0.0.6", 0)) as b:
                check(await ping(b, "n-2"), "a phone from 127.0.0.6 acked too")
        time.sleep(0.3)
        log = gw.log()
        check("client 127.0.0.5 (x-forwarded-for)" in log, "the gateway's log names the phone")
        check("client 127.0.0.1 " not in log, "nginx's own address is never taken for a phone")
        check("client 127.0.0.9" not in log, "a phone's own X-Forwarded-For entry was believed")
    finally:
        if ng:
            errs = ng.errors()
            ng.stop()
            if fails:
                print("nginx error log:", errs[-2000:])
        gw.stop()


asyncio.run(main())
if fails:
    print("%d checks failed" % len(fails))
    sys.exit(1)
print("gateway/nginx: ok")
