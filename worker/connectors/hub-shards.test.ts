/**
 * The connector hub's shards (worker/connectors/hub-shards.ts) in workerd: placement, every shard's
 * name inside its tenant, and the revocation marker that refuses a control socket admitted on
 * shard 0 just before the connector was revoked (the e2e test, test/e2e/hub-shards.test.ts, runs
 * the whole protocol with a real connector).
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { decodeFrame, encodeControl, FrameType, TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import { ConnectorRegistry } from "./registry.ts";
import { dropOnShards } from "./connector-hub.ts";
import { CONNECTOR_KEY_GENERATION_HEADER, HUB_SHARD_HEADER, allHubShards, hubShard, hubShardCount, hubShardMap, hubShardOfResource, registryHub, resourceHub } from "./hub-shards.ts";

const testEnv = env as unknown as Env;
const LIMITS = { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null };

function tenantEnv(name: string, hub?: number): Env {
  return {
    ...testEnv,
    CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"],
    TENANT: { name, via: "path", limits: LIMITS, shards: { approvals: 1, ...(hub === undefined ? {} : { hub }) } },
  };
}

/** A control-socket upgrade as the connector route hands it to a shard (`keyGeneration`: admitted with an enrolled key). */
function dial(stub: ReturnType<typeof hubShard>, connectorId: string, shard = 0, keyGeneration?: number): Promise<Response> {
  const headers: Record<string, string> = { upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, [CONNECTOR_HEADER]: connectorId, [HUB_SHARD_HEADER]: String(shard) };
  if (keyGeneration !== undefined) headers[CONNECTOR_KEY_GENERATION_HEADER] = String(keyGeneration);
  return stub.fetch("https://hub/control", { headers });
}

/** An enrolled connector's record, as the registry on shard 0 keeps it (never rotated). */
function enrolledRecord(id: string, publicKey: JWK, thumbprint: string) {
  return { id, source: "enrolled", publicKey, thumbprint, enrolledAt: 1, enrolledBy: "admin", rotatedAt: null, revokedAt: null, revokedBy: null };
}

/**
 * Record the storage reads (get keys, list prefixes) a hub object makes from now on; the returned
 * function says which were made. The object's own storage is wrapped, nothing else changes.
 */
async function recordReads(stub: ReturnType<typeof hubShard>): Promise<() => Promise<string[]>> {
  await runInDurableObject(stub, (object) => {
    const o = object as unknown as { ctx: DurableObjectState; readsForTest: string[] };
    const reads: string[] = [];
    o.readsForTest = reads;
    const ctx = o.ctx;
    const storage = new Proxy(ctx.storage, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "get") reads.push(`get ${String(args[0])}`);
          if (prop === "list") reads.push(`list ${String((args[0] as { prefix?: string } | undefined)?.prefix)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    o.ctx = new Proxy(ctx, {
      get(target, prop) {
        if (prop === "storage") return storage;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  });
  return () => runInDurableObject(stub, (object) => [...(object as unknown as { readsForTest: string[] }).readsForTest]);
}

describe("hub shard placement", () => {
  it("counts 1 without a tenant or shards.hub, the tenant's count otherwise, clamped to 1..32", () => {
    expect(hubShardCount(testEnv)).toBe(1);
    expect(hubShardCount(tenantEnv("acme"))).toBe(1);
    expect(hubShardCount(tenantEnv("acme", 3))).toBe(3);
    expect(hubShardCount(tenantEnv("acme", 99))).toBe(32);
    expect(hubShardCount(tenantEnv("acme", 0))).toBe(1);
  });

  it("places every name on one shard below the count, stably; with one shard everything is on 0", () => {
    const names = Array.from({ length: 60 }, (_, i) => `db-${i}`);
    const map = hubShardMap(names, 3);
    expect(new Set(Object.values(map))).toEqual(new Set([0, 1, 2]));
    for (const n of names) expect(hubShardOfResource(n, 3)).toBe(map[n]);
    expect(new Set(Object.values(hubShardMap(names, 1)))).toEqual(new Set([0]));
  });

  it("names shard k `hub` / `hub-<k>` inside the tenant: no shard is another tenant's or the single-tenant hub", () => {
    const acme = tenantEnv("acme", 3);
    const beta = tenantEnv("beta", 3);
    const ids = (e: Env) => allHubShards(e).map((s) => s.id.toString());
    expect(ids(acme)).toEqual(["hub", "hub-1", "hub-2"].map((n) => testEnv.CONNECTOR_HUB.idFromName(`tenant:acme:${n}`).toString()));
    expect(ids(acme).filter((id) => ids(beta).includes(id))).toEqual([]);
    expect(ids(acme)).not.toContain(testEnv.CONNECTOR_HUB.idFromName("hub").toString());
    expect(registryHub(acme).id.toString()).toBe(ids(acme)[0]);
    expect(resourceHub(acme, "orders").id.toString()).toBe(ids(acme)[hubShardOfResource("orders", 3)]);
    // Single-tenant: the one object named "hub", whatever the resource.
    expect(resourceHub(testEnv, "orders").id.toString()).toBe(testEnv.CONNECTOR_HUB.idFromName("hub").toString());
  });
});

describe("revocation on a shard", () => {
  it("a shard told of a revocation refuses that connector's control socket from then on, and only its", async () => {
    const stub = testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("test-hub-shard-drop"));
    const before = await dial(stub, "dc-late", 1);
    expect(before.status).toBe(101);
    before.webSocket!.accept();
    const closed = new Promise<number>((resolve) => before.webSocket!.addEventListener("close", (e) => resolve(e.code)));
    expect(await stub.dropConnector("dc-late")).toEqual({ closedChannels: 1, endedSessions: 0 });
    expect(await closed).toBe(1008);
    // Admitted on shard 0 just before the revocation, arriving after it: refused.
    const after = await dial(stub, "dc-late", 1);
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ error: "unauthorized", reason: "connector dc-late was revoked" });
    const other = await dial(stub, "dc-other", 1);
    expect(other.status).toBe(101);
    other.webSocket!.accept();
    other.webSocket!.close(1000, "done");
  });

  it("the registry shard refuses a revoked connector's socket too (the admission and the upgrade are two calls)", async () => {
    const stub = testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("test-hub-shard-registry"));
    const revoked = await stub.revokeConnector("dc-boot", "admin", ["dc-boot"]);
    expect(revoked).toMatchObject({ ok: true, closedChannels: 0, endedSessions: 0, failedShards: [] });
    const r = await dial(stub, "dc-boot");
    expect(r.status).toBe(401);
  });
});

describe("revocation checks by shard", () => {
  it("a shard other than 0 reads only its own revocation marker, never the registry's records (shard 0 alone has them); shard 0 still reads them", async () => {
    const e = tenantEnv("revocation-reads", 3);
    const readsOn2 = await recordReads(hubShard(e, 2));
    const readsOn0 = await recordReads(hubShard(e, 0));
    for (const k of [2, 0]) {
      const r = await dial(hubShard(e, k), "dc-reads", k);
      expect(r.status).toBe(101);
      r.webSocket!.accept();
      r.webSocket!.close(1000, "done");
    }
    const revocationReads = (reads: string[]) => reads.filter((r) => r.includes("dc-reads"));
    expect(revocationReads(await readsOn2())).toEqual(["get revoked:dc-reads"]);
    expect(revocationReads(await readsOn0())).toEqual(["get revoked:dc-reads", "get connector:dc-reads", "list drop-pending:dc-reads:"]);
  });
});

describe("openStream on a shard that knows of a revocation", () => {
  /** A connector's control socket on `stub` serving `resource`, and what it is sent. */
  async function online(stub: ReturnType<typeof hubShard>, connectorId: string, resource: string): Promise<{ opens: () => string[] }> {
    const res = await dial(stub, connectorId);
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    const opens: string[] = [];
    ws.addEventListener("message", (e) => {
      const frame = decodeFrame(e.data as ArrayBuffer);
      if (frame.type === FrameType.Control && frame.message.t === "open") opens.push(String(frame.message.session));
    });
    ws.accept();
    ws.send(encodeControl({ t: "hello", version: TUNNEL_PROTOCOL_VERSION, resources: [{ name: resource, type: "postgres", labels: {} }] }));
    await vi.waitFor(async () => expect((await stub.describe(resource))?.online).toBe(true), { timeout: 20_000, interval: 20 });
    return { opens: () => opens };
  }

  it("never picks a connector whose drop is owed or whose revocation is recorded, while its socket is still open; another connector serves", async () => {
    const stub = testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("test-hub-open-owed"));
    const owed = await online(stub, "dc-owed", "pg-owed");
    // Shard 0's first step of a revocation: the drop-pending records, written before the registry's revoke.
    await runInDurableObject(stub, async (_o, state) => state.storage.put("drop-pending:dc-owed:0", Date.now()));
    expect(await stub.openStream("42000000-0000-4000-8000-000000000001", "pg-owed")).toEqual({ ok: false, reason: "no connector online for resource pg-owed" });
    // Shard k's marker from the drop (its sockets are closed in the same step; the marker alone refuses).
    const marked = await online(stub, "dc-marked", "pg-marked");
    await runInDurableObject(stub, async (_o, state) => state.storage.put("revoked:dc-marked", Date.now()));
    expect(await stub.openStream("42000000-0000-4000-8000-000000000002", "pg-marked")).toMatchObject({ ok: false });
    // The registry's revoked record (shard 0), the drop not run yet.
    const recorded = await online(stub, "dc-recorded", "pg-recorded");
    await runInDurableObject(stub, async (_o, state) => {
      await new ConnectorRegistry(state.storage).revoke("dc-recorded", "admin", ["dc-recorded"]);
    });
    expect(await stub.openStream("42000000-0000-4000-8000-000000000003", "pg-recorded")).toMatchObject({ ok: false });
    const fresh = await online(stub, "dc-fresh", "pg-recorded");
    const opened = await stub.openStream("42000000-0000-4000-8000-000000000004", "pg-recorded");
    expect(opened).toMatchObject({ ok: true, connectorId: "dc-fresh", ticketHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    await vi.waitFor(() => expect(fresh.opens()).toEqual(["42000000-0000-4000-8000-000000000004"]), { timeout: 20_000, interval: 20 });
    expect([...owed.opens(), ...marked.opens(), ...recorded.opens()]).toEqual([]);
  });
});

describe("key rotation on a sharded hub", () => {
  /** An open control socket on `stub`; `closed()` says whether the hub closed it, and why. */
  async function channel(stub: ReturnType<typeof hubShard>, connectorId: string, shard: number): Promise<{ closed: () => string | null }> {
    const res = await dial(stub, connectorId, shard);
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    let reason: string | null = null;
    ws.addEventListener("close", (e) => (reason = e.reason));
    ws.accept();
    return { closed: () => reason };
  }

  it("closes the connector's control channels (admitted with the old key), and only its; a refused rotation closes none", async () => {
    // The registry's own Env decides how many shards it asks (one here: the unit harness runs hub
    // objects untenanted); the fan-out itself is dropOnShards (below), the per-shard step closeControls.
    const e = tenantEnv("rotation-closes");
    const oldKey = { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" };
    const newKey = { kty: "OKP", crv: "Ed25519", x: "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0" };
    await runInDurableObject(registryHub(e), async (_o, state) =>
      state.storage.put("connector:dc-rot", { id: "dc-rot", source: "enrolled", publicKey: oldKey, thumbprint: "old-thumb", enrolledAt: 1, enrolledBy: "admin", rotatedAt: null, revokedAt: null, revokedBy: null }),
    );
    const rotating = await Promise.all([channel(registryHub(e), "dc-rot", 0), channel(registryHub(e), "dc-rot", 0)]);
    const other = await channel(registryHub(e), "dc-other", 0);
    // Refused (not the current key): nothing closed.
    expect(await registryHub(e).rotateConnectorKey("dc-rot", "stale-thumb", newKey, "new-thumb")).toMatchObject({ ok: false, status: 409 });
    await new Promise((r) => setTimeout(r, 100));
    expect(rotating.map((c) => c.closed())).toEqual([null, null]);
    // Rotated: both of dc-rot's channels closed with the reason, dc-other's left open.
    expect(await registryHub(e).rotateConnectorKey("dc-rot", "old-thumb", newKey, "new-thumb")).toMatchObject({ ok: true });
    await vi.waitFor(() => expect(rotating.map((c) => c.closed())).toEqual(Array(2).fill("connector dc-rot's key was rotated: dial again with the new key")), { timeout: 20_000, interval: 20 });
    expect(other.closed()).toBeNull();
  });

  it("a shard that did not confirm is asked again by the alarm, which closes the old key's channels only; a confirmed rotation leaves nothing owed", async () => {
    const e = tenantEnv("rotation-retry");
    const registry = registryHub(e);
    const oldKey = { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" };
    const newKey = { kty: "OKP", crv: "Ed25519", x: "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0" };
    await runInDurableObject(registry, async (_o, state) => state.storage.put("connector:dc-retry", enrolledRecord("dc-retry", oldKey, "old-thumb")));
    const owed = () => runInDurableObject(registry, async (_o, state) => [...(await state.storage.list({ prefix: "rotate-pending:" })).keys()]);
    await runInDurableObject(registry, async (_o, state) => state.storage.deleteAlarm());
    const rotated = await registry.rotateConnectorKey("dc-retry", "old-thumb", newKey, "new-thumb");
    expect(rotated).toMatchObject({ ok: true });
    expect(await owed()).toEqual([]);
    // Armed before any shard was asked (an eviction mid-way must not lose the owed closes).
    expect(await runInDurableObject(registry, async (_o, state) => state.storage.getAlarm())).not.toBeNull();
    const generation = (rotated as { record: { rotatedAt: number } }).record.rotatedAt;
    // As if the close had failed on this shard: a channel of the old key (generation 0) still open,
    // the record of the close owed — and the connector already back with its new key.
    const open = async (keyGeneration: number) => {
      const res = await dial(registry, "dc-retry", 0, keyGeneration);
      expect(res.status).toBe(101);
      let reason: string | null = null;
      res.webSocket!.addEventListener("close", (ev) => (reason = ev.reason));
      res.webSocket!.accept();
      return () => reason;
    };
    await runInDurableObject(registry, async (_o, state) => {
      await state.storage.delete("key-generation:dc-retry");
      await state.storage.put("rotate-pending:dc-retry:0", generation);
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    const oldChannel = await open(0);
    const newChannel = await open(generation);
    expect(await runDurableObjectAlarm(registry)).toBe(true);
    await vi.waitFor(() => expect(oldChannel()).toBe("connector dc-retry's key was rotated: dial again with the new key"), { timeout: 20_000, interval: 20 });
    expect(newChannel()).toBeNull();
    expect(await owed()).toEqual([]);
  });

  it("closeControls, the step every shard runs, closes that connector's channels on that shard only", async () => {
    const e = tenantEnv("rotation-shards", 3);
    const rot = await Promise.all([1, 2].map((k) => channel(hubShard(e, k), "dc-rot", k)));
    const other = await channel(hubShard(e, 1), "dc-other", 1);
    expect(await hubShard(e, 1).closeControls("dc-rot")).toEqual({ closedChannels: 1, endedSessions: 0 });
    await vi.waitFor(() => expect(rot[0]!.closed()).toBe("connector dc-rot's key was rotated: dial again with the new key"), { timeout: 20_000, interval: 20 });
    expect(rot[1]!.closed()).toBeNull();
    expect(other.closed()).toBeNull();
  });
});

describe("a control socket admitted with the key a rotation replaced", () => {
  it("arriving after the rotation, is refused by the registry shard and by every shard told of it; the new key's socket is admitted", async () => {
    const e = tenantEnv("rotation-race", 3);
    const registry = registryHub(e);
    const oldKey = { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" };
    const newKey = { kty: "OKP", crv: "Ed25519", x: "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0" };
    await runInDurableObject(registry, async (_o, state) => state.storage.put("connector:dc-race", enrolledRecord("dc-race", oldKey, "old-thumb")));
    const exp = Math.floor(Date.now() / 1000) + 60;
    // Admitted with the old key (generation 0: the enrolled one)…
    expect(await registry.claimAssertion("dc-race", "jti-old", exp, "old-thumb")).toEqual({ ok: true, keyGeneration: 0, bindingGeneration: 0 });
    // …then the rotation lands before the socket reaches its shard.
    const rotated = await registry.rotateConnectorKey("dc-race", "old-thumb", newKey, "new-thumb");
    expect(rotated).toMatchObject({ ok: true });
    const generation = (rotated as { record: { rotatedAt: number } }).record.rotatedAt;
    const refusedAs = { error: "unauthorized", reason: "connector dc-race's key was rotated; dial again with the new key" };
    const late = await dial(registry, "dc-race", 0, 0);
    expect({ status: late.status, body: await late.json() }).toEqual({ status: 401, body: refusedAs });
    // Shard 2 told of this rotation, and of an earlier one after it (out of order): it keeps the later.
    await hubShard(e, 2).closeControls("dc-race", generation);
    await hubShard(e, 2).closeControls("dc-race", generation - 1);
    const lateOn2 = await dial(hubShard(e, 2), "dc-race", 2, 0);
    expect({ status: lateOn2.status, body: await lateOn2.json() }).toEqual({ status: 401, body: refusedAs });
    // The new key: admitted with the rotation's generation, its sockets accepted on both.
    expect(await registry.claimAssertion("dc-race", "jti-new", exp, "new-thumb")).toEqual({ ok: true, keyGeneration: generation, bindingGeneration: 0 });
    for (const [stub, k] of [[registry, 0], [hubShard(e, 2), 2]] as const) {
      const r = await dial(stub, "dc-race", k, generation);
      expect(r.status).toBe(101);
      r.webSocket!.accept();
      r.webSocket!.close(1000, "done");
    }
    // A shard that missed the rotation (its closeControls failed) still admits the new key.
    const missed = await dial(hubShard(e, 1), "dc-race", 1, generation);
    expect(missed.status).toBe(101);
    missed.webSocket!.accept();
    missed.webSocket!.close(1000, "done");
  });

  it("through the control route: the rotation landing between the admission on shard 0 and the upgrade refuses the socket (401)", async () => {
    const id = "dc-route-race";
    const oldPair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const oldJwk = await exportJWK(oldPair.publicKey);
    const newJwk = await exportJWK((await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).publicKey);
    const [oldThumb, newThumb] = await Promise.all([calculateJwkThumbprint(oldJwk, "sha256"), calculateJwkThumbprint(newJwk, "sha256")]);
    await runInDurableObject(registryHub(testEnv), async (_o, state) => state.storage.put(`connector:${id}`, enrolledRecord(id, oldJwk, oldThumb)));
    // The hub namespace as the route sees it: the upgrade to the shard waits for a key rotation first.
    const hubs = testEnv.CONNECTOR_HUB;
    const rotations: unknown[] = [];
    const racing = {
      idFromName: (name: string) => hubs.idFromName(name),
      get: (objectId: DurableObjectId) => {
        const stub = hubs.get(objectId);
        return new Proxy(stub, {
          get(target, prop) {
            if (prop !== "fetch") return (target as unknown as Record<string | symbol, unknown>)[prop];
            return async (...args: Parameters<typeof stub.fetch>) => {
              rotations.push(await registryHub(testEnv).rotateConnectorKey(id, oldThumb, newJwk, newThumb));
              return target.fetch(...args);
            };
          },
        });
      },
    };
    const e: Env = { ...testEnv, CONNECTOR_HUB: racing as unknown as Env["CONNECTOR_HUB"] };
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: "EdDSA", kid: id, typ: "gatehouse-connector+jwt" })
      .setIssuer(id)
      .setSubject(id)
      .setAudience("gatehouse-connector")
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(crypto.randomUUID())
      .sign(oldPair.privateKey);
    const ctx = createExecutionContext();
    const headers = { authorization: `Bearer ${assertion}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
    const res = await worker.fetch(new Request("http://127.0.0.1/v1/connector/control", { headers }), e, ctx);
    await waitOnExecutionContext(ctx);
    expect(rotations).toEqual([expect.objectContaining({ ok: true })]);
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 401, body: { error: "unauthorized", reason: `connector ${id}'s key was rotated; dial again with the new key` } });
  });
});

describe("revocation fan-out (dropOnShards)", () => {
  it("asks every other shard even when one fails, sums the ones that confirmed and names the ones that did not", async () => {
    const asked: number[] = [];
    const result = await dropOnShards(4, async (k) => {
      asked.push(k);
      if (k === 1) throw new Error("shard 1 unreachable");
      return { closedChannels: k, endedSessions: 10 * k };
    });
    expect(asked.sort()).toEqual([1, 2, 3]);
    expect(result).toEqual({ closedChannels: 5, endedSessions: 50, failedShards: [1] });
  });

  it("asks only the shards named (shard 0 too), once each, within the count; one shard asks none by default", async () => {
    const asked: number[] = [];
    const drop = async (k: number) => {
      asked.push(k);
      return { closedChannels: 1, endedSessions: 0 };
    };
    expect(await dropOnShards(4, drop, [3, 7, 0, 3, -1])).toEqual({ closedChannels: 2, endedSessions: 0, failedShards: [] });
    expect(asked.sort()).toEqual([0, 3]);
    expect(await dropOnShards(1, drop)).toEqual({ closedChannels: 0, endedSessions: 0, failedShards: [] });
    expect(asked).toHaveLength(2);
  });

  it("counts a shard that does not answer in time as not confirmed, without waiting for it", async () => {
    const never = new Promise<{ closedChannels: number; endedSessions: number }>(() => {});
    const result = await dropOnShards(3, async (k) => (k === 2 ? never : { closedChannels: 1, endedSessions: 1 }), [0, 1, 2], 50);
    expect(result).toEqual({ closedChannels: 2, endedSessions: 2, failedShards: [2] });
  });

  it("leaves no pending drop behind a revocation every shard confirmed, nor behind a refused one", async () => {
    const stub = testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("test-hub-pending-drops"));
    expect(await stub.revokeConnector("dc-gone", "admin", ["dc-gone"])).toMatchObject({ ok: true, failedShards: [] });
    // Unknown id (neither enrolled nor configured): refused, and it owes no drop either.
    expect(await stub.revokeConnector("dc-unknown", "admin", [])).toMatchObject({ ok: false });
    const pending = await runInDurableObject(stub, async (_o, state) => [...(await state.storage.list({ prefix: "drop-pending:" })).keys()]);
    expect(pending).toEqual([]);
  });
});
