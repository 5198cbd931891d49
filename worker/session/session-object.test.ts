/**
 * The SessionObject inside workerd, driven as the tunnel route drives it (a WebSocket upgrade with
 * the admission header): its session factory validates the configuration before anything is
 * recorded — an invalid masking configuration or a type no protocol module serves is refused in
 * the client's own protocol and leaves no `session.start` (so never one without a `session.end`);
 * a valid session's trail is opened and closed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { ADMISSION_HEADER, type ClientAdmission } from "./session-object.ts";
import { decodeFrame, encodeControl, FrameType, type Frame } from "../../parsers/tunnel/frames.ts";
import { ensureSchema } from "../storage/schema.ts";
import { applyTestPolicy, EVERYONE_POLICY } from "./test-helpers.ts";

const testEnv = env as unknown as Env;
const IDENTITY = { issuer: "https://idp.example", subject: "ci", claims: { iss: "https://idp.example", sub: "ci" } };

/** A valid policy: everyone may connect and read (the shared test policy). */
const VALID = EVERYONE_POLICY;
// A `hash` rule needs the tenant key GATEHOUSE_MASKING_KEY, which this worker does not have.
const HASH_WITHOUT_KEY = `${VALID}
masking:
  rules:
    - name: emails
      columns: [email]
      style: hash
`;

let n = 0;
const applyPolicy = (text: string) => applyTestPolicy(testEnv.DB, text);

async function openTunnel(type: string): Promise<{ sessionId: string; ws: WebSocket; frames: Frame[]; closed: Promise<void> }> {
  const sessionId = `30000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
  const admission: ClientAdmission = { sessionId, identity: IDENTITY, resource: { name: `res-${type}`, type, labels: {} }, clientAddress: null };
  const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
  const res = await stub.fetch("http://session/client", { headers: { upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  // Binary messages as ArrayBuffer (newer compatibility dates default to Blob), as the objects do.
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const frames: Frame[] = [];
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  ws.addEventListener("message", (e) => void frames.push(decodeFrame(e.data as ArrayBuffer)));
  ws.accept();
  return { sessionId, ws, frames, closed };
}

async function recorded(sessionId: string): Promise<{ indexed: Record<string, unknown> | null; stored: number }> {
  await ensureSchema(testEnv.DB);
  const indexed = await testEnv.DB.prepare("SELECT * FROM session_index WHERE id = ?").bind(sessionId).first<Record<string, unknown>>();
  const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
  const stored = await runInDurableObject(stub, async (_o: unknown, state: DurableObjectState) => (await state.storage.list()).size);
  return { indexed, stored };
}

afterEach(async () => {
  await testEnv.DB.prepare("DELETE FROM policy_versions").run();
});

describe("SessionObject session factory", () => {
  it("refuses an invalid masking configuration in PostgreSQL's protocol before recording anything", async () => {
    await applyPolicy(HASH_WITHOUT_KEY);
    const { sessionId, frames, closed } = await openTunnel("postgres");
    await closed;
    const data = frames.find((f) => f.type === FrameType.Data);
    const close = frames.find((f) => f.type === FrameType.Control);
    // A FATAL ErrorResponse ('E') with SQLSTATE F0000 naming the resource, then the close frame.
    expect(data && data.type === FrameType.Data && String.fromCharCode(data.payload[0]!)).toBe("E");
    const text = new TextDecoder().decode(data!.type === FrameType.Data ? data!.payload : new Uint8Array());
    expect(text).toContain("SFATAL");
    expect(text).toContain("CF0000");
    expect(text).toContain("the masking configuration for res-postgres is invalid");
    expect(close && close.type === FrameType.Control && close.message).toMatchObject({ t: "close", code: "F0000" });
    expect(await recorded(sessionId)).toEqual({ indexed: null, stored: 0 });
  });

  it("refuses a resource type no protocol module serves, with only the close frame, recording nothing", async () => {
    await applyPolicy(VALID);
    const { sessionId, frames, closed } = await openTunnel("gopher");
    await closed;
    expect(frames.map((f) => f.type)).toEqual([FrameType.Control]);
    expect(frames[0]!.type === FrameType.Control && frames[0]!.message).toMatchObject({ t: "close", message: "gatehouse: resource type gopher is not supported by this gateway" });
    expect(await recorded(sessionId)).toEqual({ indexed: null, stored: 0 });
  });

  it("a valid session records session.start, and session.end once the client leaves", async () => {
    await applyPolicy(VALID);
    const { sessionId, ws } = await openTunnel("postgres");
    await vi.waitFor(async () => expect((await recorded(sessionId)).indexed).not.toBeNull());
    ws.send(encodeControl({ t: "close", reason: "client done" }));
    ws.close(1000, "done");
    await vi.waitFor(async () => expect((await recorded(sessionId)).indexed).toMatchObject({ status: expect.stringMatching(/ok|error/) }), { timeout: 10_000 });
  });
});
