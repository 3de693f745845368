#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# gen_kafka.py — generate cairn's Kafka wire codec from the authoritative
# message definitions (../shared/kafka-protocol/messages/ *.json, JSON with
# // comments) and error table (../shared/kafka-protocol/error-codes.tsv).
#
# Emits, into log/kafka/:
#   kf_msgs.h   one C struct per request/response (the union of the fields
#               of every version in the range cairn advertises), prototypes,
#               and the table of APIs with their version ranges;
#   kf_msgs.c   decoders and encoders for requests and responses, for every
#               version in those ranges, flexible versions included (compact
#               strings/arrays/bytes, unsigned varints, tagged fields);
#   kf_errors.h the Kafka protocol error codes (int16 on the wire).
#
# The generated files are committed so the build never needs ../shared.
# `gen_kafka.py --check` regenerates into memory and fails if the committed
# files differ (ctest runs it when ../shared exists).
#
# Usage: scripts/gen_kafka.py [--spec DIR] [--out DIR] [--check]

import argparse
import json
import os
import sys

# The APIs cairn serves and the version ranges it advertises.  Why these
# ranges (see docs/kafka.md, "Why these ranges"):
#  - librdkafka 2.0.2 opens with ApiVersions v3 (flexible); it enables its
#    high-level consumer only if the group APIs include v0, OffsetFetch
#    includes v1 and OffsetCommit overlaps 1-2; RecordBatch v2 needs
#    Produce >= 3 and Fetch >= 4.
#  - kafka-python 2.0.2 infers the broker version from the ranges: Fetch 11
#    makes it 2.3, so it uses Produce v7, Fetch v4, Metadata v1 ... with
#    RecordBatch v2.  Produce is kept below 8 and ListOffsets below... 5 is
#    fine (it only tests OffsetRequest[5] for 2.2, below 2.3).
#  - kafkajs 2.2.4 ignores minimum versions and has no flexible versions.
#  - Produce starts at 3: older versions carry message sets v0/v1, which
#    the log (RecordBatch v2 only) cannot store.
API_RANGES = [
    # name, min, max
    ("Produce", 3, 7),
    ("Fetch", 4, 11),
    ("ListOffsets", 0, 5),
    ("Metadata", 0, 9),
    ("OffsetCommit", 0, 7),
    ("OffsetFetch", 0, 7),
    ("FindCoordinator", 0, 3),
    ("JoinGroup", 0, 5),
    ("Heartbeat", 0, 3),
    ("LeaveGroup", 0, 3),
    ("SyncGroup", 0, 3),
    ("DescribeGroups", 0, 4),
    ("ListGroups", 0, 4),
    ("ApiVersions", 0, 3),
    ("CreateTopics", 0, 4),
    ("DeleteTopics", 0, 3),
    ("InitProducerId", 0, 4),
    ("DescribeConfigs", 0, 3),
]

PRIM = {
    "bool": ("bool", 1, "kf_rd_bool", "kf_wr_bool"),
    "int8": ("int8_t", 1, "kf_rd_i8", "kf_wr_i8"),
    "int16": ("int16_t", 2, "kf_rd_i16", "kf_wr_i16"),
    "uint16": ("uint16_t", 2, "kf_rd_u16", "kf_wr_u16"),
    "int32": ("int32_t", 4, "kf_rd_i32", "kf_wr_i32"),
    "uint32": ("uint32_t", 4, "kf_rd_u32", "kf_wr_u32"),
    "int64": ("int64_t", 8, "kf_rd_i64", "kf_wr_i64"),
    "float64": ("double", 8, "kf_rd_f64", "kf_wr_f64"),
}
VARLEN = {"string": "kf_str", "bytes": "kf_bytes", "records": "kf_bytes", "uuid": "kf_uuid"}


def strip_comments(text):
    """Remove // comments outside JSON strings."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def load(spec, name):
    with open(os.path.join(spec, "messages", name + ".json"), encoding="utf-8") as f:
        return json.loads(strip_comments(f.read()))


class VRange:
    """A version range: lo..hi inclusive (hi None = open), or empty."""

    def __init__(self, s):
        s = (s or "none").strip()
        if s == "none":
            self.lo, self.hi = None, None
        elif s.endswith("+"):
            self.lo, self.hi = int(s[:-1]), None
        elif "-" in s:
            a, b = s.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(s)

    def has(self, v):
        return self.lo is not None and v >= self.lo and (self.hi is None or v <= self.hi)

    def versions(self, lo, hi):
        return [v for v in range(lo, hi + 1) if self.has(v)]


def cond(vs, lo, hi):
    """C condition on `v` true exactly for versions vs within lo..hi."""
    vs = sorted(vs)
    if vs == list(range(lo, hi + 1)):
        return "1"
    if not vs:
        return "0"
    # vs is a contiguous run in every definition we use; check that.
    if vs != list(range(vs[0], vs[-1] + 1)):
        raise SystemExit("non-contiguous version set %r" % vs)
    parts = []
    if vs[0] > lo:
        parts.append("v >= %d" % vs[0])
    if vs[-1] < hi:
        parts.append("v <= %d" % vs[-1])
    return " && ".join(parts)


class Field:
    def __init__(self, d, msg):
        self.name = d["name"]
        self.type = d["type"]
        self.versions = VRange(d.get("versions"))
        self.nullable = VRange(d.get("nullableVersions"))
        self.tagged = VRange(d.get("taggedVersions"))
        self.tag = d.get("tag")
        self.flex_override = VRange(d["flexibleVersions"]) if "flexibleVersions" in d else None
        self.default = d.get("default")
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.struct = None
        if self.elem not in PRIM and self.elem not in VARLEN:
            sub = d.get("fields")
            if sub is None:
                sub = msg.common.get(self.elem)
                if sub is None:
                    raise SystemExit("%s: unknown type %s" % (msg.name, self.elem))
            self.struct = Struct(self.elem, sub, msg)


class Struct:
    def __init__(self, tname, fields, msg):
        self.tname = tname
        self.msg = msg
        self.fields = [Field(f, msg) for f in fields]
        self.cname = None


class Message:
    def __init__(self, d, lo, hi):
        self.name = d["name"]
        self.api_key = d["apiKey"]
        self.kind = d["type"]
        self.valid = VRange(d["validVersions"])
        self.flex = VRange(d["flexibleVersions"])
        self.lo, self.hi = lo, hi
        for v in range(lo, hi + 1):
            if not self.valid.has(v):
                raise SystemExit("%s: version %d is not valid" % (self.name, v))
        self.common = {c["name"]: c["fields"] for c in d.get("commonStructs", [])}
        self.root = Struct(self.name, d["fields"], self)


def live(f, m):
    return bool(f.versions.versions(m.lo, m.hi))


def collect(struct, m, out):
    """Post-order list of structs (nested first) used in m's range."""
    for f in struct.fields:
        if f.struct and live(f, m):
            collect(f.struct, m, out)
    out.append(struct)


def name_structs(msgs):
    seen = {}
    for m in msgs:
        for s in m.structs:
            if s is m.root:
                s.cname = "kf_" + m.name
                continue
            cn = "kf_" + s.tname
            if cn in seen or cn in ("kf_" + x.name for x in msgs):
                cn = "kf_" + m.name + "_" + s.tname
            seen[cn] = True
            s.cname = cn


def ctype(f):
    if f.elem in PRIM:
        base = PRIM[f.elem][0]
    elif f.elem in VARLEN:
        base = VARLEN[f.elem]
    else:
        base = f.struct.cname
    if f.is_array:
        return "struct { %s *v; int32_t n; }" % base
    return base


def min_wire(s, m):
    """A lower bound of the wire size of one element of struct s over m's range."""
    best = None
    for v in range(m.lo, m.hi + 1):
        flex = m.flex.has(v)
        size = 1 if flex else 0
        for f in s.fields:
            if not f.versions.has(v) or f.tagged.has(v):
                continue
            if f.is_array:
                size += 1 if flex else 4
            elif f.elem in PRIM:
                size += PRIM[f.elem][1]
            elif f.elem == "uuid":
                size += 16
            elif f.elem == "string":
                size += 1 if flex else 2
            elif f.elem in ("bytes", "records"):
                size += 1 if flex else 4
            else:
                size += min_wire(f.struct, m)
        best = size if best is None else min(best, size)
    return max(best, 1)


def cdefault(f):
    """C statement fragment assigning f's default, or None if zero."""
    d = f.default
    if f.is_array:
        return None
    if f.elem in ("string",):
        if d == "null":
            return "{NULL, -1}"
        if d:
            return '{"%s", %d}' % (d, len(d))
        return None
    if f.elem == "records":
        return "{NULL, -1}"
    if d is None:
        return None
    if f.elem == "bool":
        return "1" if str(d).lower() == "true" else None
    if f.elem in PRIM:
        val = int(d, 0) if isinstance(d, str) else int(d)
        if val == 0:
            return None
        if val == -2**31:
            return "INT32_MIN"
        if f.elem == "int64":
            return "INT64_C(%d)" % val
        return str(val)
    return None


class Gen:
    def __init__(self):
        self.h = []
        self.c = []

    # ---- decoders -------------------------------------------------------
    def dec_value(self, f, m, target, r, flexc, nullc, ind):
        L = []
        if f.is_array:
            elem_ct = ctype(f).split("{ ")[1].split(" *v")[0]
            if f.struct:
                mw = min_wire(f.struct, m)
            elif f.elem in PRIM:
                mw = PRIM[f.elem][1]
            elif f.elem == "uuid":
                mw = 16
            else:
                mw = 1
            L.append(ind + "{")
            L.append(ind + "    int32_t n_ = kf_rd_arrlen(%s, %s, %s, %d);" % (r, flexc, nullc, mw))
            L.append(ind + "    %s.n = n_;" % target)
            L.append(ind + "    if (n_ > 0) {")
            L.append(ind + "        %s.v = kf_rd_alloc(%s, (size_t)n_, sizeof(%s));" % (target, r, elem_ct))
            L.append(ind + "        for (int32_t i_ = 0; i_ < n_ && !%s->err; i_++)" % r)
            L.append(self.dec_elem(f, m, target + ".v[i_]", r, flexc, ind + "            "))
            L.append(ind + "    }")
            L.append(ind + "}")
            return "\n".join(L)
        return self.dec_elem(f, m, target, r, flexc, ind, nullc)

    def dec_elem(self, f, m, target, r, flexc, ind, nullc="0"):
        e = f.elem
        if e in PRIM:
            return ind + "%s = %s(%s);" % (target, PRIM[e][2], r)
        if e == "uuid":
            return ind + "kf_rd_uuid(%s, &%s);" % (r, target)
        if e == "string":
            return ind + "kf_rd_str(%s, &%s, %s, %s);" % (r, target, flexc, nullc)
        if e in ("bytes", "records"):
            return ind + "kf_rd_bytes(%s, &%s, %s, %s);" % (r, target, flexc, nullc)
        return ind + "kf__dec_%s(%s, v, &%s);" % (f.struct.cname[3:], r, target)

    def flexc(self, f, m):
        vs = m.flex.versions(m.lo, m.hi)
        if f.flex_override is not None:
            vs = [v for v in vs if f.flex_override.has(v)]
        return cond(vs, m.lo, m.hi) if vs else "0"

    def gen_decoder(self, s, m):
        C = self.c
        fn = "kf__dec_%s" % s.cname[3:]
        C.append("static void %s(kf_rd *r, int16_t v, %s *o)" % (fn, s.cname))
        C.append("{")
        C.append("    (void)v;")
        C.append("    %s_init(o);" % s.cname)
        flex_all = m.flex.versions(m.lo, m.hi)
        for f in s.fields:
            if not live(f, m):
                continue
            vs = [v for v in f.versions.versions(m.lo, m.hi) if not f.tagged.has(v)]
            if not vs:
                continue
            c = cond(vs, m.lo, m.hi)
            nullc = cond([v for v in vs if f.nullable.has(v)], m.lo, m.hi) if any(f.nullable.has(v) for v in vs) else "0"
            if c == "1":
                C.append(self.dec_value(f, m, "o->" + f.name, "r", self.flexc(f, m), nullc, "    "))
            else:
                body = self.dec_value(f, m, "o->" + f.name, "r", self.flexc(f, m), nullc, "        ")
                C.append("    if (%s) {\n%s\n    }" % (c, body))
        if flex_all:
            C.append("    if (%s) {" % cond(flex_all, m.lo, m.hi))
            C.append("        uint32_t nt_ = kf_rd_uvarint32(r);")
            C.append("        for (uint32_t t_ = 0; t_ < nt_ && !r->err; t_++) {")
            C.append("            uint32_t tag_ = kf_rd_uvarint32(r);")
            C.append("            kf_rd sub_;")
            C.append("            if (kf_rd_sub(r, kf_rd_uvarint32(r), &sub_))")
            C.append("                break;")
            tagged = [f for f in s.fields if live(f, m) and f.tag is not None and f.tagged.versions(m.lo, m.hi)]
            if tagged:
                C.append("            switch (tag_) {")
                for f in tagged:
                    tv = [v for v in f.versions.versions(m.lo, m.hi) if f.tagged.has(v)]
                    c = cond(tv, m.lo, m.hi)
                    nullc = cond([v for v in tv if f.nullable.has(v)], m.lo, m.hi) if any(f.nullable.has(v) for v in tv) else "0"
                    C.append("            case %d:" % f.tag)
                    C.append("                if (%s) {" % c)
                    C.append(self.dec_value(f, m, "o->" + f.name, "(&sub_)", "1", nullc, "                    "))
                    C.append("                }")
                    C.append("                break;")
                C.append("            default: /* unknown tags are skipped, as Kafka does */")
                C.append("                break;")
                C.append("            }")
            else:
                C.append("            (void)tag_; /* no known tags: skip */")
            C.append("            kf_rd_merge(r, &sub_);")
            C.append("        }")
            C.append("    }")
        C.append("}")
        C.append("")

    def gen_init(self, s, m):
        C = self.c
        C.append("void %s_init(%s *o)" % (s.cname, s.cname))
        C.append("{")
        C.append("    memset(o, 0, sizeof(*o));")
        for f in s.fields:
            if not live(f, m):
                continue
            d = cdefault(f)
            if d is not None:
                if d.startswith("{"):
                    C.append("    o->%s = (%s)%s;" % (f.name, ctype(f), d))
                else:
                    C.append("    o->%s = %s;" % (f.name, d))
        C.append("}")
        C.append("")

    # ---- encoders -------------------------------------------------------
    def enc_value(self, f, m, src, w, flexc, nullc, ind):
        if f.is_array:
            L = [ind + "kf_wr_arrlen(%s, %s.n, %s, %s);" % (w, src, flexc, nullc)]
            L.append(ind + "for (int32_t i_ = 0; i_ < %s.n; i_++)" % src)
            L.append(self.enc_elem(f, m, src + ".v[i_]", w, flexc, "0", ind + "    "))
            return "\n".join(L)
        return self.enc_elem(f, m, src, w, flexc, nullc, ind)

    def enc_elem(self, f, m, src, w, flexc, nullc, ind):
        e = f.elem
        if e in PRIM:
            return ind + "%s(%s, %s);" % (PRIM[e][3], w, src)
        if e == "uuid":
            return ind + "kf_wr_uuid(%s, &%s);" % (w, src)
        if e == "string":
            return ind + "kf_wr_str(%s, &%s, %s, %s);" % (w, src, flexc, nullc)
        if e == "bytes":
            return ind + "kf_wr_bytes(%s, &%s, %s, %s);" % (w, src, flexc, nullc)
        if e == "records":
            return ind + "kf_wr_records(%s, &%s, %s, %s);" % (w, src, flexc, nullc)
        return ind + "kf__enc_%s(%s, v, &%s);" % (f.struct.cname[3:], w, src)

    def nondefault(self, f, src):
        """C expression: tagged field f differs from its default (so is sent)."""
        if f.is_array:
            return "%s.n != 0" % src
        if f.elem == "string":
            if f.default == "null":
                return "%s.len >= 0" % src
            return "%s.len != 0" % src
        if f.elem in ("bytes", "records"):
            return "%s.len != 0" % src
        if f.elem == "uuid":
            return "!kf_uuid_is_zero(&%s)" % src
        if f.elem in PRIM:
            d = cdefault(f) or "0"
            return "%s != %s" % (src, d)
        return "1"

    def gen_encoder(self, s, m):
        C = self.c
        fn = "kf__enc_%s" % s.cname[3:]
        C.append("static void %s(kf_wr *w, int16_t v, const %s *o)" % (fn, s.cname))
        C.append("{")
        C.append("    (void)v;")
        for f in s.fields:
            if not live(f, m):
                continue
            vs = [v for v in f.versions.versions(m.lo, m.hi) if not f.tagged.has(v)]
            if not vs:
                continue
            c = cond(vs, m.lo, m.hi)
            nullc = cond([v for v in vs if f.nullable.has(v)], m.lo, m.hi) if any(f.nullable.has(v) for v in vs) else "0"
            if c == "1":
                C.append(self.enc_value(f, m, "o->" + f.name, "w", self.flexc(f, m), nullc, "    "))
            else:
                body = self.enc_value(f, m, "o->" + f.name, "w", self.flexc(f, m), nullc, "        ")
                C.append("    if (%s) {\n%s\n    }" % (c, body))
        flex_all = m.flex.versions(m.lo, m.hi)
        if flex_all:
            tagged = [f for f in s.fields if live(f, m) and f.tag is not None and f.tagged.versions(m.lo, m.hi)]
            tagged.sort(key=lambda f: f.tag)
            C.append("    if (%s) {" % cond(flex_all, m.lo, m.hi))
            if not tagged:
                C.append("        kf_wr_uvarint(w, 0);")
            else:
                C.append("        uint32_t nt_ = 0;")
                sends = []
                for f in tagged:
                    tv = [v for v in f.versions.versions(m.lo, m.hi) if f.tagged.has(v)]
                    sends.append("(%s) && (%s)" % (cond(tv, m.lo, m.hi), self.nondefault(f, "o->" + f.name)))
                    C.append("        if (%s)\n            nt_++;" % sends[-1])
                C.append("        kf_wr_uvarint(w, nt_);")
                for f, snd in zip(tagged, sends):
                    tv = [v for v in f.versions.versions(m.lo, m.hi) if f.tagged.has(v)]
                    nullc = cond([v for v in tv if f.nullable.has(v)], m.lo, m.hi) if any(f.nullable.has(v) for v in tv) else "0"
                    C.append("        if (%s) {" % snd)
                    C.append("            kf_wr tw_;")
                    C.append("            kf_wr_tag_begin(w, &tw_);")
                    C.append(self.enc_value(f, m, "o->" + f.name, "(&tw_)", "1", nullc, "            "))
                    C.append("            kf_wr_tag_end(w, &tw_, %d);" % f.tag)
                    C.append("        }")
            C.append("    }")
        C.append("}")
        C.append("")

    def gen_struct_decl(self, s, m):
        H = self.h
        H.append("struct %s {" % s.cname)
        n = 0
        for f in s.fields:
            if not live(f, m):
                continue
            vs = f.versions.versions(m.lo, m.hi)
            extra = []
            if vs != list(range(m.lo, m.hi + 1)):
                extra.append("v%d-%d" % (vs[0], vs[-1]))
            if any(f.nullable.has(v) for v in vs):
                extra.append("nullable")
            if f.tag is not None and any(f.tagged.has(v) for v in vs):
                extra.append("tag %d" % f.tag)
            d = cdefault(f)
            if d:
                extra.append("default %s" % d)
            com = ("  /* %s */" % ", ".join(extra)) if extra else ""
            H.append("    %s %s;%s" % (ctype(f), f.name, com))
            n += 1
        if n == 0:
            H.append("    char unused_; /* no fields in these versions */")
        H.append("};")
        H.append("")


def gen(spec):
    msgs = []
    for name, lo, hi in API_RANGES:
        for kind in ("Request", "Response"):
            m = Message(load(spec, name + kind), lo, hi)
            m.api_name = name
            m.structs = []
            collect(m.root, m, m.structs)
            msgs.append(m)
    name_structs(msgs)
    for m in msgs:
        for s in m.structs:
            for f in s.fields:
                if f.struct and not f.is_array and live(f, m):
                    vs = f.versions.versions(m.lo, m.hi)
                    if any(f.nullable.has(v) for v in vs):
                        raise SystemExit("%s.%s: nullable struct not supported" % (m.name, f.name))

    g = Gen()
    H = g.h
    H += [
        "/* SPDX-License-Identifier: MIT */",
        "/*",
        " * kf_msgs.h — GENERATED by scripts/gen_kafka.py from",
        " * ../shared/kafka-protocol/messages/<Name>.json.  Do not edit; re-run the script.",
        " *",
        " * One struct per Kafka request and response cairn implements, holding the",
        " * union of the fields of every version in the advertised range (fields",
        " * absent from a version are left at their spec default when decoding and",
        " * ignored when encoding).  Field names keep the spec's CamelCase.",
        " * Strings (kf_str) are NUL-terminated copies in the request arena, len -1",
        " * for null; bytes and records (kf_bytes) borrow the input frame.  Arrays",
        " * are { v, n } with n -1 for a null array.",
        " *",
        " * Decoders: bytes in, struct out, every length checked against the input;",
        " * allocations come from the caller's kf_arena.  Encoders append to a kf_wr.",
        " * Pure code: no I/O, no globals; any thread.",
        " */",
        "#ifndef KF_MSGS_H",
        "#define KF_MSGS_H",
        "",
        "#include <stdbool.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "kf_wire.h"',
        "",
        "/* ApiKeys implemented by cairn. */",
        "enum kf_api_key {",
    ]
    for name, lo, hi in API_RANGES:
        m = next(x for x in msgs if x.api_name == name)
        H.append("    KF_API_%s = %d," % (name.upper(), m.api_key))
    H += ["};", "", "/** One implemented API: key, name and advertised version range. */",
          "typedef struct kf_api_info {",
          "    int16_t api_key;",
          "    const char *name;",
          "    int16_t min_version, max_version;",
          "    int16_t flex_request_min;  /* first flexible request version, -1 none */",
          "    int16_t flex_response_min; /* first flexible response version, -1 none */",
          "} kf_api_info;", "",
          "/** The implemented APIs, ascending by api_key; *n set to the count. */",
          "const kf_api_info *kf_api_table(size_t *n);",
          "/** The entry for api_key, or NULL if cairn does not implement it. */",
          "const kf_api_info *kf_api_find(int16_t api_key);", ""]
    for m in msgs:
        for s in m.structs:
            H.append("typedef struct %s %s;" % (s.cname, s.cname))
    H.append("")
    for m in msgs:
        H.append("/* ---- %s (api %d, v%d-%d) ---- */" % (m.name, m.api_key, m.lo, m.hi))
        H.append("")
        for s in m.structs:
            g.gen_struct_decl(s, m)
    H.append("/* ---- initialisers: zero everything, then the spec defaults ---- */")
    H.append("")
    for m in msgs:
        for s in m.structs:
            H.append("void %s_init(%s *o);" % (s.cname, s.cname))
    H.append("")
    H.append("/* ---- codec entry points ---- */")
    H.append("")
    for m in msgs:
        H.append("/** Decode a %s body of exactly n bytes.  @return 0, KF_EFRAME (malformed," % m.name)
        H.append(" *  truncated, trailing bytes, arena cap), CN_ENOMEM, KF_EVERSION. */")
        H.append("int kf_decode_%s(const unsigned char *p, size_t n, int16_t version, kf_arena *a,"
                 % m.name)
        H.append("    %s *out);" % m.root.cname)
        H.append("/** Append a %s body to w.  @return 0, CN_ENOMEM, KF_EVERSION. */" % m.name)
        H.append("int kf_encode_%s(kf_wr *w, int16_t version, const %s *in);" % (m.name, m.root.cname))
    H += ["",
          "/**",
          " * Decode the request body for api_key/version into a struct allocated in a",
          " * (kf_<Name>Request, per the api key).  Used by the server dispatch and the",
          " * fuzzer.  @return as the per-API decoders; KF_EVERSION for an unknown key",
          " * or a version outside the advertised range.",
          " */",
          "int kf_decode_request(int16_t api_key, int16_t version, const unsigned char *p, size_t n,",
          "                      kf_arena *a, void **out);",
          "/** The same for responses (tests and clients). */",
          "int kf_decode_response(int16_t api_key, int16_t version, const unsigned char *p, size_t n,",
          "                       kf_arena *a, void **out);",
          "/** Encode a request/response struct of api_key's type. */",
          "int kf_encode_request(kf_wr *w, int16_t api_key, int16_t version, const void *in);",
          "int kf_encode_response(kf_wr *w, int16_t api_key, int16_t version, const void *in);",
          "",
          "#endif", ""]

    C = g.c
    C += [
        "/* SPDX-License-Identifier: MIT */",
        "/*",
        " * kf_msgs.c — GENERATED by scripts/gen_kafka.py from",
        " * ../shared/kafka-protocol/messages/<Name>.json.  Do not edit; re-run the script.",
        " *",
        " * Decoders and encoders for every version in the advertised ranges.",
        " * Readers keep a sticky error (kf_rd.err): once a length check fails every",
        " * later read returns zero and loops stop, so each decoder is a straight",
        " * walk of the spec with one check at the end.  Pure; any thread.",
        " */",
        '#include "kf_msgs.h"',
        "",
        '#include "cn_err.h"',
        "",
        "#include <string.h>",
        "",
        "static const kf_api_info kf_apis[] = {",
    ]
    seen = {}
    for name, lo, hi in sorted(API_RANGES, key=lambda x: next(m.api_key for m in msgs if m.api_name == x[0])):
        req = next(m for m in msgs if m.api_name == name and m.kind == "request")
        rsp = next(m for m in msgs if m.api_name == name and m.kind == "response")
        C.append('    {%d, "%s", %d, %d, %d, %d},' % (req.api_key, name, lo, hi,
                                                  req.flex.lo if req.flex.lo is not None else -1,
                                                  rsp.flex.lo if rsp.flex.lo is not None else -1))
    C += ["};", "",
          "const kf_api_info *kf_api_table(size_t *n)",
          "{",
          "    *n = sizeof(kf_apis) / sizeof(kf_apis[0]);",
          "    return kf_apis;",
          "}", "",
          "const kf_api_info *kf_api_find(int16_t api_key)",
          "{",
          "    for (size_t i = 0; i < sizeof(kf_apis) / sizeof(kf_apis[0]); i++)",
          "        if (kf_apis[i].api_key == api_key)",
          "            return &kf_apis[i];",
          "    return NULL;",
          "}", ""]
    for m in msgs:
        for s in m.structs:
            C.append("static void kf__dec_%s(kf_rd *r, int16_t v, %s *o);" % (s.cname[3:], s.cname))
            C.append("static void kf__enc_%s(kf_wr *w, int16_t v, const %s *o);" % (s.cname[3:], s.cname))
    C.append("")
    for m in msgs:
        C.append("/* ---- %s ---- */" % m.name)
        C.append("")
        for s in m.structs:
            g.gen_init(s, m)
            g.gen_decoder(s, m)
            g.gen_encoder(s, m)
        C += [
            "int kf_decode_%s(const unsigned char *p, size_t n, int16_t version, kf_arena *a," % m.name,
            "    %s *out)" % m.root.cname,
            "{",
            "    if (version < %d || version > %d)" % (m.lo, m.hi),
            "        return KF_EVERSION;",
            "    kf_rd r;",
            "    kf_rd_init(&r, p, n, a);",
            "    kf__dec_%s(&r, version, out);" % m.root.cname[3:],
            "    return kf_rd_finish(&r);",
            "}",
            "",
            "int kf_encode_%s(kf_wr *w, int16_t version, const %s *in)" % (m.name, m.root.cname),
            "{",
            "    if (version < %d || version > %d)" % (m.lo, m.hi),
            "        return KF_EVERSION;",
            "    kf__enc_%s(w, version, in);" % m.root.cname[3:],
            "    return w->err;",
            "}",
            "",
        ]
    for kind in ("request", "response"):
        cap = kind.capitalize()
        C += ["int kf_decode_%s(int16_t api_key, int16_t version, const unsigned char *p, size_t n," % kind,
              "    kf_arena *a, void **out)",
              "{",
              "    switch (api_key) {"]
        for m in msgs:
            if m.kind != kind:
                continue
            C += ["    case %d: {" % m.api_key,
                  "        %s *o = kf_arena_alloc(a, sizeof(*o));" % m.root.cname,
                  "        if (!o)",
                  "            return kf_arena_error(a);",
                  "        *out = o;",
                  "        return kf_decode_%s(p, n, version, a, o);" % m.name,
                  "    }"]
        C += ["    default:", "        return KF_EVERSION;", "    }", "}", ""]
        C += ["int kf_encode_%s(kf_wr *w, int16_t api_key, int16_t version, const void *in)" % kind,
              "{",
              "    switch (api_key) {"]
        for m in msgs:
            if m.kind != kind:
                continue
            C += ["    case %d:" % m.api_key,
                  "        return kf_encode_%s(w, version, in);" % m.name]
        C += ["    default:", "        return KF_EVERSION;", "    }", "}", ""]

    return "\n".join(H), "\n".join(C)


def gen_errors(spec):
    rows = []
    with open(os.path.join(spec, "error-codes.tsv"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == 0 or not line.strip():
                continue
            code, name, _ = line.rstrip("\n").split("\t", 2)
            rows.append((int(code), name))
    L = [
        "/* SPDX-License-Identifier: MIT */",
        "/*",
        " * kf_errors.h — GENERATED by scripts/gen_kafka.py from",
        " * ../shared/kafka-protocol/error-codes.tsv.  Do not edit; re-run the script.",
        " *",
        " * Kafka protocol error codes (int16 ErrorCode fields on the wire) — not",
        " * cn_err codes.  KF_ERROR_LIST(X) gives X(NAME, code) for each.",
        " */",
        "#ifndef KF_ERRORS_H",
        "#define KF_ERRORS_H",
        "",
        "#define KF_ERROR_LIST(X) \\",
    ]
    for code, name in rows:
        L.append("    X(%s, %d) \\" % (name, code))
    L[-1] = L[-1][:-2]
    L += ["",
          "enum kf_error {",
          "#define KF__ERROR_ENUM(name, code) KF_ERR_##name = (code),",
          "    KF_ERROR_LIST(KF__ERROR_ENUM)",
          "#undef KF__ERROR_ENUM",
          "};",
          "",
          "/** The spec name (\"UNKNOWN_TOPIC_OR_PARTITION\") of a Kafka error code. */",
          "static inline const char *kf_error_name(int code)",
          "{",
          "    switch (code) {",
          "#define KF__ERROR_CASE(name, c) \\",
          "    case (c):                 \\",
          "        return #name;",
          "        KF_ERROR_LIST(KF__ERROR_CASE)",
          "#undef KF__ERROR_CASE",
          "    default:",
          "        return \"UNKNOWN\";",
          "    }",
          "}",
          "",
          "#endif",
          ""]
    return "\n".join(L)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spec", default=os.path.join(here, "..", "..", "shared", "kafka-protocol"))
    ap.add_argument("--out", default=os.path.join(here, "..", "log", "kafka"))
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing")
    a = ap.parse_args()
    h, c = gen(a.spec)
    files = {"kf_msgs.h": h, "kf_msgs.c": c, "kf_errors.h": gen_errors(a.spec)}
    bad = 0
    for name, text in files.items():
        path = os.path.join(a.out, name)
        if a.check:
            try:
                with open(path, encoding="utf-8") as f:
                    cur = f.read()
            except OSError:
                cur = None
            if cur != text:
                print("gen_kafka: %s is out of date; run scripts/gen_kafka.py" % path, file=sys.stderr)
                bad = 1
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    return bad


if __name__ == "__main__":
    sys.exit(main())
