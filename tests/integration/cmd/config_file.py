#!/usr/bin/env python3
"""cmd/config_file.py — `--config FILE` and `cairn config check` through the real binary.

For every command (up, logd, gateway, hunt, sim, log, token keygen|issue|check):
a file that sets every flag the command's --help lists passes `cairn config check`;
an unknown key in its section is refused with exit 2 naming the file's line, both by
`cairn config check` and by the command itself. Then for real: `cairn logd` started
with nothing but --config (and one flag on the command line) serves with the file's
settings, the command line winning (the topics get the command line's partition
count, not the file's), and writes JSON log lines with its pid and node because the
file says log-format = "json".
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.environ["CAIRN_BIN"]
COMMANDS = [("up",), ("logd",), ("gateway",), ("hunt",), ("sim",), ("log",),
            ("token", "keygen"), ("token", "issue"), ("token", "check")]
FLAG = re.compile(r"^  --([a-z0-9][a-z0-9-]*)(?: (\S+))?\s+(.*)$")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)


def flags_of(cmd):
    out = subprocess.run([BIN, *cmd, "--help"], capture_output=True, text=True, check=True).stdout
    got = []
    for ln in out.splitlines():
        m = FLAG.match(ln)
        if m and m.group(1) not in ("help", "config"):
            got.append((m.group(1), m.group(2)))
    return got


def value_for(metavar):
    if metavar is None:
        return "true"
    if metavar == "N":
        return "1"
    return json.dumps({"DURATION": "1s", "SIZE": "1MiB", "HOST:PORT": "127.0.0.1:0"}.get(metavar, "/tmp/x"))


def run(args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, **kw)


with tempfile.TemporaryDirectory(prefix="cairn-config-") as tmp:
    # 1. every flag of every command, in one file
    path = os.path.join(tmp, "all.toml")
    lines = ["# every flag of every command, generated from --help"]
    for cmd in COMMANDS:
        fl = flags_of(cmd)
        check(len(fl) >= 1, f"{' '.join(cmd)} --help lists flags")
        lines.append(f"[{'.'.join(cmd)}]")
        lines += [f"{name} = {value_for(mv) if name != 'log-format' else json.dumps('json')}"
                  for name, mv in fl]
    open(path, "w").write("\n".join(lines) + "\n")
    r = run(["config", "check", path])
    check(r.returncode == 0, f"config check of a file setting every flag: {r.returncode} {r.stderr}")
    for cmd in COMMANDS:
        check(f"[{'.'.join(cmd)}] ok for cairn {' '.join(cmd)}" in r.stdout,
              f"config check reports [{'.'.join(cmd)}] ok: {r.stdout}")

    # 2. an unknown key, refused with its line by the check and by the command
    for cmd in COMMANDS:
        bad = os.path.join(tmp, "bad.toml")
        open(bad, "w").write(f"# line 1\n[{'.'.join(cmd)}]\nno-such-flag = 1\n")
        r = run(["config", "check", bad])
        check(r.returncode == 2 and f"{bad}:3: unknown key 'no-such-flag'" in r.stderr,
              f"config check refuses an unknown key of {cmd}: {r.returncode} {r.stderr}")
        r = run([*cmd, "--config", bad])
        check(r.returncode == 2 and f"{bad}:3: unknown key 'no-such-flag'" in r.stderr
              and len(r.stderr.strip().splitlines()) == 1,
              f"cairn {' '.join(cmd)} --config refuses an unknown key: {r.returncode} {r.stderr}")
    r = run(["config", "check", os.path.join(tmp, "missing.toml")])
    check(r.returncode == 2 and "no such file" in r.stderr, f"config check of a missing file: {r.stderr}")
    bad = os.path.join(tmp, "section.toml")
    open(bad, "w").write("[upp]\ndata = \"x\"\n")
    r = run(["config", "check", bad])
    check(r.returncode == 2 and "unknown section [upp]" in r.stderr and ":2:" in r.stderr,
          f"config check refuses an unknown section: {r.stderr}")
    r = run(["up", "--config", bad])
    check(r.returncode == 2 and "no [up] section" in r.stderr, f"up with no [up] section: {r.stderr}")

    # 3. logd configured by the file, one flag overridden on the command line
    data, port_file = os.path.join(tmp, "d"), os.path.join(tmp, "port")
    cfg = os.path.join(tmp, "logd.toml")
    open(cfg, "w").write(f"""[logd]
data = "{data}"
kafka-listen = "127.0.0.1:0"
port-file = "{port_file}"
partitions = 3
node-id = 7
log-format = "json"
""")
    p = subprocess.Popen([BIN, "logd", "--config", cfg, "--partitions", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            if os.path.exists(port_file) or p.poll() is not None:
                break
            time.sleep(0.1)
        check(os.path.exists(port_file), "logd wrote the --port-file named in the config file")
    finally:
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=60)[1]
    check(p.returncode == 0, f"logd exit {p.returncode} after SIGTERM: {err}")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    check(len(lines) >= 2, f"logd logged: {err}")
    for ln in lines:
        try:
            o = json.loads(ln)
        except ValueError:
            check(False, f"log line is not JSON: {ln}")
            continue
        check(o.get("pid") == p.pid and o.get("node") == "7" and o.get("level") and o.get("msg"),
              f"JSON log line carries pid {p.pid}, node 7, level, msg: {ln}")
    r = run(["log", "topics", "--data", data])
    check(r.returncode == 0 and "ble-raw\t2" in r.stdout,
          f"the command line's --partitions 2 won over the file's 3: {r.stdout} {r.stderr}")

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print("ok")
