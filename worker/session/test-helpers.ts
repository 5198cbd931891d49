/** Helpers for the workerd tests of the session object (imported by *.test.ts only). */
import { expect, vi } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { STREAM_TICKET_HEADER, type SessionObject } from "./session-object.ts";
import { decodeFrame, FrameType, type ControlMessage, type Frame } from "../../parsers/tunnel/frames.ts";
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
