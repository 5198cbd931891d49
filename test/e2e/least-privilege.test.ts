/**
 * The second wall end to end: the real stack (worker, connector, demo PostgreSQL with its reader
 * and writer roles) under examples/policies/read-only.yaml plus one test-only rule that lets
 * `writer-bot` write.
 *
 * The write the classifier cannot see: `select * from wall_probe` is a plain SELECT to any
 * classifier, but the table's row-level-security policy calls a volatile function that INSERTs.
 * The gateway allows it as a read; PostgreSQL itself must refuse it for a read-level session
 * (read-only transaction, and the reader role holds no INSERT privilege). The same statement from
 * a write-level identity does write — proof that the refusal comes from the credential, not from a
 * broken fixture. Ground truth from a direct superuser connection.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack } from "../harness/stack.ts";

const WRITER_RULE = `
  # TEST ONLY: a write-level identity, to show the same statement does write with a write credential.
  - name: test-writer-bot-writes
    effect: allow
    subjects: [{ issuer: http://127.0.0.1:8788, subject: writer-bot }]
    resources: [demo-pg]
    actions: [sql.write]
`;

let stack: TestStack;
let su: pg.Client;

beforeAll(async () => {
  const readOnly = await readFile(new URL("../../examples/policies/read-only.yaml", import.meta.url), "utf8");
  stack = await startTestStack({ policyYaml: readOnly + WRITER_RULE });
  // Objects made by the database owner (the admin level), so the level roles get their default privileges.
  const owner = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await owner.connect();
  try {
    await owner.query(`
      CREATE TABLE wall_written (who text);
      CREATE FUNCTION wall_write() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN INSERT INTO wall_written VALUES (current_user); RETURN true; END $$;
      CREATE TABLE wall_probe (x int);
      INSERT INTO wall_probe VALUES (1);
      ALTER TABLE wall_probe ENABLE ROW LEVEL SECURITY;
      CREATE POLICY wall_probe_writes ON wall_probe USING (wall_write());`);
  } finally {
    await owner.end();
  }
  const s = stack.pg.superuser!;
  su = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: s.user, password: s.password });
  await su.connect();
}, 180_000);

afterAll(async () => {
  await su?.end();
  await stack?.stop();
});

const written = async () => (await su.query("select who from wall_written order by who")).rows.map((r) => r.who as string);

describe("database-enforced least privilege under read-only.yaml", () => {
  it("logs a read-only identity in as the reader role, in read-only transactions", async () => {
    const r = await stack.psql("select current_user, current_setting('default_transaction_read_only')", { sub: "alice", args: ["-A", "-t"] });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`${stack.pg.levels!.read.user}|on`);
  });

  it("a write hidden in a SELECT passes the classifier and is refused by PostgreSQL itself", async () => {
    const r = await stack.psql("select * from wall_probe", { sub: "alice" });
    expect(r.code).not.toBe(0);
    // PostgreSQL's own error, not the gateway's: the statement was allowed as a read.
    expect(r.stderr).toContain("cannot execute INSERT in a read-only transaction");
    expect(r.stderr).not.toContain("gatehouse:");
    expect(await written()).toEqual([]);
  });

  it("leaving read-only mode does not help: the reader role has no write privilege", async () => {
    // Whether the gateway refuses READ WRITE transactions or lets them through, nothing is written.
    const r = await stack.psql("begin read write; select * from wall_probe; commit", { sub: "alice" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied for table wall_written|read-only transaction|gatehouse:/);
    const direct = await stack.psql("select wall_write()", { sub: "alice" });
    expect(direct.code).not.toBe(0);
    expect(await written()).toEqual([]);
  });

  it("the same statement writes for an identity whose policy allows writes (write level)", async () => {
    const r = await stack.psql("select current_user; select x from wall_probe", { sub: "writer-bot", args: ["-A", "-t"] });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([stack.pg.levels!.write.user, "1"]);
    expect(await written()).toEqual([stack.pg.levels!.write.user]);
  });
});
