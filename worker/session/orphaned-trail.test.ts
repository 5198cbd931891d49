/**
 * A session lost with its Durable Object (a deploy or an eviction drops the object, and with it the
 * session's sockets, kept in memory): its trail must not stay "open" for ever with its last events
 * never sealed — the export would lack them and /verify would call the sealed part of a dead
 * session "verified so far". The object's alarm closes it: session.end, the last chunk sealed and
 * uploaded to R2, the index row finished. Real SessionObject, ConnectorHub, recorder, D1 and R2;
 * the restart is workerd's own (`abortAllDurableObjects`: every instance dropped, storage kept).
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import type { SessionObject } from "./session-object.ts";
import { applyTestPolicy, clientTunnel, connectorOnline, pipeline, WAIT } from "./test-helpers.ts";
import { readExport } from "../audit/chunk-store.ts";
import { publishedAuditKeys } from "../audit/keys.ts";
import { verifyTrailText } from "../../parsers/audit/index.ts";

const testEnv = env as unknown as Env;

describe("a session whose object restarted while it was live", () => {
  it("has its trail closed by the object's alarm: session.end, last chunk in R2, index finished", async () => {
    await applyTestPolicy(testEnv.DB);
    const resource = "pg-orphan";
    await connectorOnline(testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub")), "c-orphan", resource);
    const sessionId = "60000000-0000-4000-8000-000000000001";
    const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
    const res = await clientTunnel(sessionId, resource, { identity: pipeline("ci-orphan") });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    await vi.waitFor(async () => {
      const live = await runInDurableObject(stub, (o: SessionObject) => Boolean((o as unknown as { session?: { isEnded: boolean } }).session && !(o as unknown as { session: { isEnded: boolean } }).session.isEnded));
      if (!live) throw new Error("session not live yet");
    }, WAIT);
    const row = () => testEnv.DB.prepare("SELECT status, ended_at, end_reason FROM session_index WHERE id = ?").bind(sessionId).first<{ status: string; ended_at: number | null; end_reason: string | null }>();
    expect(await row()).toMatchObject({ status: "open", ended_at: null });
    // session.start is durable in the object's storage, not yet in a sealed chunk.
    expect((await readExport(testEnv.RECORDINGS, sessionId)).chunks).toBe(0);

    // The object restarts: the live session (and its sockets) is gone, its storage is not.
    await abortAllDurableObjects();
    // Its alarm comes (run now rather than in five minutes), on a fresh instance.
    const restarted = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
    expect(await runDurableObjectAlarm(restarted)).toBe(true);

    const ended = await row();
    expect(ended).toMatchObject({ status: "aborted" });
    expect(ended!.ended_at).not.toBeNull();
    expect(ended!.end_reason).toMatch(/Durable Object restarted while the session was live/);
    const { text, chunks } = await readExport(testEnv.RECORDINGS, sessionId);
    expect(chunks).toBeGreaterThan(0);
    const verdict = await verifyTrailText(text, { keys: await publishedAuditKeys(testEnv), sessionId, requireComplete: true, expectedChunks: chunks });
    expect(verdict).toMatchObject({ ok: true, complete: true });
    const last = JSON.parse(text.trim().split("\n").at(-2)!) as { type: string; data: { status: string } };
    expect(last).toMatchObject({ type: "session.end", data: { status: "aborted" } });
    // Nothing more: a second alarm finds the trail ended.
    expect(await runDurableObjectAlarm(restarted)).toBe(false);
  });

  it("leaves a live session alone: its alarm only looks in again later", async () => {
    await applyTestPolicy(testEnv.DB);
    const resource = "pg-orphan-live";
    await connectorOnline(testEnv.CONNECTOR_HUB.get(testEnv.CONNECTOR_HUB.idFromName("hub")), "c-orphan-live", resource);
    const sessionId = "60000000-0000-4000-8000-000000000002";
    const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
    const res = await clientTunnel(sessionId, resource, { identity: pipeline("ci-orphan-live") });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    const live = () => runInDurableObject(stub, (o: SessionObject) => {
      const session = (o as unknown as { session?: { isEnded: boolean } }).session;
      return Boolean(session && !session.isEnded);
    });
    await vi.waitFor(async () => {
      if (!(await live())) throw new Error("session not live yet");
    }, WAIT);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await live()).toBe(true);
    expect(await testEnv.DB.prepare("SELECT status FROM session_index WHERE id = ?").bind(sessionId).first()).toEqual({ status: "open" });
    // Re-armed: the next check-in is scheduled.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await live()).toBe(true);
  });
});
