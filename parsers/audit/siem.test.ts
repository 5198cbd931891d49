import { beforeAll, describe, expect, it } from "vitest";
import { buildTrail, createSigner, generateAuditKey, type AuditSigner, type AuditEvent } from "./index.ts";
import { samplePgSession } from "./fixtures.ts";
import { batchBody, sessionContext, signBatch, toOcsf, verifyBatch, type BatchMeta } from "./siem.ts";

let signer: AuditSigner;
beforeAll(async () => {
  signer = await createSigner(await generateAuditKey("k1"));
});

const headersOf = (h: Record<string, string>) => ({ get: (n: string) => h[n] ?? null });

describe("SIEM records and signed batches", () => {
  it("maps each event to an OCSF-shaped record that keeps the whole event and its hash", async () => {
    const built = await buildTrail("s-1", samplePgSession("s-1", Date.UTC(2026, 11, 3)), signer, { chunkEvents: 50 });
    const events = built.events as AuditEvent[];
    const ctx = sessionContext(built.lines, "s-1");
    expect(ctx.resource).toBe("demo-pg");
    const records = events.map((e) => toOcsf(e, ctx));
    expect(records[0]).toMatchObject({ class_uid: 3002, activity_name: "Logon", metadata: { uid: events[0]!.hash, correlation_uid: "s-1", sequence: 0 } });
    expect(records.at(-1)).toMatchObject({ class_uid: 3002, activity_name: "Logoff" });
    const decision = records.find((r) => (r.unmapped as { gatehouse: AuditEvent }).gatehouse.type === "decision")!;
    expect(decision).toMatchObject({ class_uid: 6005, class_name: "Datastore Activity", policy: { name: expect.any(String) } });
    for (const [i, r] of records.entries()) expect((r.unmapped as { gatehouse: AuditEvent }).gatehouse).toEqual(events[i]);
  });

  it("maps an HTTP session's events to HTTP Activity (4002), SSH's to SSH Activity (4007)", async () => {
    const built = await buildTrail("s-1", samplePgSession("s-1", Date.UTC(2026, 11, 3)), signer, { chunkEvents: 50 });
    const events = built.events as AuditEvent[];
    const decisionEvent = events.find((e) => e.type === "decision")!;
    const ctx = sessionContext(built.lines, "s-1");
    expect(toOcsf(decisionEvent, { ...ctx, resourceType: "http" })).toMatchObject({ class_uid: 4002, class_name: "HTTP Activity", category_uid: 4, type_uid: 400299 });
    expect(toOcsf(decisionEvent, { ...ctx, resourceType: "ssh" })).toMatchObject({ class_uid: 4007, class_name: "SSH Activity" });
    expect(toOcsf(decisionEvent, { ...ctx, resourceType: "gopher" })).toMatchObject({ class_uid: 0, class_name: "Base Event" });
  });

  it("signs a batch so a receiver can check origin and integrity with the published keys, and refuses every alteration", async () => {
    const meta: BatchMeta = { sink: "siem", session: "s-1", format: "jsonl", from: 0, to: 1, count: 2 };
    const body = batchBody(['{"a":1}', '{"b":2}']);
    const headers = await signBatch(signer, meta, body);
    expect(await verifyBatch(headersOf(headers), body, [signer.publicKey])).toEqual({ ok: true, meta, kid: "k1" });

    expect(await verifyBatch(headersOf(headers), body.replace("1", "2"), [signer.publicKey])).toEqual({ ok: false, reason: "body does not match its digest" });
    const otherSession = { ...headers, "gatehouse-batch": headers["gatehouse-batch"]!.replace('"s-1"', '"s-2"') };
    expect(await verifyBatch(headersOf(otherSession), body, [signer.publicKey])).toEqual({ ok: false, reason: "bad signature" });
    const other = await createSigner(await generateAuditKey("k1"));
    expect(await verifyBatch(headersOf(headers), body, [other.publicKey])).toEqual({ ok: false, reason: "bad signature" });
    expect(await verifyBatch(headersOf(headers), body, [])).toEqual({ ok: false, reason: "unknown key k1" });
    expect(await verifyBatch(headersOf({}), body, [signer.publicKey])).toEqual({ ok: false, reason: "unsigned batch" });
  });
});
