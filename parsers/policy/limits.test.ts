import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustLoad, resource } from "./test-fixtures.ts";

const alice = identityOf(devClaims("alice", ["sre"]));
const bob = identityOf(devClaims("bob", ["dev"]));

describe("session limits", () => {
  it("take the most restrictive limit of the matching rules, else the defaults", async () => {
    const policy = await mustLoad(`version: 1
limits: { max_session: 8h, statement_timeout: 5m }
rules:
  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: sre-prod, effect: allow, subjects: [{ claims: { groups: sre } }], resources: [pg-prod], actions: [sql.read], limits: { max_session: 1h } }
  - { name: sre-prod-ddl, effect: deny, subjects: [{ claims: { groups: sre } }], resources: [pg-prod], actions: [sql.ddl], limits: { max_session: 2h, statement_timeout: 30s } }
  - { name: long-migrations, effect: allow, subjects: [{ subject: bob }], resources: [pg-prod], actions: [sql.ddl], limits: { statement_timeout: 1h } }
`);
    expect(policy.sessionLimits(alice, resource("pg-prod"))).toEqual({ maxSessionMs: 3_600_000, statementTimeoutMs: 30_000 });
    expect(policy.sessionLimits(alice, resource("pg-dev"))).toEqual({ maxSessionMs: 28_800_000, statementTimeoutMs: 300_000 });
    // A rule's own limit replaces the default (here: longer statements for the migration job).
    expect(policy.sessionLimits(bob, resource("pg-prod"))).toEqual({ maxSessionMs: 28_800_000, statementTimeoutMs: 3_600_000 });
  });

  it("are null when nothing sets them", async () => {
    const policy = await mustLoad(`version: 1\nrules: []\n`);
    expect(policy.sessionLimits(alice, resource("pg-prod"))).toEqual({ maxSessionMs: null, statementTimeoutMs: null });
  });
});

describe("masking and recording sections", () => {
  const POLICY = `version: 1
roles:
  auditor: [{ claims: { groups: auditors } }]
rules: []
masking:
  rules:
    - name: pii
      columns: [email, card_number]
      style: partial
    - name: prod-secrets
      resources: [{ labels: { env: prod } }]
      columns: [api_token]
      detectors: [jwt]
      style: partial
      keep: 4
    - name: not-for-auditors
      subjects: [{ claims: { groups: dev } }]
      resources: [pg-prod]
      columns: [salary]
      style: hash
recording:
  mode: best-effort
  overrides:
    - resources: [{ labels: { env: prod } }]
      mode: fail-closed
    - resources: ["pg-*"]
      mode: best-effort
`;

  it("select masking rules per identity and resource, handing them over as written", async () => {
    const policy = await mustLoad(POLICY);
    const prod = resource("pg-prod", { env: "prod" });
    expect(policy.maskingRulesFor(alice, prod)).toEqual([
      { name: "pii", columns: ["email", "card_number"], style: "partial" },
      { name: "prod-secrets", resources: [{ labels: { env: "prod" } }], columns: ["api_token"], detectors: ["jwt"], style: "partial", keep: 4 },
    ]);
    expect((policy.maskingRulesFor(bob, prod) as { name: string }[]).map((r) => r.name)).toEqual(["pii", "prod-secrets", "not-for-auditors"]);
    expect((policy.maskingRulesFor(bob, resource("pg-dev")) as { name: string }[]).map((r) => r.name)).toEqual(["pii"]);
    // Consumers cannot alter the policy through what they are given.
    const rules = policy.maskingRulesFor(alice, prod) as { columns: string[] }[];
    expect(() => rules[0]!.columns.push("x")).toThrow(TypeError);
  });

  it("resolve the recording mode per resource; fail-closed wins overlaps; fail-closed by default", async () => {
    const policy = await mustLoad(POLICY);
    expect(policy.recordingMode(resource("pg-prod", { env: "prod" }))).toBe("fail-closed");
    expect(policy.recordingMode(resource("pg-dev"))).toBe("best-effort");
    expect(policy.recordingMode(resource("ssh-x"))).toBe("best-effort");
    const defaults = await mustLoad(`version: 1\nrules: []\n`);
    expect(defaults.recordingMode(resource("pg-dev"))).toBe("fail-closed");
    expect(defaults.maskingRulesFor(alice, resource("pg-dev"))).toEqual([]);
  });
});
