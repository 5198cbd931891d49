/**
 * Stream admission by ticket (docs/PROTOCOL.md "Stream admission"), in workerd with real
 * SessionObjects, ConnectorHub (shards), SessionLimiter and D1; the test plays the connector over
 * the tunnel protocol (its control channel, its stream). The attacker's ways around a ticket are
 * tried one by one: replay, another session's ticket, a made-up one, an expired one, a ticket held
 * by a connector revoked before it dialled, a stream dialled before the session heard the hub's
 * answer, the ticket left in storage; and a session start on a sharded tenant whose shard 0 cannot
 * be reached at all. The hub's answer is held back through the session object's askHubForStream
 * hook (the real hub is asked), as holdRecorder holds the recorder.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import worker from "../index.ts";
import type { Env } from "../env.ts";
import type { OpenStreamResult } from "../bindings.ts";
import { ADMISSION_HEADER, CONNECTOR_HEADER, type ClientAdmission, type SessionObject } from "./session-object.ts";
import { encodeData, FrameType, TUNNEL_SUBPROTOCOL, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import { newStreamTicket, streamTicketHash, STREAM_TICKET_TTL_MS } from "../../parsers/tunnel/stream-ticket.ts";
import { StreamTickets } from "./stream-tickets.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { hubShard, hubShardOfResource } from "../connectors/hub-shards.ts";
import { applyTestPolicy, askedOpen, clientTunnel, connectorOnline, holdRecorder, pipeline, reader, startupMessage, ticketStream, WAIT } from "./test-helpers.ts";

const testEnv = env as unknown as Env;
/** The tenants' trusted issuer (a hosted session object checks the token's issuer against its record again: tenancy/still-trusted.ts). */
const TENANT_ISSUERS = JSON.stringify([{ issuer: "https://idp.example", audiences: ["gatehouse-test"] }]);

const applyPolicy = () => applyTestPolicy(testEnv.DB);

afterEach(async () => {
  await testEnv.DB.prepare("DELETE FROM policy_versions").run();
});

type HubStub = ReturnType<Env["CONNECTOR_HUB"]["get"]>;
const singleHub = (): HubStub => testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub"));
const sessionStub = (sessionId: string) => testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId)) as DurableObjectStub<SessionObject>;

function sessionIdFor(k: number): string {
  return `41000000-0000-4000-8000-${String(k).padStart(12, "0")}`;
}

/** Started: the client's tunnel is open and the hub asked the connector; the ticket it carried. */
async function started(sessionId: string, resource: string, controls: () => ControlMessage[]) {
  const client = await clientTunnel(sessionId, resource);
  expect(client.status).toBe(101);
  const tunnel = reader(client.webSocket!);
  const ticket = await askedOpen(controls, sessionId, resource);
  return { client: client.webSocket!, tunnel, ticket };
}

async function refusal(res: Response): Promise<{ status: number; body: unknown }> {
  return { status: res.status, body: await res.json() };
}

/** The stream is live: after the client's StartupMessage, the session's `open` reaches it. */
async function servesSession(stream: Response, client: WebSocket, resource: string): Promise<void> {
  expect(stream.status).toBe(101);
  const connector = reader(stream.webSocket!);
  client.send(encodeData(startupMessage()));
  await vi.waitFor(() => expect(connector.controls()).toContainEqual(expect.objectContaining({ t: "open", resource })), WAIT);
}

/** Hold the hub's answer to the session's stream request (the hub itself is asked and sends `open`). */
async function holdHubAnswer(sessionId: string): Promise<{ release: () => Promise<void> }> {
  const stub = sessionStub(sessionId);
  const gate: { open?: () => void } = {};
  await runInDurableObject(stub, (object: SessionObject) => {
    const hooks = object as unknown as { askHubForStream: (s: string, r: string) => Promise<OpenStreamResult> };
    const original = hooks.askHubForStream.bind(object);
    hooks.askHubForStream = async (s, r) => {
      const answer = await original(s, r);
      await new Promise<void>((resolve) => (gate.open = resolve));
      return answer;
    };
  });
  return {
    release: async () => {
      await vi.waitFor(() => expect(gate.open).toBeDefined(), WAIT);
      await runInDurableObject(stub, () => gate.open!());
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe("the session's ticket book (StreamTickets)", () => {
  it("judges a ticket in flight against the ticket current when its hash is known: one replaced by a new request is refused, the new one admitted", async () => {
    const book = new StreamTickets();
    const first = newStreamTicket();
    const second = newStreamTicket();
    const secondHash = await streamTicketHash(second);
    book.issue(await streamTicketHash(first), "c-first", STREAM_TICKET_TTL_MS);
    const inFlight = book.admit(first); // while it hashes, the session asks the hub again
    book.issue(secondHash, "c-second", STREAM_TICKET_TTL_MS);
    expect(await inFlight).toEqual({ ok: false, reason: "the stream ticket is not this session's" });
    expect(await book.admit(second)).toEqual({ ok: true, connectorId: "c-second" });
    expect(await book.admit(second)).toEqual({ ok: false, reason: "the stream ticket was already used" });
  });
});

describe("stream admission by ticket", () => {
  it("admits the stream presenting the session's ticket, once: replayed, it is refused 401 and the session keeps its stream", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-once", "pg-ticket-a");
    const sessionId = sessionIdFor(1);
    const { client, ticket } = await started(sessionId, "pg-ticket-a", hub.controls);
    const stream = await ticketStream(sessionStub(sessionId), ticket);
    const replay = await ticketStream(sessionStub(sessionId), ticket);
    expect(await refusal(replay)).toEqual({ status: 401, body: { error: "unauthorized", reason: "the stream ticket was already used" } });
    await servesSession(stream, client, "pg-ticket-a");
    client.close(1000, "done");
  });

  it("refuses another session's ticket and a made-up one (401); both sessions still accept their own", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-cross", "pg-ticket-b");
    const first = sessionIdFor(2);
    const second = sessionIdFor(3);
    const a = await started(first, "pg-ticket-b", hub.controls);
    const b = await started(second, "pg-ticket-b", hub.controls);
    expect(a.ticket).not.toBe(b.ticket);
    const crossed = await ticketStream(sessionStub(second), a.ticket);
    expect(await refusal(crossed)).toEqual({ status: 401, body: { error: "unauthorized", reason: "the stream ticket is not this session's" } });
    const madeUp = await ticketStream(sessionStub(first), newStreamTicket());
    expect(await refusal(madeUp)).toEqual({ status: 401, body: { error: "unauthorized", reason: "the stream ticket is not this session's" } });
    await servesSession(await ticketStream(sessionStub(second), b.ticket), b.client, "pg-ticket-b");
    await servesSession(await ticketStream(sessionStub(first), a.ticket), a.client, "pg-ticket-b");
    a.client.close(1000, "done");
    b.client.close(1000, "done");
  });

  it("refuses a ticket at a session that asked for no stream, and at a session that does not exist (401, nothing told)", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-unasked", "pg-ticket-c");
    const asked = await started(sessionIdFor(4), "pg-ticket-c", hub.controls);
    // An SSH session on a resource nobody serves asks for its stream only when its client's handshake needs it.
    const unasked = sessionIdFor(5);
    const client = await clientTunnel(unasked, "ssh-ticket-unasked", { identity: pipeline("ci-unasked"), type: "ssh" });
    const tunnel = reader(client.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "session", type: "ssh" })), WAIT);
    expect(await refusal(await ticketStream(sessionStub(unasked), asked.ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "no stream ticket was issued for this session" } });
    expect(await refusal(await ticketStream(sessionStub(sessionIdFor(999)), asked.ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "no stream ticket was issued for this session" } });
    client.webSocket!.close(1000, "done");
    asked.client.close(1000, "done");
  });

  it("refuses an expired ticket (401)", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-late", "pg-ticket-d");
    const sessionId = sessionIdFor(6);
    await runInDurableObject(sessionStub(sessionId), (object: SessionObject) => {
      (object as unknown as { streamTicketTtlMs: number }).streamTicketTtlMs = -1;
    });
    const { client, ticket } = await started(sessionId, "pg-ticket-d", hub.controls);
    expect(await refusal(await ticketStream(sessionStub(sessionId), ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "the stream ticket expired" } });
    client.close(1000, "done");
  });

  it("a stream dialled before the hub's answer reaches the session waits for it, then attaches", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-early", "pg-ticket-e");
    const sessionId = sessionIdFor(7);
    const held = await holdHubAnswer(sessionId);
    const { client, ticket } = await started(sessionId, "pg-ticket-e", hub.controls);
    let answered = false;
    const stream = ticketStream(sessionStub(sessionId), ticket).then((res) => {
      answered = true;
      return res;
    });
    await settle();
    expect(answered).toBe(false);
    await held.release();
    await servesSession(await stream, client, "pg-ticket-e");
    client.close(1000, "done");
  });

  it("a hub that does not answer the stream request ends the session with an error in the client's protocol; its ticket admits nothing", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-stuck", "pg-ticket-f");
    const sessionId = sessionIdFor(8);
    await holdHubAnswer(sessionId); // never released: the shard is stuck as far as the session can tell
    await runInDurableObject(sessionStub(sessionId), (object: SessionObject) => {
      (object as unknown as { openStreamTimeoutMs: number }).openStreamTimeoutMs = 300;
    });
    const { client, tunnel, ticket } = await started(sessionId, "pg-ticket-f", hub.controls);
    client.send(encodeData(startupMessage()));
    const close = await vi.waitFor(() => {
      const found = tunnel.controls().find((m) => m.t === "close");
      if (!found) throw new Error("the session has not ended yet");
      return found;
    }, WAIT);
    const message = "gatehouse: resource pg-ticket-f: the connector hub did not answer the stream request within 0.3 s; try again";
    expect(close).toEqual({ t: "close", code: "08001", message });
    // The PostgreSQL client reads the same in an ErrorResponse (FATAL, 08001).
    const said = tunnel.frames.flatMap((f) => (f.type === FrameType.Data ? [new TextDecoder().decode(f.payload)] : [])).join("");
    expect(said).toContain("SFATAL\0");
    expect(said).toContain("C08001\0");
    expect(said).toContain(`M${message}\0`);
    // The hub did send its open (and ticket) to the connector; the session never heard it: nothing is admitted.
    expect(await refusal(await ticketStream(sessionStub(sessionId), ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "no stream ticket was issued for this session" } });
  });

  it("a later stream request that times out leaves the earlier answer's connector refused (410), by the assertion path and by its ticket", async () => {
    await applyPolicy();
    const resource = "ssh-ticket-again";
    const connector = await connectorOnline(singleHub(), "c-first", resource);
    // An SSH session asks for its stream only when the engine needs it, so the test asks (the session's own requestConnector, twice).
    const sessionId = sessionIdFor(13);
    const client = await clientTunnel(sessionId, resource, { identity: pipeline("ci-again"), type: "ssh" });
    const tunnel = reader(client.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "session", type: "ssh" })), WAIT);
    const stub = sessionStub(sessionId);
    const askAgain = () =>
      runInDurableObject(stub, async (object: SessionObject) => {
        const session = (object as unknown as { session: { deps: { requestConnector: () => Promise<void> } } }).session;
        return session.deps.requestConnector().then(
          () => "answered",
          (e: Error) => e.message,
        );
      });
    expect(await askAgain()).toBe("answered");
    const firstTicket = await askedOpen(connector.controls, sessionId, resource);
    // The second request: the hub is asked (and sends c-first another open) but its answer never reaches the session.
    await holdHubAnswer(sessionId);
    await runInDurableObject(stub, (object: SessionObject) => {
      (object as unknown as { openStreamTimeoutMs: number }).openStreamTimeoutMs = 300;
    });
    expect(await askAgain()).toBe(`gatehouse: resource ${resource}: the connector hub did not answer the stream request within 0.3 s; try again`);
    // c-first, chosen by the first request only, dials with an assertion (a connector older than tickets), then with the first ticket.
    const legacy = await stub.fetch("http://session/connector", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: "c-first" } });
    expect(await refusal(legacy)).toEqual({ status: 410, body: { error: "gone", reason: "the hub found no connector for this session" } });
    expect(await refusal(await ticketStream(stub, firstTicket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "no stream ticket was issued for this session" } });
    client.webSocket!.close(1000, "done");
  });

  it("a ticket held by a connector revoked before its stream dialled admits nothing (410): the revocation's drop ended the session", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-revoked", "pg-ticket-g");
    const sessionId = sessionIdFor(9);
    const { tunnel, ticket } = await started(sessionId, "pg-ticket-g", hub.controls);
    const revoked = await singleHub().revokeConnector("c-revoked", "admin", ["c-revoked"]);
    expect(revoked).toMatchObject({ ok: true, closedChannels: 1, endedSessions: 1, failedShards: [] });
    expect(await refusal(await ticketStream(sessionStub(sessionId), ticket))).toEqual({ status: 410, body: { error: "gone", reason: "the session was ended before its connector stream attached" } });
    await vi.waitFor(() => expect(JSON.stringify(tunnel.controls())).toContain("connector c-revoked was revoked"), WAIT);
  });

  it("stores no ticket: neither the hub nor the session object keeps one in storage", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-stored", "pg-ticket-h");
    const sessionId = sessionIdFor(10);
    const { client, ticket } = await started(sessionId, "pg-ticket-h", hub.controls);
    await servesSession(await ticketStream(sessionStub(sessionId), ticket), client, "pg-ticket-h");
    const dump = async (stub: DurableObjectStub) => runInDurableObject(stub, async (_o, state) => JSON.stringify([...(await state.storage.list()).entries()]));
    const secret = ticket.slice("ghst_".length);
    expect(await dump(singleHub())).not.toContain(secret);
    expect(await dump(sessionStub(sessionId))).not.toContain(secret);
    client.close(1000, "done");
  });

  it("names in the session index the connector whose stream attached, and none when no stream attached", async () => {
    await applyPolicy();
    const hub = await connectorOnline(singleHub(), "c-audit", "pg-ticket-i");
    const indexed = (id: string) =>
      vi.waitFor(async () => {
        const row = await testEnv.DB.prepare("SELECT connector, ended_at FROM session_index WHERE id = ?").bind(id).first<{ connector: string; ended_at: number | null }>();
        if (row?.ended_at == null) throw new Error("not ended yet");
        return row.connector;
      }, WAIT);
    const served = sessionIdFor(11);
    const a = await started(served, "pg-ticket-i", hub.controls);
    await servesSession(await ticketStream(sessionStub(served), a.ticket), a.client, "pg-ticket-i");
    a.client.close(1000, "done");
    expect(await indexed(served)).toBe("c-audit");
    // Asked of c-audit, never attached: the trail must not say c-audit served it.
    const unserved = sessionIdFor(12);
    const b = await started(unserved, "pg-ticket-i", hub.controls);
    b.client.close(1000, "done");
    expect(await indexed(unserved)).toBe("");
  });
});

/** The tenant's hub namespace with shard 0 unreachable: every attempt to reach it is counted and fails. */
class Shard0Unreachable extends TenantNamespace<Rpc.DurableObjectBranded | undefined> {
  readonly attempts: string[] = [];
  constructor(
    inner: DurableObjectNamespace,
    tenant: string,
    private readonly shard0 = inner.idFromName(`tenant:${tenant}:hub`).toString(),
  ) {
    super(inner, tenant);
  }
  override get(id: DurableObjectId): DurableObjectStub<Rpc.DurableObjectBranded | undefined> {
    if (id.toString() === this.shard0) {
      this.attempts.push("shard 0");
      throw new Error("hub shard 0 is unreachable (test)");
    }
    return super.get(id);
  }
}

describe("a session start on a sharded tenant", () => {
  it("asks nothing of hub shard 0: with shard 0 unreachable the session starts and its stream attaches through the route", async () => {
    await applyPolicy();
    const tenant = "tickets-sharded";
    const hubs = new Shard0Unreachable(testEnv.CONNECTOR_HUB as unknown as DurableObjectNamespace, tenant);
    const e: Env = {
      ...testEnv,
      CONNECTOR_HUB: hubs as unknown as Env["CONNECTOR_HUB"],
      SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, tenant) as unknown as Env["SESSION_LIMITER"],
      GATEHOUSE_ISSUERS: TENANT_ISSUERS,
      TENANT: { name: tenant, via: "object", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: 1, hub: 3 } },
    };
    const resource = Array.from({ length: 50 }, (_, i) => `pg-sharded-${i}`).find((name) => hubShardOfResource(name, 3) !== 0)!;
    const shard = hubShardOfResource(resource, 3);
    // The control socket to the resource's shard (its admission on shard 0 happened when it connected).
    const hub = await connectorOnline(hubShard(e, shard), "c-sharded", resource, shard);
    const sessionId = sessionIdFor(20);
    await holdRecorder(sessionStub(sessionId), { env: e, hold: false });
    const { client, ticket } = await started(sessionId, resource, hub.controls);
    const ctx = createExecutionContext();
    const headers = { authorization: `Bearer ${ticket}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
    const stream = await worker.fetch(new Request(`http://127.0.0.1/v1/connector/streams/${sessionId}`, { headers }), e, ctx);
    await waitOnExecutionContext(ctx);
    await servesSession(stream, client, resource);
    expect(hubs.attempts).toEqual([]);
    // The same route given an assertion (an older connector's stream) does need shard 0: the counter sees it.
    const legacy = await worker.fetch(new Request(`http://127.0.0.1/v1/connector/streams/${sessionIdFor(21)}`, { headers: { ...headers, authorization: "Bearer eyJhbGciOiJFZERTQSIsImtpZCI6Im5vYm9keSJ9.e30.AA" } }), e, createExecutionContext());
    expect(await refusal(legacy)).toEqual({ status: 500, body: { error: "internal", reason: "internal error" } });
    expect(hubs.attempts).toEqual(["shard 0"]);
    client.close(1000, "done");
  });
});

describe("another tenant's connector", () => {
  /** A hosted tenant's Env as objectEnv gives it (its objects under its own names). */
  const tenantEnv = (name: string): Env => ({
    ...testEnv,
    CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"],
    SESSIONS: new TenantNamespace(testEnv.SESSIONS, name) as unknown as Env["SESSIONS"],
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    GATEHOUSE_ISSUERS: TENANT_ISSUERS,
    TENANT: { name, via: "object", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: 1, hub: 1 } },
  });
  const stubIn = (e: Env, sessionId: string) => e.SESSIONS.get(e.SESSIONS.idFromName(sessionId)) as DurableObjectStub<SessionObject>;
  const dialIn = async (e: Env, sessionId: string, ticket: string) => {
    const ctx = createExecutionContext();
    const headers = { authorization: `Bearer ${ticket}`, upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
    const res = await worker.fetch(new Request(`http://127.0.0.1/v1/connector/streams/${sessionId}`, { headers }), e, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  async function startIn(e: Env, sessionId: string, resource: string, controls: () => ControlMessage[]) {
    const stub = stubIn(e, sessionId);
    await holdRecorder(stub, { env: e, hold: false });
    const admission: ClientAdmission = { sessionId, identity: pipeline(`ci-${e.TENANT!.name}`), resource: { name: resource, type: "postgres", labels: {} }, clientAddress: null };
    const client = await stub.fetch("http://session/client", { headers: { upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) } });
    expect(client.status).toBe(101);
    reader(client.webSocket!);
    return { client: client.webSocket!, ticket: await askedOpen(controls, sessionId, resource) };
  }

  it("cannot use its own tickets at this tenant's sessions, nor under its own session's id (401); each tenant's ticket serves its own", async () => {
    await applyPolicy();
    const acme = tenantEnv("tickets-acme");
    const beta = tenantEnv("tickets-beta");
    const acmeHub = await connectorOnline(hubShard(acme, 0), "c-acme", "pg-shared-name");
    const betaHub = await connectorOnline(hubShard(beta, 0), "c-beta", "pg-shared-name");
    const acmeSession = sessionIdFor(30);
    const betaSession = sessionIdFor(31);
    const a = await startIn(acme, acmeSession, "pg-shared-name", acmeHub.controls);
    const b = await startIn(beta, betaSession, "pg-shared-name", betaHub.controls);
    // Beta's connector, at acme's URL: its ticket at acme's session, and under its own session's id (no such session in acme).
    expect(await refusal(await dialIn(acme, acmeSession, b.ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "the stream ticket is not this session's" } });
    expect(await refusal(await dialIn(acme, betaSession, b.ticket))).toEqual({ status: 401, body: { error: "unauthorized", reason: "no stream ticket was issued for this session" } });
    await servesSession(await dialIn(acme, acmeSession, a.ticket), a.client, "pg-shared-name");
    await servesSession(await dialIn(beta, betaSession, b.ticket), b.client, "pg-shared-name");
    a.client.close(1000, "done");
    b.client.close(1000, "done");
  });
});
