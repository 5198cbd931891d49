/**
 * Golden vectors of the audit trail: fixed events, a fixed session id and a fixed test Ed25519 key
 * must give exactly the committed export — every event hash, the chain, every checkpoint signature
 * (Ed25519 is deterministic). Any change to the canonical form, the hash chain or the checkpoint
 * format breaks this test on purpose: such a change needs a new trail format version, not new
 * vectors. See golden/README.md.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGoldenTrail, type GoldenAuditInput } from "./golden/build.ts";
import { canonicalize } from "../encoding/jcs.ts";
import { parseKeySet } from "./signing.ts";
import { verifyTrailText } from "./verify.ts";
import { chainEncoded, genesisHash, genesisHashSync } from "./chain.ts";
import { encodeBoundedEvent, DEFAULT_EVENT_BOUNDS } from "./bounds.ts";

const read = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), "utf8");
const input = JSON.parse(read("audit-input.json")) as GoldenAuditInput;
const key = JSON.parse(read("test-audit-key.json"));
const keys = parseKeySet(JSON.parse(read("audit-keys.json")));
const expected = read("audit-trail.jsonl");

describe("audit golden vectors", () => {
  it("rebuild the committed trail byte for byte: event hashes, chain and checkpoint signatures", async () => {
    const built = await buildGoldenTrail(input, key);
    const got = built.split("\n");
    const want = expected.split("\n");
    for (let i = 0; i < want.length; i++) expect(got[i], `line ${i + 1}`).toBe(want[i]);
    expect(got.length).toBe(want.length);
  });

  it("start at the genesis of the session id and chain every event to the previous one", async () => {
    const lines = expected.trim().split("\n").map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type !== "checkpoint");
    expect(events.length).toBe(input.events.length);
    expect(events[0].prev).toBe(await genesisHash(input.session_id));
    expect(events[0].prev).toBe("98e632f97cbbca2e9c89f1e7f8eaf424f08c23bd25a8f30ae2b785d949ae6aac");
    for (let i = 1; i < events.length; i++) expect(events[i].prev).toBe(events[i - 1].hash);
    expect(lines.filter((l) => l.type === "checkpoint").map((c) => [c.chunk, c.first_seq, c.last_seq, c.final])).toEqual([
      [0, 0, 6, false],
      [1, 7, 19, false],
      [2, 20, 28, true],
    ]);
  });

  it("the recorder's one-encoding, synchronous path (encodeBoundedEvent + chainEncoded) writes the same lines", () => {
    const want = expected.trim().split("\n").filter((l) => !l.includes('"type":"checkpoint"'));
    let prev = genesisHashSync(input.session_id);
    // Tight bounds too, so the boundEvent fallback (cut fields, dropped samples) is exercised through the same envelope.
    for (const [seq, event] of input.events.entries()) {
      const { hash, line } = chainEncoded(encodeBoundedEvent(event, DEFAULT_EVENT_BOUNDS), seq, prev);
      expect(line, `seq ${seq}`).toBe(want[seq]);
      expect(JSON.parse(line).hash).toBe(hash);
      prev = hash;
    }
    const tight = { maxFieldBytes: 64, maxSampleRows: 1, maxEventBytes: 600 };
    for (const event of input.events) {
      const encoded = encodeBoundedEvent(event, tight);
      const bounded = JSON.parse(canonicalize({ ...encoded.event }));
      expect(encoded.data).toBe(canonicalize(bounded.data));
      expect(encoded.bytes).toBe(new TextEncoder().encode(canonicalize(encoded.event)).length);
    }
  });

  it("every line is the canonical JSON of itself, and the trail verifies with the published test key", async () => {
    for (const line of expected.trim().split("\n")) expect(canonicalize(JSON.parse(line))).toBe(line);
    const result = await verifyTrailText(expected, { keys });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ ok: true, complete: true, events: 29, chunks: 3, session: input.session_id, kids: ["golden-test-2026"] });
  });

  it("refuse a line that is not exactly canonical, and a signature in another base64url spelling", async () => {
    const lines = expected.trim().split("\n");
    const lie = [...lines];
    lie[1] = lines[1]!.replace('{"data":', '{"data":{"text":"DROP TABLE users"},"data":'); // JSON.parse keeps the last "data"
    expect((await verifyTrailText(lie.join("\n"), { keys })).error).toMatchObject({ kind: "altered", seq: 1, line: 2 });
    const spaced = [...lines];
    spaced[1] = lines[1]!.replace('"seq":1,', '"seq": 1,');
    expect((await verifyTrailText(spaced.join("\n"), { keys })).error).toMatchObject({ kind: "altered", seq: 1, line: 2 });
    const cp = JSON.parse(lines[7]!);
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const resigned = [...lines];
    resigned[7] = canonicalize({ ...cp, sig: cp.sig.slice(0, -1) + B64[B64.indexOf(cp.sig.at(-1)) | 1] });
    expect((await verifyTrailText(resigned.join("\n"), { keys })).error).toMatchObject({ kind: "bad-signature", seq: 6, line: 8 });
    // Line endings and surrounding whitespace are not content: CRLF still verifies.
    expect((await verifyTrailText(lines.join("\r\n") + "\r\n", { keys })).ok).toBe(true);
  });
});
