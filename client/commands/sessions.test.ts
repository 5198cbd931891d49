import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTrail, createSigner, generateAuditKey, serializeTrail, isCheckpoint, type AuditSigner, type AuditEvent } from "../../parsers/audit/index.ts";
import { samplePgSession } from "../../parsers/audit/fixtures.ts";
import { sessionsCommand } from "./sessions.ts";
import { reviewCommand } from "./review.ts";

let dir: string;
let signer: AuditSigner;
let good: string;
let tampered: string;
let truncated: string;
let keys: string;
let unknownKeys: string;

function capture() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), env: {} } };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gatehouse-sessions-"));
  signer = await createSigner(await generateAuditKey("audit-1"));
  const trail = await buildTrail("sess-1", samplePgSession("sess-1"), signer, { chunkEvents: 4 });
  good = join(dir, "good.jsonl");
  await writeFile(good, serializeTrail(trail.lines));
  const altered = trail.lines.map((l) => JSON.parse(JSON.stringify(l)) as typeof l);
  const victim = altered.find((l) => !isCheckpoint(l) && l.seq === 3) as AuditEvent<"result">;
  victim.data.rows_sample = [["1", "alice@example.com"]];
  tampered = join(dir, "tampered.jsonl");
  await writeFile(tampered, serializeTrail(altered));
  truncated = join(dir, "truncated.jsonl");
  await writeFile(truncated, serializeTrail(trail.chunks.slice(0, -1).flat()));
  keys = join(dir, "keys.json");
  await writeFile(keys, JSON.stringify({ keys: [{ ...signer.publicKey, status: "active" }] }));
  unknownKeys = join(dir, "other-keys.json");
  await writeFile(unknownKeys, JSON.stringify({ keys: [(await createSigner(await generateAuditKey("other"))).publicKey] }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("gatehouse sessions (offline)", () => {
  it("verify --file --keys: OK for an untouched export", async () => {
    const { out, io } = capture();
    expect(await sessionsCommand(["verify", "--file", good, "--keys", keys], io)).toBe(0);
    expect(out.stdout).toMatch(/^OK: session sess-1 — 15 events in 4 signed chunk\(s\), key\(s\) audit-1; complete/);
  });

  it("verify reports exactly which event was altered, and a dropped last chunk", async () => {
    const a = capture();
    expect(await sessionsCommand(["verify", "--file", tampered, "--keys", keys], a.io)).toBe(1);
    expect(a.out.stdout).toMatch(/^FAILED: altered at event 3, line 4, chunk 0: event 3 \(line 4, result\) does not match its hash/);
    const b = capture();
    expect(await sessionsCommand(["verify", "--file", truncated, "--keys", keys, "--json"], b.io)).toBe(1);
    expect(JSON.parse(b.out.stdout)).toMatchObject({ ok: false, error: { kind: "truncated", seq: 12 } });
    const c = capture();
    expect(await sessionsCommand(["verify", "--file", good, "--keys", unknownKeys], c.io)).toBe(1);
    expect(c.out.stdout).toContain("FAILED: unknown-key");
  });

  it("show and replay render a file, warning when it does not verify", async () => {
    const show = capture();
    expect(await sessionsCommand(["show", "--file", good, "--keys", keys], show.io)).toBe(0);
    expect(show.out.stdout).toMatch(/ddl\/DROP TABLE\s+deny:no-ddl-in-prod/);
    expect(show.out.stderr).toBe("");
    const replay = capture();
    expect(await sessionsCommand(["replay", "--file", tampered, "--keys", keys, "--timing"], replay.io)).toBe(1);
    expect(replay.out.stderr).toContain("WARNING: this trail does NOT verify — FAILED: altered at event 3");
    expect(replay.out.stdout).toContain("demo-pg=> DROP TABLE users");
  });

  it("refuses bad usage with exit code 2", async () => {
    for (const argv of [["verify", "--file", good], ["frobnicate"], ["show", "bad/id"], ["list", "--nope"]]) {
      const { io, out } = capture();
      expect(await sessionsCommand(argv, io)).toBe(2);
      expect(out.stderr).toContain("usage:");
    }
    const missing = capture();
    expect(await sessionsCommand(["verify", "--file", join(dir, "nope.jsonl"), "--keys", keys], missing.io)).toBe(1);
    expect(missing.out.stderr).toContain("cannot read export");
  });
});

describe("gatehouse review report (offline)", () => {
  it("builds md, csv and json reports from verified files", async () => {
    const md = capture();
    expect(await reviewCommand(["report", "--from", "2026-11-27", "--to", "2026-11-28", "--file", good, "--file", truncated, "--keys", keys], md.io)).toBe(0);
    expect(md.out.stdout).toContain("# Gatehouse access review");
    expect(md.out.stdout).toContain("## acme/shop@refs/heads/main (deploy) (pipeline)");
    expect(md.out.stdout).toMatch(/session sess-1 — .*truncated at event 12/);
    const csv = capture();
    expect(await reviewCommand(["report", "--from", "2026-11-27", "--to", "2026-11-28", "--format", "csv", "--file", good, "--keys", keys], csv.io)).toBe(0);
    expect(csv.out.stdout.split("\n")[1]).toMatch(/^pipeline,acme\/shop@refs\/heads\/main \(deploy\),/);
    const json = capture();
    const outFile = join(dir, "review.json");
    expect(await reviewCommand(["report", "--from", "2026-11-27T00:00:00Z", "--to", "2026-11-28T00:00:00Z", "--format", "json", "--file", good, "--keys", keys, "--output", outFile], json.io)).toBe(0);
    expect(json.out.stderr).toContain("wrote the review of 1 session(s)");
    const outside = capture();
    expect(await reviewCommand(["report", "--from", "2026-12-01", "--to", "2026-12-02", "--format", "json", "--file", good, "--keys", keys], outside.io)).toBe(0);
    expect(JSON.parse(outside.out.stdout)).toMatchObject({ sessions: 0, identities: [] });
  });

  it("validates its arguments", async () => {
    for (const argv of [["report", "--to", "2026-11-28"], ["report", "--from", "2026-11-28", "--to", "2026-11-27"], ["report", "--from", "x", "--to", "y"], ["report", "--from", "2026-11-27", "--to", "2026-11-28", "--format", "xml"], ["report", "--from", "2026-11-27", "--to", "2026-11-28", "--file", good]]) {
      const { io } = capture();
      expect(await reviewCommand(argv, io)).toBe(2);
    }
  });
});
