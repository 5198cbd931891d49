#!/usr/bin/env python3
"""Independent verifier of a Gatehouse audit trail (the JSON Lines of `gatehouse sessions export`).

Written from the specification in docs/AUDIT.md, without Gatehouse code, so that a third party can
check a trail with tools they trust: Python 3's standard library and `cryptography` (Debian:
`apt-get install python3 python3-cryptography`). It checks

  * canonical JSON (RFC 8785, re-implemented here) of every event and checkpoint,
  * the hash chain  hash(e) = hex(SHA-256(ascii(e.prev) || utf8(JCS(e without "hash")))),
    starting at hex(SHA-256(utf8(session id))),
  * every checkpoint's Ed25519 signature over utf8(JCS(checkpoint without "sig")) with the
    published public keys (pin a copy of /.well-known/gatehouse-audit-keys),
  * chunk numbering, coverage and completeness,

and reports the FIRST problem with the event sequence number it concerns, exactly as the
"Verification procedure" of docs/AUDIT.md (and Gatehouse's own verifier) does.

usage: verify-trail.py --keys keys.json [--session ID] [--open] [--chunks N] [--json] export.jsonl
       verify-trail.py --self-test      (RFC 8785 test vectors of this JCS implementation)
exit status: 0 verified, 1 not verified, 2 usage or unreadable input.
"""
import argparse
import hashlib
import json
import math
import re
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - environment problem, not a verification result
    sys.stderr.write("verify-trail.py needs the 'cryptography' package (Debian: python3-cryptography)\n")
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# RFC 8785 JSON Canonicalization Scheme
# ---------------------------------------------------------------------------------------------

MAX_DEPTH = 64  # same limit as Gatehouse's parsers/encoding/jcs.ts


class NotCanonicalizable(Exception):
    """The value has no RFC 8785 form (non-finite number, lone surrogate, too deep...)."""


_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def _quote(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if c in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[c])
        elif c < 0x20:
            out.append("\\u%04x" % c)
        elif 0xD800 <= c <= 0xDFFF:
            # json.loads joins valid surrogate pairs into one code point: what is left is lone.
            raise NotCanonicalizable("lone surrogate U+%04X" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def es_number(x):
    """ECMAScript Number::toString (RFC 8785 section 3.2.2.3) of a finite double."""
    if isinstance(x, int):
        try:
            x = float(x)  # the double a JSON number denotes (correctly rounded, as ECMAScript parses it)
        except OverflowError:
            raise NotCanonicalizable("number out of double range")
    if not math.isfinite(x):
        raise NotCanonicalizable("non-finite number")
    if x == 0:
        return "0"  # also -0
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digits that round-trip, like ECMAScript's algorithm.
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?", repr(abs(x)))
    int_part, frac, exp = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    digits = (int_part + frac).lstrip("0")
    e10 = exp - len(frac)  # value = int(digits) * 10**e10
    stripped = digits.rstrip("0")
    e10 += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = e10 + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp_text = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return sign + digits + "e" + exp_text
    return sign + digits[0] + "." + digits[1:] + "e" + exp_text


def _utf16_key(name):
    # Sorting by UTF-16BE bytes is sorting by UTF-16 code units (RFC 8785 section 3.2.3).
    return name.encode("utf-16-be", "surrogatepass")


def jcs(value, depth=0):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return es_number(value)
    if isinstance(value, str):
        return _quote(value)
    if depth >= MAX_DEPTH:
        raise NotCanonicalizable("nesting deeper than %d" % MAX_DEPTH)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=_utf16_key)
        return "{" + ",".join(_quote(k) + ":" + jcs(value[k], depth + 1) for k in keys) + "}"
    raise NotCanonicalizable("not JSON data: %r" % type(value))


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_json(text):
    return json.loads(text, parse_constant=_reject_constant)


# ---------------------------------------------------------------------------------------------
# Trail: lines, hashes, signatures
# ---------------------------------------------------------------------------------------------

HEX64 = re.compile(r"[0-9a-f]{64}")
# The whitespace ECMAScript's String.prototype.trim removes (Gatehouse trims lines the same way).
JS_WHITESPACE = " \t\n\r\x0b\x0c\u00a0\ufeff\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class LineError(Exception):
    def __init__(self, line, message):
        super().__init__("line %d: %s" % (line, message))
        self.line = line


def is_int(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def shape_problem(o):
    if not isinstance(o, dict):
        return "not a JSON object"
    if not isinstance(o.get("type"), str):
        return "missing type"
    if not (is_number(o.get("v")) and o.get("v") == 1):
        return "unsupported format version %s" % json.dumps(o.get("v"))
    if o["type"] == "checkpoint":
        for k in ("chunk", "first_seq", "last_seq", "ts"):
            if not is_int(o.get(k)):
                return "checkpoint %s must be an integer" % k
        for k in ("session", "kid", "sig"):
            if not isinstance(o.get(k), str):
                return "checkpoint %s must be a string" % k
        if not (isinstance(o.get("last_hash"), str) and HEX64.fullmatch(o["last_hash"])):
            return "checkpoint last_hash must be 64 hex digits"
        if not isinstance(o.get("final"), bool):
            return "checkpoint final must be a boolean"
        return None
    if not (is_int(o.get("seq")) and o["seq"] >= 0):
        return "event seq must be a non-negative integer"
    if not is_number(o.get("ts")):
        return "event ts must be a number"
    for k in ("prev", "hash"):
        if not (isinstance(o.get(k), str) and HEX64.fullmatch(o[k])):
            return "event %s must be 64 hex digits" % k
    if not isinstance(o.get("data"), dict):
        return "event data must be an object"
    return None


def parse_trail(text):
    out = []
    for i, raw in enumerate(text.split("\n")):
        raw = raw.strip(JS_WHITESPACE)
        if raw == "":
            continue
        try:
            value = parse_json(raw)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's parser goes
            raise LineError(i + 1, "not valid JSON")
        problem = shape_problem(value)
        if problem:
            raise LineError(i + 1, problem)
        for k in ("seq", "chunk", "first_seq", "last_seq"):
            if k in value and is_int(value[k]):
                value[k] = int(value[k])
        out.append((i + 1, value, raw))
    return out


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def event_hash(e):
    """Recomputed hash of an event, or None if it has no canonical form (then it cannot match)."""
    rest = {k: v for k, v in e.items() if k != "hash"}
    try:
        body = jcs(rest).encode("utf-8")
    except NotCanonicalizable:
        return None
    return sha256_hex(rest["prev"].encode("ascii") + body)


def b64url_decode(s):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", s) or len(s) % 4 == 1:
        raise ValueError("invalid base64url")
    acc = bits = 0
    out = bytearray()
    for ch in s:
        acc = ((acc << 6) | B64URL.index(ch)) & 0xFFFFFF
        bits += 6
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out)


def b64url_encode(data):
    out = []
    for i in range(0, len(data), 3):
        chunk = data[i:i + 3]
        n = int.from_bytes(chunk + b"\0" * (3 - len(chunk)), "big")
        out.append("".join(B64URL[(n >> s) & 63] for s in (18, 12, 6, 0))[: len(chunk) + 1])
    return "".join(out)


def load_keys(doc):
    arr = doc.get("keys") if isinstance(doc, dict) else doc
    if not isinstance(arr, list):
        raise ValueError("key set must be { keys: [...] } or an array of JWKs")
    keys = {}
    for k in arr:
        if not isinstance(k, dict) or not isinstance(k.get("kid"), str):
            raise ValueError("key without kid in key set")
        if k.get("kty") != "OKP" or k.get("crv") != "Ed25519" or not isinstance(k.get("x"), str):
            raise ValueError("key %s: not an Ed25519 JWK (kty OKP, crv Ed25519)" % k["kid"])
        raw = b64url_decode(k["x"])
        if len(raw) != 32:
            raise ValueError("key %s: x must be 32 bytes" % k["kid"])
        keys[k["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def check_signature(cp, keys):
    key = keys.get(cp["kid"])
    if key is None:
        return "unknown-key"
    try:
        sig = b64url_decode(cp["sig"])
        signed = jcs({k: v for k, v in cp.items() if k != "sig"}).encode("utf-8")
    except (ValueError, NotCanonicalizable):
        return "bad-signature"
    if len(sig) != 64 or b64url_encode(sig) != cp["sig"]:  # one spelling only: no altered padding bits
        return "bad-signature"
    try:
        key.verify(sig, signed)
    except InvalidSignature:
        return "bad-signature"
    return "ok"


# ---------------------------------------------------------------------------------------------
# Verification procedure (docs/AUDIT.md)
# ---------------------------------------------------------------------------------------------


def verify(text, keys, session_id=None, require_complete=True, expected_chunks=None):
    result = {"ok": False, "session": None, "events": 0, "chunks": 0, "complete": False, "unsealed": 0, "kids": []}

    def fail(seq, kind, message, line=None, chunk=None):
        error = {"seq": seq, "kind": kind, "message": message}
        if line is not None:
            error["line"] = line
        if chunk is not None:
            error["chunk"] = chunk
        return dict(result, ok=False, error=error)

    try:
        parsed = parse_trail(text)
    except LineError as e:
        return fail(-1, "altered", str(e), line=e.line)
    # Every line must be exactly the canonical JSON of its content: a duplicated key (whose first
    # value other tools would show), another escape or number spelling is a rewritten line.
    for line, v, raw in parsed:
        try:
            canonical = jcs(v) == raw
        except NotCanonicalizable:
            canonical = False
        if not canonical:
            seq = v["last_seq"] if v["type"] == "checkpoint" else v["seq"]
            return fail(seq, "altered", "line %d is not the canonical JSON (RFC 8785) of its content: it was rewritten (duplicate keys, other spellings or values with no canonical form)" % line, line=line)
    lines = [(line, v) for line, v, _ in parsed]

    is_cp = lambda v: v["type"] == "checkpoint"  # noqa: E731
    first_cp = next((v for _, v in lines if is_cp(v)), None)
    first_start = next((v for _, v in lines if not is_cp(v) and v["type"] == "session.start"), None)
    if session_id is None and first_cp is not None:
        session_id = first_cp["session"]
    if session_id is None and first_start is not None:
        session_id = first_start["data"].get("session_id")
    result["session"] = session_id
    if not lines or not isinstance(session_id, str):
        return fail(0, "truncated", "the trail is empty (no session.start, no checkpoint)")

    events = []  # (pos, line, event, computed hash)
    for pos, (line, v) in enumerate(lines):
        if not is_cp(v):
            events.append((pos, line, v, event_hash(v)))
    computed_at = {pos: h for pos, _, _, h in events}
    by_seq = {}
    for ev in events:
        by_seq.setdefault(ev[2]["seq"], []).append(ev)
    genesis = sha256_hex(session_id.encode("utf-8"))

    def later_has_seq(seq, pos):
        return any(x[0] > pos for x in by_seq.get(seq, []))

    def hashes_of(seq):
        return [genesis] if seq < 0 else [x[3] for x in by_seq.get(seq, [])]

    expected_seq, prev, chunk, chunk_first = 0, genesis, 0, 0
    last_type, final_seen, saw_end = None, False, False
    kids = []

    for pos, (line, v) in enumerate(lines):
        if final_seen:
            seq = v["last_seq"] if is_cp(v) else v["seq"]
            return fail(seq, "inserted", "line %d follows the final checkpoint of the session" % line, line=line)

        if is_cp(v):
            cp = v
            if cp["session"] != session_id:
                return fail(cp["last_seq"], "inserted", "checkpoint belongs to session %s, not %s" % (cp["session"], session_id), line, cp["chunk"])
            sig = check_signature(cp, keys)
            if sig == "unknown-key":
                return fail(cp["last_seq"], "unknown-key", 'checkpoint of chunk %d is signed with unknown key "%s"' % (cp["chunk"], cp["kid"]), line, cp["chunk"])
            if sig == "bad-signature":
                return fail(cp["last_seq"], "bad-signature", 'checkpoint of chunk %d has an invalid signature (key "%s")' % (cp["chunk"], cp["kid"]), line, cp["chunk"])
            if cp["chunk"] != chunk:
                if cp["chunk"] > chunk:
                    kind = "removed"
                elif any(is_cp(w) and w["chunk"] == chunk for _, w in lines[pos + 1:]):
                    kind = "reordered"
                else:
                    kind = "inserted"
                return fail(chunk_first, kind, "checkpoint of chunk %d found where chunk %d was expected" % (cp["chunk"], chunk), line, cp["chunk"])
            last_accepted = expected_seq - 1
            if cp["first_seq"] != chunk_first or last_accepted < cp["last_seq"]:
                missing = min(max(last_accepted + 1, chunk_first), cp["last_seq"])
                if cp["first_seq"] > chunk_first:
                    return fail(chunk_first, "inserted", "chunk %d is signed for seq %d..%d but contains events from seq %d" % (cp["chunk"], cp["first_seq"], cp["last_seq"], chunk_first), line, cp["chunk"])
                return fail(missing, "removed", "event %d is missing: chunk %d is signed up to seq %d but the trail has events only up to seq %d" % (missing, cp["chunk"], cp["last_seq"], last_accepted), line, cp["chunk"])
            if last_accepted > cp["last_seq"]:
                return fail(cp["last_seq"] + 1, "inserted", "event %d is not covered by chunk %d, which is signed for seq %d..%d" % (cp["last_seq"] + 1, cp["chunk"], cp["first_seq"], cp["last_seq"]), line, cp["chunk"])
            if prev != cp["last_hash"]:
                return fail(cp["last_seq"], "altered", "chunk %d (seq %d..%d) was rewritten: its events chain to %s... but the signed checkpoint says %s..." % (cp["chunk"], cp["first_seq"], cp["last_seq"], prev[:12], cp["last_hash"][:12]), line, cp["chunk"])
            if cp["final"] != (last_type == "session.end"):
                return fail(cp["last_seq"], "altered", "final checkpoint does not follow session.end" if cp["final"] else "session.end is sealed by a non-final checkpoint", line, cp["chunk"])
            if cp["kid"] not in kids:
                kids.append(cp["kid"])
            chunk += 1
            chunk_first = expected_seq
            final_seen = cp["final"]
            result["chunks"] = chunk
            result["last_hash"] = cp["last_hash"]
            continue

        e = v
        seq = e["seq"]
        computed = computed_at[pos]
        if seq != expected_seq:
            if seq < expected_seq:
                return fail(seq, "inserted", "event %d appears again at line %d (an event was inserted or replayed)" % (seq, line), line, chunk)
            duplicated = len(by_seq.get(seq, [])) > 1
            links_to_real_predecessor = e["prev"] in hashes_of(seq - 1)
            if later_has_seq(expected_seq, pos):
                if not duplicated and links_to_real_predecessor and e["hash"] == computed:
                    return fail(expected_seq, "reordered", "event %d appears before event %d (line %d): events are out of order" % (seq, expected_seq, line), line, chunk)
                return fail(seq, "inserted", "event %d at line %d does not belong to the chain here" % (seq, line), line, chunk)
            if expected_seq == seq - 1:
                message = "event %d is missing (line %d jumps to event %d)" % (expected_seq, line, seq)
            else:
                message = "events %d..%d are missing (line %d jumps to event %d)" % (expected_seq, seq - 1, line, seq)
            return fail(expected_seq, "removed", message, line, chunk)
        if computed != e["hash"]:
            return fail(seq, "altered", "event %d (line %d, %s) does not match its hash: its content was altered" % (seq, line, e["type"]), line, chunk)
        if saw_end:
            return fail(seq, "inserted", "event %d follows session.end" % seq, line, chunk)
        copies = by_seq[seq]
        if len(copies) > 1:
            successors = by_seq.get(seq + 1, [])
            genuine = next((c for c in copies if successors and c[3] == successors[0][2]["prev"]), None)
            if genuine is None or genuine[0] != pos:
                extra = " (line %d) and the chain continues from that one" % genuine[1] if genuine else ""
                return fail(seq, "inserted", "event %d at line %d was inserted: another event claims seq %d%s" % (seq, line, seq, extra), line, chunk)
        if e["prev"] != prev:
            if expected_seq == 0:
                return fail(0, "altered", "event 0 does not start the chain of session %s" % session_id, line, chunk)
            return fail(expected_seq - 1, "altered", "event %d was altered: event %d (line %d) commits to a different hash for it" % (expected_seq - 1, seq, line), line, chunk)
        if seq == 0 and (e["type"] != "session.start" or e["data"].get("session_id") != session_id):
            return fail(0, "altered", "event 0 must be the session.start of session %s" % session_id, line, chunk)
        prev = e["hash"]
        last_type = e["type"]
        if last_type == "session.end":
            saw_end = True
        expected_seq += 1
        result["events"] = expected_seq

    result["kids"] = kids
    result["unsealed"] = expected_seq - chunk_first
    result["complete"] = final_seen
    if expected_chunks is not None and expected_chunks != chunk:
        if chunk < expected_chunks:
            return fail(expected_seq, "truncated", "the session index lists %d chunks but the trail holds %d: chunk %d onwards is missing" % (expected_chunks, chunk, chunk), chunk=chunk)
        return fail(chunk_first, "inserted", "the session index lists %d chunks but the trail holds %d" % (expected_chunks, chunk), chunk=chunk)
    if require_complete and not final_seen:
        if result["unsealed"] > 0:
            return fail(chunk_first, "truncated", "events %d..%d are not sealed by a signed checkpoint and the trail has no final checkpoint" % (chunk_first, expected_seq - 1), chunk=chunk)
        return fail(expected_seq, "truncated", "the trail ends after event %d (chunk %d) without session.end and a final signed checkpoint: later events or chunks were removed" % (expected_seq - 1, chunk - 1), chunk=chunk)
    result["ok"] = True
    return result


# ---------------------------------------------------------------------------------------------
# Self-test: RFC 8785's own examples
# ---------------------------------------------------------------------------------------------


def self_test():
    import struct

    failures = []

    def check(what, got, want):
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    # Section 3.2.2 (and its UTF-8 bytes, section 3.2.4)
    primitives = r'''{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}'''
    check("3.2.2", jcs(parse_json(primitives)), r'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA' + "'" + r'B\"\\\\\"/"}')
    # Section 3.2.3: sorting by UTF-16 code units
    sorting = r'''{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}'''
    check("3.2.3", jcs(parse_json(sorting)), '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\U0001F600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
    # Appendix B: number serialization samples
    samples = [
        ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"), ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"), ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"), ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"), ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"), ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"), ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"), ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"), ("43143ff3c1cb0959", "1424953923781206.2"),
    ]
    for bits, want in samples:
        check("Appendix B " + bits, jcs(struct.unpack(">d", bytes.fromhex(bits))[0]), want)
    for bits in ("7fffffffffffffff", "7ff0000000000000"):
        try:
            jcs(struct.unpack(">d", bytes.fromhex(bits))[0])
            failures.append("Appendix B %s: no error" % bits)
        except NotCanonicalizable:
            pass
    check("big integer", jcs(parse_json("12345678901234567890")), "12345678901234567000")
    try:
        jcs(parse_json('"\\ud800"'))
        failures.append("lone surrogate: no error")
    except NotCanonicalizable:
        pass
    for f in failures:
        sys.stderr.write("FAIL " + f + "\n")
    print("self-test: %d failures" % len(failures))
    return 1 if failures else 0


def main(argv):
    p = argparse.ArgumentParser(description="Verify a Gatehouse audit trail export (JSON Lines) independently.")
    p.add_argument("trail", nargs="?", help="export file (gatehouse sessions export -o FILE); - for stdin")
    p.add_argument("--keys", help="audit public keys: { keys: [...] } as served at /.well-known/gatehouse-audit-keys")
    p.add_argument("--session", help="the session id the trail must belong to (default: the first checkpoint's)")
    p.add_argument("--open", action="store_true", help="the session is still running: accept a trail without session.end")
    p.add_argument("--chunks", type=int, help="number of chunks the session index lists")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--self-test", action="store_true", help="check this JCS implementation against RFC 8785's examples")
    args = p.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.trail or not args.keys:
        p.print_usage(sys.stderr)
        return 2
    try:
        with open(args.keys, encoding="utf-8") as f:
            keys = load_keys(parse_json(f.read()))
        # Invalid UTF-8 becomes U+FFFD, so the event holding it fails its hash and is reported.
        if args.trail == "-":
            text = sys.stdin.buffer.read().decode("utf-8", "replace")
        else:
            with open(args.trail, "rb") as f:
                text = f.read().decode("utf-8", "replace")
    except (OSError, ValueError) as e:
        sys.stderr.write("verify-trail.py: %s\n" % e)
        return 2
    result = verify(text, keys, session_id=args.session, require_complete=not args.open, expected_chunks=args.chunks)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif result["ok"]:
        print("verified: session %s, %d events in %d signed chunks%s (keys: %s)" % (result["session"], result["events"], result["chunks"], "" if result["complete"] else ", open", ", ".join(result["kids"])))
    else:
        err = result["error"]
        where = " (line %d)" % err["line"] if "line" in err else ""
        print("NOT VERIFIED: %s at seq %d%s: %s" % (err["kind"], err["seq"], where, err["message"]))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
