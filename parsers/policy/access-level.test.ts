import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustLoad, resource } from "./test-fixtures.ts";

const alice = identityOf(devClaims("alice"));
const pg = resource("pg");

const level = async (rules: string, activeGrants: string[] = []) =>
  (await mustLoad(`version: 1\nrules:\n${rules}`)).sqlAccessLevel({ identity: alice, resource: pg, activeGrants });

describe("sqlAccessLevel", () => {
  it("is read for connect, reads, transactions and session settings only", async () => {
    expect(await level(`  - { name: r, effect: allow, subjects: any, resources: [pg], actions: [connect, sql.read, sql.transaction, sql.session] }\n`)).toBe("read");
    expect(await level(`  - { name: c, effect: allow, subjects: any, resources: [pg], actions: [connect] }\n`)).toBe("read");
    expect(await level(`  - { name: other, effect: allow, subjects: any, resources: [other], actions: [sql.write] }\n`)).toBe("read");
  });

  it("stays read for SQL-executing and user function parts, and is admin for admin function parts", async () => {
    expect(await level(`  - { name: f, effect: allow, subjects: any, resources: [pg], actions: [sql.read, sql.dynamic, sql.execute] }\n`)).toBe("read");
    expect(await level(`  - { name: f, effect: allow, subjects: any, resources: [pg], actions: [sql.read, sql.admin] }\n`)).toBe("admin");
  });

  it("is write when any allow or approve rule can let a write through", async () => {
    expect(await level(`  - { name: w, effect: approve, subjects: any, resources: [pg], actions: [sql.write], approvers: [{ subject: bob }] }\n`)).toBe("write");
    expect(await level(`  - { name: w, effect: allow, subjects: any, resources: [pg], actions: [{ sql: { kinds: [write], commands: [INSERT] } }] }\n`)).toBe("write");
  });

  it("is admin for DDL, privilege, procedural, server COPY, unknown and sql.*", async () => {
    for (const kind of ["ddl", "privilege", "procedural", "copy_external", "unknown"]) {
      expect(await level(`  - { name: a, effect: allow, subjects: any, resources: [pg], actions: [sql.${kind}] }\n`)).toBe("admin");
    }
    expect(await level(`  - { name: a, effect: allow, subjects: any, resources: [pg], actions: ["sql.*"] }\n`)).toBe("admin");
    expect(await level(`  - { name: a, effect: allow, subjects: any, resources: [pg], actions: [{ sql: { flags: [no-where] } }] }\n`)).toBe("admin");
  });

  it("ignores kinds a deny rule refuses whole, but not partial denials", async () => {
    const allowAll = `  - { name: a, effect: allow, subjects: any, resources: [pg], actions: [sql.read, sql.write, sql.ddl] }\n`;
    expect(await level(allowAll + `  - { name: d, effect: deny, subjects: any, resources: any, actions: [sql.ddl, sql.write] }\n`)).toBe("read");
    expect(await level(allowAll + `  - { name: d, effect: deny, subjects: any, resources: any, actions: [sql.ddl] }\n`)).toBe("write");
    // A deny of some DDL commands leaves other DDL allowed: admin.
    expect(await level(allowAll + `  - { name: d, effect: deny, subjects: any, resources: any, actions: [{ sql: { kinds: [ddl], commands: ["DROP *"] } }] }\n`)).toBe("admin");
    // A deny rule for someone else does not lower alice's level.
    expect(await level(allowAll + `  - { name: d, effect: deny, subjects: [{ subject: bob }], resources: any, actions: [sql.ddl, sql.write] }\n`)).toBe("admin");
  });

  it("counts requires-grant rules only while a grant is active at connect", async () => {
    const rules = `  - { name: r, effect: allow, subjects: any, resources: [pg], actions: [connect, sql.read] }\n  - { name: g, effect: allow, requires: grant, subjects: any, resources: [pg], actions: [sql.write] }\n`;
    expect(await level(rules)).toBe("read");
    expect(await level(rules, ["pg"])).toBe("write");
  });

  it("gives the example policies their intended levels on demo-pg", async () => {
    const load = async (f: string) => mustLoad(await readFile(new URL(`../../examples/policies/${f}`, import.meta.url), "utf8"), f, { devIssuers: [alice.issuer] });
    const demoPg = resource("demo-pg", { env: "demo", owner: "gatehouse" });
    expect((await load("read-only.yaml")).sqlAccessLevel({ identity: alice, resource: demoPg })).toBe("read");
    // demo.yaml holds writes for approval, and an approved write must be able to run.
    expect((await load("demo.yaml")).sqlAccessLevel({ identity: alice, resource: demoPg })).toBe("write");
  });
});
