/**
 * Setup order inside workerd (bench/README.md "Connection setup"): a PostgreSQL session asks the
 * hub for its connector stream while `session.start` is being recorded, and these tests pin what
 * keeps that safe — the connector's stream is not attached, and nothing reaches the connector (so
 * nothing reaches the target), before `session.start` is durable; the login (`open`) still waits
 * for the client's StartupMessage; a session whose start cannot
 * be recorded refuses the early stream (410) and gives its place under the caps back.
 *
 * Real SessionObject, ConnectorHub, SessionLimiter and D1; the test plays the connector over the
 * tunnel protocol (its control channel and its stream) and holds the session's recorder back
 * (the `openAudit` hook) to look at the state in between. The session object also asks the hub
 * what the resource is when the route did not (together with the policy and the grants).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { CONNECTOR_HEADER } from "./session-object.ts";
import { encodeData, FrameType } from "../../parsers/tunnel/frames.ts";
import { RecordingError } from "../audit/errors.ts";
import { applyTestPolicy, askedOpen, clientTunnel, connectorOnline, holdRecorder as holdSessionRecorder, pipeline, reader, startupMessage, ticketStream, WAIT, type HeldRecorder } from "./test-helpers.ts";

const testEnv = env as unknown as Env;
const IDENTITY = pipeline("ci-order");

/** One session per identity: a place not given back would refuse the next session. */
const POLICY = `
version: 1
limits: { max_sessions_per_identity: 1 }
rules:
  - name: everyone
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read]
`;

const applyPolicy = (text: string) => applyTestPolicy(testEnv.DB, text);
const singleHub = () => testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub"));

afterEach(async () => {
  await testEnv.DB.prepare("DELETE FROM policy_versions").run();
});

function holdRecorder(sessionId: string, failWith?: Error): Promise<HeldRecorder> {
  return holdSessionRecorder(testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId)), failWith ? { failWith } : {});
}

async function sessionStartIndexed(sessionId: string): Promise<boolean> {
  return (await testEnv.DB.prepare("SELECT id FROM session_index WHERE id = ?").bind(sessionId).first()) !== null;
}

function sessionIdFor(k: number): string {
  return `40000000-0000-4000-8000-${String(k).padStart(12, "0")}`;
}

/** A connector's stream presenting the ticket the hub sent it (the stream route of this release). */
function streamWithTicket(sessionId: string, ticket: string): Promise<Response> {
  return ticketStream(testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId)), ticket);
}

/** An older connector's stream (a session-bound assertion): `connectorId` is what the route's admission on shard 0 vouched for. */
function connectorStream(sessionId: string, connectorId = "c-order"): Promise<Response> {
  const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
  return stub.fetch("http://session/connector", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId } });
}

/** A turn of the event loop and the objects' I/O: what could happen without the test's next step has happened. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe("session start order (the connector's stream asked for while session.start is recorded)", () => {
  it("asks the hub for the stream before session.start is durable, but attaches it and sends it anything only after", async () => {
    await applyPolicy(POLICY);
    const resource = "pg-order-a";
    const hub = await connectorOnline(singleHub(), "c-order", resource);
    const sessionId = sessionIdFor(1);
    const recorder = await holdRecorder(sessionId);
    const client = clientTunnel(sessionId, resource, { identity: IDENTITY });
    await recorder.called();

    // The hub was asked for this session's stream while session.start is still unwritten.
    const ticket = await askedOpen(hub.controls, sessionId, resource);
    expect(await sessionStartIndexed(sessionId)).toBe(false);

    // The connector dials at once: its stream is not attached while the start is not recorded.
    let attached = false;
    const stream = streamWithTicket(sessionId, ticket).then((res) => {
      attached = true;
      return res;
    });
    await settle();
    expect(attached).toBe(false);

    await recorder.release();
    const clientRes = await client;
    expect(clientRes.status).toBe(101);
    const streamRes = await stream;
    expect(streamRes.status).toBe(101);
    expect(await sessionStartIndexed(sessionId)).toBe(true);

    const tunnel = reader(clientRes.webSocket!);
    const connector = reader(streamRes.webSocket!);
    // Attached, but nothing goes to the connector before the client's StartupMessage and the recorded decision.
    await settle();
    expect(connector.controls().filter((m) => m.t === "open")).toEqual([]);
    clientRes.webSocket!.send(encodeData(startupMessage()));
    const open = await vi.waitFor(() => {
      const found = connector.controls().find((m) => m.t === "open");
      if (!found) throw new Error("no open yet");
      return found;
    }, WAIT);
    expect(open).toMatchObject({ t: "open", resource, access: "read" });
    expect(tunnel.frames.some((f) => f.type === FrameType.Control && f.message.t === "session")).toBe(true);
    clientRes.webSocket!.close(1000, "done");
  });

  it("a session whose start cannot be recorded refuses the early stream (410) and gives its place back", async () => {
    await applyPolicy(POLICY);
    const resource = "pg-order-b";
    const hub = await connectorOnline(singleHub(), "c-order", resource);
    const failed = sessionIdFor(2);
    const recorder = await holdRecorder(failed, new RecordingError("persist-failed", "session.start could not be written to Durable Object storage"));
    const again = pipeline("ci-order-again");
    const client = clientTunnel(failed, resource, { identity: again });
    await recorder.called();
    const ticket = await askedOpen(hub.controls, failed, resource);
    const stream = streamWithTicket(failed, ticket);
    await recorder.release();

    const clientRes = await client;
    const tunnel = reader(clientRes.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "close", code: "58030" })), WAIT);
    expect((await stream).status).toBe(410);
    expect(await sessionStartIndexed(failed)).toBe(false);

    // The same identity (one session allowed) starts again: the refused session's place was given back.
    const next = sessionIdFor(3);
    const nextClient = await clientTunnel(next, resource, { identity: again });
    expect(nextClient.status).toBe(101);
    const nextTunnel = reader(nextClient.webSocket!);
    await askedOpen(hub.controls, next, resource);
    expect(nextTunnel.controls().filter((m) => m.t === "close")).toEqual([]);
    nextClient.webSocket!.close(1000, "done");
  });

  it("asks the hub what the resource is when the route did not (the client's type hint only for a resource the hub does not know)", async () => {
    await applyPolicy(POLICY);
    const resource = "pg-order-c";
    await connectorOnline(singleHub(), "c-order", resource);
    const announced = async (sessionId: string, name: string, identity: ReturnType<typeof pipeline>) => {
      const res = await clientTunnel(sessionId, name, { identity, type: "ssh", describeInSession: true });
      expect(res.status).toBe(101);
      const tunnel = reader(res.webSocket!);
      const session = await vi.waitFor(() => {
        const found = tunnel.controls().find((m) => m.t === "session" || m.t === "close");
        if (!found) throw new Error("nothing announced yet");
        return found;
      }, WAIT);
      res.webSocket!.close(1000, "done");
      return session;
    };
    // Known to the hub as postgres: the hint (ssh) is not what the session runs.
    expect(await announced(sessionIdFor(4), resource, pipeline("ci-order-known"))).toMatchObject({ t: "session", resource, type: "postgres" });
    // Unknown to the hub: the hint stands, as the route's lookup did.
    expect(await announced(sessionIdFor(5), "pg-order-unknown", pipeline("ci-order-unknown"))).toMatchObject({ t: "session", resource: "pg-order-unknown", type: "ssh" });
  });

  it("attaches only the connector the hub asked: another connector of the tenant dialling first with an assertion is refused (403)", async () => {
    await applyPolicy(POLICY);
    const resource = "pg-order-d";
    const hub = await connectorOnline(singleHub(), "c-order", resource);
    const sessionId = sessionIdFor(6);
    const client = await clientTunnel(sessionId, resource, { identity: pipeline("ci-order-intruder") });
    expect(client.status).toBe(101);
    reader(client.webSocket!);
    await askedOpen(hub.controls, sessionId, resource);
    // Admitted by the route (a connector of the same tenant), but not the one the hub chose.
    const intruder = await connectorStream(sessionId, "c-intruder");
    expect(intruder.status).toBe(403);
    expect(await intruder.json()).toEqual({ error: "forbidden", reason: "this session's stream was asked of another connector, not c-intruder" });
    // The chosen connector still gets the session's one stream.
    const chosen = await connectorStream(sessionId);
    expect(chosen.status).toBe(101);
    chosen.webSocket!.accept();
    client.webSocket!.close(1000, "done");
  });

  it("refuses a connector stream for a session that asked for none (409)", async () => {
    await applyPolicy(POLICY);
    // Unknown to the hub, hinted ssh: an SSH session asks for its stream only when the client's SSH handshake needs it.
    const sessionId = sessionIdFor(7);
    const client = await clientTunnel(sessionId, "ssh-order-unasked", { identity: pipeline("ci-order-unasked"), type: "ssh", describeInSession: true });
    expect(client.status).toBe(101);
    const tunnel = reader(client.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "session", type: "ssh" })), WAIT);
    const unasked = await connectorStream(sessionId);
    expect(unasked.status).toBe(409);
    expect(await unasked.json()).toEqual({ error: "conflict", reason: "no connector stream was asked for this session" });
    client.webSocket!.close(1000, "done");
  });

  it("a session told to end while its start is recorded (its connector revoked) ends as soon as it exists: no stream attached", async () => {
    await applyPolicy(POLICY);
    const resource = "pg-order-e";
    const hub = await connectorOnline(singleHub(), "c-order", resource);
    const sessionId = sessionIdFor(8);
    const recorder = await holdRecorder(sessionId);
    const client = clientTunnel(sessionId, resource, { identity: pipeline("ci-order-revoked") });
    await recorder.called();
    const ticket = await askedOpen(hub.controls, sessionId, resource);
    // The revocation's drop reaches the object before the session exists: it must not be told "not live".
    const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
    expect(await stub.terminate("57P01", "gatehouse: session ended: connector c-order was revoked")).toBe(true);
    // The revoked connector's stream, with the ticket it got just before, is waiting for the session.
    const stream = streamWithTicket(sessionId, ticket);
    await recorder.release();
    const clientRes = await client;
    expect(clientRes.status).toBe(101);
    const tunnel = reader(clientRes.webSocket!);
    await vi.waitFor(() => expect(tunnel.controls()).toContainEqual(expect.objectContaining({ t: "close" })), WAIT);
    expect(JSON.stringify(tunnel.controls())).toContain("connector c-order was revoked");
    expect((await stream).status).toBe(410);
    // Nothing was asked of the connector (no login): its stream never attached.
    expect(await stub.terminate("57P01", "again")).toBe(false);
  });
});
