/**
 * The session's side of "one storage write per round trip, still fail closed": the recorder's
 * buffered events are written right before bytes go to the client (so the output gate holds the
 * bytes until the events describing them are durable) and before a request that is not read-only
 * goes to the target; when that write fails, the bytes are not sent, the client gets the
 * recording error (58030) and the session ends. Real recorder, real DO storage (made to fail),
 * real WebSockets; only the protocol engine is a minimal one that answers in plain bytes.
 */
import { describe, expect, it } from "vitest";
import { decodeFrame, FrameType } from "../../parsers/tunnel/frames.ts";
import type { RecorderAudit } from "../audit/open-recorder-audit.ts";
import { FlakyStorage, inSessionObject, newSessionId, openTestAudit } from "../audit/test-helpers.ts";
import type { Engine, EngineHost } from "../engines/engine.ts";
import { Session, type SessionDeps } from "./session.ts";
import { PIPELINE_CLAIMS } from "../../parsers/audit/fixtures.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function setup(state: DurableObjectState, id: string, storage: FlakyStorage) {
  const audit: RecorderAudit = await openTestAudit(id, storage, { name: "demo-pg", type: "postgres" });
  const [clientEnd, serverEnd] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  serverEnd.accept();
  clientEnd.accept();
  const received: string[] = [];
  let arrivals: Promise<void> = Promise.resolve();
  clientEnd.addEventListener("message", (ev) => {
    // A Blob here (the test's end of the pair); frames are decoded in arrival order.
    const raw = ev.data as string | ArrayBuffer | Blob;
    arrivals = arrivals.then(async () => {
      const data = typeof raw === "string" ? raw : new Uint8Array(raw instanceof Blob ? await raw.arrayBuffer() : raw);
      if (data.length === 0) return;
      const frame = decodeFrame(data);
      if (frame.type === FrameType.Data) received.push(new TextDecoder().decode(frame.payload));
    });
  });
  let ended: { status: string; code?: string } | undefined;
  const deps = {
    sessionId: id,
    identity: { issuer: PIPELINE_CLAIMS.iss, subject: PIPELINE_CLAIMS.sub, claims: PIPELINE_CLAIMS },
    resource: { name: "demo-pg", type: "postgres" },
    policy: { admits: () => ({ ok: true, reason: "" }), adopt: () => {}, limits: () => ({ maxSessionMs: null, statementTimeoutMs: null }) },
    audit,
    approvals: { pendingCount: 0 },
    onEnded: async (outcome: { status: string; code?: string }) => {
      ended = outcome;
    },
  } as unknown as SessionDeps;
  const session = new Session(serverEnd, deps);
  session.client.credited(1 << 20); // the client's window (a real client grants it at start)
  // The minimal engine: a refusal in the client's protocol is the text "ERROR <code> <reason>".
  const engine: Engine = {
    onClientData: async () => {},
    onConnectorData: async () => {},
    onConnectorControl: async () => {},
    onConnectorLost: () => {},
    onTerminate: (code, reason) => (session as EngineHost).sendToClient([text(`ERROR ${code} ${reason}`)]),
    cancel: () => {},
  };
  (session as unknown as { engine: Engine }).engine = engine;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50)).then(() => arrivals);
  return { audit, session: session as Session & EngineHost, received, ended: () => ended, settle };
}

const events = (state: DurableObjectState) => state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events").one().n;

describe("Session: recording committed before bytes leave", () => {
  it("writes a round trip's events in one transaction right before the client send", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const { audit, session, received, settle } = await setup(state, id, storage);
      const before = storage.transactions;
      await audit.onQuery({ protocol: "postgres", message: "simple", text: "SELECT 1", readOnly: true });
      await audit.onDecision({ effect: "allow", rule: "reads", reason: "ok" });
      await audit.onResult({ rows: 1, commandTag: "SELECT 1" });
      expect(events(state)).toBe(1); // session.start only: nothing was sent yet
      session.sendToClient([text("row 1")]);
      expect(events(state)).toBe(4);
      expect(storage.transactions - before).toBe(1);
      await settle();
      expect(received).toEqual(["row 1"]);
    });
  });

  it("commits a request that is not read-only before it is forwarded to the target; a read goes first", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const { audit, session } = await setup(state, id, storage);
      await audit.onQuery({ protocol: "postgres", message: "simple", text: "SELECT 1", readOnly: true });
      session.sendToConnector([text("Q")]);
      expect(events(state)).toBe(1);
      await audit.onQuery({ protocol: "postgres", message: "simple", text: "DELETE FROM t" });
      session.sendToConnector([text("Q")]);
      expect(events(state)).toBe(3);
      // SSH requests go as control messages: an exec is durable before the host sees it.
      await audit.onQuery({ protocol: "ssh", message: "exec", text: "rm -rf /srv/data" });
      session.connectorControl({ t: "open", resource: "demo-ssh" });
      expect(events(state)).toBe(4);
    });
  });

  it("fail closed: a failed write sends the recording error instead of the bytes and ends the session", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const { audit, session, received, ended, settle } = await setup(state, id, storage);
      await audit.onQuery({ protocol: "postgres", message: "simple", text: "SELECT secret FROM t", readOnly: true });
      await audit.onResult({ rows: 1, commandTag: "SELECT 1" });
      storage.failing = true;
      session.sendToClient([text("the secret row")]);
      storage.failing = false;
      await settle();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatch(/^ERROR 58030 /);
      expect(received.join("")).not.toContain("secret row");
      expect(ended()).toMatchObject({ status: "error", code: "58030" });
      await expect(audit.onQuery({ protocol: "postgres", message: "simple", text: "SELECT 2", readOnly: true })).rejects.toMatchObject({ failure: "persist-failed" });
    });
  });
});
