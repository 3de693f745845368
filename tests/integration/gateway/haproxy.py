# SPDX-License-Identifier: MIT
"""
gateway/haproxy — the two HAProxy set-ups docs/operations.md shows ("Behind
a proxy"), run for real: HAProxy (Debian's haproxy) terminates TLS with a
certificate of a test CA made here and passes connections to a plain
`cairn gateway`:
  - TCP mode with `send-proxy-v2`, gateway `--trusted-proxies 127.0.0.1
    --proxy-protocol`;
  - HTTP mode with `option forwardfor` (X-Forwarded-For), gateway
    `--trusted-proxies 127.0.0.1`.
Phones are python3-websockets clients over wss:// from 127.0.0.5 and
127.0.0.6 (HAProxy itself talks to the gateway from 127.0.0.1).  Each
set-up: a ping is acknowledged through HAProxy; with --max-conns-per-ip 1 a
second phone from 127.0.0.5 gets 429 through HAProxy while 127.0.0.6 gets
in (the gateway counts phones, not HAProxy); the gateway's debug log
names 127.0.0.5; the configuration is the one in the docs (this test
writes it from the same text, with the ports and paths filled in).
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
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

# The configurations of docs/operations.md, with PORT, GATEWAY and PEM filled in.
TCP_CFG = """
global
    maxconn 9000

defaults
    mode tcp
    timeout connect 5s
    timeout client  1h
    timeout server  1h

frontend phones
    bind 127.0.0.1:PORT ssl crt PEM
    default_backend cairn

backend cairn
    server gw1 GATEWAY send-proxy-v2
"""

HTTP_CFG = """
global
    maxconn 9000

defaults
    mode http
    timeout connect 5s
    timeout client  1h
    timeout server  1h
    timeout tunnel  1h

frontend phones
    bind 127.0.0.1:PORT ssl crt PEM
    option forwardfor
    default_backend cairn

backend cairn
    server gw1 GATEWAY
"""

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class HAProxy:
    def __init__(self, tmp, name, cfg, gw_port, pem):
        self.port = free_port()
        self.path = os.path.join(tmp, name + ".cfg")
        with open(self.path, "w") as f:
            f.write(cfg.replace("PORT", str(self.port)).replace("GATEWAY", "127.0.0.1:%d" % gw_port)
                    .replace("PEM", pem))
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("haproxy exited %d: %s" % (self.proc.returncode, open(self.log.name).read()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        self.proc.wait(timeout=30)
        raise SystemExit("haproxy did not listen")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


async def phones(tmp, name, cfg, gw_args, how):
    ca = gwutil.make_ca(tmp, name + "-ca")
    crt, key = gwutil.make_cert(tmp, ca, name)
    pem = os.path.join(tmp, name + "-haproxy.pem")  # HAProxy wants the chain and key in one file
    with open(pem, "w") as out:
        out.write(open(crt).read() + open(key).read())
    gtmp = os.path.join(tmp, name)
    os.mkdir(gtmp)
    gw = Gateway(gw_args + ["--max-conns-per-ip", "1", "--idle-close", "60s"], tmp=gtmp)
    os.environ["CAIRN_LOG"] = "debug"
    gw.start()
    os.environ.pop("CAIRN_LOG")
    hp = None
    try:
        hp = HAProxy(tmp, name, cfg, gw.port, pem)
        ctx = ssl.create_default_context(cafile=ca[0])
        url = "wss://localhost:%d/ws?player=" % hp.port
        async with websockets.connect(url + "phone-a", ssl=ctx, local_addr=("127.0.0.5", 0)) as a:
            await a.send(json.dumps({"id": name + "-1", "beacon": "b-01", "rssi": -60, "ts": now_ms()}))
            check(json.loads(await a.recv()) == {"ack": [name + "-1"]}, name + ": ping acked through HAProxy")
            try:
                async with websockets.connect(url + "phone-a2", ssl=ctx, local_addr=("127.0.0.5", 0)):
                    check(False, name + ": a second phone from 127.0.0.5 got in past --max-conns-per-ip 1")
            except websockets.exceptions.InvalidStatusCode as e:
                check(e.status_code == 429, name + ": second phone from 127.0.0.5: %d" % e.status_code)
            async with websockets.connect(url + "phone-b", ssl=ctx, local_addr=("127.0.0.6", 0)) as b:
                await b.send(json.dumps({"id": name + "-2", "beacon": "b-01", "rssi": -60, "ts": now_ms()}))
                check(json.loads(await b.recv()) == {"ack": [name + "-2"]}, name + ": a phone from 127.0.0.6 too")
        time.sleep(0.3)
        log = gw.log()
        check("client 127.0.0.5 (%s)" % how in log, name + ": the gateway's log names the phone's address")
        check("client 127.0.0.1 " not in log, name + ": HAProxy's own address is never taken for a phone")
    finally:
        if hp:
            hp.stop()
        gw.stop()


async def main():
    tmp = tempfile.mkdtemp(prefix="cairn-haproxy-")
    await phones(tmp, "tcp", TCP_CFG, ["--trusted-proxies", "127.0.0.1", "--proxy-protocol"], "proxy protocol")
    await phones(tmp, "http", HTTP_CFG, ["--trusted-proxies", "127.0.0.1"], "x-forwarded-for")


asyncio.run(main())
if fails:
    print("%d checks failed" % len(fails))
    sys.exit(1)
print("gateway/haproxy: ok")
