#!/usr/bin/env python3
"""up/metrics.py — every metric a running venue exports is documented, and named by the rules.

Starts `cairn up`, `cairn gateway --log` and a standalone `cairn logd --http`, sends a few pings (python websockets) so labelled
families have samples, scrapes /metrics and checks, per family: it has # TYPE and # HELP lines;
counters end in _total and nothing else does; histograms are _seconds or _bytes; it has a row
in the "Every metric" table of docs/operations.md with the same type; and no family in that
table is missing from every process. Also checks the text parses as Prometheus exposition
(name{labels} value per sample line).
"""
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

BIN = os.environ["CAIRN_BIN"]
SRC = os.environ["CAIRN_SRC"]
fails = []
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$')


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)


def documented():
    text = open(os.path.join(SRC, "docs", "operations.md")).read()
    sec = text[text.index("### Every metric"):]
    rows = {}
    for m in re.finditer(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", sec, re.M):
        rows[m.group(1)] = m.group(2)
    return rows


def start(args, port_file):
    p = subprocess.Popen([BIN, *args, "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(300):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return p, int(open(port_file).read())
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.kill()
    raise SystemExit(f"{args[0]} did not start: {p.stderr.read()}")


async def pings(port, n=5):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?player=metrics-1") as ws:
        for i in range(n):
            now = int(time.time() * 1000)
            await ws.send('{"id":"m-%d","beacon":"b-fountain","rssi":-60,"ts":%d}' % (i, now))
        for _ in range(n):
            await asyncio.wait_for(ws.recv(), 30)


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    fam = {}
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            _, _, name, typ = ln.split(" ", 3)
            fam.setdefault(name, {})["type"] = typ
        elif ln.startswith("# HELP "):
            name = ln.split(" ", 3)[2]
            fam.setdefault(name, {})["help"] = ln.split(" ", 3)[3] if len(ln.split(" ", 3)) > 3 else ""
        elif ln and not ln.startswith("#"):
            check(SAMPLE.match(ln) is not None, f"sample line does not parse: {ln!r}")
    return fam


docs = documented()
check(len(docs) > 30, f"the docs table lists {len(docs)} metrics")
seen = set()
with tempfile.TemporaryDirectory(prefix="cairn-metrics-") as tmp:
    runs = [("up", ["up", "--data", f"{tmp}/up", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"]),
            ("gateway", ["gateway", "--log", f"{tmp}/gw", "--listen", "127.0.0.1:0"])]
    import socket
    hs = socket.socket()
    hs.bind(("127.0.0.1", 0))
    hport = hs.getsockname()[1]
    hs.close()
    runs.append(("logd", ["logd", "--data", f"{tmp}/ld", "--kafka-listen", "127.0.0.1:0",
                          "--http", f"127.0.0.1:{hport}"]))
    for name, args in runs:
        p, port = start(args, f"{tmp}/{name}.port")
        try:
            if name == "logd":
                port = hport
                for _ in range(100):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                        break
                    except OSError:
                        time.sleep(0.1)
            else:
                asyncio.run(pings(port))
            fam = scrape(port)
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=120)
        check(len(fam) >= (2 if name == "logd" else 10), f"{name} exports {len(fam)} families")
        for f, info in fam.items():
            seen.add(f)
            typ = info.get("type")
            check(typ in ("counter", "gauge", "histogram", "summary"), f"{name}: {f} has no # TYPE")
            check(bool(info.get("help")), f"{name}: {f} has no # HELP")
            if typ == "counter":
                check(f.endswith("_total"), f"{name}: counter {f} does not end in _total")
            else:
                check(not f.endswith("_total"), f"{name}: {typ} {f} ends in _total")
            if typ == "histogram":
                check(f.endswith("_seconds") or f.endswith("_bytes"), f"{name}: histogram {f} has no unit")
            check(f in docs, f"{name}: {f} is not in docs/operations.md's metric table")
            check(f not in docs or docs[f] == typ, f"{name}: {f} is a {typ}, the docs say {docs.get(f)}")
for f in docs:
    check(f in seen or f.startswith("cairn_repl_"),
          f"docs list {f}, which no process exported")

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print(f"ok: {len(seen)} families checked")
