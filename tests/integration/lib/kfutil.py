# SPDX-License-Identifier: MIT
"""
kfutil — helpers for the Kafka integration tests (kafka/): start a real
`cairn logd` on a free loopback port in a scratch data directory, wait
until it listens, stop it by PID (SIGTERM, expecting the clean-drain exit
status 0, or SIGKILL for crash tests), and speak raw Kafka frames for the
hostile-input tests.  Not a test itself (tests/integration/lib/ holds
shared helpers; tests/CMakeLists.txt registers only the module folders).
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

BIN = os.environ.get("CAIRN_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build", "cairn")


class Logd:
    def __init__(self, data=None, args=(), log_name="logd.log", listen="127.0.0.1:0", env=None):
        self.listen = listen
        self.env = env or {}
        self.tmp = tempfile.mkdtemp(prefix="cairn-kf-")
        self.data = data or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.log_path = os.path.join(self.tmp, log_name)
        self.proc = None
        self.port = None

    def start(self, timeout=15):
        pf = os.path.join(self.tmp, "port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "logd", "--data", self.data, "--kafka-listen", self.listen,
             "--port-file", pf] + self.args,
            stdout=self.logf, stderr=subprocess.STDOUT,
            # Tests read the node's info lines (why a connection closed).
            env=dict(os.environ, CAIRN_LOG="info", **self.env))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("logd exited %d: %s" % (self.proc.returncode, self.log()))
            if os.path.exists(pf):
                with open(pf) as f:
                    self.port = int(f.read())
                return self
            time.sleep(0.05)
        raise RuntimeError("logd did not start: " + self.log())

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM and require the drain to end with exit status 0."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.logf.close()
        if rc != 0:
            raise AssertionError("logd exited %d after SIGTERM:\n%s" % (rc, self.log()))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.logf.close()


def free_ports(n):
    """n distinct free loopback TCP ports (bound, then released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ---- raw protocol, for hostile and exact-behaviour tests ---------------

def frame(api_key, version, corr, body=b"", client_id=b"raw", flexible_header=False):
    hdr = struct.pack(">hhi", api_key, version, corr)
    hdr += struct.pack(">h", len(client_id)) + client_id
    if flexible_header:
        hdr += b"\x00"
    payload = hdr + body
    return struct.pack(">i", len(payload)) + payload


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_frame(s):
    (n,) = struct.unpack(">i", recv_exact(s, 4))
    return recv_exact(s, n)


def closed_by_peer(s, timeout=5):
    """True if the server closed the connection (EOF or reset) in time."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
