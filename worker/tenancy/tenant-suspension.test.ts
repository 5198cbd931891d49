/**
 * Suspension's edges (docs/TENANCY.md "Lifecycle"), in workerd with real SessionObjects,
 * ConnectorHub shards, SessionLimiter and D1, running as a hosted tenant (their Env carries the
 * tenant, its hub and limiter in its namespace):
 *
 *  - the hub (every shard of a sharded one) is told by the suspend path and refuses the tenant's
 *    connectors from then on — a control channel, an admission on shard 0 (streams, key rotation),
 *    enrolment, a stream request — whatever a boundary's cached record says; resume admits again;
 *  - a session object that registers after the suspension listed the sessions to end finds the
 *    tenant's marker at registration and ends there (57P01), its trail and index saying so.
 *
 * The suspension and the resume are the platform's own code: what a lifecycle step tells every
 * piece (lifecycle-steps.ts converge: tellFor the record, tellPieces), given the tenant's Env
 * directly: in this test project objects run single-tenant, so they are given their tenant's Env
 * the way objectEnv would.
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import { TenantNamespace } from "./tenant-env.ts";
import { tellPieces, type TellResult } from "./tenant-lifecycle.ts";
import { allPieces, tellFor } from "./lifecycle-steps.ts";
import { testTenantRecord } from "./test-records.ts";
import { tenantSuspension } from "./tenant-suspension.ts";
import { allHubShards, hubShard, HUB_SHARD_HEADER, resourceHub } from "../connectors/hub-shards.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { applyTestPolicy, clientTunnel, connectorOnline, holdRecorder, type HeldRecorder } from "../session/test-helpers.ts";
import { decodeFrame, FrameType, TUNNEL_SUBPROTOCOL, type ControlMessage, type Frame } from "../../parsers/tunnel/frames.ts";

const testEnv = env as unknown as Env;
const LIMITS = { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null };
const WAIT = { timeout: 20_000, interval: 20 };
const SESSION_REASON = (t: string) => `gatehouse: session ended: the tenant ${t} was suspended by the platform (unpaid invoice)`;
const CONNECTOR_REASON = (t: string) => `gatehouse: the tenant ${t} is suspended by the platform`;
/** Record versions told to the pieces: every step a newer one (these tests share one database for their tenants' markers). */
let version = Date.now();

function hostedEnv(name: string, hub = 1): Env {
  return {
    ...testEnv,
    CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"],
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    APPROVALS: new TenantNamespace(testEnv.APPROVALS, name) as unknown as Env["APPROVALS"],
    // The issuer the test identities come from (a session object checks it against the record it read: still-trusted.ts).
    GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: "https://idp.example", audiences: ["gatehouse-test"] }]),
    TENANT: { name, via: "object", limits: LIMITS, shards: { approvals: 1, hub } },
  };
}

/**
 * A suspend or resume step of the tenant whose Env is `e`: its record at the next version, told to
 * every piece as converge tells it (the messages are the step's own: tellFor).
 */
function lifecycleStep(e: Env, intent: "suspend" | "resume"): Promise<TellResult> {
  const record = testTenantRecord(e.TENANT!.name, "platform", { status: "suspended", version: ++version, lifecycle: { intent, reason: "unpaid invoice", since: version }, shards: e.TENANT!.shards });
  return tellPieces(e, tellFor(record), allPieces(record));
}

function reader(ws: WebSocket): { controls: () => ControlMessage[]; closed: Promise<number> } {
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const frames: Frame[] = [];
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  ws.addEventListener("message", (e) => void frames.push(decodeFrame(e.data as ArrayBuffer)));
  ws.accept();
  return { controls: () => frames.flatMap((f) => (f.type === FrameType.Control ? [f.message] : [])), closed };
}

/** A control-socket upgrade as the connector route hands it to a shard. */
function dial(e: Env, shard: number, connectorId: string): Promise<Response> {
  return hubShard(e, shard).fetch("https://hub/control", { headers: { upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, [CONNECTOR_HEADER]: connectorId, [HUB_SHARD_HEADER]: String(shard) } });
}

describe("a suspended tenant's connector hub", () => {
  it("every shard refuses the tenant's connectors once told, whatever a boundary's cache says; resume admits them again", async () => {
    const acme = hostedEnv("susp-hub", 3);
    const other = hostedEnv("susp-other");
    // A control channel open on every shard before the suspension, and one of another tenant.
    const before = await Promise.all([0, 1, 2].map(async (k) => {
      const r = await dial(acme, k, "dc1");
      expect(r.status).toBe(101);
      return reader(r.webSocket!);
    }));
    const otherRes = await dial(other, 0, "dc1");
    expect(otherRes.status).toBe(101);
    const otherChannel = reader(otherRes.webSocket!);

    const ended = await lifecycleStep(acme, "suspend");
    expect(ended).toEqual({ endedSessions: 0, closedConnectors: 3, unreached: [], problems: [] });
    for (const channel of before) expect(await channel.closed).toBe(1008);

    // A connector reconnecting through an isolate whose cached record still says active: refused by each shard.
    for (const k of [0, 1, 2]) {
      const r = await dial(acme, k, "dc1");
      expect(r.status).toBe(403);
      expect(await r.json()).toEqual({ error: "tenant_suspended", reason: CONNECTOR_REASON("susp-hub") });
    }
    // Its admission on shard 0 (control channels, session streams, key rotation): refused as suspended.
    const registry = hubShard(acme, 0);
    expect(await registry.claimAssertion("dc1", "jti-after", Math.floor(Date.now() / 1000) + 60, null)).toEqual({ ok: false, reason: CONNECTOR_REASON("susp-hub"), suspended: true });
    expect(await registry.enrolConnector("0".repeat(64), { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }, "thumb")).toEqual({ ok: false, status: 403, error: "tenant_suspended", reason: CONNECTOR_REASON("susp-hub") });
    expect(await resourceHub(acme, "orders").openStream("50000000-0000-4000-8000-000000000001", "orders")).toEqual({ ok: false, reason: CONNECTOR_REASON("susp-hub") });

    // Another tenant's hub was not told anything: its channel is open, its connectors admitted.
    expect(otherChannel.controls()).toEqual([]);
    expect(await hubShard(other, 0).claimAssertion("dc1", "jti-other", Math.floor(Date.now() / 1000) + 60, null)).toEqual({ ok: true });
    otherRes.webSocket!.close(1000, "done");

    expect(await lifecycleStep(acme, "resume")).toMatchObject({ unreached: [] });
    expect(await allHubShards(acme)[0]!.claimAssertion("dc1", "jti-resumed", Math.floor(Date.now() / 1000) + 60, null)).toEqual({ ok: true });
    for (const k of [0, 1, 2]) {
      const r = await dial(acme, k, "dc1");
      expect(r.status).toBe(101);
      r.webSocket!.accept();
      r.webSocket!.close(1000, "done");
    }
  });
});

describe("a suspended tenant's connector, through the connector routes of an isolate that still thinks it active", () => {
  it("gets 403 tenant_suspended for its control channel and its session streams, from the hub", async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const e: Env = { ...hostedEnv("susp-routes"), GATEHOUSE_CONNECTORS: JSON.stringify([{ id: "dc-routes", public_key: await exportJWK(pair.publicKey) }]) };
    const assertion = (sid?: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(sid ? { sid } : {})
        .setProtectedHeader({ alg: "EdDSA", kid: "dc-routes", typ: "gatehouse-connector+jwt" })
        .setIssuer("dc-routes")
        .setSubject("dc-routes")
        .setAudience("gatehouse-connector")
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti(crypto.randomUUID())
        .sign(pair.privateKey);
    };
    const dial = async (path: string, sid?: string) => {
      const ctx = createExecutionContext();
      const headers = { authorization: `Bearer ${await assertion(sid)}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
      const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, { headers }), e, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    // Active: the control channel is admitted.
    const before = await dial("/v1/connector/control");
    expect(before.status).toBe(101);
    const channel = reader(before.webSocket!);

    expect(await lifecycleStep(e, "suspend")).toMatchObject({ unreached: [] });
    expect(await channel.closed).toBe(1008);
    // The same isolate's Env still says active (a cached record): the hub refuses.
    expect(e.TENANT?.suspended).toBeUndefined();
    const control = await dial("/v1/connector/control");
    expect(control.status).toBe(403);
    expect(await control.json()).toEqual({ error: "tenant_suspended", reason: CONNECTOR_REASON("susp-routes") });
    const sid = "50000000-0000-4000-8000-000000000020";
    const stream = await dial(`/v1/connector/streams/${sid}`, sid);
    expect(stream.status).toBe(403);
    expect(await stream.json()).toEqual({ error: "tenant_suspended", reason: CONNECTOR_REASON("susp-routes") });

    expect(await lifecycleStep(e, "resume")).toMatchObject({ unreached: [] });
    const after = await dial("/v1/connector/control");
    expect(after.status).toBe(101);
    after.webSocket!.accept();
    after.webSocket!.close(1000, "done");
  });
});

const applyPolicy = () => applyTestPolicy(testEnv.DB);

/**
 * The session object runs as the tenant (its Env the tenant's, as objectEnv gives it in hosted
 * mode); with `hold`, its recorder waits until released — the moment between the object's start
 * and its registration in the session index.
 */
function asTenant(sessionId: string, e: Env, hold: boolean): Promise<HeldRecorder> {
  return holdRecorder(testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId)), { env: e, hold });
}

async function indexed(sessionId: string): Promise<{ status: string; end_reason: string | null } | null> {
  return testEnv.DB.prepare("SELECT status, end_reason FROM session_index WHERE id = ?").bind(sessionId).first<{ status: string; end_reason: string | null }>();
}

describe("a session registering after the suspension listed the sessions to end", () => {
  it("finds the tenant's marker at registration and ends there (57P01), its trail and index saying so; after resume sessions start", async () => {
    await applyPolicy();
    const tenant = hostedEnv("susp-sessions");
    await connectorOnline(hubShard(tenant, 0), "c-susp", "orders");

    // Created (and its record read: active) just before the suspension; held before it registers.
    const late = "50000000-0000-4000-8000-000000000010";
    const held = await asTenant(late, tenant, true);
    const client = clientTunnel(late, "orders");
    await held.called();
    expect(await indexed(late)).toBeNull();

    // The suspension: marker, hubs, then the open sessions — the late one is not among them yet.
    const ended = await lifecycleStep(tenant, "suspend");
    expect(ended).toEqual({ endedSessions: 0, closedConnectors: 1, unreached: [], problems: [] });
    expect(await tenantSuspension(tenant.DB)).toBe(SESSION_REASON("susp-sessions"));

    // It registers now: its start is recorded, and it ends at once, before serving anything.
    await held.release();
    const res = await client;
    expect(res.status).toBe(101);
    const tunnel = reader(res.webSocket!);
    const close = await vi.waitFor(() => {
      const found = tunnel.controls().find((m) => m.t === "close");
      if (!found) throw new Error("no close yet");
      return found;
    }, WAIT);
    expect(close).toEqual({ t: "close", code: "57P01", message: SESSION_REASON("susp-sessions") });
    expect(tunnel.controls().filter((m) => m.t === "session")).toEqual([]);
    const row = await vi.waitFor(async () => {
      const r = await indexed(late);
      if (!r || r.status === "open") throw new Error("not ended in the index yet");
      return r;
    }, WAIT);
    expect(row.end_reason).toBe(SESSION_REASON("susp-sessions").slice("gatehouse: ".length));

    // Resumed: the marker is gone and a new session of the tenant starts as usual.
    expect(await lifecycleStep(tenant, "resume")).toMatchObject({ unreached: [] });
    expect(await tenantSuspension(tenant.DB)).toBeNull();
    await connectorOnline(hubShard(tenant, 0), "c-susp", "orders");
    const next = "50000000-0000-4000-8000-000000000011";
    await asTenant(next, tenant, false);
    const nextRes = await clientTunnel(next, "orders");
    expect(nextRes.status).toBe(101);
    const nextTunnel = reader(nextRes.webSocket!);
    await vi.waitFor(() => expect(nextTunnel.controls()).toContainEqual(expect.objectContaining({ t: "session", id: next })), WAIT);
    expect(nextTunnel.controls().filter((m) => m.t === "close")).toEqual([]);
    nextRes.webSocket!.close(1000, "done");
  });
});

describe("a session admitted by an isolate whose cached record still trusts an issuer the platform removed", () => {
  it("is refused by the session object, which judges the token again with the record it read; a still-trusted token starts", async () => {
    await applyPolicy();
    const tenant = hostedEnv("trust-update");
    await connectorOnline(hubShard(tenant, 0), "c-susp", "orders");
    // The update: the issuer now trusts another audience only (the edge's cache still had the old one).
    const updated: Env = { ...tenant, GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: "https://idp.example", audiences: ["gatehouse-rotated"] }]) };
    const oldAudience = "50000000-0000-4000-8000-000000000030";
    await asTenant(oldAudience, updated, false);
    const refused = reader((await clientTunnel(oldAudience, "orders", { claims: { aud: "gatehouse-test" } })).webSocket!);
    const close = await vi.waitFor(() => {
      const found = refused.controls().find((m) => m.t === "close");
      if (!found) throw new Error("no close yet");
      return found;
    }, WAIT);
    expect(close).toMatchObject({ t: "close", message: "gatehouse: the audience gatehouse-test of issuer https://idp.example is no longer trusted by the tenant" });
    expect(refused.controls().filter((m) => m.t === "session")).toEqual([]);
    // The issuer removed altogether.
    const gone: Env = { ...tenant, GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: "https://other-idp.example", audiences: ["gatehouse-test"] }]) };
    const oldIssuer = "50000000-0000-4000-8000-000000000031";
    await asTenant(oldIssuer, gone, false);
    const refusedToo = reader((await clientTunnel(oldIssuer, "orders", { claims: { aud: "gatehouse-test" } })).webSocket!);
    await vi.waitFor(() => expect(refusedToo.controls()).toContainEqual(expect.objectContaining({ t: "close", message: "gatehouse: the issuer https://idp.example is no longer trusted by the tenant" })), WAIT);
    // A token for the audience the record trusts now starts as usual.
    const fresh = "50000000-0000-4000-8000-000000000032";
    await asTenant(fresh, updated, false);
    const res = await clientTunnel(fresh, "orders", { claims: { aud: ["gatehouse-rotated"] } });
    const tunnel = reader(res.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "session", id: fresh })), WAIT);
    res.webSocket!.close(1000, "done");
  });
});
