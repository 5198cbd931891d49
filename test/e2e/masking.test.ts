/**
 * Issue 4 end to end: values are masked in flight — rows (simple and extended protocol, prepared
 * statements re-executed without Describe), COPY (text and CSV, with HEADER), error details,
 * notifications — and the recording only ever holds masked data.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";
import { PgWire, bind, close, dataRow, describe as describeMsg, errorFields, execute, parse, query, sync } from "./pg-wire.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - issuer: http://127.0.0.1:8788
      claims: { groups: auditors }
rules:
  - name: mask-test-access
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction, sql.procedural]
masking:
  rules:
    - name: pii-columns
      columns: [email, card_number]
      style: partial
      keep: 4
    - name: secret-columns
      columns: ["*password*", api_token]
      style: redact
    - name: detectors
      detectors: [all]
      style: redact
`;

let stack: TestStack;
let conn: TestConnection;
let direct: pg.Client;
let real: { emails: string[]; cards: string[]; hashes: string[]; tokens: string[] };
let names: string[];

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  conn = await stack.connect("demo-pg", { sub: "masked-reader" });
  direct = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await direct.connect();
  const rows = (await direct.query("select email, card_number, password_hash, api_token, name from customers order by id limit 20")).rows;
  names = rows.map((r) => r.name);
  real = {
    emails: rows.map((r) => r.email),
    cards: rows.map((r) => r.card_number),
    hashes: rows.map((r) => r.password_hash),
    tokens: rows.map((r) => r.api_token),
  };
}, 180_000);

afterAll(async () => {
  await direct?.end();
  await stack?.stop();
});

function expectNoSecrets(text: string) {
  for (const list of Object.values(real)) for (const v of list) expect(text).not.toContain(v);
}

describe("masking on the wire", () => {
  it("masks rows by column rule for psql, keeping the last 4 of card numbers", async () => {
    const r = await psql(conn.url, ["-A", "-t", "-c", "select email, card_number, password_hash, api_token from customers order by id limit 20"]);
    expect(r.code).toBe(0);
    expectNoSecrets(r.stdout);
    const first = r.stdout.trim().split("\n")[0]!.split("|");
    expect(first[1]).toBe(`************${real.cards[0]!.replace(/\D/g, "").slice(-4)}`.slice(-first[1]!.length));
    expect(first[1]!.endsWith(real.cards[0]!.slice(-4))).toBe(true);
    expect(first[2]).toBe("[REDACTED]");
  });

  it("masks the extended protocol (pg driver) and content detectors in other columns and free text", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const r = await client.query("select email as contact, 'write to ' || email || ' or call' as note from customers where id = $1", [1]);
      expect(JSON.stringify(r.rows)).not.toContain(real.emails[0]);
      // "contact" is the email column under another name: the email rule still applies.
      expect(r.rows[0].contact).not.toBe(real.emails[0]);
      expect(r.rows[0].contact.endsWith(real.emails[0]!.slice(-4))).toBe(true);
      // "note" is computed from email: a derived value, redacted whole (docs/MASKING.md).
      expect(r.rows[0].note).toBe("[REDACTED]");
      const t = await client.query("select $1::text as blob", ["token ghp_" + "a".repeat(36) + " and AKIAIOSFODNN7EXAMPLE"]);
      expect(t.rows[0].blob).not.toContain("ghp_" + "a".repeat(36));
      expect(t.rows[0].blob).not.toContain("AKIAIOSFODNN7EXAMPLE");
      // Luhn-invalid digit runs are left alone.
      const n = await client.query("select '4111111111111112'::text as not_a_card");
      expect(n.rows[0].not_a_card).toBe("4111111111111112");
    } finally {
      await client.end();
    }
  });

  it("masks COPY TO STDOUT in text and CSV", async () => {
    const text = await psql(conn.url, ["-c", "copy (select id, email, card_number from customers order by id limit 20) to stdout"]);
    expect(text.code).toBe(0);
    expectNoSecrets(text.stdout);
    expect(text.stdout.split("\n")[0]!.split("\t")[0]).toBe("1");
    const csv = await psql(conn.url, ["-c", "\\copy customers to stdout csv"]);
    expect(csv.code).toBe(0);
    expectNoSecrets(csv.stdout);
    expect(csv.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(20);
  });

  it("COPY … CSV HEADER: the header line arrives intact, the rows are masked", async () => {
    // psql's \copy sends the old syntax: COPY ( … ) TO STDOUT csv header
    const csv = await psql(conn.url, ["-c", "\\copy (select id, email, card_number, name from customers order by id limit 20) to stdout csv header"]);
    expect(csv.code, csv.stderr).toBe(0);
    expectNoSecrets(csv.stdout);
    const lines = csv.stdout.trim().split("\n");
    expect(lines[0]).toBe("id,email,card_number,name");
    expect(lines.length).toBe(21);
    const first = lines[1]!.split(",");
    expect(first[0]).toBe("1");
    expect(first[1]).not.toBe(real.emails[0]);
    expect(first[2]!.endsWith(real.cards[0]!.slice(-4))).toBe(true);
    expect(first[3]).toBe(names[0]);
    // New syntax, text format, a column alias that looks like data: the header is column names
    // chosen by the statement and passes as written; the rows are still masked (the email
    // column's own rule: the probe's table OID and attribute number see through the alias).
    const text = await psql(conn.url, ["-c", `copy (select id, email as "owner@example.com" from customers order by id limit 3) to stdout with (format text, header)`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split("\n")[0]).toBe("id\towner@example.com");
    expect(text.stdout.split("\n")[1]).toBe(`1\t${"*".repeat(real.emails[0]!.length - 4)}${real.emails[0]!.slice(-4)}`);
    expectNoSecrets(text.stdout);
    // HEADER only inside a string literal: there is no header, the first line is a row and is masked.
    const tricky = await psql(conn.url, ["-c", "copy (select email from customers order by id limit 3) to stdout (format csv, null 'HEADER')"]);
    expect(tricky.code, tricky.stderr).toBe(0);
    expect(tricky.stdout.trim().split("\n")).toHaveLength(3);
    expectNoSecrets(tricky.stdout);
  });

  it("masks prepared statements re-executed without Describe (pgjdbc's Bind + Execute), Close and re-use included", async () => {
    const wire = await PgWire.open(conn.port, "masked-reader", "demo-pg");
    try {
      const checkRow = (values: Array<string | Buffer | null>, id: number) => {
        expect((values[0] as Buffer).readInt32BE(0)).toBe(id); // binary int4, as the Bind asked
        expect(values[1]).not.toBe(real.emails[id - 1]);
        expect((values[1] as string).endsWith(real.emails[id - 1]!.slice(-4))).toBe(true); // partial, keep 4
        expect((values[2] as string).endsWith(real.cards[id - 1]!.slice(-4))).toBe(true);
        expect(values[2]).not.toBe(real.cards[id - 1]);
        expect(values[3]).toBe(names[id - 1]); // not a masked column
      };
      // pgjdbc, first execution of a named statement: Parse + Describe S + Bind + Execute + Sync.
      // (No Describe of the portal: no RowDescription precedes these rows.)
      const formats = [1, 0, 0, 0];
      wire.send(parse("S_1", "select id, email, card_number, name from customers where id = $1"), describeMsg("S", "S_1"), bind("", "S_1", ["1"], formats), execute(""), sync());
      let got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["1", "t", "T", "2", "D", "C", "Z"]);
      checkRow(dataRow(got[4]!, formats), 1);
      // Re-executions: Bind + Execute + Sync, twice.
      for (const id of [2, 3]) {
        wire.send(bind("", "S_1", [String(id)], formats), execute(""), sync());
        got = await wire.untilReady();
        expect(got.map((m) => m.type)).toEqual(["2", "D", "C", "Z"]);
        checkRow(dataRow(got[1]!, formats), id);
      }
      // A portal read in pieces (fetch size): Execute with a row limit, then again.
      wire.send(parse("S_3", "select email from customers order by id limit 5"), bind("C_1", "S_3", []), execute("C_1", 2), execute("C_1", 0), sync());
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["1", "2", "D", "D", "s", "D", "D", "D", "C", "Z"]);
      const emails = got.filter((m) => m.type === "D").map((m) => dataRow(m)[0] as string);
      emails.forEach((e, k) => expect(e).not.toBe(real.emails[k]));
      // Close, then use the name again: the old statement is gone; a new Parse under the same
      // name is masked by its own shape, again without Describe.
      wire.send(close("S", "S_1"), sync());
      expect((await wire.untilReady()).map((m) => m.type)).toEqual(["3", "Z"]);
      wire.send(bind("", "S_1", ["1"], formats), execute(""), sync());
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(errorFields(got[0]!).C).toBe("26000");
      wire.send(parse("S_1", "select api_token, id from customers where id = $1"), bind("", "S_1", ["1"]), execute(""), sync());
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["1", "2", "D", "C", "Z"]);
      expect(dataRow(got[2]!)).toEqual(["[REDACTED]", "1"]);
      // The server side can replace a prepared statement under the same name (here a DO block):
      // a shape remembered from an earlier Describe would be stale (int4, never scanned). Each
      // execution is masked by the shape of what actually runs.
      wire.send(parse("S_2", "select 42::int4 as n"), describeMsg("S", "S_2"), bind("", "S_2", []), execute(""), sync());
      got = await wire.untilReady();
      expect(dataRow(got[4]!)).toEqual(["42"]);
      wire.send(query(`DO $$ BEGIN EXECUTE 'DEALLOCATE "S_2"'; EXECUTE 'PREPARE "S_2" AS SELECT email AS n FROM customers WHERE id = 1'; END $$`));
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["C", "Z"]);
      wire.send(bind("", "S_2", []), execute(""), sync());
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["2", "D", "C", "Z"]);
      expect(dataRow(got[1]!)).toEqual([`${"*".repeat(real.emails[0]!.length - 4)}${real.emails[0]!.slice(-4)}`]); // email's own rule
      expectNoSecrets(got.map((m) => m.body.toString("utf8")).join(""));
      // An aborted transaction still ends with Bind + Execute of ROLLBACK: the Describe the
      // gateway adds gets NoData there (only portals returning rows cannot be described).
      wire.send(query("begin"));
      await wire.untilReady();
      wire.send(query("select 1/0"));
      expect((await wire.untilReady()).map((m) => m.type)).toEqual(["E", "Z"]);
      wire.send(parse("R", "rollback"), bind("", "R", []), execute(""), sync());
      got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["1", "2", "C", "Z"]);
      expect(got[3]!.body.toString()).toBe("I");
    } finally {
      wire.close();
    }
  });

  it("masks values echoed in error details and notification payloads", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      await client.query("create temp table uniq (e text unique)");
      await client.query("insert into uniq values ($1)", [real.emails[3]]);
      const err = (await client.query("insert into uniq values ($1)", [real.emails[3]]).catch((e) => e)) as pg.DatabaseError;
      expect(err.code).toBe("23505");
      expect(err.detail ?? "").not.toContain(real.emails[3]);
      await client.query("listen masked_channel");
      const got = new Promise<pg.Notification>((resolve) => client.on("notification", resolve));
      await direct.query("select pg_notify('masked_channel', $1)", [`new signup ${real.emails[4]}`]);
      const n = await got;
      // sent by another session: with column rules its payload is replaced whole (it may hold any column)
      expect(n.payload).toBe("[REDACTED]");
      expect(n.channel).toBe("masked_channel");
      // the session's own notification of plain data keeps its text, detectors still applied
      const own = new Promise<pg.Notification>((resolve) => client.on("notification", resolve));
      await client.query("select pg_notify('masked_channel', $1)", [`new signup ${real.emails[4]}`]);
      const n2 = await own;
      expect(n2.payload).toContain("new signup");
      expect(n2.payload).not.toContain(real.emails[4]);
    } finally {
      await client.end();
    }
  });

  it("refuses a switch to an encoding the scanners cannot read safely (client_encoding is pinned)", async () => {
    const r = await psql(conn.url, ["-c", "set client_encoding to 'SJIS'", "-c", "select email from customers limit 1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/SET client_encoding is refused: client_encoding is pinned/);
    expectNoSecrets(r.stdout);
  });

  it("records only masked data, with masking counts per rule", async () => {
    await conn.stop();
    conn = await stack.connect("demo-pg", { sub: "recorded-reader" });
    const r = await psql(conn.url, ["-A", "-t", "-c", "select email, card_number, api_token from customers order by id limit 5"]);
    expect(r.code).toBe(0);
    // A secret typed into the SQL itself is masked in the trail too.
    const literal = await psql(conn.url, ["-A", "-t", "-c", `select '${real.emails[7]}' as typed`]);
    expect(literal.stdout).not.toContain(real.emails[7]);
    await conn.stop();
    const auditor = await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } });
    const run = async (args: string[]) => {
      const r = await gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: auditor });
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    };
    let trail = "";
    // Both sessions of this identity, once both have ended (their trails end with the masking counts).
    for (let attempt = 0; attempt < 50 && (trail.match(/masking\.counts/g) ?? []).length < 2; attempt++) {
      const list = JSON.parse(await run(["sessions", "list", "--identity", "recorded-reader", "--json"]));
      const sessions = (Array.isArray(list) ? list : list.sessions) as Array<{ id: string }>;
      trail = (await Promise.all(sessions.map((x) => run(["sessions", "export", x.id])))).join("\n");
      if ((trail.match(/masking\.counts/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    expect(trail).toContain("select email, card_number, api_token from customers");
    expect(trail).toContain("as typed");
    expectNoSecrets(trail);
    expect(trail).toContain("masking.counts");
    expect(trail).toMatch(/"pii-columns":\s*10/);
    expect(trail).toMatch(/"secret-columns":\s*5/);
  });
});
