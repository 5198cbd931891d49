/**
 * Issue 4 end to end: values are masked in flight — rows (simple and extended protocol), COPY
 * (text and CSV), error details, notifications — and the recording only ever holds masked data.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";

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
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction]
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

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  conn = await stack.connect("demo-pg", { sub: "masked-reader" });
  direct = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await direct.connect();
  const rows = (await direct.query("select email, card_number, password_hash, api_token from customers order by id limit 20")).rows;
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
      // "contact" is not a masked column name: the email detector catches it.
      expect(r.rows[0].contact).not.toBe(real.emails[0]);
      expect(r.rows[0].note.startsWith("write to ")).toBe(true);
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
      expect(n.payload).toContain("new signup");
      expect(n.payload).not.toContain(real.emails[4]);
    } finally {
      await client.end();
    }
  });

  it("ends the session when the client switches to an encoding the scanners cannot read safely", async () => {
    const r = await psql(conn.url, ["-c", "set client_encoding to 'SJIS'", "-c", "select email from customers limit 1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/client_encoding SJIS is not supported while masking is on/);
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
