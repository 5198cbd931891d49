import { expect, it } from "vitest";
import { parseTrail, isCheckpoint, verifyTrailText, type AuditEvent } from "../../parsers/audit/index.ts";
import { readExport } from "./chunk-store.ts";
import { publishedAuditKeys } from "./keys.ts";
import { getSession } from "./session-index.ts";
import { openRecorderAudit } from "./open-recorder-audit.ts";
import { inSessionObject, newSessionId, testEnv } from "./test-helpers.ts";

it("adapts the session DO's audit interface to the recorder", async () => {
  const id = newSessionId("adapter");
  await inSessionObject(id, async (state) => {
    const audit = await openRecorderAudit({
      ctx: state,
      env: testEnv,
      admission: { sessionId: id, identity: { issuer: "https://idp.example", subject: "u1", claims: { email: "u1@example.com" } }, resource: { name: "demo-pg", type: "postgres", labels: {} }, clientAddress: null },
      policyHash: "c".repeat(64),
      mode: "fail-closed",
    });
    await audit.onQuery({ protocol: "postgres", message: "bind", text: "SELECT $1", params: ["x", null, { binary: 16 }], statements: [{ kind: "read", command: "SELECT", flags: [] }] });
    await audit.onDecision({ effect: "approve", rule: null, reason: "needs approval", statementIndex: 0 });
    await audit.onEvent("approval.granted", { request_id: "r1", approver: "boss@example.com" });
    await audit.onResult({ columns: ["x"], rowsSample: [["x"]], rows: 1, commandTag: "SELECT 1", durationMs: 3 });
    await expect(audit.onEvent("bogus", {})).rejects.toThrow(TypeError);
    await audit.end({ status: "ok", reason: "client closed" }, { bytesFromClient: 5, bytesToClient: 6, startedAt: 0, endedAt: Date.now() }, { connectorId: "onprem-1" });
  });
  const { text } = await readExport(testEnv.RECORDINGS, id);
  expect(await verifyTrailText(text, { keys: await publishedAuditKeys(testEnv), sessionId: id })).toMatchObject({ ok: true, complete: true });
  const events = parseTrail(text).map((l) => l.value).filter((l): l is AuditEvent => !isCheckpoint(l));
  expect((events[1] as AuditEvent<"query">).data).toEqual({ text: "SELECT $1", via: "bind", params: ["x", null, "<binary 16 bytes>"], statements: [{ kind: "read", command: "SELECT" }] });
  expect((events[2] as AuditEvent<"decision">).data).toEqual({ effect: "approve", rule: "default", reason: "needs approval", statement: 0 });
  expect((events.at(-1) as AuditEvent<"session.end">).data).toMatchObject({ connector: "onprem-1", bytes_in: 5, bytes_out: 6, rows: 1 });
  expect(await getSession(testEnv.DB, id)).toMatchObject({ connector: "onprem-1", approved: 1, client_addr: "", identity_label: "u1@example.com", complete: true });
});
