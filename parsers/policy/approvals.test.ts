import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustLoad, resource, stmt } from "./test-fixtures.ts";
import { loadPolicy } from "./index.ts";

const bot = identityOf(devClaims("bot", []));
const pg = resource("pg-prod", { env: "prod" });

const POLICY = `version: 1
roles:
  approver: [{ claims: { groups: sre } }]
rules:
  - name: writes-need-approval
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
  - name: deletes-need-two
    effect: approve
    subjects: any
    resources: any
    actions: [{ sql: { commands: ["DELETE"] } }]
    required_approvals: 2
    timeout: 10m
`;

describe("approval requirements", () => {
  it("collects every matching approve rule, so a stricter one is never weakened", async () => {
    const policy = await mustLoad(POLICY);
    const d = policy.decideSql({ identity: bot, resource: pg, statements: [stmt("write", "DELETE")] });
    expect(d.effect).toBe("approve");
    expect(d.approvals).toEqual([
      { rule: "writes-need-approval", approvers: [{ role: "approver" }], timeoutMs: null, required: 1 },
      { rule: "deletes-need-two", approvers: [{ role: "approver" }], timeoutMs: 600_000, required: 2 },
    ]);
    const insert = policy.decideSql({ identity: bot, resource: pg, statements: [stmt("write", "INSERT")] });
    expect(insert.approvals?.map((a) => a.rule)).toEqual(["writes-need-approval"]);
  });

  it("validates required_approvals", async () => {
    const bad = await loadPolicy(POLICY.replace("required_approvals: 2", "required_approvals: 0"), "p.yaml");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]!.message).toMatch(/required_approvals must be a whole number from 1 to 10/);
    const onAllow = await loadPolicy(`version: 1
rules:
  - name: r
    effect: allow
    subjects: any
    resources: any
    actions: [sql.read]
    required_approvals: 2
`, "p.yaml");
    expect(onAllow.ok).toBe(false);
    if (!onAllow.ok) expect(onAllow.errors[0]!.message).toMatch(/only applies to rules with effect approve/);
  });
});
