import { describe, expect, it, beforeAll } from "vitest";
import { buildReviewReport, buildTrail, createSigner, generateAuditKey, reviewToCsv, reviewToMarkdown, verifyTrail, type AuditSigner, type ReviewInputSession, type UnchainedEvent } from "./index.ts";
import { samplePgSession } from "./fixtures.ts";

let signer: AuditSigner;
beforeAll(async () => {
  signer = await createSigner(await generateAuditKey("k1"));
});

const T0 = Date.UTC(2026, 10, 27, 3, 0, 0);
const HUMAN = { issuer: "https://idp.example", subject: "u-1", claims: { sub: "u-1", email: "=cmd|' /C calc'!A0" } };

async function session(id: string, events: UnchainedEvent[], firstAccess: boolean, tamper = false): Promise<ReviewInputSession> {
  const built = await buildTrail(id, events, signer, { chunkEvents: 5 });
  const lines = built.lines.map((l) => JSON.parse(JSON.stringify(l)));
  if (tamper) lines.splice(7, 1); // remove an event of chunk 1
  const verification = await verifyTrail(lines, { keys: [signer.publicKey] });
  return { session: id, events: built.events, verification, first_access: firstAccess };
}

function humanSession(id: string, t0: number): UnchainedEvent[] {
  const [start, ...rest] = samplePgSession(id, t0);
  const s = start as UnchainedEvent<"session.start">;
  return [{ ...s, data: { ...s.data, identity: HUMAN, resource: "billing-pg" } }, ...rest];
}

describe("access review report", () => {
  it("aggregates per identity from the verified prefix and lists incomplete recordings", async () => {
    const limited = samplePgSession("s3", T0 + 7200_000);
    limited.splice(limited.length - 1, 0, { type: "truncated", ts: T0 + 7200_500, data: { reason: "session-limit", action: "truncate" } });
    const input = [
      await session("s1", samplePgSession("s1", T0), true),
      await session("s2", samplePgSession("s2", T0 + 3600_000), false, true),
      await session("s3", limited, false),
      await session("h1", humanSession("h1", T0 + 60_000), true),
    ];
    const report = buildReviewReport(input, { from: T0, to: T0 + 86_400_000, now: T0 + 86_400_000 });
    expect(report.sessions).toBe(4);
    expect(report.identities.map((i) => [i.kind, i.label])).toEqual([
      ["human", HUMAN.claims.email],
      ["pipeline", "acme/shop@refs/heads/main (deploy)"],
    ]);
    const pipeline = report.identities[1];
    expect(pipeline.ci).toMatchObject({ repository: ["acme/shop"], ref: ["refs/heads/main"], workflow: ["deploy"], environment: ["production"] });
    expect(pipeline.sessions).toBe(3);
    // s1 and s3 count fully; s2 only up to the removed event 6 (its deny decision is not trusted).
    expect(pipeline.statements).toEqual({ read: 3, ddl: 3, write: 2 });
    expect(pipeline.denied).toHaveLength(2);
    expect(pipeline.denied[0]).toMatchObject({ statement: "DROP TABLE users", rule: "no-ddl-in-prod", resource: "demo-pg" });
    expect(pipeline.approvals.map((a) => a.approver)).toEqual(["alice@acme.example", "alice@acme.example"]);
    expect(pipeline.first_time).toEqual([{ resource: "demo-pg", at: new Date(T0).toISOString(), session: "s1" }]);
    expect(pipeline.resources[0]).toMatchObject({ resource: "demo-pg", sessions: 3, first_time: true, denied: 2, approved: 2 });
    expect(report.incomplete.map((x) => [x.session, x.reason.split(":")[0]])).toEqual([
      ["s2", "removed at event 6"],
      ["s3", "recording truncated at event 14 (session-limit)"],
    ]);

    const md = reviewToMarkdown(report);
    expect(md).toContain("## acme/shop@refs/heads/main (deploy) (pipeline)");
    expect(md).toContain("approved by alice@acme.example");
    expect(md).toContain("| demo-pg | 3 |");
    expect(md).toContain("session s2 —");
    const csv = reviewToCsv(report).trim().split("\n");
    expect(csv[0]).toBe("identity_kind,identity,issuer,subject,repository,ref,workflow,environment,resource,sessions,first_seen,last_seen,first_time,stmt_ddl,stmt_read,stmt_write,denied,approved,approvers,incomplete_sessions,jit_grants");
    expect(csv[2]).toMatch(/^pipeline,acme\/shop@refs\/heads\/main \(deploy\),.*,demo-pg,3,.*,true,3,3,2,2,2,alice@acme.example,2,$/);
    // A claim value that looks like a spreadsheet formula is neutralised.
    expect(csv[1]).toContain(`human,'=cmd|' /C calc'!A0,`);
  });

  it("lists just-in-time grants in the CSV: beside the sessions that used them, and on their own row when unused", async () => {
    const report = buildReviewReport([await session("s1", samplePgSession("s1", T0), true)], { from: T0, to: T0 + 86_400_000, now: T0 + 86_400_000 });
    const label = report.identities[0]!.label;
    const grant = (id: string, requester: string, resource: string) => ({
      id, resource, requester, reason: "hotfix", status: "approved", approved_by: ["alice@acme.example"],
      requested_at: new Date(T0).toISOString(), active_from: new Date(T0 + 1000).toISOString(), active_until: new Date(T0 + 3_600_000).toISOString(), revoked_at: null, revoke_reason: null,
    });
    report.grants = [grant("g-used", label, "demo-pg"), grant("g-unused", "=evil()", "billing-pg")];
    const csv = reviewToCsv(report).trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[1]).toMatch(/,demo-pg,.*,"g-used approved, approved by alice@acme\.example, usable 2026-11-27T03:00:01\.000Z–2026-11-27T04:00:00\.000Z"$/);
    // The unused grant's row: requester neutralised as a formula, zero sessions.
    expect(csv[2]).toMatch(/^,'=evil\(\),,,,,,,billing-pg,0,.*,"g-unused approved, approved by alice@acme\.example, usable .*"$/);
  });
});
