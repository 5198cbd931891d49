/**
 * MySQL/MariaDB through the real gateway: the worker (wrangler dev / workerd, protocols/mysql/worker),
 * the connector (TLS to the server, one MariaDB account per access level, protocols/mysql/connector)
 * and the CLI listener (`gatehouse connect demo-mysql`, protocols/mysql/client), with the real
 * `mariadb` client and the mysql2 driver, against a MariaDB this test starts with its own data
 * directory and TLS certificate, loaded with the demo schema (examples/demo/schema-mysql.sql).
 * The demo policy (examples/policies/demo.yaml) decides. Ground truth comes from a direct root
 * connection to MariaDB, never from the gateway's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import { startMariaDb, MARIADB_CLIENT, type RunningMariaDb } from "../harness/mariadb.ts";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import { rss, workerdPids } from "../harness/procs.ts";
import type { MysqlResourceConfig } from "../../connector/config.ts";
import { PacketFramer, encodePacket, type Packet } from "../../protocols/mysql/codec/packets.ts";
import { decodeErr, isErr } from "../../protocols/mysql/codec/responses.ts";
import { decodeHandshakeV10, encodeHandshakeResponse41 } from "../../protocols/mysql/codec/handshake.ts";
import { CLIENT } from "../../protocols/mysql/codec/constants.ts";
import { nativePasswordResponse } from "../../protocols/mysql/connector/auth.ts";

const DB = "demo";
/** The `partial` style as PostgreSQL gives it (docs/MASKING.md): `*` per code point, the last 4 kept. */
const partial = (v: string) => "*".repeat(Math.max(0, [...v].length - 4)) + [...v].slice(-4).join("");
const MB = 1024 * 1024;

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 64 * MB }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let db: RunningMariaDb;
let ca: TestCa;
let certDir: string;
let stack: TestStack;
let conn: TestConnection;
let approverEnv: Record<string, string>;
let auditorEnv: Record<string, string>;

const truth = async (sql: string) => (await db.rootSql(sql, DB)).trim();
const connect = (extra: Partial<mysql.ConnectionOptions> = {}) =>
  mysql.createConnection({ host: "127.0.0.1", port: conn.port, user: "pipeline", password: conn.password, database: DB, ...extra });

beforeAll(async () => {
  ca = createTestCa();
  const leaf = ca.issue("mariadb");
  certDir = await mkdtemp(path.join(tmpdir(), "gh-mariadb-tls-"));
  await chmod(certDir, 0o755); // mariadbd may run as `mysql`
  for (const [name, pem] of [["ca.pem", ca.cert], ["server.pem", leaf.cert], ["server.key", leaf.key]] as const) {
    await writeFile(path.join(certDir, name), pem, { mode: 0o644 });
  }
  db = await startMariaDb({ serverArgs: [`--ssl-ca=${path.join(certDir, "ca.pem")}`, `--ssl-cert=${path.join(certDir, "server.pem")}`, `--ssl-key=${path.join(certDir, "server.key")}`] });
  const schema = await readFile(new URL("../../examples/demo/schema-mysql.sql", import.meta.url), "utf8");
  const { read, write } = db.levels;
  await db.rootSql(`CREATE DATABASE ${DB}; USE ${DB}; ${schema}
    GRANT SELECT ON ${DB}.* TO '${read.user}'@'%';
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${DB}.* TO '${write.user}'@'%';
    ALTER USER '${read.user}'@'%' REQUIRE SSL;
    ALTER USER '${write.user}'@'%' REQUIRE SSL;`);
  const resource: MysqlResourceConfig = {
    name: "demo-mysql",
    type: "mysql",
    labels: { env: "demo" },
    host: db.host,
    port: db.port,
    database: DB,
    credentials: { read: { username: read.user, password: read.password }, write: { username: write.user, password: write.password } },
    tls: { mode: "verify-full", ca: ca.cert },
  };
  stack = await startTestStack({ extraResources: [resource], verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  conn = await stack.connect("demo-mysql", { sub: "pipeline-mysql" });
  approverEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } }) };
  auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
}, 300_000);

afterAll(async () => {
  await conn?.stop();
  await stack?.stop();
  await db?.stop();
  ca?.dispose();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe("MySQL through the gateway (worker + connector + CLI listener, mysql2 and mariadb against MariaDB)", () => {
  it("an allowed query runs as the write-level account over TLS; masked columns come back masked", async () => {
    const c = await connect();
    const [who] = await c.query("SELECT CURRENT_USER() AS u");
    expect((who as { u: string }[])[0]!.u).toBe(`${db.levels.write.user}@%`);
    const [ssl] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    expect((ssl as { Value: string }[])[0]!.Value).toMatch(/^TLSv1\.[23]$/);
    const [rows] = await c.query("SELECT id, name, email, card_number, password_hash, api_token FROM customers WHERE id <= 2 ORDER BY id");
    const real = (await truth("SELECT name, email, card_number FROM customers WHERE id <= 2 ORDER BY id")).split("\n").map((l) => l.split("\t"));
    const got = rows as Array<Record<string, string>>;
    expect(got).toHaveLength(2);
    got.forEach((r, i) => {
      expect(r.name).toBe(real[i]![0]);
      expect(r.email).toBe(partial(real[i]![1]!));
      expect(r.card_number).toBe(partial(real[i]![2]!));
      expect(r.password_hash).toBe("[REDACTED]");
      expect(r.api_token).toBe("[REDACTED]");
    });
    await c.end();
  });

  it("a denied statement gets ERR 1227/42000 naming the rule; it never reaches the server; the session goes on", async () => {
    const c = await connect();
    const e = await c.query("DROP TABLE orders").catch((x) => x);
    expect(e).toMatchObject({ errno: 1227, sqlState: "42000" });
    expect(e.message).toMatch(/^gatehouse: .*demo-no-ddl/);
    const [r] = await c.query("SELECT COUNT(*) AS n FROM orders");
    expect((r as { n: number }[])[0]!.n).toBe(Number(await truth("SELECT COUNT(*) FROM orders")));
    expect(await truth("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'demo' AND table_name = 'orders'")).toBe("1");
    await c.end();
  });

  it("holds a write while mysql2 waits; approved it runs once; a denied approval is an ERR and the session stays usable", async () => {
    const c = await connect();
    const logsBefore = conn.logs.length;
    const before = await truth("SELECT status FROM orders WHERE id = 7");
    const next = before === "paid" ? "shipped" : "paid";
    const pending = c.query(`UPDATE orders SET status = '${next}' WHERE id = 7`);
    const id = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore).join("\n"))?.[1], "the hold notice in the listener log");
    // Held: the server has not seen it (ground truth), while mysql2 waits on the same live session.
    expect(await truth("SELECT status FROM orders WHERE id = 7")).toBe(before);
    const approved = await gatehouse(["approvals", "approve", id, "--reason", "e2e"], approverEnv);
    expect(approved.code, approved.stderr).toBe(0);
    const [ok] = await pending;
    expect((ok as { affectedRows: number }).affectedRows).toBe(1);
    expect(await truth("SELECT status FROM orders WHERE id = 7")).toBe(next);

    const logsBefore2 = conn.logs.length;
    const denied = c.query("DELETE FROM orders WHERE id = 8").catch((x) => x);
    const id2 = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore2).join("\n"))?.[1], "the second hold notice");
    const d = await gatehouse(["approvals", "deny", id2, "--reason", "change freeze"], approverEnv);
    expect(d.code, d.stderr).toBe(0);
    const err = await denied;
    expect(err).toMatchObject({ errno: 1227, sqlState: "42000" });
    expect(await truth("SELECT COUNT(*) FROM orders WHERE id = 8")).toBe("1");
    const [again] = await c.query("SELECT 1 AS one");
    expect(again).toEqual([{ one: 1 }]);
    await c.end();
  }, 120_000);

  it("prepared statements (binary protocol) are decided and masked; a denied prepare is an ERR", async () => {
    const c = await connect();
    const [bin] = await c.execute("SELECT id, email, card_number, created_at FROM customers WHERE id = ?", [3]);
    const [email, card] = (await truth("SELECT email, card_number FROM customers WHERE id = 3")).split("\t");
    expect(bin).toEqual([{ id: 3, email: partial(email!), card_number: partial(card!), created_at: expect.any(Date) }]);
    await expect(c.execute("DROP TABLE customers")).rejects.toMatchObject({ errno: 1227 });
    const [again] = await c.execute("SELECT COUNT(*) AS n FROM customers WHERE id > ?", [0]);
    expect((again as { n: number }[])[0]!.n).toBe(Number(await truth("SELECT COUNT(*) FROM customers")));
    await c.end();
  });

  it("multi-statements: results come back masked; a query with one refused statement is refused whole", async () => {
    const c = await connect({ multipleStatements: true });
    const [res] = await c.query("SELECT id AS a FROM customers WHERE id = 1; SELECT email FROM customers WHERE id = 1");
    const email = await truth("SELECT email FROM customers WHERE id = 1");
    expect(res).toEqual([[{ a: 1 }], [{ email: partial(email) }]]);
    // A computed column of a text that reads a masked column is derived, as with PostgreSQL (one analysis per query text).
    const [computed] = await c.query("SELECT 1 AS a; SELECT email FROM customers WHERE id = 1");
    expect(computed).toEqual([[{ a: null }], [{ email: partial(email) }]]);
    await expect(c.query("SELECT 1; DROP TABLE orders")).rejects.toMatchObject({ errno: 1227 });
    await expect(c.query("SELECT 1 /*!50000 ; DROP TABLE orders */")).rejects.toMatchObject({ errno: 1227 });
    expect(await truth("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'demo' AND table_name = 'orders'")).toBe("1");
    await c.end();
  });

  it("refuses LOAD DATA LOCAL INFILE and COM_CHANGE_USER with ERR packets", async () => {
    const c = await connect({ infileStreamFactory: () => { throw new Error("the client was asked for a local file"); } });
    const e = await c.query("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE orders").catch((x) => x);
    expect(e).toMatchObject({ errno: 1227, sqlState: "42000" });
    expect(e.message).toMatch(/LOAD DATA LOCAL/);
    const cu = await c.changeUser({ user: "root", password: "" }).catch((x) => x);
    expect(cu).toMatchObject({ errno: 1235 });
    await c.end().catch(() => {});
  });

  it("the listener greets with the target's real version from its very first connection (its start-up probe session), mariadb and mysql2 see it", async () => {
    const greetingAt = (port: number) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1");
        const framer = new PacketFramer(1 << 16);
        sock.on("data", (b: Buffer) => {
          const [p] = framer.push(new Uint8Array(b));
          if (!p) return;
          sock.destroy();
          resolve(decodeHandshakeV10(p.payload).serverVersion);
        });
        sock.on("error", reject);
      });
    const real = await greetingAt(db.port); // ground truth: the server's own greeting
    expect(real).toMatch(/MariaDB/);
    const version = await truth("SELECT VERSION()");
    // 1. the real mariadb client, as a fresh listener's first connection: `status` prints the greeting's version
    const first = await stack.connect("demo-mysql", { sub: "version-check" });
    try {
      const status = await run(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(first.port), "-u", "pipeline", `--password=${first.password}`, "--skip-ssl", DB, "-e", "status"]);
      expect(status.code, status.stderr).toBe(0);
      const shown = /^Server version:\s*(\S+)/m.exec(status.stdout)?.[1];
      expect(shown, status.stdout).toBe(version);
      expect(status.stdout).not.toContain("gatehouse");
      // the same version through the gateway's own SELECT VERSION()
      const through = await run(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(first.port), "-u", "pipeline", `--password=${first.password}`, "--skip-ssl", "-N", "-B", DB, "-e", "SELECT VERSION()"]);
      expect(through.stdout.trim()).toBe(version);
    } finally {
      await first.stop();
    }
    // 2. a raw greeting as the first connection of another fresh listener, then mysql2 in its MariaDB mode
    const fresh = await stack.connect("demo-mysql", { sub: "version-check" });
    try {
      expect(await greetingAt(fresh.port)).toBe(real);
      const c2 = await mysql.createConnection({ host: "127.0.0.1", port: fresh.port, user: "pipeline", password: fresh.password, database: DB });
      expect((c2 as unknown as { connection: { _isMariaDB: boolean } }).connection._isMariaDB).toBe(true); // mysql2 picks its MariaDB mode from the greeting
      await c2.end();
    } finally {
      await fresh.stop();
    }
  });

  it("KILL QUERY (Ctrl-C): the greeting's thread id cancels only this identity's own session; any other KILL is refused", async () => {
    const LONG = "SELECT SUM(a.seq * b.seq) AS s FROM seq_1_to_40000 a, seq_1_to_40000 b";
    const running = async () => (await truth("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SUM(a.seq%'")) !== "0";
    const c1 = await connect();
    const c2 = await connect();
    const other = await stack.connect("demo-mysql", { sub: "someone-else" });
    const c3 = await mysql.createConnection({ host: "127.0.0.1", port: other.port, user: "pipeline", password: other.password, database: DB });
    try {
      const long = c1.query(LONG).catch((e) => e);
      await eventually(running, "the long query runs on the server");
      const serverThread = Number(await truth(`SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SUM(a.seq%'`));
      expect(serverThread).not.toBe(c1.threadId); // the listener's id is its own, not the server's
      // refused: the real server thread id, an id nobody was given, KILL CONNECTION of our own id,
      // and our own id from another identity — the query keeps running (ground truth: root's processlist)
      for (const [c, sql] of [[c2, `KILL QUERY ${serverThread}`], [c2, "KILL QUERY 12345"], [c2, `KILL ${c1.threadId}`], [c2, `KILL CONNECTION ${c1.threadId}`], [c3, `KILL QUERY ${c1.threadId}`], [c2, `SELECT 1; KILL QUERY ${c1.threadId}`]] as const) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1094 });
      }
      expect(await running()).toBe(true);
      // the same identity's KILL QUERY of the greeting's id: OK, and the statement is interrupted
      await c2.query(`KILL QUERY ${c1.threadId}`);
      expect(await long).toMatchObject({ errno: 1317 });
      expect(await running()).toBe(false);
      // both sessions go on
      expect(((await c1.query("SELECT 1 AS one"))[0] as { one: number }[])[0]!.one).toBe(1);
      expect(((await c2.query("SELECT 2 AS two"))[0] as { two: number }[])[0]!.two).toBe(2);
    } finally {
      await Promise.all([c1.end(), c2.end(), c3.end()]);
      await other.stop();
    }
    // the real mariadb client: Ctrl-C (SIGINT) sends KILL QUERY on a second connection through the listener
    const args = ["--no-defaults", "-h", "127.0.0.1", "-P", String(conn.port), "-u", "pipeline", `--password=${conn.password}`, "--skip-ssl", DB];
    const child = spawn(MARIADB_CLIENT!, [...args, "-e", LONG], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await eventually(running, "the mariadb client's query runs on the server");
    child.kill("SIGINT");
    await exited;
    expect(stderr).toMatch(/interrupted|killed/i);
    await eventually(async () => !(await running()), "the query is gone from the server");
  });

  it("the mariadb CLI: reads masked, a denied statement prints the ERROR line, LOAD DATA LOCAL refused", async () => {
    const args = ["--no-defaults", "-h", "127.0.0.1", "-P", String(conn.port), "-u", "pipeline", `--password=${conn.password}`, "--skip-ssl", "-N", "-B", DB];
    const ok = await run(MARIADB_CLIENT!, [...args, "-e", "SELECT email FROM customers WHERE id = 1"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(partial(await truth("SELECT email FROM customers WHERE id = 1")));
    const denied = await run(MARIADB_CLIENT!, [...args, "-e", "DROP TABLE orders"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/ERROR 1227 \(42000\).*demo-no-ddl/);
    const local = await run(MARIADB_CLIENT!, [...args, "--local-infile=1", "-e", "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE orders"]);
    expect(local.stderr).toMatch(/ERROR 1227 \(42000\).*LOAD DATA LOCAL/);
  });

  it("hostile input: a malformed packet ends only that session, with an ERR; other sessions go on", async () => {
    const other = await connect();
    const reply = await rawSession(conn.port, conn.password, (send) => {
      // A command packet with sequence id 7 (a command always starts at 0): the framing is broken.
      send(Buffer.from([0x02, 0x00, 0x00, 0x07, 0x03, 0x53]));
    });
    expect(reply.err).toMatchObject({ code: 1835 });
    expect(reply.closed).toBe(true);
    const [r] = await other.query("SELECT 2 AS two");
    expect(r).toEqual([{ two: 2 }]);
    await other.end();
  });

  it("a large result streams with bounded memory: the reader stalls, flow control holds the rest back in the server", async () => {
    const workerd = workerdPids();
    expect(workerd.length).toBeGreaterThan(0);
    const sampleW = () => workerd.map(rss).reduce((a, b) => a + b, 0);
    const base = { w: sampleW(), self: process.memoryUsage().rss };
    let peak = { ...base };
    const sample = () => (peak = { w: Math.max(peak.w, sampleW()), self: Math.max(peak.self, process.memoryUsage().rss) });
    const sampler = setInterval(sample, 100);
    const rows = 60_000; // ~122 MB of rows, made by the server on the fly
    const child = spawn(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(conn.port), "-u", "pipeline", `--password=${conn.password}`, "--skip-ssl", "--quick", "-N", "-B", DB, "-e", `SELECT seq, CONCAT('user', seq, '@example.com') AS contact, REPEAT('x', 2000) AS payload FROM seq_1_to_${rows}`], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    // Stall the reader first: without end-to-end flow control the whole result would pile up in the listener, worker or connector.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 8000));
    sample();
    const stalled = { ...peak };
    let bytes = 0;
    let lines = 0;
    let masked = 0;
    let tail = "";
    child.stdout.on("data", (d: Buffer) => {
      bytes += d.length;
      const text = tail + d.toString("latin1");
      const parts = text.split("\n");
      tail = parts.pop()!;
      for (const l of parts) {
        lines++;
        if (/^\d+\t\[REDACTED\]\tx{2000}$/.test(l)) masked++; // the e-mail detector (demo-detectors)
      }
    });
    child.stdout.resume();
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    clearInterval(sampler);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(lines).toBe(rows);
    expect(masked).toBe(rows);
    // Bounds: a few flow-control windows per hop while stalled, far below the 122 MB waiting in the server.
    expect(stalled.w - base.w).toBeLessThan(64 * MB);
    expect(stalled.self - base.self).toBeLessThan(64 * MB);
    expect(peak.w - base.w).toBeLessThan(192 * MB);
    expect(peak.self - base.self).toBeLessThan(192 * MB);
    console.log(`large result: ${rows} rows, ${(bytes / MB).toFixed(0)} MB; growth while stalled: workerd ${((stalled.w - base.w) / MB).toFixed(1)} MB, test process (listener + connector) ${((stalled.self - base.self) / MB).toFixed(1)} MB; peak growth: workerd ${((peak.w - base.w) / MB).toFixed(1)} MB, test process ${((peak.self - base.self) / MB).toFixed(1)} MB`);
  }, 300_000);

  it("detectors and patterns mask MySQL values exactly as PostgreSQL does (text and binary protocol); ground truth from root", async () => {
    const c = await connect();
    const token = (await truth("SELECT api_token FROM customers WHERE id = 2")).trim();
    const email = (await truth("SELECT email FROM customers WHERE id = 2")).trim();
    const note = `mail ${email}, token ${token}, card 5555555555554444, ok`;
    // Root sees the value itself; the gateway gives what demo-pg gives for the very same value.
    expect(await truth(`SELECT '${note}'`)).toBe(note);
    const [text] = await c.query(`SELECT ? AS note`, [note]);
    const [bin] = await c.execute("SELECT CAST(? AS CHAR) AS note", [note]);
    const viaPg = await stack.psql(`select '${note}' as note`, { sub: "pipeline-parity", args: ["-At"] });
    expect(viaPg.code, viaPg.stderr).toBe(0);
    expect(viaPg.stdout.trim()).toBe("mail [REDACTED], token [REDACTED], card [REDACTED], ok");
    expect((text as { note: string }[])[0]!.note).toBe(viaPg.stdout.trim());
    expect((bin as { note: string }[])[0]!.note).toBe(viaPg.stdout.trim());
    // A card number stored in a number column cannot carry the marker: NULL, as PostgreSQL does.
    const [num] = await c.query("SELECT CAST('4111111111111111' AS UNSIGNED) + 0 AS n, 42 AS m");
    expect(num).toEqual([{ n: null, m: 42 }]);
    await c.end();
  });

  it("derived values: the five ways around a masked column are redacted or refused (ground truth: real through root)", async () => {
    const c = await connect();
    const [email, card] = (await truth("SELECT email, card_number FROM customers WHERE id = 4")).split("\t") as [string, string];
    const one = async (sql: string) => ((await c.query(sql))[0] as Record<string, unknown>[])[0]!;
    // 1. an expression that keeps the value: concat, lower, substr (root sees the real derived value)
    expect(await truth("SELECT CONCAT(email, '') FROM customers WHERE id = 4")).toBe(email);
    expect(await one("SELECT CONCAT(email, '') AS e FROM customers WHERE id = 4")).toEqual({ e: "[REDACTED]" });
    expect(await one("SELECT LOWER(email) AS e, id FROM customers WHERE id = 4")).toEqual({ e: "[REDACTED]", id: 4 });
    expect(await truth("SELECT SUBSTR(card_number, 1, 6) FROM customers WHERE id = 4")).toBe(card.slice(0, 6));
    expect(await one("SELECT SUBSTR(`card_number`, 1, 6) AS c FROM customers WHERE id = 4")).toEqual({ c: "[REDACTED]" });
    // a number computed from it: NULL (ASCII of the first digit would leak it a character at a time)
    expect(await one("SELECT ASCII(SUBSTR(card_number, 1, 1)) AS a FROM customers WHERE id = 4")).toEqual({ a: null });
    // 2. an alias: still the stored column, still its rule (partial); a computed value under the masked name: derived
    expect(await one("SELECT email AS contact FROM customers WHERE id = 4")).toEqual({ contact: partial(email) });
    expect(await one("SELECT REVERSE(email) AS email FROM customers WHERE id = 4")).toEqual({ email: "[REDACTED]" });
    // 3. a derived table (MySQL reports its columns as t.e, like a base table's)
    expect(await one("SELECT * FROM (SELECT id, LOWER(email) AS e FROM customers) t WHERE id = 4")).toEqual({ id: null, e: "[REDACTED]" });
    // 4. a set operation: the masked name may carry another branch's value
    const [u] = await c.query("SELECT email FROM customers WHERE 1 = 0 UNION ALL SELECT REVERSE(email) FROM customers WHERE id = 4");
    expect(u).toEqual([{ email: "[REDACTED]" }]);
    // the binary protocol too
    const [b] = await c.execute("SELECT LEFT(email, 5) AS e, LENGTH(email) AS n FROM customers WHERE id = ?", [4]);
    expect(b).toEqual([{ e: "[REDACTED]", n: null }]);
    // 5. writing it somewhere unmasked: refused before policy, nothing written (root's count unchanged)
    // (a view over it is the sixth: see the next test)
    const before = await truth("SELECT COUNT(*) FROM orders");
    const w = await c.query("INSERT INTO orders (customer_id, amount, status) SELECT id, LENGTH(email), 'pending' FROM customers WHERE id = 4").catch((x) => x);
    expect(w).toMatchObject({ errno: 1227, sqlState: "42000" });
    expect(w.message).toMatch(/reads masked data \(column email\) and writes/);
    expect(await truth("SELECT COUNT(*) FROM orders")).toBe(before);
    // the session goes on; statements that do not read a masked column are untouched
    expect(await one("SELECT id, UPPER(name) AS n FROM customers WHERE id = 4")).toEqual({ id: 4, n: (await truth("SELECT UPPER(name) FROM customers WHERE id = 4")) });
    await c.end();
  });

  it("derived values through views (a view over a view too) are redacted; a view over unmasked columns is not", async () => {
    await db.rootSql(`CREATE VIEW v_contacts AS SELECT id, LOWER(email) AS contact FROM customers;
      CREATE VIEW v_outer AS SELECT id, contact AS c2 FROM v_contacts;
      CREATE VIEW v_names AS SELECT id, UPPER(name) AS shout FROM customers;
      GRANT SHOW VIEW ON ${DB}.* TO '${db.levels.write.user}'@'%';`, DB);
    const email = await truth("SELECT email FROM customers WHERE id = 6");
    expect(await truth("SELECT contact FROM v_contacts WHERE id = 6")).toBe(email.toLowerCase());
    expect(await truth("SELECT c2 FROM v_outer WHERE id = 6")).toBe(email.toLowerCase());
    const c = await connect();
    const [a] = await c.query("SELECT contact FROM v_contacts WHERE id = 6");
    expect(a).toEqual([{ contact: "[REDACTED]" }]);
    // A statement naming a masked view: every column is derived (a view's columns look stored, under
    // the view's name, its alias, or a TEMPTABLE view's base table), so id is NULL too (fail closed).
    const [b] = await c.query("SELECT x.* FROM v_outer AS x WHERE id = 6");
    expect(b).toEqual([{ id: null, c2: "[REDACTED]" }]);
    const [e] = await c.execute("SELECT contact FROM v_contacts WHERE id = ?", [6]);
    expect(e).toEqual([{ contact: "[REDACTED]" }]);
    const [n] = await c.query("SELECT * FROM v_names WHERE id = 6");
    expect(n).toEqual([{ id: 6, shout: await truth("SELECT UPPER(name) FROM customers WHERE id = 6") }]);
    await c.end();
  });

  it("statement text in the trail and in what approvers see is masked by the detectors", async () => {
    const c = await connect();
    const token = (await truth("SELECT api_token FROM customers WHERE id = 5")).trim();
    const logsBefore = conn.logs.length;
    const held = c.query(`UPDATE orders SET status = 'paid' WHERE id = 9 AND '${token}' <> ''`).catch((x) => x);
    const id = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore).join("\n"))?.[1], "the hold notice");
    const show = await gatehouse(["approvals", "show", id, "--json"], approverEnv);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toContain(token);
    expect(show.stdout).toMatch(/WHERE id = 9 AND '\[REDACTED\]' <> ''/);
    const d = await gatehouse(["approvals", "deny", id, "--reason", "no"], approverEnv);
    expect(d.code, d.stderr).toBe(0);
    expect(await held).toMatchObject({ errno: 1227 });
    // The trail test below checks no session's trail contains this token (nor any real masked value).
    // A stored column of a plain statement passes; (a COUNT(*) here would be derived: computed in a statement naming api_token.)
    const [r] = await c.query(`SELECT id FROM customers WHERE api_token = '${token}'`);
    expect(r).toEqual([{ id: 5 }]);
    await c.end();
  }, 120_000);

  it("the trail: statements, decisions and masked results are recorded, and the chain verifies", async () => {
    const list = await gatehouse(["sessions", "list", "--identity", "pipeline-mysql", "--json"], auditorEnv);
    expect(list.code, list.stderr).toBe(0);
    const parsed = JSON.parse(list.stdout) as { sessions: Array<{ id: string }> } | Array<{ id: string }>;
    const sessions = Array.isArray(parsed) ? parsed : parsed.sessions;
    expect(sessions.length).toBeGreaterThanOrEqual(6);
    // A session that just ended may still be writing its trail: wait until each one verifies
    // (the verify below then asserts it), so its events are all in what is read next.
    await Promise.all(sessions.map((s) => eventually(async () => (await gatehouse(["sessions", "verify", s.id], auditorEnv)).code === 0, `the trail of ${s.id}`, 60, 1000).catch(() => {})));
    const shows = await Promise.all(sessions.map((s) => gatehouse(["sessions", "show", s.id, "--json"], auditorEnv)));
    const trails = shows.map((s) => JSON.parse(s.stdout) as { events: Array<{ type: string; data: Record<string, unknown> }> });
    const events = trails.flatMap((t) => t.events);
    const all = JSON.stringify(events);
    const decisions = events.filter((e) => e.type === "decision").map((e) => e.data as { effect: string; rule: string | null; reason: string });
    expect(all).toMatch(/DROP TABLE orders/);
    expect(decisions.some((d) => d.effect === "deny" && d.rule === "demo-no-ddl")).toBe(true);
    expect(all).toMatch(/UPDATE orders SET status = '(paid|shipped)' WHERE id = 7/);
    // The hold and its two outcomes, naming the approve rule.
    for (const effect of ["approve", "allow", "deny"]) expect(decisions.some((d) => d.effect === effect && d.rule === "demo-writes-need-approval"), effect).toBe(true);
    expect(decisions.some((d) => d.effect === "deny" && d.rule === "gatehouse:mysql-local-infile")).toBe(true);
    expect(decisions.some((d) => d.effect === "deny" && d.rule === "gatehouse:mysql-protocol" && /COM_CHANGE_USER/.test(d.reason))).toBe(true);
    // Statements reading masked data are recorded as PostgreSQL records them: masking.derived { rule, sources, refused }.
    const derived = events.filter((e) => e.type === "masking.derived").map((e) => e.data as { rule: string | null; sources: string[]; refused: boolean });
    expect(derived.some((d) => !d.refused && typeof d.rule === "string" && d.sources.includes("column email")), JSON.stringify(derived)).toBe(true);
    expect(derived.some((d) => d.refused && d.sources.includes("column email")), JSON.stringify(derived)).toBe(true);
    // Results are recorded as the client saw them: masked samples, never the real values.
    const samples = events.filter((e) => e.type === "result").flatMap((e) => (e.data.rows_sample as unknown[][] | undefined) ?? []);
    expect(samples.some((row) => row.some((cell) => typeof cell === "string" && /^\*{4,}[^*]{4}$/.test(cell)))).toBe(true);
    const real = (await truth("SELECT email, card_number, api_token, password_hash FROM customers WHERE id <= 5")).split(/\s+/);
    for (const v of real) expect(all).not.toContain(v);
    const verified = await Promise.all(sessions.map((s) => gatehouse(["sessions", "verify", s.id], auditorEnv)));
    verified.forEach((v, i) => expect(v.code, `${sessions[i]!.id}: ${v.stdout}${v.stderr}`).toBe(0));
    // The database passwords never left the connector: not in the trail, not in the listener's log.
    for (const p of [db.levels.read.password, db.levels.write.password]) {
      expect(all).not.toContain(p);
      expect(conn.logs.join("\n")).not.toContain(p);
    }
    // Every session's trail is read through the CLI (one process per call): on a loaded machine that alone takes minutes.
  }, 600_000);
});

/** Authenticate to the listener with raw packets, then let `act` send bytes; collect the first ERR and whether the socket closed. */
function rawSession(port: number, password: string, act: (send: (b: Buffer) => void) => void): Promise<{ err: { code: number; message: string } | null; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const framer = new PacketFramer(1 << 24);
    let stage: "greeting" | "auth" | "command" = "greeting";
    let err: { code: number; message: string } | null = null;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ err, closed: false });
    }, 20_000);
    s.on("data", (d) => {
      for (const p of framer.push(new Uint8Array(d)) as Packet[]) {
        if (stage === "greeting") {
          const hs = decodeHandshakeV10(p.payload);
          const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.DEPRECATE_EOF;
          s.write(encodePacket(1, encodeHandshakeResponse41({ capabilities: caps, maxPacket: 1 << 24, charset: 45, user: "pipeline", authResponse: nativePasswordResponse(password, hs.scramble), database: null, authPlugin: "mysql_native_password", attributes: new Map() })));
          stage = "auth";
        } else if (stage === "auth") {
          if (isErr(p.payload)) {
            err = decodeErr(p.payload);
            return;
          }
          stage = "command";
          act((b) => s.write(b));
        } else if (isErr(p.payload) && !err) err = decodeErr(p.payload);
      }
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ err, closed: true });
    });
    s.on("error", () => {});
  });
}
