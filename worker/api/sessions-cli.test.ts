/**
 * The `gatehouse sessions` / `gatehouse review` CLI online paths against the real sessions API
 * (Hono app, D1, R2 in workerd). The CLI's fetch is routed to the app in-process.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { Hono, type MiddlewareHandler } from "hono";
import { sessionsCommand } from "../../client/commands/sessions.ts";
import { reviewCommand } from "../../client/commands/review.ts";
import { createSessionsApi } from "./sessions.ts";
import { auditKeysHandler } from "./audit-keys.ts";
import { chunkKey } from "../audit/storage-keys.ts";
import type { AuditEnv } from "../audit/env.ts";
import { inSessionObject, newSessionId, recorderFor, startInput, testEnv } from "../audit/test-helpers.ts";

const TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhdWRpdG9yIn0.sig";
const requireRole =
  (role: string): MiddlewareHandler =>
  async (c, next) => {
    if (c.req.header("authorization") !== `Bearer ${TOKEN}`) return c.json({ error: "unauthorized", reason: "bad token" }, 401);
    if (role !== "auditor") return c.json({ error: "forbidden" }, 403);
    await next();
  };
const app = new Hono<{ Bindings: AuditEnv }>();
app.get("/.well-known/gatehouse-audit-keys", auditKeysHandler);
app.route("/v1/sessions", createSessionsApi({ requireRole }));
// The review also lists the period's just-in-time grants (/v1/grants, served by the ApprovalsObject,
// covered end to end in test/e2e/newcomer-demo.test.ts); this in-process app has none to list.
app.get("/v1/grants", requireRole("auditor"), (c) => c.json({ requests: [] }));

function cli(env: Record<string, string> = { GATEHOUSE_TOKEN: TOKEN, GATEHOUSE_URL: "http://gatehouse.test" }) {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: (s: string) => void (out.stdout += s),
      stderr: (s: string) => void (out.stderr += s),
      env,
      fetch: (req: Request) => app.fetch(req, testEnv),
    },
  };
}

const T0 = Date.UTC(2026, 9, 5, 8, 0, 0);
let id: string;
let broken: string;

async function record(sid: string, at: number) {
  await inSessionObject(sid, async (state) => {
    const r = recorderFor(state, sid, { now: () => at, limits: { chunkMaxEvents: 4 } });
    await r.onSessionStart(startInput());
    await r.onQuery({ text: "SELECT email FROM users", statements: [{ kind: "read", command: "SELECT" }] });
    await r.onDecision({ effect: "allow", rule: "reads", reason: "ok" });
    await r.onResult({ columns: [{ name: "email" }], rows_sample: [["a***@example.com"]], rows: 1, command_tag: "SELECT 1" });
    await r.onQuery({ text: "TRUNCATE audit_log", statements: [{ kind: "ddl", command: "TRUNCATE" }] });
    await r.onDecision({ effect: "deny", rule: "no-ddl", reason: "DDL is not allowed" });
    await r.onResult({ rows: 0, command_tag: "", error: { code: "42501", message: "denied by policy" } });
    await r.onSessionEnd({ reason: "client closed", status: "ok", bytes_in: 10, bytes_out: 20 });
  });
}

beforeAll(async () => {
  id = newSessionId("cli");
  broken = newSessionId("cli-broken");
  await record(id, T0);
  await record(broken, T0 + 1000);
  await testEnv.RECORDINGS.delete(chunkKey(broken, 1)); // the final chunk disappears
});

describe("gatehouse sessions (online)", () => {
  it("list", async () => {
    const { io, out } = cli();
    expect(await sessionsCommand(["list", "--from", new Date(T0).toISOString(), "--to", String(T0 + 60_000)], io)).toBe(0);
    const lines = out.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^SESSION\s+STARTED\s+DURATION\s+IDENTITY\s+RESOURCE\s+STATUS/);
    expect(lines).toHaveLength(3);
    expect(out.stdout).toMatch(new RegExp(`^${id}\\s+2026-10-05T08:00:00.000Z\\s+0.0s\\s+.*demo-pg \\(first\\)\\s+ok\\s+2\\s+1\\s+0\\s+yes$`, "m"));
    expect(out.stdout).toContain("acme/shop@refs/heads/main (deploy) [pipeline]");
  });

  it("show, replay, export, verify", async () => {
    const show = cli();
    expect(await sessionsCommand(["show", id], show.io)).toBe(0);
    expect(show.out.stdout).toMatch(/ddl\/TRUNCATE\s+deny:no-ddl/);
    const replay = cli();
    expect(await sessionsCommand(["replay", id], replay.io)).toBe(0);
    expect(replay.out.stdout).toContain(" a***@example.com");
    expect(replay.out.stdout).toContain("ERROR:  42501: denied by policy");
    const exp = cli();
    expect(await sessionsCommand(["export", id], exp.io)).toBe(0);
    expect(exp.out.stdout.trim().split("\n")).toHaveLength(10); // 8 events + 2 checkpoints
    const ok = cli();
    expect(await sessionsCommand(["verify", id], ok.io)).toBe(0);
    expect(ok.out.stdout).toMatch(/^OK: session cli-.* 8 events in 2 signed chunk\(s\)/);
    const bad = cli();
    expect(await sessionsCommand(["verify", broken], bad.io)).toBe(1);
    expect(bad.out.stdout).toMatch(/^FAILED: truncated/);
  });

  it("reports gateway errors without a stack trace", async () => {
    const noToken = cli({ GATEHOUSE_TOKEN: "a.b.c", GATEHOUSE_URL: "http://gatehouse.test" });
    expect(await sessionsCommand(["list"], noToken.io)).toBe(1);
    expect(noToken.out.stderr).toBe("gatehouse: gateway answered HTTP 401: unauthorized (bad token)\n");
    const missing = cli();
    expect(await sessionsCommand(["show", "no-such-session"], missing.io)).toBe(1);
    expect(missing.out.stderr).toContain("HTTP 404");
  });
});

describe("gatehouse review report (online)", () => {
  it("reviews the period from verified trails and flags the broken recording", async () => {
    const { io, out } = cli();
    expect(await reviewCommand(["report", "--from", String(T0), "--to", String(T0 + 60_000), "--format", "json"], io)).toBe(0);
    const report = JSON.parse(out.stdout) as { sessions: number; identities: { label: string; statements: Record<string, number>; denied: unknown[]; first_time: unknown[] }[]; incomplete: { session: string; reason: string }[] };
    expect(report.sessions).toBe(2);
    expect(report.identities).toHaveLength(1);
    expect(report.identities[0]).toMatchObject({ label: "acme/shop@refs/heads/main (deploy)", statements: { read: 2, ddl: 1 } }); // only the verified part of the broken trail counts
    expect(report.identities[0].denied).toHaveLength(1);
    expect(report.incomplete).toEqual([expect.objectContaining({ session: broken, reason: expect.stringMatching(/^truncated/) })]);
  });
});
