# SPDX-License-Identifier: MIT
"""
gwutil — helpers for the gateway integration tests (gateway/): start a real
`cairn gateway` on a free loopback port (scratch data directory, port
file), stop it by PID (SIGTERM expecting exit 0, or SIGKILL), a raw
RFC 6455 client over a plain socket for hostile-input tests (masked or
unmasked frames, any bits), and hand-written protobuf for cairn.v1
PingBatch / Ack (so the tests do not depend on generated code).
Not a test itself (tests/integration/lib/ holds
shared helpers; tests/CMakeLists.txt registers only the module folders).
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import base64

BIN = os.environ.get("CAIRN_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build", "cairn")


def now_ms():
    return int(time.time() * 1000)


class Gateway:
    def __init__(self, args=(), data=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="cairn-gw-")
        self.data = data or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.log_path = os.path.join(self.tmp, "gateway.log")
        self.proc = None
        self.port = None
        self.cafile = None  # set for a --tls-cert gateway: HTTP helpers use TLS

    def start(self, timeout=20, backend=None):
        pf = os.path.join(self.tmp, "gw-port")
        for f in os.listdir(self.tmp):
            if f.startswith("gw-port"):
                os.unlink(os.path.join(self.tmp, f))
        self.logf = open(self.log_path, "ab")
        backend = backend if backend is not None else ["--log", self.data]
        self.proc = subprocess.Popen(
            [BIN, "gateway", "--listen", "127.0.0.1:0", "--port-file", pf] + backend + self.args,
            stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited %d: %s" % (self.proc.returncode, self.log()))
            if os.path.exists(pf):
                with open(pf) as f:
                    self.port = int(f.read())
                return self
            time.sleep(0.05)
        raise RuntimeError("gateway did not start: " + self.log())

    def url(self, query="player=p1"):
        scheme = "wss" if self.cafile else "ws"
        return "%s://127.0.0.1:%d/ws?%s" % (scheme, self.port, query)

    def ssl_context(self):
        """For websockets.connect(ssl=...): trusts the test CA (cafile)."""
        import ssl
        return ssl.create_default_context(cafile=self.cafile)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.logf.close()
        if rc != 0:
            raise AssertionError("gateway exited %d after SIGTERM:\n%s" % (rc, self.log()))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.logf.close()

    def http_get(self, path):
        if self.cafile:
            return https_get(self.port, path, self.cafile)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        data = recv_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        return status, body.decode(errors="replace")

    def metric(self, name_with_labels):
        st, body = self.http_get("/metrics")
        assert st == 200, st
        for line in body.splitlines():
            if line.startswith(name_with_labels + " "):
                return float(line.split()[-1])
        raise KeyError(name_with_labels)


def recv_all(s, timeout=10):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        out += d
    return out


def log_dump_ping_ids(data_dir, topic="ble-raw"):
    """Client ping ids found in the log, via `cairn log dump --format json`."""
    out = subprocess.run([BIN, "log", "dump", topic, "--data", data_dir, "--format", "json"],
                         check=True, capture_output=True, timeout=120).stdout.decode()
    ids = []
    for line in out.splitlines():
        rec = json.loads(line)
        ids.append(rec["value"]["data"]["id"])
    return ids


# ---- raw WebSocket client ------------------------------------------------

def handshake_bytes(port, query="player=p1", extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET /ws?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
            % (query, port, key, extra)).encode()


class RawWS:
    """A WebSocket client that sends exactly the bytes a test asks for."""

    def __init__(self, port, query="player=p1"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(handshake_bytes(port, query))
        head = b""
        while b"\r\n\r\n" not in head:
            d = self.s.recv(1)
            if not d:
                raise RuntimeError("closed during handshake: %r" % head)
            head += d
        self.status = int(head.split(b" ")[1])
        self.buf = b""

    def send_frame(self, opcode, payload, fin=True, mask=True, rsv=0, length=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            hdr += key
        self.s.sendall(hdr + payload)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d

    def recv_frame(self):
        """(opcode, payload) of the next server frame (servers do not mask)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not (b1 & 0x80), "server frames must not be masked"
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n)
        p = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, p

    def expect_close(self):
        """Read frames until a close; return (code, reason); then expect EOF."""
        while True:
            op, p = self.recv_frame()
            if op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
                return code, p[2:].decode()

    def close(self):
        self.s.close()


# ---- protobuf (cairn.v1) by hand -------------------------------------------

def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _ld(field, data):
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def pb_ping(pid, beacon, rssi, ts):
    zz = (rssi << 1) ^ (rssi >> 31)
    return (_ld(1, pid.encode()) + _ld(2, beacon.encode()) + _varint(3 << 3) + _varint(zz & 0xFFFFFFFF)
            + _varint(4 << 3) + _varint(ts))


def pb_ping_batch(pings):
    return b"".join(_ld(1, pb_ping(*p)) for p in pings)


def _read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def pb_fields(b):
    i = 0
    out = []
    while i < len(b):
        key, i = _read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 2:
            n, i = _read_varint(b, i)
            out.append((f, b[i:i + n]))
            i += n
        elif wt == 0:
            v, i = _read_varint(b, i)
            out.append((f, v))
        else:
            raise ValueError("wire type %d" % wt)
    return out


def pb_ack(b):
    """cairn.v1.Ack → (ids, [(id, code, detail)])"""
    ids, errs = [], []
    for f, v in pb_fields(b):
        if f == 1:
            ids.append(v.decode())
        elif f == 2:
            e = {ff: vv.decode() for ff, vv in pb_fields(v)}
            errs.append((e.get(1, ""), e.get(2, ""), e.get(3, "")))
    return ids, errs


# ---- TLS: a test CA and certificates made with the openssl CLI ------------

def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def make_ca(dirpath, name="ca"):
    """A self-signed P-256 CA: (cert path, key path)."""
    crt, key = os.path.join(dirpath, name + ".pem"), os.path.join(dirpath, name + ".key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=cairn test CA " + name)
    return crt, key


def make_cert(dirpath, ca, name, cn="localhost"):
    """A server certificate for localhost and 127.0.0.1 signed by ca
    (make_ca's pair): (cert path, key path).  Each call has its own serial
    and key, so two of them can be told apart by their DER bytes."""
    crt, key = os.path.join(dirpath, name + ".pem"), os.path.join(dirpath, name + ".key")
    csr, ext = os.path.join(dirpath, name + ".csr"), os.path.join(dirpath, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
             "-out", csr, "-subj", "/CN=" + cn)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


def cert_der(pem_path):
    """DER bytes of the first certificate in a PEM file."""
    import ssl
    with open(pem_path) as f:
        pem = f.read()
    end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(pem[:end])


def tls_peer_cert(port, cafile, timeout=10):
    """Connect with TLS (verifying against cafile) and return the DER of the
    certificate the server presented."""
    import ssl
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def https_get(port, path, cafile, timeout=10):
    """GET over TLS: (status, body)."""
    import ssl
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode())
            data = b""
            while True:
                try:
                    d = s.recv(65536)
                except (ssl.SSLError, ConnectionResetError, socket.timeout):
                    break
                if not d:
                    break
                data += d
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode(errors="replace")
