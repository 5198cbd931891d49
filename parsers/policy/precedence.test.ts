import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { devClaims, identityOf, mustLoad, resource, stmt } from "./test-fixtures.ts";
import type { Effect } from "./types.ts";

const alice = identityOf(devClaims("alice", ["sre"]));
const pgProd = resource("pg-prod", { env: "prod" });

function rule(name: string, effect: Effect, actions = "[connect]", extra = ""): string {
  return `  - name: ${name}\n    effect: ${effect}\n    subjects: any\n    resources: any\n    actions: ${actions}\n${effect === "approve" ? "    approvers: any\n" : ""}${extra}`;
}

describe("precedence and default deny", () => {
  it("denies by default, naming nobody", async () => {
    const policy = await mustLoad(`version: 1\nrules: []\n`, "empty.yaml");
    const d = policy.decideConnect({ identity: alice, resource: pgProd });
    expect(d).toEqual({
      effect: "deny",
      rule: null,
      reason: "no rule allows connect to pg-prod for 'alice' (http://127.0.0.1:8788); default deny",
      matched: [],
    });
  });

  it("deny beats approve beats allow regardless of rule order", async () => {
    for (const order of [
      ["allow", "approve", "deny"],
      ["deny", "approve", "allow"],
      ["approve", "deny", "allow"],
    ] as Effect[][]) {
      const policy = await mustLoad(`version: 1\nrules:\n${order.map((e) => rule(`r-${e}`, e)).join("")}`, "p.yaml");
      const d = policy.decideConnect({ identity: alice, resource: pgProd });
      expect(d.effect).toBe("deny");
      expect(d.rule).toBe("r-deny");
      expect(d.matched.map((m) => m.rule)).toEqual(order.map((e) => `r-${e}`));
    }
    const noDeny = await mustLoad(`version: 1\nrules:\n${rule("a", "allow")}${rule("b", "approve")}${rule("c", "allow")}`);
    expect(noDeny.decideConnect({ identity: alice, resource: pgProd })).toMatchObject({ effect: "approve", rule: "b" });
  });

  it("names the first rule in policy order among those with the winning effect", async () => {
    const policy = await mustLoad(`version: 1\nrules:\n${rule("allow-1", "allow")}${rule("deny-1", "deny")}${rule("deny-2", "deny")}`, "order.yaml");
    const d = policy.decideConnect({ identity: alice, resource: pgProd });
    expect(d.rule).toBe("deny-1");
    expect(d.reason).toBe("rule 'deny-1' (order.yaml:8) denies connect to pg-prod");
  });

  it("is the maximum over all matching rules (property)", async () => {
    const effects: Effect[] = ["allow", "deny", "approve"];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ effect: fc.constantFrom(...effects), matches: fc.boolean() }), { maxLength: 12 }), async (rules) => {
        const text = `version: 1\nrules:\n${rules
          .map((r, i) => `  - { name: r${i}, effect: ${r.effect}, subjects: any, resources: [${r.matches ? "pg-prod" : "other"}], actions: [connect]${r.effect === "approve" ? ", approvers: any" : ""} }\n`)
          .join("")}`;
        const policy = await mustLoad(rules.length ? text : "version: 1\nrules: []\n");
        const d = policy.decideConnect({ identity: alice, resource: pgProd });
        const matching = rules.map((r, i) => ({ ...r, i })).filter((r) => r.matches);
        const expected = matching.some((r) => r.effect === "deny") ? "deny" : matching.some((r) => r.effect === "approve") ? "approve" : matching.length ? "allow" : "deny";
        expect(d.effect).toBe(expected);
        expect(d.matched.map((m) => m.rule)).toEqual(matching.map((r) => `r${r.i}`));
        if (matching.length === 0) expect(d.rule).toBeNull();
        else expect(d.rule).toBe(`r${matching.find((r) => r.effect === expected)!.i}`);
      }),
      { numRuns: 150 },
    );
  });

  it("connect and SQL actions are separate: a read rule does not allow connect and vice versa", async () => {
    const policy = await mustLoad(`version: 1\nrules:\n${rule("reads", "allow", "[sql.read]")}${rule("connects", "allow", "[connect]")}`);
    expect(policy.decideConnect({ identity: alice, resource: pgProd })).toMatchObject({ effect: "allow", rule: "connects" });
    expect(policy.decideSql({ identity: alice, resource: pgProd, statements: [stmt("read", "SELECT")] })).toMatchObject({ effect: "allow", rule: "reads" });
    const onlyConnect = await mustLoad(`version: 1\nrules:\n${rule("connects", "allow", "[connect]")}`);
    expect(onlyConnect.decideSql({ identity: alice, resource: pgProd, statements: [stmt("read", "SELECT")] })).toMatchObject({ effect: "deny", rule: null });
  });

  it("approve decisions carry the rule's approvers and timeout", async () => {
    const policy = await mustLoad(`version: 1
roles:
  approver: [{ claims: { groups: dba } }]
rules:
  - name: hold-connect
    effect: approve
    subjects: any
    resources: any
    actions: [connect]
    approvers:
      - claims: { groups: [sre, security] }
    timeout: 10m
  - name: hold-writes
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
`);
    const d = policy.decideConnect({ identity: alice, resource: pgProd });
    expect(d.approvals).toEqual([{ rule: "hold-connect", approvers: [{ claims: { groups: ["sre", "security"] } }], timeoutMs: 600_000, required: 1 }]);
    const w = policy.decideSql({ identity: alice, resource: pgProd, statements: [stmt("write", "INSERT")] });
    expect(w.approvals).toEqual([{ rule: "hold-writes", approvers: [{ role: "approver" }], timeoutMs: null, required: 1 }]);

    const bob = identityOf(devClaims("bob", ["security"]));
    const dba = identityOf(devClaims("dora", ["dba"]));
    expect(policy.canApprove("hold-connect", bob)).toBe(true);
    expect(policy.canApprove("hold-connect", dba)).toBe(false);
    expect(policy.canApprove("hold-writes", dba)).toBe(true);
    expect(policy.canApprove("hold-writes", bob)).toBe(false);
    expect(policy.canApprove("no-such-rule", bob)).toBe(false);
  });

  it("requires: grant rules only match while a grant for the resource is active", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - name: base
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read]
  - name: jit-writes
    effect: allow
    subjects: any
    resources: [pg-prod]
    actions: [sql.write]
    requires: grant
`, "jit.yaml");
    const write = [stmt("write", "UPDATE")];
    const without = policy.decideSql({ identity: alice, resource: pgProd, statements: write });
    expect(without).toMatchObject({ effect: "deny", rule: null });
    expect(without.reason).toBe(
      "no rule allows write on pg-prod for 'alice' (http://127.0.0.1:8788) (statement 1 of 1: UPDATE); default deny (rule 'jit-writes' would allow it with an active grant for pg-prod)",
    );
    expect(policy.decideSql({ identity: alice, resource: pgProd, statements: write, activeGrants: ["pg-staging"] }).effect).toBe("deny");
    expect(policy.decideSql({ identity: alice, resource: pgProd, statements: write, activeGrants: ["pg-prod"] })).toMatchObject({ effect: "allow", rule: "jit-writes" });
  });
});
