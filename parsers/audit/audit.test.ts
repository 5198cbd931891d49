import { describe, expect, it, beforeAll } from "vitest";
import fc from "fast-check";
import {
  base64urlDecode,
  base64urlEncode,
  boundEvent,
  buildTrail,
  canonicalize,
  JcsError,
  chainEvent,
  computeEventHash,
  createSigner,
  genesisHash,
  generateAuditKey,
  isCheckpoint,
  parseKeySet,
  publicKeyOf,
  renderReplay,
  renderTimeline,
  serializeTrail,
  sha256Hex,
  signCheckpoint,
  toAsciicast,
  truncateUtf8,
  utf8Length,
  verifyTrail,
  verifyTrailText,
  type AuditEvent,
  type AuditSigner,
  type Checkpoint,
  type TrailLine,
  type UnchainedEvent,
} from "./index.ts";
import { samplePgSession } from "./fixtures.ts";

let signer: AuditSigner;
let other: AuditSigner;
beforeAll(async () => {
  signer = await createSigner(await generateAuditKey("k1"));
  other = await createSigner(await generateAuditKey("k-attacker"));
});

const SID = "sess-0001";
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

async function trail(chunkEvents = 4): Promise<TrailLine[]> {
  return (await buildTrail(SID, samplePgSession(SID), signer, { chunkEvents, now: () => 1 })).lines;
}
const keys = () => [signer.publicKey];
const eventIndex = (lines: TrailLine[], seq: number) => lines.findIndex((l) => !isCheckpoint(l) && l.seq === seq);

describe("canonical JSON", () => {
  it("sorts keys recursively, drops undefined members, writes no whitespace", () => {
    expect(canonicalize({ b: 1, a: { d: [1, "x", null, true], c: undefined }, "é": "\u2028" })).toBe('{"a":{"d":[1,"x",null,true]},"b":1,"é":"\u2028"}');
  });
  it("refuses values that have no single JSON form", () => {
    expect(() => canonicalize({ a: NaN })).toThrow(JcsError);
    expect(() => canonicalize([undefined])).toThrow(JcsError);
    expect(() => canonicalize({ a: new Date(0) })).toThrow(JcsError);
    expect(() => canonicalize({ a: 1n })).toThrow(JcsError);
  });
  it("is stable under parse/re-serialize (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalize(v);
        expect(canonicalize(JSON.parse(c))).toBe(c);
      }),
    );
  });
});

describe("bytes", () => {
  it("base64url round-trips and utf8Length matches TextEncoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.string({ unit: "binary" }), (bytes, s) => {
        expect([...base64urlDecode(base64urlEncode(bytes))]).toEqual([...bytes]);
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
    );
  });
  it("truncates UTF-8 on a code point boundary", () => {
    expect(truncateUtf8("aé€😀", 4)).toBe("aé");
    expect(truncateUtf8("😀😀", 7)).toBe("😀");
  });
});

describe("hash chain", () => {
  it("starts at SHA-256(session id) and hashes prev || canonical(event without hash)", async () => {
    const g = await genesisHash(SID);
    expect(g).toBe(await sha256Hex(new TextEncoder().encode(SID)));
    const e = await chainEvent({ type: "notice", ts: 5, data: { severity: "NOTICE", message: "hi" } }, 0, g);
    const { hash, ...rest } = e;
    expect(hash).toBe(await sha256Hex(g + canonicalize(rest)));
    expect(await computeEventHash(e)).toBe(hash);
    expect(e).toMatchObject({ v: 1, seq: 0, prev: g });
  });
});

describe("checkpoint signatures", () => {
  it("signs the canonical form with Ed25519 and publishes only public parts", async () => {
    const jwk = await generateAuditKey("rot-2", 1000);
    const s = await createSigner(jwk);
    const cp = await signCheckpoint(s, { session: SID, chunk: 0, first_seq: 0, last_seq: 0, last_hash: "0".repeat(64), final: false, ts: 1 });
    expect(cp.kid).toBe("rot-2");
    expect(base64urlDecode(cp.sig)).toHaveLength(64);
    const pub = publicKeyOf(jwk, "active");
    expect(pub).toEqual({ kid: "rot-2", kty: "OKP", crv: "Ed25519", x: jwk.x, created: 1000, status: "active" });
    expect(parseKeySet({ keys: [{ ...pub, d: "secret-must-not-pass" }] })[0]).not.toHaveProperty("d");
    expect(() => parseKeySet({ nope: 1 })).toThrow();
    await expect(createSigner({ ...jwk, d: "" })).rejects.toThrow(/private/);
  });
});

describe("verification", () => {
  it("accepts an untouched multi-chunk trail, including through the JSON Lines export", async () => {
    const lines = await trail(4);
    const r = await verifyTrail(lines, { keys: keys() });
    expect(r).toMatchObject({ ok: true, session: SID, events: 15, chunks: 4, complete: true, unsealed: 0, kids: ["k1"] });
    const text = serializeTrail(lines);
    expect(text.split("\n").filter(Boolean)).toHaveLength(19);
    expect((await verifyTrailText(text, { keys: keys(), sessionId: SID, expectedChunks: 4 })).ok).toBe(true);
  });

  it("detects an altered field (hash not updated)", async () => {
    const lines = await trail();
    const i = eventIndex(lines, 3);
    (lines[i] as AuditEvent<"result">).data.rows_sample![0][1] = "alice@example.com";
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 3, kind: "altered", line: i + 1 });
  });

  it("detects an altered event whose hash was recomputed (the next event no longer links)", async () => {
    const lines = await trail();
    const i = eventIndex(lines, 5);
    const e = lines[i] as AuditEvent<"query">;
    e.data.text = "SELECT 1";
    e.hash = await computeEventHash(e);
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 5, kind: "altered" });
  });

  it("detects a rewritten chunk (whole chain recomputed) through the signed checkpoint", async () => {
    const lines = await trail();
    let prev = await genesisHash(SID);
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (isCheckpoint(l)) break;
      if (l.seq === 1) (l as AuditEvent<"query">).data.text = "SELECT harmless";
      l.prev = prev;
      l.hash = await computeEventHash(l);
      prev = l.hash;
    }
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 3, kind: "altered", chunk: 0 });
  });

  it("detects a removed event in the middle of a chunk and at the end of a chunk", async () => {
    const a = await trail();
    a.splice(eventIndex(a, 6), 1);
    expect((await verifyTrail(a, { keys: keys() })).error).toMatchObject({ seq: 6, kind: "removed" });
    const b = await trail();
    b.splice(eventIndex(b, 7), 1); // last event of chunk 1
    expect((await verifyTrail(b, { keys: keys() })).error).toMatchObject({ seq: 7, kind: "removed", chunk: 1 });
  });

  it("detects removal of session.end even when the final checkpoint is kept", async () => {
    const lines = await trail();
    lines.splice(eventIndex(lines, 14), 1);
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 14, kind: "removed" });
  });

  it("detects an inserted event, placed before or after the genuine one with the same seq", async () => {
    const base = await trail();
    const genuine = base[eventIndex(base, 4)] as AuditEvent;
    const forged = await chainEvent({ type: "notice", ts: genuine.ts, data: { severity: "NOTICE", message: "forged" } }, 4, genuine.prev);
    const before = clone(base);
    before.splice(eventIndex(before, 4), 0, forged);
    expect((await verifyTrail(before, { keys: keys() })).error).toMatchObject({ seq: 4, kind: "inserted", line: eventIndex(before, 4) + 1 });
    const after = clone(base);
    after.splice(eventIndex(after, 4) + 1, 0, forged);
    expect((await verifyTrail(after, { keys: keys() })).error).toMatchObject({ seq: 4, kind: "inserted" });
  });

  it("detects an event appended to a sealed chunk and one with an invented seq", async () => {
    const lines = await trail();
    const last = lines[eventIndex(lines, 3)] as AuditEvent;
    const extra = await chainEvent({ type: "notice", ts: last.ts, data: { severity: "NOTICE", message: "x" } }, 4, last.hash);
    const a = clone(lines);
    a.splice(eventIndex(a, 3) + 1, 0, extra);
    expect((await verifyTrail(a, { keys: keys() })).error).toMatchObject({ seq: 4, kind: "inserted" });
    const b = clone(lines);
    b.splice(eventIndex(b, 2), 0, await chainEvent({ type: "notice", ts: 1, data: { severity: "NOTICE", message: "x" } }, 99, "f".repeat(64)));
    expect((await verifyTrail(b, { keys: keys() })).error).toMatchObject({ seq: 99, kind: "inserted" });
  });

  it("detects a replayed copy of an earlier event", async () => {
    const lines = await trail();
    lines.splice(eventIndex(lines, 9), 0, clone(lines[eventIndex(lines, 1)]));
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 1, kind: "inserted" });
  });

  it("detects two swapped events", async () => {
    const lines = await trail();
    const i = eventIndex(lines, 5);
    [lines[i], lines[i + 1]] = [lines[i + 1], lines[i]];
    expect((await verifyTrail(lines, { keys: keys() })).error).toMatchObject({ seq: 5, kind: "reordered" });
  });

  it("detects swapped chunks", async () => {
    const { chunks } = await buildTrail(SID, samplePgSession(SID), signer, { chunkEvents: 4 });
    const swapped = [...chunks[0], ...chunks[2], ...chunks[1], ...chunks[3]];
    expect((await verifyTrail(swapped, { keys: keys() })).error).toMatchObject({ seq: 4, kind: "reordered" });
  });

  it("detects a dropped last chunk, a dropped final checkpoint, and a dropped middle chunk", async () => {
    const { chunks } = await buildTrail(SID, samplePgSession(SID), signer, { chunkEvents: 4 });
    const noLast = chunks.slice(0, 3).flat();
    expect((await verifyTrail(noLast, { keys: keys() })).error).toMatchObject({ seq: 12, kind: "truncated" });
    const noFinalCp = chunks.flat().slice(0, -1);
    expect((await verifyTrail(noFinalCp, { keys: keys() })).error).toMatchObject({ seq: 12, kind: "truncated" });
    const noMiddle = [...chunks[0], ...chunks[2], ...chunks[3]];
    expect((await verifyTrail(noMiddle, { keys: keys() })).error).toMatchObject({ seq: 4, kind: "removed" });
    // The index knows how many chunks were written: a dropped last chunk is truncation even for an open session.
    expect((await verifyTrail(noLast, { keys: keys(), requireComplete: false, expectedChunks: 4 })).error).toMatchObject({ kind: "truncated", chunk: 3 });
  });

  it("detects a chunk re-signed with an unknown key, and a broken signature", async () => {
    const lines = await trail();
    const i = lines.findIndex((l) => isCheckpoint(l) && l.chunk === 1);
    const { sig: _s, kid: _k, type: _t, v: _v, ...fields } = lines[i] as Checkpoint;
    const a = clone(lines);
    a[i] = await signCheckpoint(other, fields);
    expect((await verifyTrail(a, { keys: keys() })).error).toMatchObject({ kind: "unknown-key", chunk: 1, seq: 7 });
    const b = clone(lines);
    (b[i] as Checkpoint).last_seq = 6;
    expect((await verifyTrail(b, { keys: keys() })).error).toMatchObject({ kind: "bad-signature", chunk: 1 });
    const c = clone(lines);
    (c[i] as Checkpoint).kid = other.kid;
    expect((await verifyTrail(c, { keys: [...keys(), other.publicKey] })).error).toMatchObject({ kind: "bad-signature", chunk: 1 });
  });

  it("refuses content after the final checkpoint and a trail from another session", async () => {
    const lines = await trail();
    const tail = await chainEvent({ type: "notice", ts: 1, data: { severity: "NOTICE", message: "late" } }, 15, (lines[lines.length - 2] as AuditEvent).hash);
    expect((await verifyTrail([...lines, tail], { keys: keys() })).error).toMatchObject({ kind: "inserted", seq: 15 });
    expect((await verifyTrail(lines, { keys: keys(), sessionId: "other" })).ok).toBe(false);
  });

  it("verifies across key rotation when both public keys are known", async () => {
    const rotated = await createSigner(await generateAuditKey("k2"));
    const events = samplePgSession(SID);
    const first = await buildTrail(SID, events, signer, { chunkEvents: 8 });
    // Re-sign the second chunk with the new key, as a gateway does after rotation.
    const cp = first.chunks[1].at(-1) as Checkpoint;
    const { sig: _s, kid: _k, type: _t, v: _v, ...fields } = cp;
    const lines = [...first.chunks[0], ...first.chunks[1].slice(0, -1), await signCheckpoint(rotated, fields)];
    const r = await verifyTrail(lines, { keys: [signer.publicKey, rotated.publicKey] });
    expect(r).toMatchObject({ ok: true, kids: ["k1", "k2"] });
    expect((await verifyTrail(lines, { keys: [rotated.publicKey] })).error?.kind).toBe("unknown-key");
  });

  it("allows an unsealed tail only for a session declared open, and reports a malformed line", async () => {
    const { events, chunks } = await buildTrail(SID, samplePgSession(SID).slice(0, 6), signer, { chunkEvents: 4 });
    const open = [...chunks[0], ...events.slice(4)];
    expect(await verifyTrail(open, { keys: keys(), requireComplete: false })).toMatchObject({ ok: true, complete: false, unsealed: 2, events: 6 });
    expect((await verifyTrail(open, { keys: keys() })).error).toMatchObject({ kind: "truncated", seq: 4 });
    const r = await verifyTrailText(serializeTrail(chunks[0]) + "{not json\n", { keys: keys() });
    expect(r.error).toMatchObject({ kind: "altered", line: 6 });
  });
});

describe("bounded events", () => {
  it("cuts long fields and oversized samples with explicit markers", () => {
    const e: UnchainedEvent<"result"> = {
      type: "result",
      ts: 1,
      data: { columns: [{ name: "c" }], rows_sample: Array.from({ length: 50 }, (_, i) => [`r${i}`]), rows: 50, command_tag: "SELECT 50", error: { code: "XX000", message: "x".repeat(500) } },
    };
    const b = boundEvent(e, { maxFieldBytes: 100, maxSampleRows: 10, maxEventBytes: 100_000 });
    expect(b.data.rows_sample).toHaveLength(10);
    expect(b.data.error!.message).toHaveLength(100);
    expect(b.truncated).toEqual(expect.arrayContaining([{ field: "error.message", original_bytes: 500 }, expect.objectContaining({ field: "rows_sample" })]));
    expect(e.data.rows_sample).toHaveLength(50); // input untouched
  });
  it("keeps a whole event under maxEventBytes", () => {
    const e: UnchainedEvent<"query"> = { type: "query", ts: 1, data: { text: "y".repeat(10_000), params: Array.from({ length: 200 }, () => "p".repeat(500)) } };
    const b = boundEvent(e, { maxFieldBytes: 8000, maxSampleRows: 10, maxEventBytes: 4096 });
    expect(utf8Length(canonicalize(b))).toBeLessThanOrEqual(4096);
    expect(b.truncated!.map((t) => t.field)).toContain("text");
  });
});

describe("renderings", () => {
  it("replays what the client saw: masked sample rows, denial, approval, notice", async () => {
    const { events } = await buildTrail(SID, samplePgSession(SID), signer);
    const out = renderReplay(events, { timing: true });
    expect(out).toContain("demo-pg=> SELECT id, email FROM users ORDER BY id LIMIT 2");
    expect(out).toContain(" id | email");
    expect(out).toContain(" 1  | a***@example.com");
    expect(out).toContain("(2 rows)");
    expect(out).toContain("-- policy: deny (rule no-ddl-in-prod): DDL is not allowed on production");
    expect(out).toContain("ERROR:  42501: gatehouse: denied by policy rule no-ddl-in-prod");
    expect(out).toContain("-- approval.granted by alice@acme.example");
    expect(out).toContain("WARNING:  01000: there is no transaction in progress");
    expect(out).toContain("[+0.010s]");
    expect(out).not.toContain("alice@example.com");
  });
  it("shows a timeline with decisions, durations and rows", async () => {
    const { events } = await buildTrail(SID, samplePgSession(SID), signer);
    const out = renderTimeline(events);
    expect(out).toContain("acme/shop@refs/heads/main (deploy) [pipeline]");
    expect(out).toMatch(/read\/SELECT\s+allow:pipelines-read\s+6\s+2\s+SELECT id, email/);
    expect(out).toMatch(/ddl\/DROP TABLE\s+deny:no-ddl-in-prod\s+ERR 42501\s+DROP TABLE users/);
    expect(out).toMatch(/write\/UPDATE\s+approve→allow:writes-need-approval\s+3005\s+1\s+UPDATE orders/);
    expect(out).toContain("granted by alice@acme.example");
    expect(out).toMatch(/session\.end\s+ok/);
  });
  it("maps terminal events onto asciicast v2", async () => {
    const start = samplePgSession(SID)[0] as UnchainedEvent<"session.start">;
    const t0 = start.ts;
    const { events } = await buildTrail(SID, [
      { ...start, data: { ...start.data, resource_type: "ssh", terminal: { cols: 100, rows: 30, term: "xterm-256color" } } },
      { type: "term.output", ts: t0 + 1500, data: { data: "$ " } },
      { type: "term.input", ts: t0 + 2000, data: { data: "ls\r" } },
      { type: "term.resize", ts: t0 + 2250, data: { cols: 120, rows: 40 } },
    ], signer);
    const lines = toAsciicast(events).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ version: 2, width: 100, height: 30, timestamp: Math.floor(t0 / 1000), env: { TERM: "xterm-256color" } });
    expect(lines.slice(1)).toEqual([[1.5, "o", "$ "], [2, "i", "ls\r"], [2.25, "r", "120x40"]]);
  });
  it("typed input held by masking: placeholders give way to the masked data that resolves them; one never resolved shows as a redacted run", async () => {
    const start = samplePgSession(SID)[0] as UnchainedEvent<"session.start">;
    const t0 = start.ts;
    const { events } = await buildTrail(SID, [
      { ...start, data: { ...start.data, resource_type: "ssh" } },
      { type: "term.input", ts: t0 + 1000, data: { ch: 0, data: "export T=", held: 4 } as never },
      { type: "term.input", ts: t0 + 1100, data: { ch: 0, data: "", held: 8 } as never },
      { type: "term.input", ts: t0 + 1200, data: { ch: 0, data: "[REDACTED]\r" } as never },
      { type: "term.input", ts: t0 + 2000, data: { ch: 1, data: "echo ", held: 6 } as never },
    ], signer);
    const lines = toAsciicast(events).trim().split("\n").slice(1).map((l) => JSON.parse(l));
    expect(lines).toEqual([[1, "i", "export T="], [1.2, "i", "[REDACTED]\r"], [2, "i", "echo "], [2, "i", "******"]]);
    const replay = renderReplay(events);
    expect(replay).toContain("-- 6 typed byte(s) on channel 1 reached the target while masking still held them");
    expect(replay).not.toContain("channel 0 reached");
  });
});

describe("recorded text is Unicode (RFC 8785 has no form for lone surrogates)", () => {
  it("boundEvent records a lone surrogate as U+FFFD and keeps a member named __proto__, so the event chains", async () => {
    const claims = JSON.parse('{"sub":"x\\ud800y","\\udc00k":1,"__proto__":{"evil":"\\ud83d"},"ok":"\\ud83d\\ude00"}');
    const event: UnchainedEvent<"session.start"> = { type: "session.start", ts: 1, data: { ...samplePgSession("s-1")[0]!.data, identity: { issuer: "i", subject: "x\ud800y", claims } } as never };
    expect(() => canonicalize(event)).toThrow(JcsError);
    const bounded = boundEvent(event);
    const text = canonicalize(bounded);
    expect(text).toContain('"subject":"x\ufffdy"');
    expect(text).toContain('"claims":{"__proto__":{"evil":"\ufffd"},"ok":"\ud83d\ude00","sub":"x\ufffdy","\ufffdk":1}');
    expect(bounded.truncated).toBeUndefined();
    const chained = await chainEvent(bounded, 0, await genesisHash("s-1"));
    expect(await computeEventHash(JSON.parse(canonicalize(chained)))).toBe(chained.hash);
  });
});
