/**
 * A just-in-time grant revoked (or expired) while a session that read it is still starting: the
 * session reads the identity's active grants first and registers as their user (so that revoking
 * them ends it) only once session.start is recorded. A grant that ended in between must not stay
 * with the session — the revocation found no session to end, so the session itself refuses to go
 * on with it. Real SessionObject, ApprovalsObject, ConnectorHub and D1; the session's recorder is
 * held back (the `openAudit` hook) to revoke the grant exactly in that window.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import type { SessionObject } from "./session-object.ts";
import { activeGrants, approvalsStub } from "../approvals/client.ts";
import { principalOf } from "../approvals/ci-context.ts";
import { applyTestPolicy, clientTunnel, connectorOnline, holdRecorder, pipeline, reader, WAIT } from "./test-helpers.ts";

const testEnv = env as unknown as Env;

const POLICY = `
version: 1
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read]
  - name: writes-with-a-grant
    effect: allow
    requires: grant
    subjects: any
    resources: any
    actions: [sql.write]
`;

const ALICE = principalOf({ issuer: "https://people.example", subject: "alice", claims: { email: "alice@example.com" } });
const sessionStub = (id: string) => testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(id)) as DurableObjectStub<SessionObject>;

afterEach(async () => {
  await testEnv.DB.prepare("DELETE FROM policy_versions").run();
});

describe("a grant that ends while a session using it starts", () => {
  it("does not stay with the session: revoked between the grants read and the session's registration", async () => {
    await applyTestPolicy(testEnv.DB, POLICY);
    const resource = "pg-grant-race";
    const identity = pipeline("ci-grant-race");
    const approvals = approvalsStub(testEnv);
    const asked = await approvals.createGrant({ resource, requester: principalOf(identity), durationMs: 30 * 60_000, reason: "hotfix" });
    if (!asked.ok) throw new Error(asked.message);
    expect((await approvals.vote(asked.value.id, ALICE, "approve", null, ["grant"])).ok).toBe(true);
    expect(await activeGrants(testEnv, identity, resource)).toEqual([resource]);

    await connectorOnline(testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub")), "c-grant-race", resource);
    const sessionId = "50000000-0000-4000-8000-000000000001";
    const recorder = await holdRecorder(sessionStub(sessionId));
    const tunnel = clientTunnel(sessionId, resource, { identity });
    // The session read the grants (active) and is recording session.start.
    await recorder.called();
    // Now the approver revokes the grant; whatever the revocation queued is delivered.
    const revoked = await approvals.revoke(asked.value.id, ALICE, "done");
    expect(revoked.ok && revoked.value.status).toBe("revoked");
    await runDurableObjectAlarm(testEnv.APPROVALS.get(testEnv.APPROVALS.idFromName("approvals")));
    expect(await activeGrants(testEnv, identity, resource)).toEqual([]);
    await recorder.release();
    const res = await tunnel;
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const client = reader(ws);
    ws.accept();

    // Ground truth, in the session object: no live session goes on with write access from the revoked grant.
    const state = await vi.waitFor(async () => {
      const s = await runInDurableObject(sessionStub(sessionId), (o: SessionObject) => {
        const session = (o as unknown as { session?: { isEnded: boolean; policy: { sqlAccessLevel(): string } } }).session;
        return session ? { ended: session.isEnded, access: session.policy.sqlAccessLevel() } : { ended: true, access: null };
      });
      if (!s.ended && client.controls().length === 0) throw new Error("not settled yet");
      return s;
    }, WAIT);
    expect(state).toMatchObject({ ended: true });
    // And the client was told why, in the tunnel.
    await vi.waitFor(() => expect(client.controls().find((m) => m.t === "close")).toMatchObject({ message: expect.stringContaining(`grant`) }), WAIT);
  });
});
