import { describe, expect, it, beforeEach } from "vitest";
import { generateAuditKey, verifyTrailText } from "../../parsers/audit/index.ts";
import { auditKeysResponse } from "../api/audit-keys.ts";
import { readExport } from "./chunk-store.ts";
import { loadAuditKeys, publishedAuditKeys, resetAuditKeyCache } from "./keys.ts";
import { inSessionObject, newSessionId, recorderFor, startInput, testEnv } from "./test-helpers.ts";
import type { AuditEnv } from "./env.ts";

const END = { reason: "done", status: "ok", bytes_in: 0, bytes_out: 0 };

async function recordWith(env: AuditEnv): Promise<string> {
  const id = newSessionId("k");
  await inSessionObject(id, async (state) => {
    const r = recorderFor(state, id, { env });
    await r.onSessionStart(startInput());
    await r.onQuery({ text: "SELECT 1" });
    await r.onSessionEnd(END);
  });
  return id;
}

async function verifyOnline(env: AuditEnv, id: string) {
  const { text } = await readExport(env.RECORDINGS, id);
  return verifyTrailText(text, { keys: await publishedAuditKeys(env), sessionId: id });
}

beforeEach(() => resetAuditKeyCache());

describe("audit keys", () => {
  it("generates one local key on first use and keeps it across isolates (D1)", async () => {
    const first = await loadAuditKeys(testEnv);
    expect(first.signer.kid).toMatch(/^local-[0-9a-f]{12}$/);
    resetAuditKeyCache(); // as after a restart
    const again = await loadAuditKeys(testEnv);
    expect(again.signer.kid).toBe(first.signer.kid);
    const row = await testEnv.DB.prepare("SELECT count(*) AS n FROM audit_keys WHERE origin = 'generated'").first<{ n: number }>();
    expect(row?.n).toBe(1);
  });

  it("publishes public keys only, active first, at the well-known endpoint", async () => {
    const res = await auditKeysResponse(testEnv);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", status: "active" });
    expect(typeof body.keys[0].created).toBe("number");
    for (const k of body.keys) expect(k).not.toHaveProperty("d");
  });

  it("rotates: old sessions stay verifiable after their key leaves GATEHOUSE_AUDIT_KEYS", async () => {
    const a = await generateAuditKey("audit-2026-a", 1);
    const b = await generateAuditKey("audit-2026-b", 2);
    const envA: AuditEnv = { ...testEnv, GATEHOUSE_AUDIT_KEYS: JSON.stringify([a]) };
    const s1 = await recordWith(envA);
    const envBA: AuditEnv = { ...testEnv, GATEHOUSE_AUDIT_KEYS: JSON.stringify([b, a]) };
    const s2 = await recordWith(envBA);
    expect((await verifyOnline(envBA, s1)).kids).toEqual(["audit-2026-a"]);
    expect((await verifyOnline(envBA, s2)).kids).toEqual(["audit-2026-b"]);
    const keysBA = await publishedAuditKeys(envBA);
    expect(keysBA.filter((k) => k.kid.startsWith("audit-")).map((k) => [k.kid, k.status])).toEqual([
      ["audit-2026-b", "active"],
      ["audit-2026-a", "retired"],
    ]);
    // Key A is removed from the variable entirely: D1 still publishes its public half.
    const envB: AuditEnv = { ...testEnv, GATEHOUSE_AUDIT_KEYS: JSON.stringify([b]) };
    expect(await verifyOnline(envB, s1)).toMatchObject({ ok: true, kids: ["audit-2026-a"] });
    expect(await verifyOnline(envB, s2)).toMatchObject({ ok: true });
    const published = await publishedAuditKeys(envB);
    expect(published.find((k) => k.kid === "audit-2026-a")).toMatchObject({ status: "retired", x: a.x });
  });

  it("refuses a malformed key variable: fail-closed sessions do not start unrecorded", async () => {
    const bad: AuditEnv = { ...testEnv, GATEHOUSE_AUDIT_KEYS: '[{"kid":"x","kty":"OKP","crv":"Ed25519","x":"AAAA"}]' };
    await expect(loadAuditKeys(bad)).rejects.toThrow(/Ed25519/);
    expect((await auditKeysResponse(bad)).status).toBe(503);
    const id = newSessionId("bad");
    await inSessionObject(id, async (state) => {
      await expect(recorderFor(state, id, { env: bad }).onSessionStart(startInput())).rejects.toMatchObject({ failure: "key-unavailable" });
    });
    const dup = await generateAuditKey("dup");
    await expect(loadAuditKeys({ ...testEnv, GATEHOUSE_AUDIT_KEYS: JSON.stringify([dup, dup]) })).rejects.toThrow(/duplicate/);
    await expect(loadAuditKeys({ ...testEnv, GATEHOUSE_AUDIT_KEYS: "not json" })).rejects.toThrow(/JSON/);
  });
});
