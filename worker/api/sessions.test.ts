import { describe, expect, it, beforeAll } from "vitest";
import { Hono, type MiddlewareHandler } from "hono";
import { parseKeySet, verifyTrailText, type VerifyResult } from "../../parsers/audit/index.ts";
import { createSessionsApi } from "./sessions.ts";
import { auditKeysHandler } from "./audit-keys.ts";
import { chunkKey } from "../audit/storage-keys.ts";
import type { AuditEnv } from "../audit/env.ts";
import { inSessionObject, newSessionId, recorderFor, startInput, testEnv } from "../audit/test-helpers.ts";
import type { SessionIndexRow } from "../audit/session-index.ts";

/**
 * Test-only stand-in for the worker's requireRole (which verifies the OIDC bearer token and the
 * policy role): roles come from a header, so the authorization logic of this API can be tested.
 */
const testRequireRole =
  (role: string): MiddlewareHandler =>
  async (c, next) => {
    const roles = c.req.header("x-test-roles");
    if (roles === undefined) return c.json({ error: "unauthorized", reason: "missing bearer token" }, 401);
    if (!roles.split(",").includes(role)) return c.json({ error: "forbidden", reason: `role ${role} required` }, 403);
    c.set("identity", { issuer: "https://idp.example", subject: "auditor-1", claims: {} });
    await next();
  };

const app = new Hono<{ Bindings: AuditEnv }>();
app.get("/.well-known/gatehouse-audit-keys", auditKeysHandler);
app.route("/v1/sessions", createSessionsApi({ requireRole: testRequireRole }));

const AUDITOR = { "x-test-roles": "auditor" };
const get = (path: string, headers: Record<string, string> = AUDITOR) => app.fetch(new Request(`http://gatehouse.test${path}`, { headers }), testEnv);

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const HUMAN = { issuer: "https://idp.example", subject: "u-42", claims: { iss: "https://idp.example", sub: "u-42", email: "bob@example.com" } };
let pipelineA: string;
let pipelineB: string;
let human: string;
let open: string;

async function record(id: string, at: number, opts: { human?: boolean; resource?: string; deny?: boolean; end?: boolean } = {}) {
  await inSessionObject(id, async (state) => {
    const r = recorderFor(state, id, { now: () => at, limits: { chunkMaxEvents: 3 } });
    await r.onSessionStart(startInput({ ...(opts.human ? { identity: HUMAN } : {}), resource: opts.resource ?? "demo-pg" }));
    await r.onQuery({ text: "SELECT 1", statements: [{ kind: "read", command: "SELECT" }] });
    await r.onDecision(opts.deny ? { effect: "deny", rule: "no", reason: "denied" } : { effect: "allow", rule: "yes", reason: "ok" });
    await r.onResult({ rows: 1, command_tag: "SELECT 1" });
    if (opts.end !== false) await r.onSessionEnd({ reason: "client closed", status: opts.deny ? "denied" : "ok", bytes_in: 1, bytes_out: 2 });
  });
}

beforeAll(async () => {
  pipelineA = newSessionId("pa");
  pipelineB = newSessionId("pb");
  human = newSessionId("h");
  open = newSessionId("o");
  await record(pipelineA, T0);
  await record(pipelineB, T0 + 60_000, { deny: true });
  await record(human, T0 + 120_000, { human: true, resource: "billing-pg" });
  await record(open, T0 + 180_000, { end: false });
});

describe("/v1/sessions authorization", () => {
  it("answers 401 without credentials and 403 without the auditor role, on every route", async () => {
    for (const path of ["/v1/sessions", `/v1/sessions/${pipelineA}`, `/v1/sessions/${pipelineA}/export`, `/v1/sessions/${pipelineA}/verify`]) {
      expect((await get(path, {})).status).toBe(401);
      expect((await get(path, { "x-test-roles": "developer,admin" })).status).toBe(403);
      expect((await get(path)).status).toBe(200);
    }
  });
});

describe("GET /v1/sessions", () => {
  const list = async (query: string) => {
    const res = await get(`/v1/sessions${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { sessions: SessionIndexRow[] }).sessions;
  };

  it("lists newest first with first-time access flags", async () => {
    const all = await list(`?from=${T0}`);
    expect(all.map((s) => s.id)).toEqual([open, human, pipelineB, pipelineA]);
    expect(all.find((s) => s.id === pipelineA)?.first_access).toBe(true);
    expect(all.find((s) => s.id === pipelineB)?.first_access).toBe(false);
    expect(all.find((s) => s.id === human)).toMatchObject({ identity_kind: "human", identity_label: "bob@example.com", first_access: true });
  });

  it("filters by identity, resource, time and outcome", async () => {
    expect((await list(`?identity=bob@example.com`)).map((s) => s.id)).toEqual([human]);
    expect((await list(`?identity=acme/shop&from=${T0}`)).map((s) => s.id)).toEqual([open, pipelineB, pipelineA]);
    expect((await list(`?resource=billing-pg`)).map((s) => s.id)).toEqual([human]);
    expect((await list(`?from=${new Date(T0 + 30_000).toISOString()}&to=${T0 + 150_000}`)).map((s) => s.id)).toEqual([human, pipelineB]);
    expect((await list(`?outcome=denied`)).map((s) => s.id)).toEqual([pipelineB]);
    expect((await list(`?outcome=open&from=${T0}`)).map((s) => s.id)).toEqual([open]);
    expect((await list(`?outcome=incomplete&from=${T0}`)).map((s) => s.id)).toEqual([open]);
    expect(await list(`?from=${T0}&limit=2`)).toHaveLength(2);
  });

  it("rejects bad parameters", async () => {
    expect((await get("/v1/sessions?from=yesterday")).status).toBe(400);
    expect((await get("/v1/sessions?limit=0")).status).toBe(400);
    expect((await get("/v1/sessions/bad%2Fid")).status).toBe(400);
    expect((await get("/v1/sessions/no-such-session")).status).toBe(404);
    expect((await get("/v1/sessions/no-such-session/export")).status).toBe(404);
  });
});

describe("GET /v1/sessions/:id, export and verify", () => {
  it("returns the index row", async () => {
    const res = await get(`/v1/sessions/${pipelineB}`);
    const body = (await res.json()) as { session: SessionIndexRow };
    expect(body.session).toMatchObject({ id: pipelineB, status: "denied", denied: 1, statements: { read: 1 }, complete: true, chunks: 2 });
  });

  it("exports JSON Lines that verify offline with the published keys", async () => {
    const res = await get(`/v1/sessions/${pipelineA}/export`);
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    expect(res.headers.get("gatehouse-chunks")).toBe("2");
    const text = await res.text();
    expect(text.trim().split("\n")).toHaveLength(7); // 5 events + 2 checkpoints
    const keys = parseKeySet(await (await get("/.well-known/gatehouse-audit-keys", {})).json());
    expect(await verifyTrailText(text, { keys, sessionId: pipelineA })).toMatchObject({ ok: true, complete: true, events: 5 });
  });

  it("verifies server-side, and an open session is reported incomplete but consistent", async () => {
    const ok = (await (await get(`/v1/sessions/${pipelineA}/verify`)).json()) as VerifyResult & { status: string };
    expect(ok).toMatchObject({ ok: true, complete: true, status: "ok" });
    const running = (await (await get(`/v1/sessions/${open}/verify`)).json()) as VerifyResult;
    expect(running).toMatchObject({ ok: true, complete: false, chunks: 1 });
  });

  it("detects tampering in R2: an altered chunk and a deleted last chunk", async () => {
    const id = newSessionId("t");
    await record(id, T0 + 240_000);
    const key0 = chunkKey(id, 0);
    const original = await (await testEnv.RECORDINGS.get(key0))!.text();
    await testEnv.RECORDINGS.put(key0, original.replace('"SELECT 1"', '"SELECT 2"'));
    const altered = (await (await get(`/v1/sessions/${id}/verify`)).json()) as VerifyResult;
    expect(altered).toMatchObject({ ok: false, error: { kind: "altered", seq: 1 } });
    await testEnv.RECORDINGS.put(key0, original);
    await testEnv.RECORDINGS.delete(chunkKey(id, 1));
    const dropped = (await (await get(`/v1/sessions/${id}/verify`)).json()) as VerifyResult;
    expect(dropped).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });
});
