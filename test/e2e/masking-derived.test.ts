/**
 * Issue 13 end to end, as an attacker: values computed from masked columns (taint), binary
 * formats, COPY, cursors, errors, notices, notifications and settings. The assertion is always
 * the same: no raw masked value — nor its reversal, base64, hex or character-code sequence —
 * reaches the client or the trail; ground truth is read over a direct superuser connection.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";
import { PgWire, bind, dataRow, describe as describeMsg, errorFields, execute, parse, query, sync } from "./pg-wire.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - issuer: http://127.0.0.1:8788
      claims: { groups: auditors }
rules:
  # Masking is tested as the last wall: the policy lets user functions (sql.execute) and SQL-running
  # functions (sql.dynamic) through, so their results must be masked.
  - name: derived-test-access
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction, sql.procedural, sql.execute, sql.dynamic]
masking:
  rules:
    - name: pii-columns
      columns: [email, card_number]
      style: partial
      keep: 4
    - name: secret-columns
      columns: [password_hash, api_token]
      style: redact
    - name: detectors
      detectors: [all]
      style: redact
`;

const MASKED = ["email", "card_number", "password_hash", "api_token"] as const;
const IDS = "id <= 3";

/** Expressions over a masked column X (functions, operators, casts, constructors, JSON, XML…). */
const FUNCTIONS = [
  "X", "X || ''", "upper(X)", "lower(X)", "reverse(X)", "replace(X, '@', '#')", "split_part(X, '@', 1)", "substr(X, 2)",
  "left(X, 6)", "md5(X)", "length(X)", "ascii(substr(X, 1, 1))", "encode(convert_to(X, 'UTF8'), 'base64')",
  "encode(convert_to(X, 'UTF8'), 'hex')", "translate(X, 'abc', 'xyz')", "overlay(X placing 'Z' from 1 for 1)",
  "format('%s!', X)", "X::varchar(200)", "convert_to(X, 'UTF8')", "to_json(X)", "json_build_object('v', X)",
  "array[X]", "row(X, 1)", "concat('a', X)", "quote_literal(X)", "initcap(X)", "lpad(X, 80, '*')",
  "regexp_replace(X, '(.)', '\\1 ', 'g')", "xmlelement(name v, X)", "array_to_string(array[X, X], ',')",
  "case when X like '%a%' then 'yes' else 'no' end", "X = X", "(select X)", "coalesce(null, X)",
];

/** Ways to wrap "select F as v from customers c where …". */
const WRAPPERS: Array<(f: string) => string> = [
  (f) => `select ${f} as v from customers c where ${IDS} order by id`,
  (f) => `select v from (select ${f} as v, id from customers c where ${IDS}) s order by id`,
  (f) => `with s as (select ${f} as v, id from customers c where ${IDS}) select v from s order by id`,
  (f) => `select v from (select ${f} as v from customers c where ${IDS} union all select null) u`,
];

/** Whole-row, set-operation and join forms over the masked table. */
const WHOLE_ROW = [
  "select c from customers c where id <= 3",
  "select c.* is not null, row_to_json(c) from customers c where id <= 3",
  "select to_jsonb(customers) from customers where id <= 3",
  "select (c.*)::text from customers c where id <= 3",
  "select array_agg(c) from customers c where id <= 3",
  "select string_agg(email, ',') from customers where id <= 3",
  "select string_agg(card_number || password_hash || api_token, ',') from customers where id <= 3",
  "table customers",
  "select * from customers natural join (select id, email as e from customers) s where id <= 3",
  "select * from customers join customers d using (id) where id <= 3",
  "select email from customers where id <= 3 union select api_token from customers where id <= 3",
  "select jsonb_agg(x) from (select * from customers where id <= 3) x",
  "select xmlagg(xmlelement(name c, password_hash)) from customers where id <= 3",
  "select id, name, name, name, name, name, created_at from customers where id <= 3 union all select * from customers where id <= 3",
  "select row_to_json(t) from (select * from customers where id <= 3) t",
  // attribute notation: `c.f` is `f(c)` when f is not a column of c — a function of the whole row
  "select reverse(c.concat) from customers c where id <= 3",
  "select reverse(customers.quote_literal) from customers where id <= 3",
  "select reverse(c.row_to_json::text) from customers c where id <= 3",
  "select reverse(public.customers.to_jsonb::text) from public.customers where id <= 3",
  "with s as (select name from customers where id <= 3 union all select email from customers where id <= 3) select * from s",
  "with recursive r(x, n) as (select email, 1 from customers where id <= 3 union all select reverse(x), n + 1 from r where n < 2) select x from r",
  "select v from (select name as v from customers where id <= 3 union select api_token from customers where id <= 3) u",
  "select j from (customers join orders on orders.customer_id = customers.id) j limit 3",
  "select query_to_xml('select email from customers where id <= 3', true, false, '')",
  "select (select array_agg(ascii(substr(email, i, 1))) from generate_series(1, 40) i) from customers where id <= 3",
  // columns renamed without naming them: a column alias list over TABLE, a CTE column list, `customers *`
  "select reverse(e), reverse(k), reverse(p), reverse(t) from (table customers) s(i, n, e, k, p, t) where i <= 3",
  "with s(i, n, e, k, p, t) as (table customers) select reverse(e), reverse(k), reverse(p), reverse(t) from s where i <= 3",
  "select reverse(e), reverse(k), reverse(p), reverse(t) from customers * s(i, n, e, k, p, t) where i <= 3",
  "select reverse(e) from (select 1) q, lateral (table customers order by id limit 3) s(i, n, e)",
  // PostgreSQL ends a -- comment at a carriage return too: the rest is SQL, not comment
  "select 1 as x --\r, reverse(card_number), reverse(password_hash), reverse(api_token) from customers where id <= 3\n",
  // a Unicode identifier with its own escape character spells a masked column without a backslash
  `select reverse(U&"!0063ard_number" UESCAPE '!'), reverse(U&"!0061pi_token" UESCAPE '!') from customers where id <= 3`,
];

let stack: TestStack;
let conn: TestConnection;
let direct: pg.Client;
let secrets: string[] = [];
let forms: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  conn = await stack.connect("demo-pg", { sub: "derived-reader" });
  direct = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await direct.connect();
  const rows = (await direct.query(`select ${MASKED.join(", ")} from customers where ${IDS} order by id`)).rows as Array<Record<string, string>>;
  secrets = rows.flatMap((r) => MASKED.map((c) => r[c]!));
  // trivial encodings of each raw value: reversed, base64, hex, decimal code sequences
  forms = secrets.flatMap((v) => {
    const b = Buffer.from(v, "utf8");
    const codes = Array.from(b.subarray(0, 12), (x) => String(x));
    return [v, [...v].reverse().join(""), b.toString("base64").slice(0, 16), b.toString("hex").slice(0, 24), codes.join(","), codes.join(" "), codes.join("")];
  });
}, 180_000);

afterAll(async () => {
  await direct?.end();
  await stack?.stop();
});

function expectClean(text: string, what: string) {
  for (const f of forms) if (text.includes(f)) throw new Error(`${what}: a masked value (or an encoding of it) reached the client: ${JSON.stringify(f)} in ${text.slice(0, 300)}`);
}

/** A derived value comes back masked: NULL, or the redaction marker (as text or JSON string). */
function expectMaskedValue(v: unknown, what: string) {
  if (v === null) return;
  const s = Buffer.isBuffer(v) ? v.toString("latin1") : typeof v === "string" ? v : JSON.stringify(v);
  // a plain column keeps its own rule (partial: stars and the last 4 characters)
  if (!s.includes("[REDACTED]") && !/^\*+[^*]{0,4}$/.test(s)) throw new Error(`${what}: derived value not masked: ${s.slice(0, 200)}`);
}

describe("values derived from masked columns", () => {
  const corpus = MASKED.flatMap((col) => FUNCTIONS.flatMap((f) => WRAPPERS.map((w) => w(f.replace(/X/g, col === "email" ? "c.email" : col)))));

  it(`masks a corpus of ${corpus.length} derived-value queries (text and binary results)`, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(100);
    for (const binary of [false, true]) {
      const client = new pg.Client({ connectionString: conn.url, binary } as pg.ClientConfig);
      await client.connect();
      try {
        for (const sql of corpus) {
          const r = await client.query({ text: sql, rowMode: "array" }).catch((e: pg.DatabaseError) => e);
          if (r instanceof Error) {
            expectClean(`${r.message} ${(r as pg.DatabaseError).detail ?? ""} ${(r as pg.DatabaseError).where ?? ""}`, sql);
            continue;
          }
          expect(r.rows.length, sql).toBeGreaterThan(0);
          expectClean(JSON.stringify(r.rows, (_k, v) => (typeof v === "bigint" ? String(v) : v)), sql);
          for (const row of r.rows as unknown[][]) expectMaskedValue(row[0], `${binary ? "binary" : "text"}: ${sql}`);
        }
      } finally {
        await client.end();
      }
    }
  }, 600_000);

  it("masks whole-row references, aggregates, set operations, joins and SQL-running functions", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      for (const sql of WHOLE_ROW) {
        const r = await client.query({ text: sql, rowMode: "array" });
        expectClean(JSON.stringify(r.rows), sql);
      }
      // Plain columns stay readable; an alias of a masked column keeps that column's rule.
      const plain = await client.query("select id, name, email as contact, created_at from customers where id = 1");
      const truth = (await direct.query("select name, email from customers where id = 1")).rows[0];
      expect(plain.rows[0].name).toBe(truth.name);
      expect(plain.rows[0].contact).not.toBe(truth.email);
      expect(plain.rows[0].contact.endsWith(truth.email.slice(-4))).toBe(true);
      // A computed column of a statement that reads no masked column is left alone.
      expect((await client.query("select upper(name) as n, 40 + 2 as x from customers where id = 1")).rows[0]).toEqual({ n: truth.name.toUpperCase(), x: 42 });
      expect((await client.query("select count(*)::int as n from customers")).rows[0].n).toBe(300);
    } finally {
      await client.end();
    }
  });

  it("masks views and functions whose definitions read masked columns, and psql output", async () => {
    await direct.query("create or replace view derived_view as select id, lower(email) as mail, reverse(api_token) as t from customers");
    await direct.query("create or replace function leak_email(i int) returns text language sql as $$ select email from customers where id = i $$");
    await direct.query("create or replace function leak_row(o orders) returns text language sql as $$ select api_token from customers where id = o.customer_id $$");
    // an operator runs its function without naming it
    await direct.query("create or replace function leak_op(a int, b int) returns text language sql as $$ select api_token from customers where id = a $$");
    await direct.query("create operator === (function = leak_op, leftarg = int, rightarg = int)");
    try {
      const r = await psql(conn.url, ["-A", "-t", "-c", "select * from derived_view where id <= 3", "-c", "select leak_email(1), leak_email(2)"]);
      expect(r.code, r.stderr).toBe(0);
      expectClean(r.stdout + r.stderr, "views/functions via psql");
      expect(r.stdout).toContain("[REDACTED]");
      // psql's own catalogue queries (they name the table in a string) stay readable.
      const d = await psql(conn.url, ["-c", "\\d customers"]);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toMatch(/email\s*\|\s*text/);
      expect(d.stdout).not.toContain("[REDACTED]");
      // A function created in this session from fragments no analysis can read is still a user function.
      const client = new pg.Client({ connectionString: conn.url });
      await client.connect();
      try {
        // (a DO block is opaque: one whose body writes or creates anything is refused outright)
        const refused = (await client.query(`do $$ begin execute 'create function pg_temp.frag() returns text language sql as ''select 1'''; end $$`).catch((e: Error) => e)) as Error;
        expect(refused.message).toMatch(/statement refused by masking/);
        await client.query(`create function pg_temp.frag() returns text language plpgsql as $$ declare r text; begin execute 'select em' || 'ail from cus' || 'tomers where id = 1' into r; return r; end $$`);
        const r2 = await client.query("select pg_temp.frag() as v");
        expect(r2.rows[0].v).toBe("[REDACTED]");
        // a user function called in attribute notation (`o.leak_row` is `leak_row(o)`)
        const r3 = await client.query("select reverse(o.leak_row) as v from orders o where o.customer_id <= 3");
        expect(r3.rows.length).toBeGreaterThan(0);
        expectClean(JSON.stringify(r3.rows), "user function in attribute notation");
        const r4 = await client.query("select reverse(1 === 1) as a, 2 === 2 as b, reverse(3 operator(public.===) 0) as c");
        expectClean(JSON.stringify(r4.rows), "user operator");
        // and an operator made in the session over a user function is refused
        const made = (await client.query("create operator <<~>> (function = leak_op, leftarg = int, rightarg = int)").catch((e: Error) => e)) as Error;
        expect(made.message).toMatch(/statement refused by masking/);
      } finally {
        await client.end();
      }
    } finally {
      await direct.query("drop view derived_view; drop function leak_email(int); drop function leak_row(orders); drop operator === (int, int); drop function leak_op(int, int)");
    }
  });

  it("refuses COPY … TO STDOUT in an encoding whose characters hold a backslash byte (fields would shift onto another column's rule)", async () => {
    // api_token values no detector recognises: only the column rule protects them
    await direct.query("create table vault_enc (id int, label text, api_token text); insert into vault_enc values (1, 'first', 'plainsecretvalue1'), (2, 'second', 'plainsecretvalue2'); grant select on vault_enc to public");
    try {
      const truth = (await direct.query("select api_token from vault_enc order by id")).rows.map((r) => r.api_token as string);
      expect(truth).toEqual(["plainsecretvalue1", "plainsecretvalue2"]);
      // ソ is 0x83 0x5C in SJIS: PostgreSQL does not escape that 0x5C, a byte-wise reader takes it for `\<tab>`
      for (const sql of [
        "copy (select label || 'ソ', label, api_token from vault_enc) to stdout (encoding 'SJIS')",
        "copy (select label || 'ソ', label, api_token from vault_enc) to stdout (encoding sjis)",
        "copy (select label || 'ソ', label, api_token from vault_enc) to stdout encoding 'WIN932'",
      ]) {
        const r = await psql(conn.url, ["-c", sql]);
        for (const v of truth) expect(r.stdout + r.stderr, sql).not.toContain(v);
        expect(r.code, sql).not.toBe(0);
        expect(r.stderr, sql).toMatch(/ENCODING .* is refused/);
      }
      // UTF-8 output stays allowed and masked
      const ok = await psql(conn.url, ["-c", "copy (select label || 'ソ', label, api_token from vault_enc) to stdout (encoding 'UTF8')"]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain("[REDACTED]");
      for (const v of truth) expect(ok.stdout).not.toContain(v);
    } finally {
      await direct.query("drop table vault_enc");
    }
  });

  it("masks COPY (query) TO STDOUT in text, CSV and binary, and cursors (text and binary) over the simple protocol", async () => {
    const copies = [
      "copy (select reverse(email), md5(card_number), encode(convert_to(api_token, 'UTF8'), 'base64') from customers where id <= 3) to stdout",
      "copy (select row_to_json(c) from customers c where id <= 3) to stdout with (format csv)",
      "copy (select email, password_hash from customers where id <= 3) to stdout with (format binary)",
    ];
    for (const sql of copies) {
      const r = await psql(conn.url, ["-c", sql]);
      expect(r.code, r.stderr).toBe(0);
      expectClean(r.stdout, sql);
    }
    // Binary COPY: plain columns pass (the probe gives the shape), masked and derived fields are NULL.
    const names = (await direct.query("select name from customers where id <= 3 order by id")).rows.map((r) => r.name as string);
    const bin = await psql(conn.url, ["-c", "copy (select id, name, email, upper(api_token), array[card_number] from customers where id <= 3 order by id) to stdout with (format binary)"]);
    expect(bin.code, bin.stderr).toBe(0);
    expect(bin.stdout.startsWith("PGCOPY\n")).toBe(true);
    for (const n of names) expect(bin.stdout).toContain(n);
    expectClean(bin.stdout, "binary COPY");
    const wire = await PgWire.open(conn.port, "derived-reader", "demo-pg");
    try {
      for (const binary of ["", "binary"]) {
        wire.send(query(`begin; declare cur ${binary} cursor for select upper(email), c, array[api_token] from customers c where id <= 3; fetch all from cur; commit`));
        const got = await wire.untilReady();
        const rows = got.filter((m) => m.type === "D");
        expect(rows.length).toBe(3);
        expectClean(got.map((m) => m.body.toString("latin1")).join(""), `${binary} cursor`);
        for (const m of rows) for (const v of dataRow(m)) expect(v === null || String(v).includes("[REDACTED]")).toBe(true);
      }
    } finally {
      wire.close();
    }
  });

  it("masks binary results asked for by Bind (all columns, one format for all, per column)", async () => {
    const wire = await PgWire.open(conn.port, "derived-reader", "demo-pg");
    try {
      const sql = "select c, array[email, name], to_jsonb(c), reverse(card_number), row(api_token)::text from customers c where id <= 3";
      for (const formats of [[1], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]]) {
        wire.send(parse("", sql), bind("", "", [], formats), describeMsg("P", ""), execute(""), sync());
        const got = await wire.untilReady();
        expect(got.filter((m) => m.type === "D").length).toBe(3);
        expectClean(got.map((m) => m.body.toString("latin1")).join(""), `binary ${formats}`);
      }
      // A binary array of a clean column holding text is refused nothing, but never raw detector content:
      wire.send(parse("", "select array['reach me at ' || $1::text]"), bind("", "", [secrets[0]!], [1]), execute(""), sync());
      const got = await wire.untilReady();
      expectClean(got.map((m) => m.body.toString("latin1")).join(""), "binary text[] with a detector hit");
    } finally {
      wire.close();
    }
  });

  it("decodes binary containers (arrays, records, composites, ranges, domains, enums) and masks the text inside, keeping the layout valid", async () => {
    await direct.query("drop type if exists bin_pair; create type bin_pair as (a text, n int); drop type if exists bin_textrange; create type bin_textrange as range (subtype = text); drop domain if exists bin_mail; create domain bin_mail as text; drop type if exists bin_mood; create type bin_mood as enum ('calm', 'reach x@example.org')");
    const secret = secrets[0]!; // an e-mail address: the detectors must find it inside each container
    const wire = await PgWire.open(conn.port, "derived-reader", "demo-pg");
    try {
      const sql = "select array['mail ' || $1::text, 'plain'], row($1::text, 7), row('x ' || $1::text, 7)::bin_pair, format('[a,\"mail %s\"]', $1::text)::bin_textrange, ('note ' || $1::text)::bin_mail, 'reach x@example.org'::bin_mood, array[row($1::text)], jsonb_build_array($1::text), array[array['k', $1::text]]";
      wire.send(parse("", sql), bind("", "", [secret], [1]), describeMsg("P", ""), execute(""), sync());
      const got = await wire.untilReady();
      expect(got.map((m) => m.type)).toEqual(["1", "2", "T", "D", "C", "Z"]);
      const row = dataRow(got[3]!, new Array(9).fill(1)) as Array<Buffer | null>;
      expectClean(got.map((m) => m.body.toString("latin1")).join(""), "binary containers");
      // text[]: decode the masked array by hand — a valid layout with the hit replaced inside
      const arr = row[0]!;
      expect(arr.readInt32BE(0)).toBe(1); // ndim
      expect(arr.readUInt32BE(8)).toBe(25); // element type text
      expect(arr.readInt32BE(12)).toBe(2); // two elements
      const len1 = arr.readInt32BE(20);
      expect(arr.subarray(24, 24 + len1).toString()).toBe("mail [REDACTED]");
      const len2 = arr.readInt32BE(24 + len1);
      expect(arr.subarray(28 + len1, 28 + len1 + len2).toString()).toBe("plain");
      expect(28 + len1 + len2).toBe(arr.length);
      // records, composites, domains, ranges and enums come back decoded and masked, not nulled
      for (const k of [1, 2, 3, 4, 5, 6, 8]) {
        expect(row[k], `column ${k}`).not.toBeNull();
        expect(row[k]!.toString("latin1"), `column ${k}`).toContain("[REDACTED]");
      }
      // jsonb inside a binary container cannot take the marker safely: that element is NULL
      expectClean(String(row[7]), "jsonb array");
    } finally {
      wire.close();
    }
  });

  it("follows taint through named statements and portals (pgjdbc re-executions, Close, a clean statement next to a tainted one)", async () => {
    const wire = await PgWire.open(conn.port, "derived-reader", "demo-pg");
    try {
      wire.send(parse("S_1", "select reverse(email) as r, id from customers where id = $1"), describeMsg("S", "S_1"), parse("S_2", "select 40 + $1::int as n"), sync());
      await wire.untilReady();
      for (const id of ["1", "2"]) {
        // Bind + Execute without Describe: the gateway describes the portal; S_1's taint follows it
        wire.send(bind("", "S_1", [id]), execute(""), bind("P2", "S_2", ["2"]), execute("P2"), sync());
        const got = await wire.untilReady();
        const rows = got.filter((m) => m.type === "D").map((m) => dataRow(m));
        expect(rows[0]![0]).toBe("[REDACTED]");
        expect(rows[0]![1]).toBe(id); // plain column of a base table
        expect(rows[1]).toEqual(["42"]); // the clean statement is not masked by its neighbour's taint
        expectClean(got.map((m) => m.body.toString("latin1")).join(""), "named statements");
      }
      // An error raised while executing a tainted portal is masked; the session goes on.
      wire.send(parse("S_3", "select email::int from customers where id = $1"), bind("", "S_3", ["1"]), execute(""), sync());
      const got = await wire.untilReady();
      const err = got.find((m) => m.type === "E")!;
      expect(errorFields(err).C).toBe("22P02");
      expectClean(err.body.toString("latin1"), "extended-protocol error");
      wire.send(query("select 1 as one"));
      expect(dataRow((await wire.untilReady()).find((m) => m.type === "D")!)).toEqual(["1"]);
    } finally {
      wire.close();
    }
  });

  it("masks rows of statements and portals made by SQL (PREPARE, DECLARE) and run by protocol Bind/Execute", async () => {
    const wire = await PgWire.open(conn.port, "derived-reader", "demo-pg");
    try {
      // SQL-level PREPARE makes a statement a protocol Bind can name; DECLARE makes a portal an Execute can run
      wire.send(query("prepare sqlprep as select reverse(card_number) as r, reverse(api_token) as t from customers where id <= 3"));
      await wire.untilReady();
      wire.send(bind("px", "sqlprep", []), describeMsg("P", "px"), execute("px"), sync());
      const viaBind = await wire.untilReady();
      expectClean(viaBind.map((m) => m.body.toString("latin1")).join(""), "Bind of a SQL-prepared statement");
      wire.send(query("begin; declare sqlcur cursor for select reverse(card_number) as r, reverse(password_hash) as h from customers where id <= 3"));
      await wire.untilReady();
      wire.send(describeMsg("P", "sqlcur"), execute("sqlcur", 2), execute("sqlcur"), sync());
      const viaExecute = await wire.untilReady();
      expectClean(viaExecute.map((m) => m.body.toString("latin1")).join(""), "Execute of a DECLAREd cursor");
      wire.send(query("commit"));
      await wire.untilReady();
      // A clean protocol statement replaced by SQL under the same name keeps no "clean" verdict
      wire.send(parse("reused", "select 'clean' as r"), sync());
      await wire.untilReady();
      wire.send(query("deallocate reused; prepare reused as select reverse(card_number) as r from customers where id <= 3"));
      await wire.untilReady();
      wire.send(bind("", "reused", []), describeMsg("P", ""), execute(""), sync());
      const replaced = await wire.untilReady();
      expect(replaced.filter((m) => m.type === "D").length).toBe(3);
      expectClean(replaced.map((m) => m.body.toString("latin1")).join(""), "statement replaced by SQL PREPARE");
      // the session goes on, and a statement parsed through the protocol after that is clean again
      wire.send(parse("again", "select upper('clean') as r"), bind("", "again", []), execute(""), sync());
      expect(dataRow((await wire.untilReady()).find((m) => m.type === "D")!)).toEqual(["CLEAN"]);
    } finally {
      wire.close();
    }
  });

  it("refuses a text COPY whose NULL string could equal a masked value (an equality oracle)", async () => {
    await direct.query("create table vault_null (id int, label text, api_token text); insert into vault_null values (1, 'first', 'plainsecretvalue1'), (2, 'second', 'plainsecretvalue2'); grant select on vault_null to public");
    try {
      for (const sql of [
        "copy vault_null to stdout (null 'plainsecretvalue1')",
        "copy vault_null to stdout with null as 'plainsecretvalue1'",
        "copy (select id, api_token from vault_null) to stdout (format text, null 'plainsecretvalue1')",
      ]) {
        const r = await psql(conn.url, ["-c", sql]);
        expect(r.stdout + r.stderr, sql).not.toContain("plainsecretvalue1");
        expect(r.stderr, sql).toMatch(/NULL string without a backslash is refused/);
      }
      // CSV quotes a value equal to its NULL string: masked like any other
      const csv = await psql(conn.url, ["-c", "copy vault_null to stdout (format csv, null 'plainsecretvalue1')"]);
      expect(csv.code, csv.stderr).toBe(0);
      expect(csv.stdout).not.toContain("plainsecretvalue");
    } finally {
      await direct.query("drop table vault_null");
    }
  });

  it("replaces the payload of a notification another session sent (an application trigger's row_to_json(NEW))", async () => {
    // api_token values no detector recognises: only the column rule protects them
    await direct.query("create table vault_ntf (id int, label text, api_token text); insert into vault_ntf values (1, 'first', 'plainsecretvalue1'); grant select on vault_ntf to public");
    await direct.query("create function vault_ntf_notify() returns trigger language plpgsql as $$ begin perform pg_notify('vault_changes', row_to_json(new)::text); return new; end $$");
    await direct.query("create trigger vault_ntf_n after update on vault_ntf for each row execute function vault_ntf_notify()");
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    const notified: string[] = [];
    client.on("notification", (n) => notified.push(`${n.channel} ${n.payload ?? ""}`));
    try {
      const truth = (await direct.query("select api_token from vault_ntf where id = 1")).rows[0].api_token as string;
      expect(truth).toBe("plainsecretvalue1");
      await client.query("listen vault_changes");
      await client.query("listen own_channel");
      // the application's session changes the row; its trigger notifies every listener
      await direct.query("update vault_ntf set label = label where id = 1");
      // the session's own NOTIFY (nothing masked read) keeps its payload
      await client.query("notify own_channel, 'build 42 done'");
      for (let k = 0; k < 50 && notified.length < 2; k++) await client.query("select 1");
      expect(notified).toHaveLength(2);
      expect(notified.join("\n")).not.toContain(truth);
      expect(notified).toContain("vault_changes [REDACTED]");
      expect(notified).toContain("own_channel build 42 done");
    } finally {
      await client.end();
      await direct.query("drop table vault_ntf; drop function vault_ntf_notify()");
    }
  });

  it("masks error messages, notices, notifications and settings that echo a masked value", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    const notices: string[] = [];
    client.on("notice", (n) => notices.push(`${n.message} ${n.detail ?? ""} ${n.where ?? ""}`));
    try {
      const failing = [
        "select email::int from customers where id = 1",
        "select card_number::int from customers where id = 1",
        "select (password_hash || 'x')::numeric from customers where id = 1",
        "select reverse(api_token)::date from customers where id = 1",
        "select 1/0 from customers where email like '%@%'",
        "select to_json(email)::jsonb -> 'x' -> 'y' from customers where id = 1 and (email || '')::int > 0",
        "do $$ begin raise exception 'boom %', (select email from customers where id = 1); end $$",
      ];
      for (const sql of failing) {
        const e = (await client.query(sql).catch((x: unknown) => x)) as pg.DatabaseError;
        expect(e).toBeInstanceOf(Error);
        expectClean(`${e.message} ${e.detail ?? ""} ${e.hint ?? ""} ${e.where ?? ""} ${e.internalQuery ?? ""}`, sql);
      }
      await client.query("do $$ declare r record; begin for r in select email, api_token from customers where id <= 3 loop raise notice '% %', reverse(r.email), r.api_token; end loop; end $$");
      await client.query("listen leak_channel");
      const notified: string[] = [];
      client.on("notification", (n) => notified.push(n.payload ?? ""));
      const sink = (await client.query("select pg_notify('leak_channel', email) from customers where id = 1").catch((x: unknown) => x)) as Error;
      expect(sink.message).toMatch(/gatehouse: statement refused by masking: pg_notify/);
      const setting = (await client.query("select set_config('application_name', email, false) from customers where id = 1").catch((x: unknown) => x)) as Error;
      expect(setting.message).toMatch(/gatehouse: statement refused/);
      await client.query("select 1");
      expect(notices.length).toBeGreaterThanOrEqual(3);
      expectClean(notices.join("\n") + notified.join("\n"), "notices/notifications");
      // A write into the masked table is allowed; a trigger that echoes the stored row is masked.
      await direct.query("create or replace function echo_row() returns trigger language plpgsql as $$ begin raise notice 'row %', new.email; return new; end $$");
      await direct.query("create trigger echo_row before update on customers for each row execute function echo_row()");
      try {
        const before = notices.length;
        await client.query("update customers set name = name where id = 1");
        expect(notices.length).toBe(before + 1);
        expectClean(notices.join("\n"), "trigger notice");
      } finally {
        await direct.query("drop trigger echo_row on customers; drop function echo_row()");
      }
      // Writing masked data somewhere readable is refused.
      await client.query("create temp table launder (x text)");
      const w = (await client.query("insert into launder select email from customers").catch((x: unknown) => x)) as Error;
      expect(w.message).toMatch(/may not use masked data/);
    } finally {
      await client.end();
    }
  });

  it("keeps raw values out of the trail", async () => {
    await conn.stop();
    conn = await stack.connect("demo-pg", { sub: "derived-recorded" });
    const r = await psql(conn.url, ["-A", "-t", "-c", "select reverse(email), row_to_json(c) from customers c where id <= 3"]);
    expect(r.code, r.stderr).toBe(0);
    await conn.stop();
    const auditor = await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } });
    const run = async (args: string[]) => {
      const x = await gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: auditor });
      if (x.code !== 0) throw new Error(x.stderr);
      return x.stdout;
    };
    let trail = "";
    for (let attempt = 0; attempt < 50 && !trail.includes("masking.counts"); attempt++) {
      const list = JSON.parse(await run(["sessions", "list", "--identity", "derived-recorded", "--json"]));
      const sessions = (Array.isArray(list) ? list : list.sessions) as Array<{ id: string }>;
      trail = (await Promise.all(sessions.map((x) => run(["sessions", "export", x.id])))).join("\n");
      if (!trail.includes("masking.counts")) await new Promise((res) => setTimeout(res, 200));
    }
    expect(trail).toContain("masking.derived");
    expect(trail).toContain("(derived-from-masked)");
    expectClean(trail, "trail");
  });
});

describe("predicates: refuse", () => {
  let strict: TestStack;
  let strictConn: TestConnection;
  let client: pg.Client;
  beforeAll(async () => {
    strict = await startTestStack({ policyYaml: POLICY.replace("      style: partial\n      keep: 4", "      style: partial\n      keep: 4\n      mask: { predicates: refuse }") });
    strictConn = await strict.connect("demo-pg", { sub: "strict-reader" });
    client = new pg.Client({ connectionString: strictConn.url });
    await client.connect();
  }, 180_000);
  afterAll(async () => {
    await client?.end();
    await strictConn?.stop();
    await strict?.stop();
  });

  const refused = async (sql: string) => {
    const e = (await client.query(sql).catch((x: unknown) => x)) as Error;
    expect(e, sql).toBeInstanceOf(Error);
    expect(e.message, sql).toMatch(/gatehouse: statement refused by masking/);
  };

  it("refuses masked data in WHERE / JOIN / ORDER BY / GROUP BY / HAVING / PARTITION BY / DISTINCT ON, allows it elsewhere", async () => {
    for (const sql of [
      "select id from customers where email like 'a%'",
      "select id from customers c where c.card_number > '4'",
      "select id from customers order by email",
      "select count(*) from customers group by card_number",
      "select id from orders o join customers c on c.email = 'x' ",
      "select id from customers c where c::text like '%@%'",
      "select id from (select id, email as e from customers) s where s.e like 'a%'",
      // already refused before the set-operation fix (coverage): HAVING, IN (select …), = ANY, PARTITION BY, DISTINCT ON
      "select email, count(*) from customers group by email having count(*) > 1",
      "select 1 where 'x@example.org' in (select email from customers)",
      "select id from customers where email = any(array['x@example.org', 'y@example.org'])",
      "select id, rank() over (partition by email) from customers",
      "select distinct on (email) id from customers",
    ]) await refused(sql);
    const ok = await client.query("select id, email from customers where id = 1");
    expect(ok.rows[0].id).toBe(1);
  }, 300_000);

  it("refuses INTERSECT / EXCEPT / UNION [DISTINCT] and SELECT DISTINCT over masked data: the row count answers a guess", async () => {
    const email = (await direct.query("select email from customers where id = 1")).rows[0].email as string;
    const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
    // each statement, with the right guess and a wrong one, and the row count a superuser gets for each
    const oracles = [
      (g: string) => `select email from customers intersect select ${lit(g)}`,
      (g: string) => `select ${lit(g)} except select email from customers`,
      (g: string) => `select email from customers union select ${lit(g)}`,
      (g: string) => `select distinct email = ${lit(g)} from customers`,
      (g: string) => `select x from (select distinct x from (select email as x from customers union all select ${lit(g)}) s) t`,
    ];
    for (const q of oracles) {
      const right = (await direct.query(q(email))).rowCount;
      const wrong = (await direct.query(q(`${email}.wrong`))).rowCount;
      expect(right, q(email)).not.toBe(wrong); // an equality oracle on the target itself
      await refused(q(email));
      await refused(q(`${email}.wrong`));
    }
    // UNION ALL keeps every row and count(distinct …) is one masked value: nothing compared reaches the client
    const all = `select email from customers union all select ${lit(email)}`;
    const viaGateway = await client.query(all);
    expect(viaGateway.rowCount).toBe((await direct.query(all)).rowCount);
    for (const r of viaGateway.rows) expect(r.email).not.toBe(email);
    const n = await client.query("select count(distinct email) as n from customers");
    expect(n.rowCount).toBe(1);
  }, 300_000);
});
