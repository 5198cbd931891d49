/** Helpers for the workerd tests of the session object (imported by *.test.ts only). */
import { expect, vi } from "vitest";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { ADMISSION_HEADER, CONNECTOR_HEADER, STREAM_TICKET_HEADER, type ClientAdmission, type SessionObject } from "./session-object.ts";
import { HUB_SHARD_HEADER } from "../connectors/hub-shards.ts";
import { decodeFrame, encodeControl, FrameType, type ControlMessage, type Frame } from "../../parsers/tunnel/frames.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import type { Identity } from "../../parsers/identity.ts";
import { ensureSchema } from "../storage/schema.ts";

/** How long to wait for what must happen (a loaded machine is slow; nothing here measures time). */
export const WAIT = { timeout: 20_000, interval: 20 };

/** Everyone may connect and read: for tests whose subject is not the session's own policy. */
export const EVERYONE_POLICY = `
version: 1
rules:
  - name: everyone
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read]
`;

let policiesApplied = 0;

/** Makes `text` the policy in force in `db` (a policy_versions row newer than any this isolate wrote before). */
export async function applyTestPolicy(db: D1Database, text: string = EVERYONE_POLICY): Promise<void> {
  await ensureSchema(db);
  const n = ++policiesApplied;
  await db.prepare("INSERT INTO policy_versions (hash, source, text, applied_by, applied_at) VALUES (?, ?, ?, ?, ?)").bind(`test-policy-${n}`, "test.yaml", text, "test", Date.now() + n).run();
}

export interface HeldRecorder {
  /** Resolves once the object reached its recorder (session.start not written yet). */
  called: () => Promise<boolean>;
  /** Let the recorder go on (or fail with `failWith`). */
  release: () => Promise<void>;
}

/**
 * Hold a session object's recorder back: session.start is written only once `release` is called
 * (or fails with `failWith`) — the moment between the object's start and its registration. With
 * `env`, the object runs with that Env (hosted mode: the tenant's, as objectEnv gives it). Both
 * ends of the gate run in the object's own context (a promise settled from the test's context
 * would continue the object's work there).
 */
export async function holdRecorder(stub: DurableObjectStub<SessionObject>, opts: { failWith?: Error; env?: Env; hold?: boolean } = {}): Promise<HeldRecorder> {
  const gate: { called: boolean; open?: () => void } = { called: false };
  await runInDurableObject(stub, (object: SessionObject) => {
    if (opts.env) (object as unknown as { env: Env }).env = opts.env;
    if (opts.hold === false) return;
    const hooks = object as unknown as { openAudit: (o: unknown) => Promise<unknown> };
    const original = hooks.openAudit.bind(object);
    hooks.openAudit = async (o) => {
      await new Promise<void>((resolve) => {
        gate.open = resolve;
        gate.called = true;
      });
      if (opts.failWith) throw opts.failWith;
      return original(o);
    };
  });
  return {
    called: () =>
      vi.waitFor(() => {
        if (!gate.called) throw new Error("the recorder was not reached yet");
        return true;
      }, WAIT),
    release: () => runInDurableObject(stub, () => gate.open!()),
  };
}

/** The hub's `open` for `sessionId` on a connector's control channel, once it came: its stream ticket. */
export async function askedOpen(controls: () => ControlMessage[], sessionId: string, resource: string): Promise<string> {
  const open = await vi.waitFor(() => {
    const found = controls().find((m) => m.t === "open" && m.session === sessionId);
    if (!found) throw new Error(`no open for ${sessionId} yet`);
    return found;
  }, WAIT);
  expect(open).toEqual({ t: "open", session: sessionId, resource, ticket: expect.stringMatching(/^ghst_[A-Za-z0-9_-]{43}$/) });
  return open.ticket as string;
}

/** A connector's stream presenting a stream ticket, as the stream route hands it to the session object. */
export function ticketStream(stub: DurableObjectStub<SessionObject>, ticket: string): Promise<Response> {
  return stub.fetch("http://session/connector", { headers: { upgrade: "websocket", [STREAM_TICKET_HEADER]: ticket } });
}

/** A socket end the test reads: frames in arrival order. */
export function reader(ws: WebSocket): { frames: Frame[]; controls: () => ControlMessage[] } {
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const frames: Frame[] = [];
  ws.addEventListener("message", (e) => void frames.push(decodeFrame(e.data as ArrayBuffer)));
  ws.accept();
  return { frames, controls: () => frames.flatMap((f) => (f.type === FrameType.Control ? [f.message] : [])) };
}

/** A PostgreSQL StartupMessage (protocol 3.0) for user ci, database db. */
export function startupMessage(): Uint8Array {
  const enc = new TextEncoder();
  const params = [...enc.encode("user\0ci\0database\0db\0"), 0];
  const packet = new Uint8Array(8 + params.length);
  new DataView(packet.buffer).setInt32(0, packet.length);
  new DataView(packet.buffer).setInt32(4, 196608);
  packet.set(params, 8);
  return packet;
}

type HubStub = ReturnType<Env["CONNECTOR_HUB"]["get"]>;

/** A pipeline's identity from the test issuer; `claims` are its token's others (aud…). */
export function pipeline(sub: string, claims: Record<string, unknown> = {}): Identity {
  return { issuer: "https://idp.example", subject: sub, claims: { iss: "https://idp.example", sub, ...claims } };
}

/**
 * A connector's control channel to `hub` (shard `shard`), as the connector route hands it over,
 * saying hello (as connector/control-channel.ts does) with `resource` as a postgres resource;
 * resolves once the hub describes it online.
 */
export async function connectorOnline(hub: HubStub, connectorId: string, resource: string, shard = 0): Promise<{ controls: () => ControlMessage[]; ws: WebSocket }> {
  const res = await hub.fetch("https://hub/control", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId, [HUB_SHARD_HEADER]: String(shard) } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const channel = reader(ws);
  ws.send(encodeControl({ t: "hello", version: TUNNEL_PROTOCOL_VERSION, resources: [{ name: resource, type: "postgres", labels: {} }] }));
  const described = await vi.waitFor(async () => {
    const info = await hub.describe(resource);
    if (!info?.online) throw new Error("not online yet");
    return info;
  }, WAIT);
  expect(described.type).toBe("postgres");
  return { controls: channel.controls, ws };
}

export interface ClientTunnelOptions {
  /** Default: the pipeline `ci-` + the session id's last 4 characters. */
  identity?: Identity;
  /** More claims of the identity's token (aud…). */
  claims?: Record<string, unknown>;
  /** The resource's type as admitted (default postgres); with `describeInSession`, the client's hint. */
  type?: string;
  /** As the route admits in hosted mode: the session object asks the hub what the resource is. */
  describeInSession?: boolean;
}

/** A client's tunnel to the session object `sessionId`, as the tunnel route hands it over after admission. */
export function clientTunnel(sessionId: string, resource: string, opts: ClientTunnelOptions = {}): Promise<Response> {
  const base = opts.identity ?? pipeline(`ci-${sessionId.slice(-4)}`);
  const identity = opts.claims ? { ...base, claims: { ...base.claims, ...opts.claims } } : base;
  const admission: ClientAdmission = { sessionId, identity, resource: { name: resource, type: opts.type ?? "postgres", labels: {} }, clientAddress: null, ...(opts.describeInSession ? { describeInSession: true } : {}) };
  const sessions = (env as unknown as Env).SESSIONS;
  return sessions.get(sessions.idFromName(sessionId)).fetch("http://session/client", { headers: { upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) } });
}
