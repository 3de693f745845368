#!/usr/bin/python3
# ws_peer.py — the python3-websockets side of tests/unit/test_ws_peer.c: a
# real, independent RFC 6455 implementation to check our codec against.
#   gen SEED N FRAMES EXPECT   write N random client messages as masked
#                              frames (fragmented, pings between fragments,
#                              a closing close frame) and what they carry
#   parse FILE                 parse server (unmasked) frames, print each
#   accept FILE                Sec-WebSocket-Accept for each key line
import sys, os, random, hashlib, base64
from websockets.frames import Frame, Opcode, Close
from websockets.streams import StreamReader
from websockets.utils import accept_key

def gen(seed, n, out_bin, out_exp):
    rnd = random.Random(seed)
    frames = b''
    exp = []
    for m in range(n):
        text = rnd.random() < 0.5
        if text:
            cps = [rnd.choice([rnd.randint(0x20, 0x7e), rnd.randint(0xa0, 0x7ff), rnd.randint(0x800, 0xd7ff),
                               rnd.randint(0xe000, 0xfffd), rnd.randint(0x10000, 0x10ffff)]) for _ in range(rnd.randint(0, 300))]
            data = ''.join(map(chr, cps)).encode('utf-8')
        else:
            data = os.urandom(rnd.choice([0, 1, 125, 126, 127, 65535, 65536, rnd.randint(0, 5000)]))
        nfrag = rnd.randint(1, 4)
        cuts = sorted(rnd.randint(0, len(data)) for _ in range(nfrag - 1))
        parts, prev = [], 0
        for c in cuts + [len(data)]:
            parts.append(data[prev:c]); prev = c
        for i, p in enumerate(parts):
            op = (Opcode.TEXT if text else Opcode.BINARY) if i == 0 else Opcode.CONT
            frames += Frame(op, p, fin=(i == len(parts) - 1)).serialize(mask=True)
            if i == len(parts) - 1:
                exp.append('%s %d %s' % ('text' if text else 'binary', len(data), hashlib.sha256(data).hexdigest()))
            if rnd.random() < 0.3:
                pl = os.urandom(rnd.randint(0, 125))
                frames += Frame(Opcode.PING, pl).serialize(mask=True)
                exp.append('ping %d %s' % (len(pl), hashlib.sha256(pl).hexdigest()))
    code = rnd.choice([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999])
    reason = ''.join(chr(rnd.randint(0x20, 0x7e)) for _ in range(rnd.randint(0, 40))) + '\u00e9\u20ac'
    frames += Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=True)
    rb = reason.encode('utf-8')
    exp.append('close %d %d %s' % (code, len(rb), hashlib.sha256(rb).hexdigest()))
    open(out_bin, 'wb').write(frames)
    open(out_exp, 'w').write('\n'.join(exp) + '\n')

def parse(path):
    data = open(path, 'rb').read()
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out = []
    while reader.buffer:
        g = Frame.parse(reader.read_exact, mask=False, max_size=1 << 20)
        try:
            next(g)
            raise SystemExit('truncated frame at the end of the stream')
        except StopIteration as e:
            f = e.value
        if f.opcode == Opcode.CLOSE:
            c = Close.parse(f.data)
            out.append('close %d %s' % (c.code, c.reason))
        else:
            out.append('%s %d %d %s' % (f.opcode.name.lower(), int(f.fin), len(f.data), hashlib.sha256(f.data).hexdigest()))
    print('\n'.join(out))

def accept(path):
    for line in open(path):
        print(accept_key(line.strip()))

if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif sys.argv[1] == 'parse':
        parse(sys.argv[2])
    else:
        accept(sys.argv[2])
