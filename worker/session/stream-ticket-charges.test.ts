/**
 * Made-up stream tickets are not free (docs/TENANCY.md "API rate limit"): a well-formed ticket costs
 * nothing to make up, and each one the stream route forwards reaches — or creates — a session
 * object (which, hosted, reads its tenant's record from the platform registry when it starts).
 * Through the worker's own route in workerd, with a hosted tenant's Env, its real SessionLimiter,
 * real SessionObjects and ConnectorHub; the session namespace is wrapped only to count the
 * requests that reach a session object. A ticket the object refuses is charged to the anonymous
 * bucket and the address's share afterwards; a refused address reaches no object until its share
 * returns; a valid ticket is never charged, so a flood does not keep the tenant's connector out.
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import type { HostedEnv } from "../tenancy/tenant-env.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { encodeData, TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { newStreamTicket } from "../../parsers/tunnel/stream-ticket.ts";
import { applyTestPolicy, askedOpen, clientTunnel, connectorOnline, pipeline, reader, startupMessage, WAIT } from "./test-helpers.ts";

const testEnv = env as unknown as Env;

/** A hosted tenant's Env for the edge route; `reached()` counts the requests that got to a session object. */
function tenantEnv(name: string, perMinute: number): { env: HostedEnv; reached: () => number } {
  let reached = 0;
  const sessions = {
    idFromName: (n: string) => testEnv.SESSIONS.idFromName(n),
    get: (id: DurableObjectId) => {
      const stub = testEnv.SESSIONS.get(id);
      return new Proxy(stub, {
        get: (t, p) =>
          p === "fetch"
            ? (...args: Parameters<typeof t.fetch>) => {
                reached++;
                return t.fetch(...args);
              }
            : Reflect.get(t, p),
      });
    },
  } as unknown as Env["SESSIONS"];
  const e: HostedEnv = {
    ...testEnv,
    GATEHOUSE_BEHIND_CLOUDFLARE: "true",
    SESSIONS: sessions,
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, maxApiRequestsPerMinute: perMinute } },
  };
  return { env: e, reached: () => reached };
}

/** A connector's stream dial through the worker's route, presenting `ticket` from `ip`. */
async function dialStream(e: HostedEnv, ip: string, ticket = newStreamTicket(), sessionId: string = crypto.randomUUID()): Promise<Response> {
  const headers = { authorization: `Bearer ${ticket}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, "cf-connecting-ip": ip };
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://127.0.0.1/v1/connector/streams/${sessionId}`, { headers }), e, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function statusOf(res: Promise<Response>): Promise<number> {
  const r = await res;
  if (r.status !== 101) await r.arrayBuffer();
  return r.status;
}

describe("made-up stream tickets are charged", () => {
  it("an address's made-up tickets reach session objects only up to its anonymous share, then 429 before any object; another address is not refused for it", async () => {
    // 100 a minute: 10 per address.
    const t = tenantEnv("tickets-charged", 100);
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push(await statusOf(dialStream(t.env, "203.0.113.7")));
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
    // The eleventh reached its object (the share's end is learnt from its charge); the ones after it none.
    expect(t.reached()).toBe(11);
    // The same made-up ticket at a live-looking id, or a fresh id: the address is refused without reaching an object.
    expect(await statusOf(dialStream(t.env, "203.0.113.7", newStreamTicket(), "41000000-0000-4000-8000-00000000aaaa"))).toBe(429);
    expect(t.reached()).toBe(11);
    // Another address still reaches the session (its own share is whole).
    expect(await statusOf(dialStream(t.env, "198.51.100.9"))).toBe(401);
    expect(t.reached()).toBe(12);
  });

  it("a flood that empties the tenant's anonymous bucket does not keep the tenant's connector out: its valid ticket is admitted, uncharged", async () => {
    await applyTestPolicy(testEnv.DB);
    // 30 a minute, 10 per address: three flooding addresses use the whole bucket up.
    const t = tenantEnv("tickets-flooded", 30);
    for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]) {
      for (let i = 0; i < 11; i++) await statusOf(dialStream(t.env, ip));
    }
    // A fresh address's made-up ticket: it reaches one object, is charged (the bucket is empty: 429), then is refused up front.
    const before = t.reached();
    expect(await statusOf(dialStream(t.env, "192.0.2.50"))).toBe(429);
    expect(await statusOf(dialStream(t.env, "192.0.2.50"))).toBe(429);
    expect(t.reached()).toBe(before + 1);
    // The tenant's connector, from its own address: a session asks the hub, which sends it a ticket; its stream is admitted.
    const channel = await connectorOnline(testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub")), "c-flooded", "pg-flooded");
    const sessionId = "41000000-0000-4000-8000-0000000f100d";
    const client = await clientTunnel(sessionId, "pg-flooded", { identity: pipeline("ci") });
    expect(client.status).toBe(101);
    reader(client.webSocket!);
    const ticket = await askedOpen(channel.controls, sessionId, "pg-flooded");
    const stream = await dialStream(t.env, "198.51.100.20", ticket, sessionId);
    expect(stream.status).toBe(101);
    const connector = reader(stream.webSocket!);
    client.webSocket!.send(encodeData(startupMessage()));
    await vi.waitFor(() => expect(connector.controls()).toContainEqual(expect.objectContaining({ t: "open", resource: "pg-flooded" })), WAIT);
    client.webSocket!.close(1000, "done");
    await testEnv.DB.prepare("DELETE FROM policy_versions").run();
  });
});
