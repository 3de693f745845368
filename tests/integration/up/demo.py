#!/usr/bin/env python3
"""up/demo.py — scripts/demo, the newcomer's first five minutes, with a small venue.

Not on a terminal (as in CI) it runs the simulation, prints the leaderboard and stops the
venue at once: exit 0, cairn up drained. With --keep (what a terminal gets by default) it
says the venue keeps running, and it does: the dashboard answers and the gentle simulation
keeps sending pings (the gateway's ping counter grows) until the demo gets SIGINT (Ctrl-C),
after which it stops the simulation and the venue and exits 0.
"""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

SRC = os.environ["CAIRN_SRC"]
env = dict(os.environ, PLAYERS="20", DURATION="3s")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)


def pings(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith("cairn_gateway_pings_total"))


# Not a terminal: stops by itself.
r = subprocess.run(["bash", f"{SRC}/scripts/demo"], env=env, capture_output=True, text=True,
                   timeout=600, stdin=subprocess.DEVNULL)
check(r.returncode == 0, f"demo without a terminal exited {r.returncode}: {r.stdout[-800:]} {r.stderr[-800:]}")
check("drained and exited 0" in r.stdout, "demo without a terminal stopped the venue")
check("press Ctrl-C" not in r.stdout, "demo without a terminal did not wait")

# --keep: the venue stays up with a live simulation until SIGINT.
p = subprocess.Popen(["bash", f"{SRC}/scripts/demo", "--keep"], env=env, text=True,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
out, port = [], None
try:
    t0 = time.monotonic()
    for line in p.stdout:
        out.append(line)
        m = re.match(r"dashboard: http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = m.group(1)
        if "press Ctrl-C" in line or time.monotonic() - t0 > 300:
            break
    check(port is not None and "press Ctrl-C" in "".join(out), f"demo --keep says it keeps running: {''.join(out)[-800:]}")
    if port:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        check(page.status == 200, "the dashboard answers while the demo keeps running")
        n0 = pings(port)
        grew = False
        for _ in range(60):
            time.sleep(0.5)
            if pings(port) > n0:
                grew = True
                break
        check(grew, "the gentle simulation keeps sending pings")
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=120)
    out.append(rest)
except Exception:
    p.kill()
    raise
check(p.returncode == 0, f"demo --keep exited {p.returncode} after SIGINT: {''.join(out)[-800:]} {err[-800:]}")
check("drained and exited 0" in "".join(out), "demo --keep stopped the venue after SIGINT")

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print("ok")
