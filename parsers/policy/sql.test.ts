import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustLoad, resource, stmt } from "./test-fixtures.ts";

const alice = identityOf(devClaims("alice", ["dev"]));
const pg = resource("pg-prod", { env: "prod" });

const POLICY = `version: 1
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, sql.transaction]
  - name: writes-need-approval
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
    approvers: any
  - name: no-ddl-in-prod
    effect: deny
    subjects: any
    resources: [{ labels: { env: prod } }]
    actions: [sql.ddl]
  - name: no-unbounded-writes
    effect: deny
    subjects: any
    resources: any
    actions:
      - sql: { kinds: [write], flags: [no-where] }
  - name: no-truncate
    effect: deny
    subjects: any
    resources: any
    actions:
      - sql: { commands: ["truncate", "DROP  TABLE"] }
`;

describe("SQL decisions", () => {
  it("allows an empty query", async () => {
    const policy = await mustLoad(POLICY);
    expect(policy.decideSql({ identity: alice, resource: pg, statements: [] })).toEqual({ effect: "allow", rule: null, reason: "empty query", matched: [], statements: [] });
  });

  it("decides by statement kind", async () => {
    const policy = await mustLoad(POLICY, "examples/policies/x.yaml");
    expect(policy.decideSql({ identity: alice, resource: pg, statements: [stmt("read", "SELECT")] })).toMatchObject({
      effect: "allow",
      rule: "reads",
      reason: "rule 'reads' (examples/policies/x.yaml:3) allows read on pg-prod (statement 1 of 1: SELECT)",
      statementIndex: 0,
    });
    expect(policy.decideSql({ identity: alice, resource: pg, statements: [stmt("ddl", "CREATE TABLE")] })).toMatchObject({
      effect: "deny",
      rule: "no-ddl-in-prod",
      reason: "rule 'no-ddl-in-prod' (examples/policies/x.yaml:14) denies ddl on pg-prod (statement 1 of 1: CREATE TABLE)",
    });
    // Not prod: no rule about ddl at all → default deny.
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev", { env: "dev" }), statements: [stmt("ddl", "CREATE TABLE")] })).toMatchObject({
      effect: "deny",
      rule: null,
      reason: "no rule allows ddl on pg-dev for 'alice' (http://127.0.0.1:8788) (statement 1 of 1: CREATE TABLE); default deny",
    });
    expect(policy.decideSql({ identity: alice, resource: pg, statements: [stmt("write", "UPDATE")] })).toMatchObject({ effect: "approve", rule: "writes-need-approval" });
  });

  it("conditions on flags and command names", async () => {
    const policy = await mustLoad(POLICY);
    const d = policy.decideSql({ identity: alice, resource: pg, statements: [stmt("write", "DELETE", ["no-where"])] });
    expect(d).toMatchObject({ effect: "deny", rule: "no-unbounded-writes" });
    expect(d.reason).toContain("denies write [no-where] on pg-prod");
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: [stmt("ddl", "TRUNCATE")] })).toMatchObject({ effect: "deny", rule: "no-truncate" });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: [stmt("ddl", "DROP TABLE")] })).toMatchObject({ effect: "deny", rule: "no-truncate" });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: [stmt("ddl", "DROP INDEX")] })).toMatchObject({ effect: "deny", rule: null });
  });

  it("takes the most restrictive statement of a multi-statement query and names it", async () => {
    const policy = await mustLoad(POLICY, "p.yaml");
    const d = policy.decideSql({
      identity: alice,
      resource: pg,
      statements: [stmt("transaction", "BEGIN"), stmt("read", "SELECT"), stmt("write", "INSERT"), stmt("ddl", "DROP TABLE"), stmt("transaction", "COMMIT")],
    });
    expect(d.effect).toBe("deny");
    expect(d.statementIndex).toBe(3);
    expect(d.rule).toBe("no-ddl-in-prod");
    expect(d.reason).toBe("rule 'no-ddl-in-prod' (p.yaml:14) denies ddl on pg-prod (statement 4 of 5: DROP TABLE)");
    expect(d.statements!.map((s) => [s.effect, s.rule])).toEqual([
      ["allow", "reads"],
      ["allow", "reads"],
      ["approve", "writes-need-approval"],
      // Both deny rules match DROP TABLE; the first in policy order is named.
      ["deny", "no-ddl-in-prod"],
      ["allow", "reads"],
    ]);
    expect(d.matched).toContainEqual({ rule: "no-truncate", effect: "deny", statementIndex: 3 });
    expect(d.approvals).toBeUndefined();

    const approve = policy.decideSql({ identity: alice, resource: pg, statements: [stmt("read", "SELECT"), stmt("write", "INSERT"), stmt("write", "UPDATE")] });
    expect(approve).toMatchObject({ effect: "approve", rule: "writes-need-approval", statementIndex: 1 });
    expect(approve.approvals).toEqual([{ rule: "writes-need-approval", approvers: "any", timeoutMs: null, required: 1 }]);

    const allowed = policy.decideSql({ identity: alice, resource: pg, statements: [stmt("read", "SELECT"), stmt("read", "SHOW")] });
    expect(allowed).toMatchObject({ effect: "allow", rule: "reads", statementIndex: 0 });
    expect(allowed.reason).toBe("all 2 statements allowed; rule 'reads' (p.yaml:3) allows read on pg-prod (statement 1 of 2: SELECT)");

    // The first statement wins ties between equally restrictive statements.
    const two = policy.decideSql({ identity: alice, resource: pg, statements: [stmt("read", "SELECT"), stmt("procedural", "DO"), stmt("ddl", "DROP TABLE")] });
    expect(two).toMatchObject({ effect: "deny", rule: null, statementIndex: 1 });
  });

  it("lists every distinct approve rule a held query needs", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - { name: w, effect: approve, subjects: any, resources: any, actions: [sql.write], approvers: [{ claims: { groups: dba } }], timeout: 5m }
  - { name: d, effect: approve, subjects: any, resources: any, actions: [sql.ddl], approvers: [{ claims: { groups: security } }] }
`);
    const d = policy.decideSql({ identity: alice, resource: pg, statements: [stmt("write", "INSERT"), stmt("ddl", "ALTER TABLE"), stmt("write", "UPDATE")] });
    expect(d.effect).toBe("approve");
    expect(d.approvals!.map((a) => a.rule)).toEqual(["w", "d"]);
    expect(d.approvals![0]!.timeoutMs).toBe(300_000);
  });

  it("allows unknown statements only through a rule that names 'unknown'", async () => {
    const wildcard = await mustLoad(`version: 1
rules:
  - { name: all, effect: allow, subjects: any, resources: any, actions: [sql.*] }
  - { name: no-kinds, effect: allow, subjects: any, resources: any, actions: [{ sql: { commands: ["**"] } }] }
`);
    const unknown = [stmt("unknown", "UNKNOWN")];
    expect(wildcard.decideSql({ identity: alice, resource: pg, statements: unknown })).toMatchObject({ effect: "deny", rule: null });
    expect(wildcard.decideSql({ identity: alice, resource: pg, statements: [stmt("ddl", "DROP TABLE")] })).toMatchObject({ effect: "allow", rule: "all" });

    const explicit = await mustLoad(`version: 1\nrules:\n  - { name: u, effect: allow, subjects: any, resources: any, actions: [sql.unknown] }\n`);
    expect(explicit.decideSql({ identity: alice, resource: pg, statements: unknown })).toMatchObject({ effect: "allow", rule: "u" });
    const explicit2 = await mustLoad(`version: 1\nrules:\n  - { name: u, effect: allow, subjects: any, resources: any, actions: [{ sql: { kinds: [read, unknown] } }] }\n`);
    expect(explicit2.decideSql({ identity: alice, resource: pg, statements: unknown })).toMatchObject({ effect: "allow", rule: "u" });

    // Wildcards do cover unknown statements when they restrict.
    const denyAll = await mustLoad(`version: 1
rules:
  - { name: u, effect: allow, subjects: any, resources: any, actions: [sql.unknown] }
  - { name: freeze, effect: deny, subjects: any, resources: any, actions: [sql.*] }
`);
    expect(denyAll.decideSql({ identity: alice, resource: pg, statements: unknown })).toMatchObject({ effect: "deny", rule: "freeze" });
  });

  it("allows dangerous functions only through a rule that names the flag or the functions", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - { name: reads, effect: allow, subjects: any, resources: any, actions: [sql.read] }
  - { name: sleep-ok, effect: allow, subjects: any, resources: [pg-dev], actions: [{ sql: { kinds: [read], functions: [pg_sleep] } }] }
  - { name: any-fn-ok, effect: allow, subjects: any, resources: [pg-lab], actions: [{ sql: { kinds: [read], flags: [dangerous-function] } }] }
  - { name: no-file-reads, effect: deny, subjects: any, resources: any, actions: [{ sql: { functions: ["PG_READ_*"] } }] }
`);
    const sleep = [stmt("read", "SELECT", ["dangerous-function"], ["pg_sleep"])];
    const mixed = [stmt("read", "SELECT", ["dangerous-function"], ["pg_sleep", "lo_export"])];
    const file = [stmt("read", "SELECT", ["dangerous-function"], ["pg_read_file"])];
    expect(policy.decideSql({ identity: alice, resource: pg, statements: sleep })).toMatchObject({ effect: "deny", rule: null });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: sleep })).toMatchObject({ effect: "allow", rule: "sleep-ok" });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: mixed })).toMatchObject({ effect: "deny", rule: null });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-lab"), statements: mixed })).toMatchObject({ effect: "allow", rule: "any-fn-ok" });
    expect(policy.decideSql({ identity: alice, resource: resource("pg-lab"), statements: file })).toMatchObject({ effect: "deny", rule: "no-file-reads" });
    // A flagged statement whose function list is empty is never allowed by a functions list.
    expect(policy.decideSql({ identity: alice, resource: resource("pg-dev"), statements: [stmt("read", "SELECT", ["dangerous-function"], [])] }).effect).toBe("deny");
  });

  it("matches other flags: data-modifying CTE, EXPLAIN ANALYZE, SELECT INTO", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - { name: rw, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.write] }
  - { name: no-hidden-writes, effect: approve, subjects: any, resources: any, approvers: any, actions: [{ sql: { flags: [data-modifying-cte, explain-analyze, select-into] } }] }
`);
    for (const flag of ["data-modifying-cte", "explain-analyze", "select-into"] as const) {
      expect(policy.decideSql({ identity: alice, resource: pg, statements: [stmt("write", "SELECT", [flag])] })).toMatchObject({ effect: "approve", rule: "no-hidden-writes" });
    }
    expect(policy.decideSql({ identity: alice, resource: pg, statements: [stmt("write", "INSERT")] })).toMatchObject({ effect: "allow", rule: "rw" });
  });
});

describe("resource matching", () => {
  it("matches by name glob, type and labels (missing labels never match)", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - name: r
    effect: allow
    subjects: any
    resources:
      - name: "pg-*"
        type: postgres
        labels: { env: [prod, staging], team: "data-*" }
      - ssh-bastion
    actions: [connect]
`);
    const decide = (name: string, labels: Record<string, string>, type = "postgres") => policy.decideConnect({ identity: alice, resource: resource(name, labels, type) }).effect;
    expect(decide("pg-main", { env: "prod", team: "data-eng" })).toBe("allow");
    expect(decide("pg-main", { env: "staging", team: "data-eng" })).toBe("allow");
    expect(decide("pg-main", { env: "dev", team: "data-eng" })).toBe("deny");
    expect(decide("pg-main", { env: "prod" })).toBe("deny");
    expect(decide("pg-main", { env: "prod", team: "data-eng" }, "ssh")).toBe("deny");
    expect(decide("pg-main/x", { env: "prod", team: "data-eng" })).toBe("deny");
    expect(decide("ssh-bastion", {}, "ssh")).toBe("allow");
    expect(decide("ssh-bastion-2", {}, "ssh")).toBe("deny");
  });
});
