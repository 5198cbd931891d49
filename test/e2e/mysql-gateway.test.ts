/**
 * MySQL through the gateway's MySQL module, end to end with real clients (mysql2, the `mariadb`
 * CLI) and a real MariaDB: local listener auth, per-statement policy with refusals as ERR packets,
 * multi-statements, prepared statements, LOAD DATA LOCAL refusal, masking (text and binary
 * protocol), approvals holding one statement in a live session, pinned session settings, large
 * results and hostile input. The tunnel hops are in-process (test/harness/mysql-gateway.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import net from "node:net";
import mysql from "mysql2/promise";
import { startMariaDb, MARIADB_CLIENT, type RunningMariaDb } from "../harness/mariadb.ts";
import { startMysqlGateway, type MysqlGateway } from "../harness/mysql-gateway.ts";
import { eventually } from "./helpers.ts";
import { PacketFramer, encodePacket, type Packet } from "../../protocols/mysql/codec/packets.ts";
import { decodeErr } from "../../protocols/mysql/codec/responses.ts";
import { decodeHandshakeV10, encodeHandshakeResponse41 } from "../../protocols/mysql/codec/handshake.ts";
import { CLIENT } from "../../protocols/mysql/codec/constants.ts";
import { nativePasswordResponse } from "../../protocols/mysql/connector/auth.ts";

const run = promisify(execFile);

const POLICY = `version: 1
roles:
  approver: [{ claims: { groups: sre } }]
rules:
  - name: connect
    effect: allow
    subjects: any
    resources: any
    actions: [connect]
  - name: reads-and-writes
    effect: allow
    subjects: any
    resources: any
    actions: [sql.read, sql.write, sql.transaction, sql.session]
  - name: no-ddl
    effect: deny
    subjects: any
    resources: any
    actions: [sql.ddl, sql.privilege, sql.admin]
  - name: deletes-need-approval
    effect: approve
    subjects: any
    resources: any
    actions: [{ sql: { kinds: [write], commands: ["DELETE"] } }]
`;

const MASKING = [{ name: "ssn", columns: ["ssn", "customers.card"], style: "partial" as const, keep: 4 }];

describe("MySQL gateway module (mysql2 + mariadb CLI → listener → engine → connector → MariaDB)", () => {
  let db: RunningMariaDb;
  let gw: MysqlGateway;
  const connect = (extra: Partial<mysql.ConnectionOptions> = {}) =>
    mysql.createConnection({ host: "127.0.0.1", port: gw.port, user: "pipeline", password: gw.password, database: db.database, ...extra });

  beforeAll(async () => {
    db = await startMariaDb();
    await db.rootSql(`CREATE TABLE big (id INT PRIMARY KEY, payload TEXT); INSERT INTO big SELECT seq, REPEAT('x', 1000) FROM seq_1_to_20000;`, db.database);
    await db.rootSql(`GRANT SELECT ON ${db.database}.* TO '${db.levels.write.user}'@'%'`);
    gw = await startMysqlGateway(db, { policy: POLICY, masking: MASKING });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await db?.stop();
  });

  it("authenticates the local client with the listener's password, never the database's", async () => {
    await expect(connect({ password: db.levels.write.password })).rejects.toMatchObject({ errno: 1045 });
    await expect(connect({ password: "" })).rejects.toMatchObject({ errno: 1045 });
    const c = await connect();
    const [rows] = await c.query("SELECT CURRENT_USER() AS u");
    // The connector logged in with the write level's account (the policy allows writes, not DDL).
    expect((rows as { u: string }[])[0].u).toBe(`${db.levels.write.user}@%`);
    await c.end();
  });

  it("refuses by policy with a MySQL ERR (1227/42000) and the session goes on", async () => {
    const c = await connect();
    const e = await c.query("DROP TABLE orders").catch((x) => x);
    expect(e).toMatchObject({ errno: 1227, sqlState: "42000" });
    expect(e.message).toMatch(/gatehouse:/);
    const [rows] = await c.query("SELECT COUNT(*) AS n FROM orders");
    expect((rows as { n: number }[])[0].n).toBe(3);
    // The table is still there: the statement never reached the server.
    expect((await db.rootSql("SELECT COUNT(*) FROM orders", db.database)).trim()).toBe("3");
    await c.end();
  });

  it("refuses a multi-statement query whole when any statement is refused (none of it runs)", async () => {
    const c = await connect({ multipleStatements: true });
    await expect(c.query("UPDATE orders SET total = 1 WHERE id = 1; DROP TABLE orders")).rejects.toMatchObject({ errno: 1227 });
    expect((await db.rootSql("SELECT total FROM orders WHERE id = 1", db.database)).trim()).toBe("10.50");
    const [res] = await c.query("SELECT 1 AS a; SELECT 2 AS b");
    expect(res).toEqual([[{ a: 1 }], [{ b: 2 }]]);
    // Hidden in a version comment the server executes:
    await expect(c.query("SELECT 1 /*!50000 ; DROP TABLE orders */")).rejects.toMatchObject({ errno: 1227 });
    await c.end();
  });

  it("masks columns in text and binary (prepared) resultsets, aliases included", async () => {
    const c = await connect();
    const [text] = await c.query("SELECT name, ssn, card AS c FROM customers ORDER BY id");
    expect((text as { ssn: string; c: string }[])[0]).toEqual({ name: "Ada Lovelace", ssn: "*******6789", c: "***************1111" }); // partial as PostgreSQL gives it: * per character
    const [bin] = await c.execute("SELECT ssn AS s, id FROM customers WHERE id = ?", [2]);
    expect(bin).toEqual([{ s: "*******4321", id: 2 }]);
    await c.end();
  });

  it("prepared statements: policy applies at prepare and execute", async () => {
    const c = await connect();
    await expect(c.execute("CREATE TABLE x (a INT)")).rejects.toMatchObject({ errno: 1227 });
    const [r] = await c.execute("UPDATE orders SET total = total WHERE id = ?", [1]);
    expect((r as { affectedRows: number }).affectedRows).toBe(1);
    await c.end();
  });

  it("holds a DELETE for approval in the live session; approved it runs once, denied it is refused", async () => {
    const c = await connect();
    const pending = c.query("DELETE FROM orders WHERE id = 3");
    await vi_waitFor(() => gw.approvals.length === 1);
    expect(gw.approvals[0].sql).toBe("DELETE FROM orders WHERE id = 3");
    gw.approvals.shift()!.resolve(true);
    const [ok] = await pending;
    expect((ok as { affectedRows: number }).affectedRows).toBe(1);
    const denied = c.query("DELETE FROM orders WHERE id = 2").catch((x) => x);
    await vi_waitFor(() => gw.approvals.length === 1);
    gw.approvals.shift()!.resolve(false);
    expect(await denied).toMatchObject({ errno: 1227 });
    expect((await db.rootSql("SELECT COUNT(*) FROM orders", db.database)).trim()).toBe("2");
    await c.end();
  });

  it("refuses LOAD DATA LOCAL, COM_CHANGE_USER and changes of pinned settings", async () => {
    const c = await connect({ multipleStatements: true });
    await expect(c.query("LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE orders")).rejects.toMatchObject({ errno: 1227 });
    await expect(c.query("SET NAMES latin1")).rejects.toMatchObject({ errno: 1227 });
    await expect(c.query("SET sql_mode = 'ANSI_QUOTES'; SELECT 1")).rejects.toMatchObject({ errno: 1227 });
    // A single literal change is tracked exactly: afterwards "…" is an identifier for both sides.
    await c.query("SET sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES'");
    const [r] = await c.query(`SELECT "name" FROM customers WHERE id = 1`);
    expect(r).toEqual([{ name: "Ada Lovelace" }]);
    // NO_BACKSLASH_ESCAPES too: the OK answering the change carries the new flag (and the session goes on)
    await c.query("SET @@session.sql_mode = 'NO_BACKSLASH_ESCAPES'");
    expect((await c.query("SELECT 'a\\' AS s"))[0]).toEqual([{ s: "a\\" }]);
    expect((await c.query("SELECT @@sql_mode AS m"))[0]).toEqual([{ m: "NO_BACKSLASH_ESCAPES" }]);
    await expect(c.changeUser({ user: "root" })).rejects.toMatchObject({ errno: 1235 });
    await c.end().catch(() => undefined);
  });

  it("a read-level session's read-only transaction mode is pinned: READ WRITE and tx_read_only changes are refused, so a DEFINER function cannot write through it", async () => {
    const READ_POLICY = `version: 1
rules:
  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: readers, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.transaction, sql.session, sql.execute] }
`;
    // A function that writes with its definer's rights, executable by the read account: only the
    // connector's READ ONLY transaction mode stops it (the second wall behind the classifier).
    await db.rootSql(`CREATE TABLE rw_wall (a INT);
      DELIMITER //
      CREATE DEFINER = root@localhost FUNCTION bump() RETURNS INT MODIFIES SQL DATA SQL SECURITY DEFINER BEGIN INSERT INTO rw_wall VALUES (1); RETURN 1; END//
      DELIMITER ;
      GRANT EXECUTE ON FUNCTION ${db.database}.bump TO '${db.levels.read.user}'@'%';`, db.database);
    const ro = await startMysqlGateway(db, { policy: READ_POLICY });
    try {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: ro.port, user: "pipeline", password: ro.password, database: db.database });
      expect(ro.levels.at(-1)).toBe("read");
      // the wall holds as the connector set it
      await expect(c.query("SELECT bump()")).rejects.toMatchObject({ errno: 1792 });
      expect((await db.rootSql("SELECT COUNT(*) FROM rw_wall", db.database)).trim()).toBe("0");
      // the attack is real: the read account itself can lift it (root's session, same statements)
      expect((await db.rootSql(`SET SESSION TRANSACTION READ ONLY; SET SESSION tx_read_only = 0; SELECT @@tx_read_only`)).trim()).toBe("0");
      for (const sql of [
        "SET SESSION tx_read_only = 0",
        "SET @@session.tx_read_only = OFF",
        "set tx_read_only := 0",
        "SET @@SESSION.`tx_read_only` = 0",
        "SET @@transaction_read_only = 0",
        "/*!SET tx_read_only = 0 */",
        "SET STATEMENT tx_read_only = 0 FOR SELECT bump()",
        "START TRANSACTION READ WRITE",
        "start transaction with consistent snapshot, read write",
        "SET TRANSACTION READ WRITE",
        // MySQL 8's optimizer hint (a comment to MariaDB 10.11: a decision test)
        "SELECT /*+ SET_VAR(transaction_read_only = 0) */ bump()",
        "select /*+ BKA(t1) set_var(tx_read_only=OFF) */ bump()",
      ]) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
        expect(e.message, sql).toMatch(/read-only mode of a read-level session is pinned/);
        await expect(c.query("SELECT bump()"), sql).rejects.toMatchObject({ errno: 1792 });
      }
      expect((await db.rootSql("SELECT COUNT(*) FROM rw_wall", db.database)).trim()).toBe("0");
      // the session goes on; reading the mode is fine
      expect((await c.query("SELECT @@tx_read_only AS r"))[0]).toEqual([{ r: 1 }]);
      await c.end();
    } finally {
      await ro.close();
    }
  });

  it("the policy's statement timeout (the server's max_statement_time, set by the connector) is pinned: SET max_statement_time in any spelling is refused", async () => {
    const TIMEOUT_POLICY = `version: 1
limits: { statement_timeout: 1s }
rules:
  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: readers, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.transaction, sql.session] }
`;
    // 100 M rows through an expression: tens of seconds here, only ever run under the 1 s limit
    const slow = "SELECT COUNT(*) AS n FROM seq_1_to_10000 a, seq_1_to_10000 b WHERE (a.seq * 31 + b.seq) % 7 = 3";
    await expect(db.rootSql(`SET SESSION max_statement_time = 1; ${slow}`, db.database)).rejects.toThrow(/max_statement_time exceeded/);
    // the attack is real: a session's own SET lifts the limit the connector set
    expect((await db.rootSql("SET SESSION max_statement_time = 1; SET SESSION max_statement_time = 0; SELECT @@max_statement_time")).trim()).toBe("0.000000");
    const gwt = await startMysqlGateway(db, { policy: TIMEOUT_POLICY });
    try {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: gwt.port, user: "pipeline", password: gwt.password, database: db.database });
      expect((await c.query("SELECT @@max_statement_time AS t"))[0]).toEqual([{ t: 1 }]);
      await expect(c.query(slow)).rejects.toMatchObject({ errno: 1969 });
      for (const sql of [
        "SET max_statement_time = 0",
        "SET SESSION max_statement_time = 0",
        "set @@max_statement_time := 3600",
        "SET @@session.`max_statement_time` = 0",
        "/*!SET max_statement_time = 0 */",
        `SET STATEMENT max_statement_time = 0 FOR ${slow}`,
        "SET max_execution_time = 0",
        // MySQL 8's optimizer hints (comments to MariaDB 10.11, which MariaDB 12 reads: a decision test)
        `SELECT /*+ MAX_EXECUTION_TIME(3600000) */ ${slow.slice(7)}`,
        `SELECT /*+ SET_VAR(max_execution_time = 0) */ ${slow.slice(7)}`,
        "select /*+ NO_ICP(t1) max_execution_time(1001) */ 1",
        "SELECT /*+ SET_VAR(max_statement_time=0) */ 1",
      ]) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
        expect(e.message, sql).toMatch(/statement timeout is pinned/);
      }
      expect((await c.query("SELECT @@max_statement_time AS t"))[0]).toEqual([{ t: 1 }]);
      await expect(c.query(slow)).rejects.toMatchObject({ errno: 1969 });
      await c.end();
    } finally {
      await gwt.close();
    }
    // Through dynamic SQL the policy allows (the text names no setting the gateway can see): the
    // re-read after it finds the limit lifted and ends the session before anything else runs.
    const gwd = await startMysqlGateway(db, { policy: TIMEOUT_POLICY.replace("sql.session]", "sql.session, sql.procedural, sql.dynamic]") });
    try {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: gwd.port, user: "pipeline", password: gwd.password, database: db.database });
      // The ERR may reach mysql2 before the next command is sent (then as the connection's error).
      const errors: Error[] = [];
      c.on("error", (e) => errors.push(e));
      await c.query("SET @q = CONCAT('SET SESSION max_statement', '_time = 0')");
      await c.query("PREPARE s FROM @q");
      const lifted = await c.query("EXECUTE s").then(() => c.query(slow)).catch((x) => x);
      await eventually(async () => [lifted.message, ...errors.map((e) => e.message)].join("\n").includes("statement timeout was lifted"), "the gateway's ERR naming the lifted timeout");
      await expect(c.query("SELECT 1")).rejects.toThrow();
      c.destroy();
      // A lower limit through the same path is kept: the session goes on under it.
      const d = await mysql.createConnection({ host: "127.0.0.1", port: gwd.port, user: "pipeline", password: gwd.password, database: db.database });
      await d.query("SET @q = 'SET SESSION max_statement_time = 0.5'");
      await d.query("PREPARE s FROM @q");
      await d.query("EXECUTE s");
      expect((await d.query("SELECT @@max_statement_time AS t"))[0]).toEqual([{ t: 0.5 }]);
      await d.end();
    } finally {
      await gwd.close();
    }
  }, 60_000);

  it("turning off the target's own integrity checks (foreign_key_checks, unique_checks, check_constraint_checks) is sql.admin, not a session setting: a write-level policy refuses it", async () => {
    await db.rootSql(`CREATE TABLE fk_parent (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO fk_parent VALUES (1);
      CREATE TABLE fk_child (id INT PRIMARY KEY, parent_id INT, n INT CHECK (n > 0), FOREIGN KEY (parent_id) REFERENCES fk_parent (id)) ENGINE=InnoDB;`, db.database);
    // the attack is real: the write account's own session stores an orphan and a row its CHECK forbids
    const direct = await mysql.createConnection({ host: db.host, port: db.port, user: db.levels.write.user, password: db.levels.write.password, database: db.database });
    await direct.query("SET foreign_key_checks = 0");
    await direct.query("SET check_constraint_checks = 0");
    await direct.query("INSERT INTO fk_child VALUES (100, 999, -1)");
    await direct.end();
    expect((await db.rootSql("SELECT COUNT(*) FROM fk_child WHERE parent_id NOT IN (SELECT id FROM fk_parent)", db.database)).trim()).toBe("1");
    await db.rootSql("DELETE FROM fk_child", db.database);
    const c = await connect({ multipleStatements: true });
    expect(gw.levels.at(-1)).toBe("write");
    for (const sql of [
      "SET foreign_key_checks = 0",
      "SET @@session.FOREIGN_KEY_CHECKS = OFF",
      "set foreign_key_checks := 0",
      "SET @@SESSION.`foreign_key_checks` = 0",
      "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */",
      "SET unique_checks = 0",
      "SET check_constraint_checks = 0",
      "SET SESSION check_constraint_checks = FALSE",
      "SET STATEMENT foreign_key_checks = 0 FOR INSERT INTO fk_child VALUES (101, 999, 1)",
      "SET FOREIGN_KEY_CHECKS = @saved",
      // MySQL 8's optimizer hint (a comment to MariaDB 10.11: a decision test)
      "INSERT /*+ SET_VAR(foreign_key_checks = OFF) */ INTO fk_child VALUES (104, 999, 1)",
      "insert /*+ set_var(unique_checks=0) */ into fk_child values (105, 1, 1)",
    ]) {
      const e = await c.query(sql).catch((x) => x);
      expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
      // the server still checks
      await expect(c.query("INSERT INTO fk_child VALUES (102, 999, 1)"), sql).rejects.toMatchObject({ errno: 1452 });
      await expect(c.query("INSERT INTO fk_child VALUES (103, 1, -1)"), sql).rejects.toMatchObject({ errno: 4025 });
    }
    // turning them on is a session setting
    await c.query("SET foreign_key_checks = 1");
    expect((await db.rootSql("SELECT COUNT(*) FROM fk_child", db.database)).trim()).toBe("0");
    await c.end();
  });

  it("opaque code (CALL, dynamic SQL) must be the last statement of its text: what it changes is re-read before anything else runs", async () => {
    const CALL_POLICY = `version: 1
limits: { statement_timeout: 1s }
rules:
  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: readers, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.transaction, sql.session, sql.execute] }
  - { name: reports, effect: allow, subjects: any, resources: any, actions: [{ sql: { kinds: [procedural], commands: [CALL, PREPARE, EXECUTE] } }] }
  - { name: no-writes, effect: deny, subjects: any, resources: any, actions: [sql.write, sql.ddl] }
`;
    // A DBA's procedure that lifts the session's statement timeout (a SET inside a procedure
    // outlives the CALL; sql_mode is restored, other settings are not).
    await db.rootSql(`DELIMITER //
      CREATE PROCEDURE p_lift() BEGIN SET SESSION max_statement_time = 0; END//
      DELIMITER ;
      CREATE TABLE victim_rows (a INT); INSERT INTO victim_rows VALUES (1), (2);
      GRANT EXECUTE ON PROCEDURE ${db.database}.p_lift TO '${db.levels.admin.user}'@'%';`, db.database);
    // the attack is real: the statement after the CALL runs without the limit (root, same text)
    expect((await db.rootSql("SET SESSION max_statement_time = 1; CALL p_lift(); SELECT @@max_statement_time", db.database)).trim()).toBe("0.000000");
    // and PREPARE/EXECUTE changes sql_mode for the rest of the text: the server then reads "…" as an identifier
    const hidden = `PREPARE m FROM 'SET sql_mode = ''ANSI_QUOTES'''; EXECUTE m; SELECT 1 AS "\\"; SELECT COUNT(*) AS n FROM victim_rows; -- "`;
    expect((await db.rootSql(`SET sql_mode = ''; ${hidden}`, db.database)).trim().split("\n").at(-1)).toBe("2");
    // A read-level session (sql.execute keeps the read level): a function the read account may call
    // that lifts the session's read-only mode (`SET SESSION tx_read_only = 0` is allowed in a
    // function, measured) followed in the same text by a DEFINER function that writes.
    await db.rootSql(`CREATE TABLE ro_wall (a INT);
      DELIMITER //
      CREATE DEFINER = root@localhost FUNCTION lift_ro() RETURNS INT BEGIN SET SESSION tx_read_only = 0; RETURN 1; END//
      CREATE DEFINER = root@localhost FUNCTION bump_ro() RETURNS INT MODIFIES SQL DATA SQL SECURITY DEFINER BEGIN INSERT INTO ro_wall VALUES (1); RETURN 1; END//
      DELIMITER ;
      GRANT EXECUTE ON FUNCTION ${db.database}.lift_ro TO '${db.levels.read.user}'@'%';
      GRANT EXECUTE ON FUNCTION ${db.database}.bump_ro TO '${db.levels.read.user}'@'%';`, db.database);
    expect((await db.rootSql("SET SESSION TRANSACTION READ ONLY; SELECT lift_ro(); SELECT bump_ro(); SELECT COUNT(*) FROM ro_wall", db.database)).trim().split("\n").at(-1)).toBe("1");
    await db.rootSql("DELETE FROM ro_wall", db.database);
    const gwr = await startMysqlGateway(db, { policy: "version: 1\nrules:\n  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }\n  - { name: readers, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.transaction, sql.session, sql.execute] }\n" });
    try {
      const r = await mysql.createConnection({ host: "127.0.0.1", port: gwr.port, user: "pipeline", password: gwr.password, database: db.database, multipleStatements: true });
      expect(gwr.levels.at(-1)).toBe("read");
      for (const sql of ["SELECT lift_ro(); SELECT bump_ro()", "SELECT lift_ro() AS a; SELECT 1; SELECT bump_ro()"]) {
        await expect(r.query(sql), sql).rejects.toMatchObject({ errno: 1227, message: expect.stringMatching(/must be the last statement of its query/) });
      }
      expect((await db.rootSql("SELECT COUNT(*) FROM ro_wall", db.database)).trim()).toBe("0");
      r.destroy();
    } finally {
      await gwr.close();
    }
    const gwc = await startMysqlGateway(db, { policy: CALL_POLICY });
    try {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: gwc.port, user: "pipeline", password: gwc.password, database: db.database, multipleStatements: true });
      for (const sql of [
        "CALL p_lift(); SELECT @@max_statement_time AS t",
        "call p_lift(); SELECT 1",
        // the gateway would read `SELECT 1 AS "\"; DELETE …"` with backslash escapes and "…" as a string (one SELECT); the server, after EXECUTE m, as a SELECT and a DELETE
        `PREPARE m FROM 'SET sql_mode = ''ANSI_QUOTES'''; EXECUTE m; SELECT 1 AS "\\"; DELETE FROM victim_rows; -- "`,
      ]) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
        expect(e.message, sql).toMatch(/must be the last statement of its query/);
      }
      expect((await db.rootSql("SELECT COUNT(*) FROM victim_rows", db.database)).trim()).toBe("2");
      expect((await c.query("SELECT @@max_statement_time AS t, @@sql_mode AS m"))[0]).toEqual([{ t: 1, m: expect.not.stringContaining("ANSI_QUOTES") }]);
      // alone, the CALL runs; the re-read after it finds the limit lifted and ends the session before anything else
      const errors: Error[] = [];
      c.on("error", (x) => errors.push(x));
      const lifted = await c.query("CALL p_lift()").then(() => c.query("SELECT 1")).catch((x) => x);
      await eventually(async () => [lifted.message, ...errors.map((x) => x.message)].join("\n").includes("statement timeout was lifted"), "the gateway's ERR naming the lifted timeout");
      c.destroy();
    } finally {
      await gwc.close();
    }
  }, 60_000);

  it("streams a large result (20,000 rows, ~20 MB) through the engine", async () => {
    const c = await connect();
    const [rows] = await c.query("SELECT id, payload FROM big ORDER BY id");
    expect((rows as unknown[]).length).toBe(20000);
    await c.end();
  });

  it("works with the real mariadb CLI", async () => {
    const { stdout } = await run(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(gw.port), "-u", "pipeline", `-p${gw.password}`, "-D", db.database, "-N", "-B", "-e", "SELECT name, ssn FROM customers WHERE id = 1"]);
    expect(stdout.trim()).toBe("Ada Lovelace\t*******6789");
    const e = await run(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(gw.port), "-u", "pipeline", `-p${gw.password}`, "-D", db.database, "-e", "DROP TABLE customers"]).catch((x) => x);
    expect(e.stderr).toMatch(/ERROR 1227 \(42000\).*gatehouse/);
  });

  it("hostile input: a bad sequence id, an unknown command and an oversized packet each get an ERR; the listener keeps serving", async () => {
    // Unknown command: ERR 1235, the session goes on.
    const a = await rawSession(gw.port, gw.password);
    a.socket.write(encodePacket(0, new Uint8Array([0x77, 1, 2, 3])));
    expect(decodeErr((await a.next()).payload)).toMatchObject({ code: 1235 });
    a.socket.write(encodePacket(0, new Uint8Array([0x0e]))); // COM_PING still answered
    expect((await a.next()).payload[0]).toBe(0x00);
    // A command with a sequence id other than 0: ERR, then the session ends.
    a.socket.write(encodePacket(5, new Uint8Array([0x03, 0x41])));
    expect(decodeErr((await a.next()).payload)).toMatchObject({ code: 1835 });
    await a.closed;
    // COM_BINLOG_DUMP and a truncated COM_STMT_EXECUTE.
    const b = await rawSession(gw.port, gw.password);
    b.socket.write(encodePacket(0, new Uint8Array([0x12, 0, 0, 0, 0])));
    expect(decodeErr((await b.next()).payload)).toMatchObject({ code: 1235 });
    b.socket.write(encodePacket(0, new Uint8Array([0x17, 1])));
    expect(decodeErr((await b.next()).payload)).toMatchObject({ code: 1835 });
    b.socket.destroy();
    // A statement that is not UTF-8 is refused, not guessed at.
    const c = await rawSession(gw.port, gw.password);
    c.socket.write(encodePacket(0, new Uint8Array([0x03, 0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0xff, 0x27])));
    expect(decodeErr((await c.next()).payload)).toMatchObject({ code: 1835 });
    c.socket.destroy();
    const again = await connect();
    const [r] = await again.query("SELECT 1 AS one");
    expect(r).toEqual([{ one: 1 }]);
    await again.end();
  });
});

async function vi_waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A hand-driven client: handshake with the listener password, then raw packets. */
async function rawSession(port: number, password: string): Promise<{ socket: net.Socket; next(): Promise<Packet>; closed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  const framer = new PacketFramer();
  const queue: Packet[] = [];
  const waiters: ((p: Packet) => void)[] = [];
  socket.on("data", (b: Buffer) => {
    for (const p of framer.push(new Uint8Array(b))) {
      const w = waiters.shift();
      if (w) w(p);
      else queue.push(p);
    }
  });
  const closed = new Promise<void>((r) => socket.on("close", () => r()));
  const next = () => new Promise<Packet>((resolve, reject) => {
    const q = queue.shift();
    if (q) return resolve(q);
    const t = setTimeout(() => reject(new Error("no packet")), 10_000);
    waiters.push((p) => {
      clearTimeout(t);
      resolve(p);
    });
  });
  const hs = decodeHandshakeV10((await next()).payload);
  const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.DEPRECATE_EOF;
  socket.write(encodePacket(1, encodeHandshakeResponse41({ capabilities: caps, maxPacket: 1 << 24, charset: 45, user: "raw", authResponse: nativePasswordResponse(password, hs.scramble), database: null, authPlugin: "mysql_native_password", attributes: new Map() })));
  const ok = await next();
  if (ok.payload[0] !== 0) throw new Error("local handshake failed");
  return { socket, next, closed };
}
