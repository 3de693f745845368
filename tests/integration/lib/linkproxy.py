# SPDX-License-Identifier: MIT
"""
linkproxy — a fault-injecting TCP proxy for the replication links of a
loopback `cairn logd` cluster (the chaos tests' network).  Each node binds
its replication listener on a private port (--cluster-listen) and the proxy
listens on the node's --cluster entry, where its peers dial, forwarding to
the private port.  It reads the dialer's HELLO (28 bytes: `from` at byte 20)
to learn which pair of nodes a connection joins, then forwards both ways
unless that pair is cut:
  - cut(a, b, "pause"): both directions stop being read (the bytes queue in
    the kernel, then in the senders, as on a link that went silent); new
    connections of the pair are held the same way; heal() resumes them,
    delivering what was held late;
  - cut(a, b, "reset"): every connection of the pair is closed now and new
    ones are closed at once, until heal().
The proxy is the test's own: created by it, closed by it.  Threads: one
accept loop per node, two pumps per connection.
"""
import select
import socket
import struct
import threading
import time

HELLO_LEN = 28


class LinkProxy:
    def __init__(self, entries, targets):
        """entries: {id: port peers dial}; targets: {id: port the node binds}."""
        self.targets = dict(targets)
        self.lock = threading.Lock()
        self.cuts = {}  # frozenset({a, b}) -> "pause" | "reset"
        self.conns = set()  # (pair, downstream socket, upstream socket)
        self.closed = False
        self.stats = {"accepted": 0, "refused": 0, "reset": 0}
        self.listeners = []
        for node, port in entries.items():
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", port))
            ls.listen(16)
            self.listeners.append(ls)
            threading.Thread(target=self._accept_loop, args=(node, ls), daemon=True).start()

    # ---- faults ---------------------------------------------------------

    def cut(self, a, b, mode="pause"):
        pair = frozenset((a, b))
        with self.lock:
            self.cuts[pair] = mode
            doomed = [c for c in self.conns if c[0] == pair] if mode == "reset" else []
        for c in doomed:
            self._close(c)
            self.stats["reset"] += 1

    def isolate(self, node, ids, mode="pause"):
        for other in ids:
            if other != node:
                self.cut(node, other, mode)

    def heal(self):
        with self.lock:
            self.cuts.clear()

    def close(self):
        self.closed = True
        for ls in self.listeners:
            ls.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            self._close(c)

    # ---- plumbing -------------------------------------------------------

    def _mode(self, pair):
        with self.lock:
            return self.cuts.get(pair)

    def _close(self, c):
        with self.lock:
            self.conns.discard(c)
        for s in c[1:]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self, node, ls):
        while not self.closed:
            try:
                down, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(node, down), daemon=True).start()

    def _serve(self, node, down):
        down.settimeout(10)
        hello = b""
        try:
            while len(hello) < HELLO_LEN:
                chunk = down.recv(HELLO_LEN - len(hello))
                if not chunk:
                    break
                hello += chunk
        except OSError:
            pass
        if len(hello) < HELLO_LEN or self.closed:
            down.close()
            return
        (frm,) = struct.unpack_from(">i", hello, 20)
        pair = frozenset((frm, node))
        if self._mode(pair) == "reset":
            self.stats["refused"] += 1
            down.close()
            return
        try:
            up = socket.create_connection(("127.0.0.1", self.targets[node]), timeout=10)
        except OSError:
            down.close()
            return
        down.settimeout(None)
        up.settimeout(None)
        c = (pair, down, up)
        with self.lock:
            self.conns.add(c)
        self.stats["accepted"] += 1
        threading.Thread(target=self._pump, args=(c, down, up, hello), daemon=True).start()
        threading.Thread(target=self._pump, args=(c, up, down, b""), daemon=True).start()

    def _pump(self, c, src, dst, pending):
        pair = c[0]
        try:
            while not self.closed:
                if self._mode(pair) == "pause":
                    time.sleep(0.02)
                    continue
                if pending:
                    dst.sendall(pending)
                    pending = b""
                r, _, _ = select.select([src], [], [], 0.05)
                if r:
                    pending = src.recv(65536)
                    if not pending:
                        break
        except (OSError, ValueError):
            pass
        self._close(c)
