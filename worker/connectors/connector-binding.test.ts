/**
 * Connector bindings (parsers/connector-binding.ts, docs/CONNECTOR.md "Binding") in workerd: the
 * real control route (assertion, admission on shard 0) and hub, with configured
 * (GATEHOUSE_CONNECTORS `resources`) and enrolled (token `resources`, admin rebind) connectors.
 * A connector announcing a name outside its binding is closed (1008) with nothing registered; the
 * legitimate connector goes on serving the name.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import { decodeFrame, encodeControl, encodeData, FrameType, TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import { hashEnrolmentToken } from "./registry.ts";
import { CONNECTOR_BINDING_GENERATION_HEADER, HUB_SHARD_HEADER, hubShard, hubShardOfResource, registryHub } from "./hub-shards.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { parseConnectors } from "../config/gateway-config.ts";
import { ConfigurationError } from "../errors.ts";
import { testIssuer, type TestIssuer } from "../limits/test-issuer.ts";
import { applyTestPolicy, askedOpen, clientTunnel, connectorOnline, holdRecorder, reader, startupMessage } from "../session/test-helpers.ts";
import type { SessionObject } from "../session/session-object.ts";
import type { ControlMessage } from "../../parsers/tunnel/frames.ts";

const testEnv = env as unknown as Env;

interface Keyed {
  id: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
  thumbprint: string;
}

async function keyed(id: string): Promise<Keyed> {
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  return { id, publicJwk, privateKey: pair.privateKey as CryptoKey, thumbprint: await calculateJwkThumbprint(publicJwk, "sha256") };
}

async function assertion(c: Keyed): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", kid: c.id, typ: "gatehouse-connector+jwt" })
    .setIssuer(c.id)
    .setSubject(c.id)
    .setAudience("gatehouse-connector")
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .setJti(crypto.randomUUID())
    .sign(c.privateKey);
}

interface Channel {
  hello(names: string[]): void;
  closed(): { code: number; reason: string } | null;
  opens(): string[];
  /** The stream ticket of the hub's `open` for `session`, once it came. */
  ticket(session: string): string | undefined;
}

/** A control channel through the real route (/v1/connector/control), as a connector dials it. */
async function control(e: Env, c: Keyed): Promise<Channel> {
  const ctx = createExecutionContext();
  const headers = { authorization: `Bearer ${await assertion(c)}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
  const res = await worker.fetch(new Request("http://127.0.0.1/v1/connector/control", { headers }), e, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  let closed: { code: number; reason: string } | null = null;
  const opens: string[] = [];
  const tickets = new Map<string, string>();
  ws.addEventListener("close", (ev) => {
    closed = { code: ev.code, reason: ev.reason };
  });
  ws.addEventListener("message", (ev) => {
    const frame = decodeFrame(ev.data as ArrayBuffer);
    if (frame.type === FrameType.Control && frame.message.t === "open") {
      opens.push(String(frame.message.session));
      tickets.set(String(frame.message.session), String(frame.message.ticket));
    }
  });
  ws.accept();
  return {
    hello: (names) => ws.send(encodeControl({ t: "hello", version: TUNNEL_PROTOCOL_VERSION, resources: names.map((name) => ({ name, type: "postgres", labels: { from: c.id } })) })),
    closed: () => closed,
    opens: () => opens,
    ticket: (session) => tickets.get(session),
  };
}

const hub = () => registryHub(testEnv);
const online = async (name: string) => (await hub().describe(name))?.online === true;
const waitOnline = (name: string) => vi.waitFor(async () => expect(await online(name)).toBe(true), { timeout: 20_000, interval: 20 });
const waitClosed = (ch: Channel) => vi.waitFor(() => expect(ch.closed()).not.toBeNull(), { timeout: 20_000, interval: 20 });

/** Enrol `c` with a token carrying `resources` (the registry steps POST /v1/connector/enroll takes). */
async function enrol(c: Keyed, resources?: string[]): Promise<void> {
  const hash = await hashEnrolmentToken(`ghenrol_test_${c.id}`);
  expect(await hub().createEnrolmentToken(hash, c.id, 600, "admin@test", [], resources)).toMatchObject({ ok: true });
  const enrolled = await hub().enrolConnector(hash, c.publicJwk, c.thumbprint);
  expect(enrolled).toMatchObject({ ok: true, record: { id: c.id, resources: resources ?? null } });
}

describe("a configured connector's binding (GATEHOUSE_CONNECTORS resources)", () => {
  it("a connector bound to dev-* announcing prod-db is closed with the refused name and registers nothing; the prod connector keeps serving prod-db", async () => {
    const prod = await keyed("cfg-prod");
    const dev = await keyed("cfg-dev");
    const e: Env = {
      ...testEnv,
      GATEHOUSE_CONNECTORS: JSON.stringify([
        { id: prod.id, public_key: prod.publicJwk, resources: ["cfgprod-*"] },
        { id: dev.id, public_key: dev.publicJwk, resources: ["cfgdev-*"] },
      ]),
    };
    const p = await control(e, prod);
    p.hello(["cfgprod-db"]);
    await waitOnline("cfgprod-db");
    // The rogue announcement: one name of its own, one of prod's.
    const d = await control(e, dev);
    d.hello(["cfgdev-app", "cfgprod-db"]);
    await waitClosed(d);
    expect(d.closed()).toEqual({ code: 1008, reason: "connector cfg-dev is not bound to serve cfgprod-db" });
    // Nothing of it registered: not its own name either, and prod-db keeps prod's shape.
    expect(await hub().describe("cfgdev-app")).toBeNull();
    expect(await hub().describe("cfgprod-db")).toEqual({ name: "cfgprod-db", type: "postgres", labels: { from: "cfg-prod" }, online: true });
    const opened = await hub().openStream("43000000-0000-4000-8000-000000000001", "cfgprod-db");
    expect(opened).toMatchObject({ ok: true, connectorId: "cfg-prod" });
    await vi.waitFor(() => expect(p.opens()).toEqual(["43000000-0000-4000-8000-000000000001"]), { timeout: 20_000, interval: 20 });
    expect(d.opens()).toEqual([]);
    // Inside its binding, the dev connector is served as before.
    const d2 = await control(e, dev);
    d2.hello(["cfgdev-app"]);
    await waitOnline("cfgdev-app");
    expect(d2.closed()).toBeNull();
  });

  it("a re-announcement on a live channel naming a resource outside the binding closes it: its earlier names go offline", async () => {
    const dev = await keyed("cfg-reannounce");
    const e: Env = { ...testEnv, GATEHOUSE_CONNECTORS: JSON.stringify([{ id: dev.id, public_key: dev.publicJwk, resources: ["reann-dev-*"] }]) };
    const d = await control(e, dev);
    d.hello(["reann-dev-a"]);
    await waitOnline("reann-dev-a");
    d.hello(["reann-dev-a", "reann-prod-db"]);
    await waitClosed(d);
    expect(d.closed()).toEqual({ code: 1008, reason: "connector cfg-reannounce is not bound to serve reann-prod-db" });
    expect(await online("reann-dev-a")).toBe(false);
    expect(await hub().describe("reann-prod-db")).toBeNull();
  });

  it("internal headers a connector sends itself (binding, its generation, another id, a shard) are not trusted; names are compared exactly (case)", async () => {
    const prod = await keyed("fg-prod");
    const dev = await keyed("fg-dev");
    const e: Env = {
      ...testEnv,
      GATEHOUSE_CONNECTORS: JSON.stringify([
        { id: prod.id, public_key: prod.publicJwk, resources: ["fgprod-*"] },
        { id: dev.id, public_key: dev.publicJwk, resources: ["fgdev-*"] },
      ]),
    };
    const forged = {
      "x-gatehouse-connector-binding": JSON.stringify(["**"]),
      "x-gatehouse-connector-binding-generation": "99999999999999",
      "x-gatehouse-connector-key-generation": "99999999999999",
      "x-gatehouse-connector": prod.id,
      "x-gatehouse-hub-shard": "0",
    };
    const dial = async () => {
      const ctx = createExecutionContext();
      const headers = { ...forged, authorization: `Bearer ${await assertion(dev)}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
      const res = await worker.fetch(new Request("http://127.0.0.1/v1/connector/control", { headers }), e, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(101);
      const ws = res.webSocket!;
      let closed: { code: number; reason: string } | null = null;
      ws.addEventListener("close", (ev) => {
        closed = { code: ev.code, reason: ev.reason };
      });
      ws.accept();
      return { ws, closed: () => closed };
    };
    const hello = (ws: WebSocket, names: string[]) => ws.send(encodeControl({ t: "hello", version: TUNNEL_PROTOCOL_VERSION, resources: names.map((name) => ({ name, type: "postgres" })) }));
    // Judged under its own binding (the route's), whatever it sent: fgprod-db is refused.
    const a = await dial();
    hello(a.ws, ["fgprod-db"]);
    await vi.waitFor(() => expect(a.closed()).not.toBeNull(), { timeout: 20_000, interval: 20 });
    expect(a.closed()).toEqual({ code: 1008, reason: "connector fg-dev is not bound to serve fgprod-db" });
    expect(await hub().describe("fgprod-db")).toBeNull();
    // A name differing in case is another name: outside fgdev-* (case-sensitive), refused.
    const b = await dial();
    hello(b.ws, ["FGDEV-app"]);
    await vi.waitFor(() => expect(b.closed()).not.toBeNull(), { timeout: 20_000, interval: 20 });
    expect(b.closed()).toEqual({ code: 1008, reason: "connector fg-dev is not bound to serve FGDEV-app" });
    // Inside its binding it is served under its own id, not the one it sent.
    const c = await dial();
    hello(c.ws, ["fgdev-app"]);
    await waitOnline("fgdev-app");
    expect(await hub().openStream("43000000-0000-4000-8000-0000000000f1", "fgdev-app")).toMatchObject({ ok: true, connectorId: "fg-dev" });
    // The session side asks by exact name: another spelling finds no connector.
    expect(await hub().openStream("43000000-0000-4000-8000-0000000000f2", "FGDEV-app")).toMatchObject({ ok: false });
  });

  it("without resources a configured connector may announce any name (as before bindings)", async () => {
    const any = await keyed("cfg-any");
    const e: Env = { ...testEnv, GATEHOUSE_CONNECTORS: JSON.stringify([{ id: any.id, public_key: any.publicJwk }]) };
    const a = await control(e, any);
    a.hello(["anyname-db", "other-thing"]);
    await waitOnline("anyname-db");
    await waitOnline("other-thing");
    expect(a.closed()).toBeNull();
  });

  it("a connector is listed online only once its hello is accepted: not while the socket waits for it, not after a refused one", async () => {
    const slow = await keyed("cfg-slow");
    const rogue = await keyed("cfg-rogue");
    const e: Env = {
      ...testEnv,
      GATEHOUSE_CONNECTORS: JSON.stringify([
        { id: slow.id, public_key: slow.publicJwk },
        { id: rogue.id, public_key: rogue.publicJwk, resources: ["rogue-*"] },
      ]),
    };
    const listedOnline = async () => (await hub().listConnectors()).online;
    const s = await control(e, slow);
    // The socket is open and admitted, but nothing is announced: a session could not start yet.
    expect(s.closed()).toBeNull();
    expect(await listedOnline()).not.toContain(slow.id);
    s.hello(["slow-db"]);
    await waitOnline("slow-db");
    expect(await listedOnline()).toContain(slow.id);
    const r = await control(e, rogue);
    r.hello(["slow-db"]);
    await waitClosed(r);
    expect(await listedOnline()).not.toContain(rogue.id);
  });

  it("an empty or malformed binding is a configuration error, saying why", () => {
    const key = { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" };
    const parse = (resources: unknown) => () => parseConnectors(JSON.stringify([{ id: "c", public_key: key, resources }]));
    expect(parse([])).toThrow(ConfigurationError);
    expect(parse([])).toThrow(/GATEHOUSE_CONNECTORS\[0\]\.resources is empty: the connector could serve no resource/);
    expect(parse("prod-*")).toThrow(/must be a list/);
    expect(parse(["prod/*"])).toThrow(/character no resource name has/);
    expect(parse(["prod-[ab]"])).toThrow(/character no resource name has/);
    expect(parse(["a**b***"])).toThrow(/GATEHOUSE_CONNECTORS\[0\]\.resources\[0\]/);
    expect(parseConnectors(JSON.stringify([{ id: "c", public_key: key, resources: ["prod-*", "billing-api"] }]))[0]!.resources).toEqual(["prod-*", "billing-api"]);
  });
});

describe("an enrolled connector's binding", () => {
  it("set by the enrolment token: a hello outside it is refused, inside it is served; without one, any name", async () => {
    const dev = await keyed("enr-dev");
    await enrol(dev, ["enrdev-*"]);
    const d = await control(testEnv, dev);
    d.hello(["enrprod-db"]);
    await waitClosed(d);
    expect(d.closed()).toEqual({ code: 1008, reason: "connector enr-dev is not bound to serve enrprod-db" });
    expect(await hub().describe("enrprod-db")).toBeNull();
    const d2 = await control(testEnv, dev);
    d2.hello(["enrdev-app"]);
    await waitOnline("enrdev-app");
    const free = await keyed("enr-free");
    await enrol(free);
    const f = await control(testEnv, free);
    f.hello(["enrfree-anything"]);
    await waitOnline("enrfree-anything");
    expect(f.closed()).toBeNull();
  });

  it("changed by an administrator: its channels are closed, recorded with who did it, and the next hello is judged under the new binding", async () => {
    const c = await keyed("enr-rebind");
    await enrol(c, ["rb-dev-*"]);
    const before = await control(testEnv, c);
    before.hello(["rb-dev-app"]);
    await waitOnline("rb-dev-app");
    // Narrowed: the live channel (judged under the old binding) is closed now.
    const bound = await hub().bindConnector(c.id, ["rb-prod-db"], "https://issuer admin-1");
    expect(bound).toMatchObject({ ok: true, closedChannels: 1, failedShards: [], record: { resources: ["rb-prod-db"], boundBy: "https://issuer admin-1", boundAt: expect.any(Number) } });
    await waitClosed(before);
    expect(before.closed()).toEqual({ code: 1008, reason: "connector enr-rebind's binding was changed: dial again" });
    expect(await online("rb-dev-app")).toBe(false);
    // Its record says so (what `admin connectors list` shows).
    expect((await hub().connectorRecord(c.id))?.resources).toEqual(["rb-prod-db"]);
    // The old name is now outside; the new one inside.
    const old = await control(testEnv, c);
    old.hello(["rb-dev-app"]);
    await waitClosed(old);
    expect(old.closed()).toEqual({ code: 1008, reason: "connector enr-rebind is not bound to serve rb-dev-app" });
    const now = await control(testEnv, c);
    now.hello(["rb-prod-db"]);
    await waitOnline("rb-prod-db");
    // Back to any name (null).
    expect(await hub().bindConnector(c.id, null, "https://issuer admin-1")).toMatchObject({ ok: true, closedChannels: 1, record: { resources: null } });
    await waitClosed(now);
    const any = await control(testEnv, c);
    any.hello(["rb-whatever"]);
    await waitOnline("rb-whatever");
    // Only enrolled, unrevoked connectors are bound by the registry.
    expect(await hub().bindConnector("enr-nobody", ["x"], "admin")).toMatchObject({ ok: false, status: 404 });
  });

  it("a socket admitted under the binding a change replaced, arriving after the change, is refused (401)", async () => {
    const c = await keyed("enr-bind-race");
    await enrol(c, ["race-*"]);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(await hub().claimAssertion(c.id, "jti-before", exp, c.thumbprint)).toEqual({ ok: true, keyGeneration: 0, bindingGeneration: 0, resources: ["race-*"] });
    expect(await hub().bindConnector(c.id, ["race-db"], "admin")).toMatchObject({ ok: true });
    const late = await hub().fetch("https://hub/control", {
      headers: { upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, [CONNECTOR_HEADER]: c.id, [HUB_SHARD_HEADER]: "0", [CONNECTOR_BINDING_GENERATION_HEADER]: "0", "x-gatehouse-connector-binding": JSON.stringify(["race-*"]) },
    });
    expect({ status: late.status, body: await late.json() }).toEqual({ status: 401, body: { error: "unauthorized", reason: `connector ${c.id}'s binding was changed; dial again` } });
  });
});

describe("the admin API for bindings", () => {
  const ISSUER = "https://issuer.binding.test";
  let idp: TestIssuer;
  let e: Env;
  let admin: string;
  const call = async (method: string, path: string, body?: unknown, token = admin): Promise<{ status: number; json: Record<string, unknown> }> => {
    const ctx = createExecutionContext();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) };
    const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), e, ctx);
    await waitOnExecutionContext(ctx);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const listed = async (id: string) => ((await call("GET", "/v1/admin/connectors")).json.connectors as { id: string }[]).find((c) => c.id === id);

  beforeAll(async () => {
    idp = await testIssuer(ISSUER, "gatehouse-binding");
    const cfgKey = { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" };
    e = {
      ...testEnv,
      GATEHOUSE_ISSUERS: idp.issuers,
      GATEHOUSE_POLICY: idp.policy,
      GATEHOUSE_CONNECTORS: JSON.stringify([
        { id: "api-cfg-bound", public_key: cfgKey, resources: ["cfg-*"] },
        { id: "api-cfg-any", public_key: { ...cfgKey, x: "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0" } },
      ]),
    };
    admin = await idp.token("alice", ["admins"]);
  });

  it("enrolment tokens carry a binding; an empty or malformed one is refused (400) saying why; the list shows every binding (null: any)", async () => {
    const empty = await call("POST", "/v1/admin/connectors/enroll-tokens", { id: "api-dev", resources: [] });
    expect(empty.status).toBe(400);
    expect(empty.json.reason).toMatch(/resources is empty: the connector could serve no resource/);
    expect((await call("POST", "/v1/admin/connectors/enroll-tokens", { id: "api-dev", resources: ["prod/*"] })).status).toBe(400);
    expect((await call("POST", "/v1/admin/connectors/enroll-tokens", { id: "api-dev", resources: "dev-*" })).status).toBe(400);
    const created = await call("POST", "/v1/admin/connectors/enroll-tokens", { id: "api-dev", resources: ["api-dev-*", "billing-api"] });
    expect(created).toMatchObject({ status: 201, json: { id: "api-dev", resources: ["api-dev-*", "billing-api"] } });
    const c = await keyed("api-dev");
    const enrolled = await hub().enrolConnector(await hashEnrolmentToken(created.json.token as string), c.publicJwk, c.thumbprint);
    expect(enrolled).toMatchObject({ ok: true });
    expect(await listed("api-dev")).toMatchObject({ source: "enrolled", resources: ["api-dev-*", "billing-api"], bound_at: null });
    expect(await listed("api-cfg-bound")).toMatchObject({ source: "configuration", resources: ["cfg-*"] });
    expect(await listed("api-cfg-any")).toMatchObject({ source: "configuration", resources: null });
  });

  it("bind: administrators only, enrolled connectors only, recorded with who did it; null is any name, [] is refused", async () => {
    const c = await keyed("api-rebind");
    await enrol(c, ["api-rb-*"]);
    expect((await call("POST", `/v1/admin/connectors/${c.id}/bind`, { resources: ["x-*"] }, await idp.token("mallory"))).status).toBe(403);
    expect((await call("POST", `/v1/admin/connectors/${c.id}/bind`, {})).status).toBe(400);
    expect((await call("POST", `/v1/admin/connectors/${c.id}/bind`, { resources: [] })).status).toBe(400);
    expect((await call("POST", "/v1/admin/connectors/api-cfg-bound/bind", { resources: ["x-*"] })).status).toBe(409);
    expect((await call("POST", "/v1/admin/connectors/api-nobody/bind", { resources: ["x-*"] })).status).toBe(404);
    const bound = await call("POST", `/v1/admin/connectors/${c.id}/bind`, { resources: ["api-rb-prod"] });
    expect(bound).toMatchObject({ status: 200, json: { id: c.id, resources: ["api-rb-prod"], bound_by: `${ISSUER} alice`, closed_control_channels: 0 } });
    expect(await listed(c.id)).toMatchObject({ resources: ["api-rb-prod"], bound_by: `${ISSUER} alice`, bound_at: expect.any(String) });
    const any = await call("POST", `/v1/admin/connectors/${c.id}/bind`, { resources: null });
    expect(any).toMatchObject({ status: 200, json: { resources: null } });
    expect((await hub().connectorRecord(c.id))?.resources).toBeNull();
  });
});

describe("a binding change on a sharded hub", () => {
  function tenantHubs(name: string): Env {
    return {
      ...testEnv,
      CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"],
      TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: 1, hub: 3 } },
    };
  }
  /** A control socket as the route hands it to shard `k`, admitted under binding generation `generation`. */
  async function socket(stub: ReturnType<typeof hubShard>, id: string, k: number, generation: number): Promise<{ status: number; closed: () => string | null }> {
    const res = await stub.fetch("https://hub/control", {
      headers: { upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, [CONNECTOR_HEADER]: id, [HUB_SHARD_HEADER]: String(k), [CONNECTOR_BINDING_GENERATION_HEADER]: String(generation) },
    });
    let reason: string | null = null;
    if (res.status === 101) {
      res.webSocket!.addEventListener("close", (ev) => {
        reason = ev.reason;
      });
      res.webSocket!.accept();
    }
    return { status: res.status, closed: () => reason };
  }

  it("each shard closes the channels admitted under an older binding, keeps the newer, and refuses an older one arriving late", async () => {
    const e = tenantHubs("binding-shards");
    const older = await socket(hubShard(e, 2), "dc-sh", 2, 0);
    const other = await socket(hubShard(e, 2), "dc-sh-other", 2, 0);
    expect(await hubShard(e, 2).closeForRebind("dc-sh", 5, null)).toEqual({ closedChannels: 1, endedSessions: 0 });
    await vi.waitFor(() => expect(older.closed()).toBe("connector dc-sh's binding was changed: dial again"), { timeout: 20_000, interval: 20 });
    expect(other.closed()).toBeNull();
    expect((await socket(hubShard(e, 2), "dc-sh", 2, 0)).status).toBe(401);
    const newer = await socket(hubShard(e, 2), "dc-sh", 2, 5);
    expect(newer.status).toBe(101);
    // A retry (or an earlier change's call arriving late) leaves the newer channel open.
    expect(await hubShard(e, 2).closeForRebind("dc-sh", 4, null)).toEqual({ closedChannels: 0, endedSessions: 0 });
    expect(newer.closed()).toBeNull();
  });

  it("a shard that did not confirm is asked again by shard 0's alarm until it does", async () => {
    const e = tenantHubs("binding-retry");
    const registry = registryHub(e);
    const c = await keyed("dc-bind-retry");
    await runInDurableObject(registry, async (_o, state) =>
      state.storage.put(`connector:${c.id}`, { id: c.id, source: "enrolled", publicKey: c.publicJwk, thumbprint: c.thumbprint, enrolledAt: 1, enrolledBy: "admin", rotatedAt: null, revokedAt: null, revokedBy: null, resources: ["a-*"] }),
    );
    const bound = await registry.bindConnector(c.id, ["b-*"], "admin");
    expect(bound).toMatchObject({ ok: true, failedShards: [] });
    const generation = (bound as { record: { boundAt: number } }).record.boundAt;
    // As if the close had failed on this shard: a channel of the old binding still open, the close owed.
    await runInDurableObject(registry, async (_o, state) => {
      await state.storage.delete(`binding-generation:${c.id}`);
      await state.storage.put(`rebind-pending:${c.id}:0`, generation);
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    const old = await socket(registry, c.id, 0, 0);
    expect(old.status).toBe(101);
    expect(await runDurableObjectAlarm(registry)).toBe(true);
    await vi.waitFor(() => expect(old.closed()).toBe(`connector ${c.id}'s binding was changed: dial again`), { timeout: 20_000, interval: 20 });
    expect(await runInDurableObject(registry, async (_o, state) => [...(await state.storage.list({ prefix: "rebind-pending:" })).keys()])).toEqual([]);
  });
});

describe("a binding change ends the sessions the connector serves outside the new binding", () => {
  const ISSUER = "https://issuer.binding-live.test";
  let idp: TestIssuer;
  let e: Env;
  const WAIT = { timeout: 20_000, interval: 20 };

  beforeAll(async () => {
    idp = await testIssuer(ISSUER, "gatehouse-binding-live");
    e = { ...testEnv, GATEHOUSE_ISSUERS: idp.issuers, GATEHOUSE_POLICY: idp.policy };
    // The session objects run with the worker's own Env: they read the policy applied in D1.
    await applyTestPolicy(testEnv.DB, idp.policy);
  });
  afterAll(async () => {
    await testEnv.DB.prepare("DELETE FROM policy_versions").run();
  });

  async function route(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
    const ctx = createExecutionContext();
    const init = { method, headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) };
    const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, init), e, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  /** A pipeline's PostgreSQL session to `resource` through the tunnel route: its id (from the `session` control) and what reaches it. */
  async function session(resource: string) {
    const res = await route("GET", `/v1/tunnel/${resource}`, { authorization: `Bearer ${await idp.token("ci-pipeline")}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL });
    if (res.status !== 101) throw new Error(`${res.status} ${await res.text()}`);
    const ws = res.webSocket!;
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    const frames: ReturnType<typeof decodeFrame>[] = [];
    ws.addEventListener("message", (ev) => void frames.push(decodeFrame(ev.data as ArrayBuffer)));
    ws.accept();
    const controls = () => frames.flatMap((f) => (f.type === FrameType.Control ? [f.message] : []));
    const start = await vi.waitFor(() => {
      const found = controls().find((m) => m.t === "session");
      if (!found) throw new Error("no session yet");
      return found;
    }, WAIT);
    const data = () => new TextDecoder().decode(new Uint8Array(frames.flatMap((f) => (f.type === FrameType.Data ? [...f.payload] : []))));
    return { ws, id: String(start.id), controls, data, closes: () => controls().filter((m) => m.t === "close") };
  }

  /** The connector's stream for `sessionId`, dialled through the stream route with its ticket; live once the client's StartupMessage reached it. */
  async function stream(ch: Channel, s: Awaited<ReturnType<typeof session>>, resource: string): Promise<WebSocket> {
    const ticket = await vi.waitFor(() => ch.ticket(s.id) ?? Promise.reject(new Error("no open yet")), WAIT);
    const res = await route("GET", `/v1/connector/streams/${s.id}`, { authorization: `Bearer ${ticket}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    const seen: string[] = [];
    ws.addEventListener("message", (ev) => {
      const f = decodeFrame(ev.data as ArrayBuffer);
      if (f.type === FrameType.Control) seen.push(String(f.message.t) + ":" + String(f.message.resource ?? ""));
    });
    ws.accept();
    s.ws.send(encodeData(startupMessage()));
    await vi.waitFor(() => expect(seen).toContain(`open:${resource}`), WAIT);
    return ws;
  }

  const indexed = (id: string) => testEnv.DB.prepare("SELECT status, end_reason FROM session_index WHERE id = ?").bind(id).first<{ status: string; end_reason: string | null }>();

  it("narrowed through the admin route: the live session and the ticketed one outside it end (57P01, in the trail); the one inside goes on", async () => {
    const c = await keyed("live-narrow");
    await enrol(c, ["ln-a", "ln-b"]);
    const ch = await control(e, c);
    ch.hello(["ln-a", "ln-b"]);
    await waitOnline("ln-a");
    await waitOnline("ln-b");
    // Live on ln-a and on ln-b; a third on ln-a whose ticket the connector holds, its stream not dialled yet.
    const outside = await session("ln-a");
    await stream(ch, outside, "ln-a");
    const inside = await session("ln-b");
    const insideStream = await stream(ch, inside, "ln-b");
    const ticketed = await session("ln-a");
    const ticket = await vi.waitFor(() => ch.ticket(ticketed.id) ?? Promise.reject(new Error("no open yet")), WAIT);
    await vi.waitFor(async () => expect((await indexed(outside.id))?.status).toBe("open"), WAIT);

    const bound = await route("POST", `/v1/admin/connectors/${c.id}/bind`, { authorization: `Bearer ${await idp.token("alice", ["admins"])}` }, { resources: ["ln-b"] });
    expect(bound.status).toBe(200);
    expect(await bound.json()).toMatchObject({ resources: ["ln-b"], closed_control_channels: 1, ended_sessions: 2 });

    const reason = "gatehouse: session ended: connector live-narrow is no longer bound to serve ln-a";
    for (const s of [outside, ticketed]) {
      // The client hears it in its own protocol: an ErrorResponse 57P01 with the reason, then the tunnel's close.
      await vi.waitFor(() => expect(s.closes()).toEqual([{ t: "close", code: "57P01", message: expect.stringContaining(reason.slice("gatehouse: ".length)) }]), WAIT);
      expect(s.data()).toContain("57P01");
      expect(s.data()).toContain("no longer bound to serve ln-a");
      const row = await vi.waitFor(async () => {
        const r = await indexed(s.id);
        if (!r || r.status === "open") throw new Error("not ended in the index yet");
        return r;
      }, WAIT);
      expect(row.end_reason).toContain("connector live-narrow is no longer bound to serve ln-a");
    }
    // The ticket the connector held admits nothing now.
    const late = await route("GET", `/v1/connector/streams/${ticketed.id}`, { authorization: `Bearer ${ticket}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL });
    expect(late.status).toBe(410);
    // Inside the new binding: still running, its stream open.
    expect(inside.closes()).toEqual([]);
    expect((await indexed(inside.id))?.status).toBe("open");
    expect(insideStream.readyState).toBe(WebSocket.OPEN);
    // A later change that keeps ln-b ends nothing; revoking still ends it (its record was kept).
    expect(await hub().bindConnector(c.id, ["ln-b", "ln-c"], "admin")).toMatchObject({ ok: true, endedSessions: 0 });
    expect(inside.closes()).toEqual([]);
    expect(await hub().revokeConnector(c.id, "admin", [])).toMatchObject({ ok: true, endedSessions: 1 });
    await vi.waitFor(() => expect(inside.closes()).toEqual([{ t: "close", code: "57P01", message: expect.stringContaining("connector live-narrow was revoked") }]), WAIT);
  });

  it("widened to any name, or on a connector serving nothing outside, ends nothing", async () => {
    const c = await keyed("live-widen");
    await enrol(c, ["lw-a"]);
    const ch = await control(e, c);
    ch.hello(["lw-a"]);
    await waitOnline("lw-a");
    const s = await session("lw-a");
    await stream(ch, s, "lw-a");
    expect(await hub().bindConnector(c.id, null, "admin")).toMatchObject({ ok: true, closedChannels: 1, endedSessions: 0 });
    expect(await hub().bindConnector(c.id, ["lw-*"], "admin")).toMatchObject({ ok: true, endedSessions: 0 });
    expect(s.closes()).toEqual([]);
    expect((await indexed(s.id))?.status).toBe("open");
    s.ws.close(1000, "done");
  });
});

describe("a binding change on a sharded hub ends the sessions outside it on every shard", () => {
  const WAIT = { timeout: 20_000, interval: 20 };
  const tenant = "binding-live-shards";
  const e: Env = {
    ...testEnv,
    CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, tenant) as unknown as Env["CONNECTOR_HUB"],
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, tenant) as unknown as Env["SESSION_LIMITER"],
    GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: "https://idp.example", audiences: ["gatehouse-test"] }]),
    TENANT: { name: tenant, via: "object", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: 1, hub: 3 } },
  };
  const onShard = (prefix: string, k: number) => Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`).find((name) => hubShardOfResource(name, 3) === k)!;
  const sessionStub = (id: string) => testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(id)) as DurableObjectStub<SessionObject>;

  /** A session of the tenant to `resource`, started (the hub of its shard sent the connector its open). */
  async function started(sessionId: string, resource: string, controls: () => ControlMessage[]) {
    await holdRecorder(sessionStub(sessionId), { env: e, hold: false });
    const res = await clientTunnel(sessionId, resource);
    expect(res.status).toBe(101);
    const tunnel = reader(res.webSocket!);
    await askedOpen(controls, sessionId, resource);
    return { closes: () => tunnel.controls().filter((m) => m.t === "close") };
  }

  // The unit harness runs hub objects untenanted: shard 0 asks itself only (hub-shards.test.ts).
  // Each shard's step is called here as shard 0 calls it; the fan-out is dropOnShards, and the
  // real-process e2e (test/e2e/hub-shards.test.ts) runs it across shards.
  it("each shard ends the connector's sessions outside the binding it is sent, keeps those inside; a legacy record (no resource) is dropped", async () => {
    await applyTestPolicy(testEnv.DB);
    const id = "dc-live-shards";
    const outside1 = onShard("lsh-out", 1);
    const outside2 = onShard("lsh-out", 2);
    const inside = onShard("lsh-keep", 2);
    const on1 = await connectorOnline(hubShard(e, 1), id, outside1, 1);
    const on2 = await connectorOnline(hubShard(e, 2), id, outside2, 2);
    const keep2 = await connectorOnline(hubShard(e, 2), id, inside, 2);
    const a = await started("44000000-0000-4000-8000-000000000001", outside1, on1.controls);
    const b = await started("44000000-0000-4000-8000-000000000002", outside2, on2.controls);
    const kept = await started("44000000-0000-4000-8000-000000000003", inside, keep2.controls);
    // A record written before records kept the resource: the time alone. Its session (one of an
    // object restarted since, as a deploy restarts them) cannot be shown inside the binding.
    const legacy = `live:${id}:44000000-0000-4000-8000-0000000000ff`;
    await runInDurableObject(hubShard(e, 2), async (_o, state) => state.storage.put(legacy, Date.now()));

    expect(await hubShard(e, 1).closeForRebind(id, 7, ["lsh-keep-*"])).toEqual({ closedChannels: 1, endedSessions: 1 });
    expect(await hubShard(e, 2).closeForRebind(id, 7, ["lsh-keep-*"])).toEqual({ closedChannels: 2, endedSessions: 1 });
    for (const s of [a, b]) await vi.waitFor(() => expect(s.closes()).toEqual([{ t: "close", code: "57P01", message: expect.stringMatching(/connector dc-live-shards is no longer bound to serve lsh-out-\d+$/) }]), WAIT);
    expect(kept.closes()).toEqual([]);
    const liveOn = (k: number) => runInDurableObject(hubShard(e, k), async (_o, state) => [...(await state.storage.list({ prefix: `live:${id}:` })).keys()]);
    expect(await liveOn(1)).toEqual([]);
    expect(await liveOn(2)).toEqual([`live:${id}:44000000-0000-4000-8000-000000000003`]);
  });

  it("shard 0's alarm, asking a shard again, ends the sessions outside the binding the registry holds now", async () => {
    await applyTestPolicy(testEnv.DB);
    const id = "dc-live-retry";
    const outside = onShard("lrt-out", 0);
    const inside = onShard("lrt-keep", 0);
    const registry = registryHub(e);
    await runInDurableObject(registry, async (_o, state) =>
      state.storage.put(`connector:${id}`, { id, source: "enrolled", publicKey: { kty: "OKP" }, thumbprint: "t", enrolledAt: 1, enrolledBy: "admin", rotatedAt: null, revokedAt: null, revokedBy: null, resources: ["lrt-*"] }),
    );
    const bound = await registry.bindConnector(id, ["lrt-keep-*"], "admin");
    expect(bound).toMatchObject({ ok: true, failedShards: [], endedSessions: 0 });
    // As if this shard had not confirmed: a session outside the binding is live on it, the close owed.
    const out = await connectorOnline(registry, id, outside, 0);
    const keep = await connectorOnline(registry, id, inside, 0);
    const ended = await started("44000000-0000-4000-8000-000000000011", outside, out.controls);
    const kept = await started("44000000-0000-4000-8000-000000000012", inside, keep.controls);
    const generation = (bound as { record: { boundAt: number } }).record.boundAt;
    await runInDurableObject(registry, async (_o, state) => {
      await state.storage.put(`rebind-pending:${id}:0`, generation);
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    expect(await runDurableObjectAlarm(registry)).toBe(true);
    await vi.waitFor(() => expect(ended.closes()).toEqual([{ t: "close", code: "57P01", message: expect.stringContaining(`connector ${id} is no longer bound to serve ${outside}`) }]), WAIT);
    expect(kept.closes()).toEqual([]);
    expect(await runInDurableObject(registry, async (_o, state) => [...(await state.storage.list({ prefix: "rebind-pending:" })).keys()])).toEqual([]);
  });
});
