/**
 * Connector bindings (parsers/connector-binding.ts, docs/CONNECTOR.md "Binding") in workerd: the
 * real control route (assertion, admission on shard 0) and hub, with configured
 * (GATEHOUSE_CONNECTORS `resources`) and enrolled (token `resources`, admin rebind) connectors.
 * A connector announcing a name outside its binding is closed (1008) with nothing registered; the
 * legitimate connector goes on serving the name.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import { decodeFrame, encodeControl, FrameType, TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import { hashEnrolmentToken } from "./registry.ts";
import { CONNECTOR_BINDING_GENERATION_HEADER, HUB_SHARD_HEADER, hubShard, registryHub } from "./hub-shards.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { parseConnectors } from "../config/gateway-config.ts";
import { ConfigurationError } from "../errors.ts";
import { testIssuer, type TestIssuer } from "../limits/test-issuer.ts";

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
  ws.addEventListener("close", (ev) => {
    closed = { code: ev.code, reason: ev.reason };
  });
  ws.addEventListener("message", (ev) => {
    const frame = decodeFrame(ev.data as ArrayBuffer);
    if (frame.type === FrameType.Control && frame.message.t === "open") opens.push(String(frame.message.session));
  });
  ws.accept();
  return {
    hello: (names) => ws.send(encodeControl({ t: "hello", version: TUNNEL_PROTOCOL_VERSION, resources: names.map((name) => ({ name, type: "postgres", labels: { from: c.id } })) })),
    closed: () => closed,
    opens: () => opens,
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
    expect(await hubShard(e, 2).closeForRebind("dc-sh", 5)).toEqual({ closedChannels: 1, endedSessions: 0 });
    await vi.waitFor(() => expect(older.closed()).toBe("connector dc-sh's binding was changed: dial again"), { timeout: 20_000, interval: 20 });
    expect(other.closed()).toBeNull();
    expect((await socket(hubShard(e, 2), "dc-sh", 2, 0)).status).toBe(401);
    const newer = await socket(hubShard(e, 2), "dc-sh", 2, 5);
    expect(newer.status).toBe(101);
    // A retry (or an earlier change's call arriving late) leaves the newer channel open.
    expect(await hubShard(e, 2).closeForRebind("dc-sh", 4)).toEqual({ closedChannels: 0, endedSessions: 0 });
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
