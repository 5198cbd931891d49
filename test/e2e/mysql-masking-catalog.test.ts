/**
 * MySQL masking against relations that change under the session: views created, replaced or
 * altered by *another* session after this session read the catalog, a table dropped and recreated
 * as a view of the same name, RENAME TABLE, views of views, views in another schema, TEMPTABLE
 * views, aliases. Every attack is checked against root's real value (ground truth from the server,
 * never from the gateway's answer). mysql2 through the gateway module (test/harness/mysql-gateway.ts)
 * against a MariaDB this test starts; the attacker's second session is a second gateway session
 * (the policy allows DDL), or root where the attacker is a third party.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { startMariaDb, type RunningMariaDb } from "../harness/mariadb.ts";
import { startMysqlGateway, type MysqlGateway } from "../harness/mysql-gateway.ts";

const POLICY = `version: 1
rules:
  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: everything, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.write, sql.ddl, sql.transaction, sql.session, sql.execute] }
`;

/** Rules by table.column: a view's column (`v.c`) is not matched by name, so only the catalog protects it. */
const MASKING = [{ name: "pii", columns: ["customers.email", "customers.ssn"], style: "redact" as const }];

describe("MySQL masking while relations change under the session (catalog re-read, unknown origins redacted)", () => {
  let db: RunningMariaDb;
  let gw: MysqlGateway;
  let email1: string;
  const connect = () => mysql.createConnection({ host: "127.0.0.1", port: gw.port, user: "pipeline", password: gw.password, database: db.database, multipleStatements: true });
  const rows = async (c: mysql.Connection, sql: string) => (await c.query(sql))[0] as Record<string, unknown>[];
  /** Another session outside the gateway (a migration job, a colleague): DDL naming masked columns is refused through the gateway. */
  const other = async (sql: string) => void (await db.rootSql(sql, db.database));
  const truth = async (sql: string) => (await db.rootSql(sql, db.database)).trim();

  beforeAll(async () => {
    db = await startMariaDb();
    await db.rootSql(`GRANT SHOW VIEW, CREATE VIEW, DROP, CREATE, ALTER ON ${db.database}.* TO '${db.levels.admin.user}'@'%';
      CREATE DATABASE other; GRANT ALL ON other.* TO '${db.levels.admin.user}'@'%';
      CREATE TABLE ${db.database}.notes (id INT PRIMARY KEY, body VARCHAR(200)); INSERT INTO ${db.database}.notes VALUES (1, 'hello');`);
    gw = await startMysqlGateway(db, { policy: POLICY, masking: MASKING });
    email1 = await truth("SELECT email FROM customers WHERE id = 1");
    expect(email1).toBe("ada@example.com");
  }, 180_000);

  afterAll(async () => {
    await gw?.close();
    await db?.stop();
  });

  it("a view created by another session after this session's first read: its columns are masked (select, alias, binary, join)", async () => {
    const victim = await connect();
    expect(await rows(victim, "SELECT id, name FROM customers WHERE id = 1")).toEqual([{ id: 1, name: "Ada Lovelace" }]); // catalog read now
    const attacker = await connect();
    // the gateway lets it through: it names no masked column (the server expands the star when it stores the view)
    await attacker.query("CREATE VIEW v_abc (a, b, c, d, e, f) AS SELECT * FROM customers");
    expect(await truth("SELECT c FROM v_abc WHERE a = 1")).toBe(email1);
    // 1. plain select of the view's column
    expect(await rows(victim, "SELECT c FROM v_abc WHERE a = 1")).toEqual([{ c: "[REDACTED]" }]);
    // 2. under an alias of the view (the server reports the alias as org_table)
    expect(await rows(victim, "SELECT z.c FROM v_abc AS z WHERE z.a = 1")).toEqual([{ c: "[REDACTED]" }]);
    // 3. binary protocol
    expect((await victim.execute("SELECT c FROM v_abc WHERE a = ?", [1]))[0]).toEqual([{ c: "[REDACTED]" }]);
    // 4. joined with a plain table, star
    const j = await rows(victim, "SELECT * FROM notes JOIN v_abc ON notes.id = v_abc.a");
    expect(j[0]!.c).toBe("[REDACTED]");
    // 5. qualified with the schema
    expect(await rows(victim, `SELECT c FROM ${db.database}.v_abc WHERE a = 1`)).toEqual([{ c: "[REDACTED]" }]);
    // and writing it elsewhere is refused (the view is masked: a tainted write), nothing written
    const w = await victim.query("INSERT INTO notes SELECT 2, c FROM v_abc WHERE a = 1").catch((e) => e);
    expect(w).toMatchObject({ errno: 1227 });
    expect(await truth("SELECT COUNT(*) FROM notes")).toBe("1");
    await attacker.end();
    await victim.end();
  });

  it("CREATE OR REPLACE VIEW and ALTER VIEW by another session turn a clean view into a masked one before the next read", async () => {
    await db.rootSql("CREATE VIEW v_swap AS SELECT id, name AS who FROM customers", db.database);
    const victim = await connect();
    expect(await rows(victim, "SELECT who FROM v_swap WHERE id = 1")).toEqual([{ who: "Ada Lovelace" }]); // clean, not redacted
    const attacker = await connect();
    await other("CREATE OR REPLACE VIEW v_swap AS SELECT id, email AS who FROM customers");
    expect(await truth("SELECT who FROM v_swap WHERE id = 1")).toBe(email1);
    expect(await rows(victim, "SELECT who FROM v_swap WHERE id = 1")).toEqual([{ who: "[REDACTED]" }]);
    await other("ALTER VIEW v_swap AS SELECT id, name AS who FROM customers");
    expect(await rows(victim, "SELECT who FROM v_swap WHERE id = 1")).toEqual([{ who: "Ada Lovelace" }]); // clean again: exact, not sticky
    await other("ALTER VIEW v_swap AS SELECT id, ssn AS who FROM customers");
    expect(await truth("SELECT who FROM v_swap WHERE id = 1")).toBe(await truth("SELECT ssn FROM customers WHERE id = 1"));
    expect(await rows(victim, "SELECT who FROM v_swap WHERE id = 1")).toEqual([{ who: "[REDACTED]" }]);
    // prepared before the swap, executed after: the execute re-reads
    await other("ALTER VIEW v_swap AS SELECT id, name AS who FROM customers");
    const [st] = await Promise.all([victim.prepare("SELECT who FROM v_swap WHERE id = ?")]);
    expect((await st.execute([1]))[0]).toEqual([{ who: "Ada Lovelace" }]);
    await other("ALTER VIEW v_swap AS SELECT id, email AS who FROM customers");
    expect((await st.execute([1]))[0]).toEqual([{ who: "[REDACTED]" }]);
    await st.close();
    await attacker.end();
    await victim.end();
  });

  it("a table dropped and recreated as a view of the same name, and RENAME TABLE, are seen before the read", async () => {
    await db.rootSql("CREATE TABLE t_people (id INT PRIMARY KEY, label VARCHAR(200)); INSERT INTO t_people VALUES (1, 'plain');", db.database);
    const victim = await connect();
    expect(await rows(victim, "SELECT label FROM t_people")).toEqual([{ label: "plain" }]);
    const attacker = await connect();
    await other("DROP TABLE t_people; CREATE VIEW t_people AS SELECT id, email AS label FROM customers WHERE id = 1");
    expect(await truth("SELECT label FROM t_people")).toBe(email1);
    expect(await rows(victim, "SELECT label FROM t_people")).toEqual([{ label: "[REDACTED]" }]);
    // RENAME TABLE: a masked view takes the name of a known clean table
    await db.rootSql("CREATE TABLE t_swap (id INT, label VARCHAR(200)); INSERT INTO t_swap VALUES (1, 'plain'); CREATE VIEW v_hidden AS SELECT id, email AS label FROM customers WHERE id = 1;", db.database);
    expect(await rows(victim, "SELECT label FROM t_swap")).toEqual([{ label: "plain" }]);
    await other("RENAME TABLE t_swap TO t_gone, v_hidden TO t_swap");
    expect(await truth("SELECT label FROM t_swap")).toBe(email1);
    expect(await rows(victim, "SELECT label FROM t_swap")).toEqual([{ label: "[REDACTED]" }]);
    await attacker.end();
    await victim.end();
  });

  it("views of views, views in another schema (db.v) and TEMPTABLE views are masked; a clean view is not", async () => {
    await db.rootSql("CREATE VIEW v_inner AS SELECT id, name AS n FROM customers; CREATE VIEW v_outer2 AS SELECT id, n AS m FROM v_inner;", db.database);
    const victim = await connect();
    expect(await rows(victim, "SELECT m FROM v_outer2 WHERE id = 1")).toEqual([{ m: "Ada Lovelace" }]);
    const attacker = await connect();
    // replace the inner view only: the outer one (named by the statement) is re-read with everything under it
    await other("CREATE OR REPLACE VIEW v_inner AS SELECT id, email AS n FROM customers");
    expect(await truth("SELECT m FROM v_outer2 WHERE id = 1")).toBe(email1);
    expect(await rows(victim, "SELECT m FROM v_outer2 WHERE id = 1")).toEqual([{ m: "[REDACTED]" }]);
    // another schema
    await other(`CREATE VIEW other.v_x AS SELECT id, email AS e FROM ${db.database}.customers`);
    expect(await truth("SELECT e FROM other.v_x WHERE id = 1")).toBe(email1);
    expect(await rows(victim, "SELECT e FROM other.v_x WHERE id = 1")).toEqual([{ e: "[REDACTED]" }]);
    expect(await rows(victim, "SELECT `e` FROM `other`.`v_x` WHERE id = 1")).toEqual([{ e: "[REDACTED]" }]);
    // TEMPTABLE: MariaDB reports the base table under the view's column name (`customers`.`name`)
    await other("CREATE ALGORITHM=TEMPTABLE VIEW v_tmp AS SELECT id, email AS name FROM customers");
    expect(await truth("SELECT name FROM v_tmp WHERE id = 1")).toBe(email1);
    expect(await rows(victim, "SELECT name FROM v_tmp WHERE id = 1")).toEqual([{ name: "[REDACTED]" }]);
    // a derived table over the whole row (no masked name in the text): its origin is an alias, redacted
    expect(await truth("SELECT ssn FROM (SELECT * FROM customers) t WHERE id = 1")).not.toBe("");
    expect((await rows(victim, "SELECT * FROM (SELECT * FROM customers) t WHERE id = 1"))[0]!.ssn).toBe("[REDACTED]");
    // `*` inside a CTE with a column list: masked columns renamed without being named — derived
    expect(await truth("WITH t (a, b, c, d, e, f) AS (SELECT * FROM customers) SELECT LOWER(c) FROM t WHERE a = 1")).toBe(email1);
    expect(await rows(victim, "WITH t (a, b, c, d, e, f) AS (SELECT * FROM customers) SELECT LOWER(c) AS x FROM t WHERE a = 1")).toEqual([{ x: "[REDACTED]" }]);
    // MariaDB's sequence tables are not in information_schema: their `seq` column is exact, a CTE named like one is not
    expect(await rows(victim, "SELECT seq FROM seq_1_to_2")).toEqual([{ seq: 1 }, { seq: 2 }]);
    expect(await rows(victim, "WITH seq_1_to_9 (x, y, seq, d, e, f) AS (SELECT * FROM customers) SELECT seq FROM seq_1_to_9 WHERE x = 1")).toEqual([{ seq: "[REDACTED]" }]);
    // a clean view stays exact
    await attacker.query("CREATE VIEW v_clean AS SELECT id, UPPER(name) AS shout FROM customers");
    expect(await rows(victim, "SELECT shout FROM v_clean WHERE id = 1")).toEqual([{ shout: await truth("SELECT UPPER(name) FROM customers WHERE id = 1") }]);
    await attacker.end();
    await victim.end();
  });

  it("a masked value cannot leave through a user variable (SELECT … INTO @x, SET @x = (…), :=)", async () => {
    const c = await connect();
    for (const sql of ["SELECT email INTO @x FROM customers WHERE id = 1", "SET @x = (SELECT email FROM customers WHERE id = 1)", "SELECT @x := email FROM customers WHERE id = 1", "SELECT 1; SELECT email FROM customers WHERE id = 1 INTO @x"]) {
      const e = await c.query(sql).catch((x) => x);
      expect(e, sql).toMatchObject({ errno: 1227 });
    }
    expect(await rows(c, "SELECT @x AS x")).toEqual([{ x: null }]);
    await c.end();
  });

  it("a * in a set operation (SELECT 1, 2, 3 UNION SELECT * FROM customers) gives masked values under the first branch's names: redacted", async () => {
    const c = await connect();
    const ssn1 = await truth("SELECT ssn FROM customers WHERE id = 1");
    // the attack is real: root's result holds the e-mail under the column `3`, with no origin
    expect(await truth("SELECT 1,2,3,4,5,6 FROM dual WHERE 0 UNION SELECT * FROM customers WHERE id = 1")).toContain(email1);
    for (const sql of [
      "SELECT 1,2,3,4,5,6 UNION SELECT * FROM customers WHERE id = 1",
      "SELECT 1 a, 2 b, 3 c, 4 d, 5 e, 6 f FROM dual WHERE 0 UNION ALL SELECT * FROM customers WHERE id = 1",
      "select 1,2,3,4,5,6 from dual where 0 union distinct select c.* from customers c where id = 1",
      "VALUES (1,2,3,4,5,6) UNION SELECT * FROM customers WHERE id = 1",
      "SELECT 1,2,3,4,5,6 FROM dual WHERE 0 /*!UNION SELECT * FROM customers WHERE id = 1 */",
      "SELECT id, name, name, name, name, name FROM customers WHERE 0 UNION SELECT * FROM customers WHERE id = 1",
      "SELECT 1,2,3,4,5,6 FROM dual WHERE 0 EXCEPT SELECT 1,2,3,4,5,6 FROM dual UNION SELECT * FROM customers WHERE id = 1",
    ]) {
      const got = JSON.stringify(await rows(c, sql));
      expect(got, sql).not.toContain(email1);
      expect(got, sql).not.toContain(ssn1);
      expect(got, sql).toContain("[REDACTED]");
    }
    // binary protocol
    const [b] = await c.execute("SELECT 1,2,3,4,5,6 FROM dual WHERE ? UNION SELECT * FROM customers WHERE id = 1", [0]);
    expect(JSON.stringify(b)).not.toContain(email1);
    // a star beside a set operation inside a sub-query is a base table's row: exact
    expect(await rows(c, "SELECT * FROM customers WHERE id IN (SELECT 1 UNION SELECT 5)")).toEqual([{ id: 1, name: "Ada Lovelace", email: "[REDACTED]", ssn: "[REDACTED]", card: "4111 1111 1111 1111", note: "first" }]);
    await c.end();
  });

  it("a masked value cannot leave through variables filled from * (SELECT * … INTO @a, @b, @c: no masked name in the text)", async () => {
    // the attack is real: root's own SELECT * … INTO puts the e-mail in the third variable
    expect(await truth("SELECT * FROM customers WHERE id = 1 INTO @a, @b, @c, @d, @e, @f; SELECT @c")).toBe(email1);
    const c = await connect();
    const into = "@a, @b, @c, @d, @e, @f";
    for (const sql of [
      `SELECT * FROM customers WHERE id = 1 INTO ${into}`,
      `SELECT c.* FROM customers c WHERE id = 1 INTO ${into}`,
      `select \`customers\`.* from customers where id = 1 into ${into}`,
      `(SELECT * FROM customers WHERE id = 1) INTO ${into}`,
      `SELECT * INTO ${into} FROM customers WHERE id = 1`,
      `SELECT 1; SELECT * FROM customers WHERE id = 1 INTO ${into}`,
      `/*!SELECT * FROM customers WHERE id = 1 INTO ${into} */`,
    ]) {
      const e = await c.query(sql).catch((x) => x);
      expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
      expect(await rows(c, "SELECT @c AS c")).toEqual([{ c: null }]);
    }
    // the protocol's prepared statement too (refused at prepare)
    const p = await c.prepare(`SELECT * FROM customers WHERE id = ? INTO ${into}`).catch((x) => x);
    expect(p).toMatchObject({ errno: 1227 });
    expect(await rows(c, "SELECT @c AS c")).toEqual([{ c: null }]);
    // a count is no star expansion
    await c.query("SELECT COUNT(*) FROM customers INTO @n");
    expect(await rows(c, "SELECT @n AS n")).toEqual([{ n: 3 }]);
    await c.end();
  });

  it("under a policy that allows unknown statements, a compound statement cannot wrap what masking must see (EXECUTE IMMEDIATE, a query plan, a computed copy): refused", async () => {
    const open = await startMysqlGateway(db, { policy: POLICY.replace("sql.execute]", "sql.execute, sql.unknown]"), masking: MASKING });
    try {
      const dynamic = "BEGIN NOT ATOMIC EXECUTE IMMEDIATE CONCAT('SELECT LOWER(em', 'ail) AS e FROM customers WHERE id = 1'); END";
      // the attack is real: the server runs the wrapped statement and answers the e-mail under no masked column
      expect(await truth(`DELIMITER //\n${dynamic} //`)).toContain(email1); // (the mariadb client splits at ';' otherwise)
      const c = await mysql.createConnection({ host: "127.0.0.1", port: open.port, user: "pipeline", password: open.password, database: db.database, multipleStatements: true });
      // (the policy allows them: each refusal below is masking's, as its message says)
      for (const sql of [
        dynamic,
        "begin not atomic execute immediate concat('select lower(em', 'ail) as e from customers where id = 1'); end",
        "BEGIN NOT ATOMIC SELECT LOWER(email) AS e FROM customers WHERE id = 1; END",
        "IF 1 THEN EXPLAIN FORMAT=JSON SELECT c.id FROM customers c WHERE c.id = 1; END IF",
        "SELECT 1; BEGIN NOT ATOMIC EXECUTE IMMEDIATE 'SELECT email FROM customers'; END",
      ]) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ errno: 1227, message: expect.stringContaining("runs SQL the gateway cannot read") });
      }
      await c.end();
    } finally {
      await open.close();
    }
  });

  it("predicates: refuse — masked data in WHERE / JOIN / ORDER BY / GROUP BY / HAVING / CASE WHEN is refused; elsewhere it is masked", async () => {
    const strict = await startMysqlGateway(db, { policy: POLICY, masking: [{ ...MASKING[0]!, mask: { predicates: "refuse" as const } }] });
    try {
      await other("CREATE OR REPLACE VIEW v_pred AS SELECT id, email AS e FROM customers");
      const c = await mysql.createConnection({ host: "127.0.0.1", port: strict.port, user: "pipeline", password: strict.password, database: db.database, multipleStatements: true });
      // the oracle is real: root's answer depends on the masked value
      expect(await truth("SELECT GROUP_CONCAT(id ORDER BY id) FROM customers WHERE email LIKE 'a%'")).toBe("1,2");
      for (const sql of [
        "SELECT id FROM customers WHERE email LIKE 'a%'",
        "SELECT id FROM customers c WHERE c.ssn > '4'",
        "SELECT id FROM customers WHERE `EMAIL` LIKE 'a%'", // backticks, other case
        "SELECT id FROM customers WHERE /*!email*/ LIKE 'a%'", // executed version comment
        "SELECT id FROM customers ORDER BY email",
        "SELECT id, email FROM customers ORDER BY 2", // ordinal
        "SELECT COUNT(*) FROM customers GROUP BY ssn",
        "SELECT o.id FROM orders o JOIN customers c ON c.email = 'x'",
        "SELECT a.id FROM customers a JOIN customers b USING (email)",
        "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE email LIKE 'a%')",
        "SELECT id FROM (SELECT id, email AS e FROM customers) s WHERE s.e LIKE 'a%'", // laundered through an alias
        "SELECT id FROM v_pred WHERE e LIKE 'a%'", // through a masked view
        "SELECT id FROM v_pred WHERE id = 1",
        "SELECT id, CASE WHEN email LIKE 'a%' THEN 1 END AS x FROM customers",
        "SELECT 1; SELECT id FROM customers HAVING email LIKE 'a%'",
      ]) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
        expect(e.message, sql).toMatch(/statement refused by masking: masked data in a predicate/);
      }
      // the binary protocol: the prepare is refused
      const pe = await c.execute("SELECT id FROM customers WHERE email = ?", ["ada@example.com"]).catch((x) => x);
      expect(pe).toMatchObject({ errno: 1227 });
      // a `*` ordered or grouped by position, and HANDLER reads through an index, reach masked data unnamed
      await other("ALTER TABLE customers ADD UNIQUE KEY uq_mail (email)");
      try {
        // the oracles are real: root's answers follow the masked values
        expect(await truth("SELECT * FROM customers ORDER BY 3 DESC LIMIT 1")).toContain("Grace Hopper");
        expect(await truth("HANDLER customers OPEN; HANDLER customers READ uq_mail = ('alan@example.com'); HANDLER customers CLOSE")).toContain("Alan Turing");
        await c.query("HANDLER customers OPEN");
        for (const sql of [
          "SELECT * FROM customers ORDER BY 3",
          "SELECT *, 1 FROM customers GROUP BY 3",
          "select c.* from customers c order by 3 desc limit 1",
          "HANDLER customers READ uq_mail = ('alan@example.com')",
          "handler customers read `uq_mail` first",
          "HANDLER customers READ uq_mail > ('b')",
        ]) {
          const e = await c.query(sql).catch((x) => x);
          expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
          expect(e.message, sql).toMatch(/statement refused by masking: masked data in a predicate/);
        }
        // a HANDLER read in the table's own order is no oracle
        expect((await rows(c, "HANDLER customers READ FIRST"))[0]).toMatchObject({ id: 1, email: "[REDACTED]" });
        await c.query("HANDLER customers CLOSE");
      } finally {
        await c.query("HANDLER customers CLOSE").catch(() => undefined); // its metadata lock would hold the ALTER
        await other("ALTER TABLE customers DROP KEY uq_mail");
      }
      // masked data outside predicates is allowed (and masked); predicates on plain columns are allowed
      expect(await rows(c, "SELECT id, email FROM customers WHERE id = 1 ORDER BY name")).toEqual([{ id: 1, email: "[REDACTED]" }]);
      expect(await rows(c, "SELECT id FROM customers WHERE name LIKE 'Ada%' ORDER BY 1")).toEqual([{ id: 1 }]);
      await c.end();
    } finally {
      await strict.close();
    }
  });

  it("predicates: refuse — INTERSECT / EXCEPT / UNION DISTINCT and SELECT DISTINCT compare whole rows (an equality test on a masked column without a WHERE): refused; UNION ALL and COUNT(DISTINCT) are not", async () => {
    // the oracle is real: one row exactly when the guess is someone's e-mail
    expect(await truth(`SELECT COUNT(*) FROM (SELECT email FROM customers INTERSECT SELECT '${email1}') t`)).toBe("1");
    expect(await truth("SELECT COUNT(*) FROM (SELECT email FROM customers INTERSECT SELECT 'nobody@example.com') t")).toBe("0");
    expect(await truth(`SELECT COUNT(*) FROM (SELECT email FROM customers UNION SELECT '${email1}') t`)).toBe(await truth("SELECT COUNT(*) FROM customers"));
    // SELECT DISTINCT too: two rows (0 and 1) exactly when the guess is someone's e-mail
    expect(await truth(`SELECT COUNT(*) FROM (SELECT DISTINCT email = '${email1}' FROM customers) t`)).toBe("2");
    expect(await truth("SELECT COUNT(*) FROM (SELECT DISTINCT email = 'nobody@example.com' FROM customers) t")).toBe("1");
    const strict = await startMysqlGateway(db, { policy: POLICY, masking: [{ ...MASKING[0]!, mask: { predicates: "refuse" as const } }] });
    try {
      const c = await mysql.createConnection({ host: "127.0.0.1", port: strict.port, user: "pipeline", password: strict.password, database: db.database });
      for (const sql of [
        `SELECT email FROM customers INTERSECT SELECT '${email1}'`,
        `select email from customers intersect select '${email1}'`,
        `SELECT '${email1}' EXCEPT SELECT email FROM customers`,
        `SELECT email FROM customers UNION SELECT '${email1}'`,
        `SELECT email FROM customers UNION DISTINCT SELECT '${email1}'`,
        `SELECT COUNT(*) AS n FROM (SELECT \`email\` FROM customers INTERSECT SELECT '${email1}') t`,
        `SELECT * FROM customers INTERSECT SELECT 1, 'Ada Lovelace', '${email1}', '123-45-6789', '4111 1111 1111 1111', 'first'`,
        `/*!SELECT email FROM customers INTERSECT SELECT '${email1}'*/`,
        `SELECT DISTINCT email = '${email1}' FROM customers`,
        `SELECT SQL_NO_CACHE DISTINCTROW email = '${email1}' AS hit FROM customers`,
        `SELECT COUNT(*) FROM (SELECT DISTINCT email = '${email1}' FROM customers) t`,
      ]) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ errno: 1227, message: expect.stringContaining("compares whole rows") });
      }
      await expect(c.prepare(`SELECT email FROM customers INTERSECT SELECT ?`)).rejects.toMatchObject({ errno: 1227 });
      // UNION ALL compares nothing: allowed, masked
      const [all] = await c.query(`SELECT email FROM customers UNION ALL SELECT 'x'`);
      expect((all as unknown[]).length).toBe(Number(await truth("SELECT COUNT(*) FROM customers")) + 1);
      expect(JSON.stringify(all)).not.toContain(email1);
      // An aggregate's DISTINCT answers one row whatever the guess: allowed (its value derived).
      const [counted] = await c.query(`SELECT COUNT(DISTINCT email) AS n FROM customers`);
      expect((counted as unknown[]).length).toBe(1);
      await c.end();
    } finally {
      await strict.close();
    }
  });

  it("NATURAL JOIN with a derived table whose string alias is a masked column's name compares it unnamed: its warnings are withheld, and predicates: refuse refuses it", async () => {
    // the attacks are real: root's warnings quote the e-mails, and the join is an equality oracle
    const join = "SELECT * FROM customers NATURAL JOIN (SELECT 1 AS 'email') x";
    expect(await truth(`${join}; SHOW WARNINGS`)).toContain(email1);
    expect(await truth(`SELECT id FROM customers NATURAL JOIN (SELECT '${email1}' AS 'email') x`)).toBe("1");
    const c = await connect();
    for (const sql of [join, "select c.id from customers c natural left join (select 1 'email') x", "SELECT id FROM customers NATURAL JOIN (SELECT 1 AS 'email', 2 AS 'ssn') x", "SELECT 1 FROM customers /*!NATURAL JOIN (SELECT 1 AS 'email') x */"]) {
      await c.query(sql);
      const w = JSON.stringify(await rows(c, "SHOW WARNINGS"));
      expect(w, sql).not.toContain(email1);
      expect(w, sql).toContain("[REDACTED]");
      // in the same text
      const [[, same]] = (await c.query(`${sql}; SHOW WARNINGS`)) as unknown as [[unknown, Record<string, unknown>[]]];
      expect(JSON.stringify(same), sql).not.toContain(email1);
    }
    // binary protocol
    await c.execute("SELECT id FROM customers NATURAL JOIN (SELECT ? AS 'email') x", [1]);
    expect(JSON.stringify(await rows(c, "SHOW WARNINGS"))).not.toContain(email1);
    await c.end();
    const strict = await startMysqlGateway(db, { policy: POLICY, masking: [{ ...MASKING[0]!, mask: { predicates: "refuse" as const } }] });
    try {
      const s = await mysql.createConnection({ host: "127.0.0.1", port: strict.port, user: "pipeline", password: strict.password, database: db.database });
      for (const sql of [`SELECT id FROM customers NATURAL JOIN (SELECT '${email1}' AS 'email') x`, `SELECT id FROM customers NATURAL RIGHT JOIN (SELECT '${email1}' "email") x`]) {
        const e = await s.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
        expect(e.message, sql).toMatch(/NATURAL JOIN/);
      }
      await s.end();
    } finally {
      await strict.close();
    }
  });

  it("server texts of statements that read masked data: SHOW WARNINGS / SHOW ERRORS rows and ERR messages are withheld; codes kept", async () => {
    // ground truth: the server's warning echoes the value
    expect(await truth("SELECT CAST(email AS SIGNED) FROM customers WHERE id = 1; SHOW WARNINGS")).toContain(email1);
    const c = await connect();
    const texts = async (sql: string) => JSON.stringify(await rows(c, sql));
    expect(await rows(c, "SELECT CAST(email AS SIGNED) AS n FROM customers WHERE id = 1")).toEqual([{ n: null }]);
    // 1. SHOW WARNINGS right after: no value (every column derived); the count is fine
    const w = await rows(c, "SHOW WARNINGS");
    expect(w.length).toBe(1);
    expect(JSON.stringify(w)).not.toContain("ada");
    // (without an alias: a name would make the gateway read the catalog first, which clears the list)
    expect(await rows(c, "SELECT @@warning_count")).toEqual([{ "@@warning_count": 1 }]);
    // 2. after a statement that uses no table (the server keeps the list): still withheld
    await rows(c, "SELECT 1");
    expect(await texts("SHOW WARNINGS")).not.toContain("ada");
    expect(await texts("SHOW ERRORS")).not.toContain("ada");
    // 3. GET DIAGNOSTICS into a variable: refused, the variable stays empty
    const g = await c.query("GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT").catch((x) => x);
    expect(g).toMatchObject({ errno: 1227 });
    expect(await rows(c, "SELECT @m AS m")).toEqual([{ m: null }]);
    // 4. in the same multi-statement text, and through the binary protocol
    expect(await texts("SELECT CAST(ssn AS SIGNED) AS n FROM customers WHERE id = 2; SHOW WARNINGS")).not.toContain(await truth("SELECT ssn FROM customers WHERE id = 2"));
    expect(JSON.stringify((await c.execute("SHOW WARNINGS"))[0])).not.toContain("-");
    // 5. an ERR of such a statement: code and SQLSTATE kept, text replaced
    const e = await c.query("SELECT id FROM customers WHERE email = (SELECT email FROM customers)").catch((x) => x);
    expect(e).toMatchObject({ errno: 1242, sqlState: "21000" });
    expect(e.message).toMatch(/withheld: the statement reads masked data/);
    // writes that would make the server echo values (duplicate key, truncation) are refused before they run
    await other("CREATE TABLE uniq (id INT, v VARCHAR(200), UNIQUE KEY (v)); INSERT INTO uniq VALUES (0, 'ada@example.com')");
    for (const sql of ["INSERT INTO uniq SELECT id, email FROM customers", "INSERT INTO uniq SELECT * FROM (SELECT id, email FROM customers) t", "INSERT INTO notes SELECT * FROM customers", "CREATE TABLE copy1 AS SELECT * FROM customers"]) {
      const x = await c.query(sql).catch((y) => y);
      expect(x, sql).toMatchObject({ errno: 1227 });
      expect(x.message, sql).not.toContain("ada");
    }
    expect(await truth("SELECT COUNT(*) FROM uniq")).toBe("1");
    // an untainted statement that ends without warnings clears the state: warnings are plain again
    await rows(c, "SELECT id FROM notes");
    await rows(c, "SELECT CAST('x1' AS SIGNED) AS n");
    expect(await texts("SHOW WARNINGS")).toContain("x1");
    await c.end();
  });

  it("code the gateway cannot read is refused under column rules: SQL-level PREPARE/EXECUTE, EXECUTE IMMEDIATE, CALL, stored functions", async () => {
    // The attacks are real: root shows what each would hand out.
    await other(`CREATE FUNCTION leak_f(i INT) RETURNS VARCHAR(200) READS SQL DATA RETURN (SELECT upper(email) FROM customers WHERE id = i);
      CREATE PROCEDURE leak_p() SELECT upper(email) AS e FROM customers WHERE id = 1;
      CREATE PROCEDURE leak_v() SET @leaked = (SELECT email FROM customers WHERE id = 1);`);
    expect(await truth("SELECT leak_f(1)")).toBe(email1.toUpperCase());
    const c = await connect();
    for (const sql of [
      // 1. the query in a string: the taint analysis reads no identifier in it
      "PREPARE s FROM 'SELECT upper(email) AS e FROM customers WHERE id = 1'",
      "EXECUTE s",
      // 2. built from pieces in a variable
      "SET @q = CONCAT('SELECT upper(em', 'ail) FROM customers'); PREPARE s2 FROM @q",
      // 3. run at once
      "EXECUTE IMMEDIATE 'SELECT upper(email) FROM customers WHERE id = 1'",
      // 4. a procedure returning a derived value, or putting it in a variable
      "CALL leak_p()",
      "CALL leak_v()",
      // 5. a stored function, bare, qualified, backticked, inside an expression
      "SELECT leak_f(1) AS x",
      `SELECT ${db.database}.leak_f(1) AS x`,
      "SELECT `leak_f`(1) AS x",
      "SELECT id FROM notes WHERE concat(leak_f(1), '') <> ''",
      "SELECT HIGH_PRIORITY leak_f(1) AS x",
      // a trigger's body runs later, with its definer's rights (it would copy a value on every insert)
      "CREATE TRIGGER leak_t BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = (SELECT c FROM v_later LIMIT 1)",
    ]) {
      const e = await c.query(sql).catch((x) => x);
      expect(e, sql).toMatchObject({ errno: 1227 });
      expect(String(e.message), sql).toMatch(/cannot read/);
    }
    // nothing ran: the variable the procedure would have set is empty, no trigger was made
    expect(await rows(c, "SELECT @leaked AS v")).toEqual([{ v: null }]);
    expect(await truth("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'leak_t'")).toBe("0");
    // a view whose body calls the function (made by another session) is masked whole
    await other("CREATE VIEW v_fn AS SELECT id, leak_f(id) AS x FROM notes");
    expect(await truth("SELECT x FROM v_fn WHERE id = 1")).toBe(email1.toUpperCase());
    expect(await rows(c, "SELECT x FROM v_fn WHERE id = 1")).toEqual([{ x: "[REDACTED]" }]);
    // built-in functions still work, and the protocol's prepared statements are read and masked
    expect(await rows(c, "SELECT upper('x') AS u, concat('a', 'b') AS c")).toEqual([{ u: "X", c: "ab" }]);
    expect((await c.execute("SELECT email FROM customers WHERE id = ?", [1]))[0]).toEqual([{ email: "[REDACTED]" }]);
    await c.end();
  });
  it("DDL that renames, exchanges or copies a table named by a table.column rule, or renames a masked column, is refused in every spelling", async () => {
    // The attacks are real: root shows each would run (a throwaway copy), so a refusal is what stops it.
    await other("CREATE TABLE probe_src LIKE customers; RENAME TABLE probe_src TO probe_dst; DROP TABLE probe_dst");
    await other("CREATE TABLE t_copy LIKE customers; CREATE TABLE t_part LIKE customers; ALTER TABLE t_part PARTITION BY HASH (id) PARTITIONS 1");
    const c = await connect();
    const before = gw.events.length;
    const attacks = [
      // RENAME TABLE: plain, keyword case, name case, backticks, db-qualified (also into another schema), multi-table
      "RENAME TABLE customers TO c_moved",
      "rEnAmE tAbLe customers tO c_moved",
      "RENAME TABLE CUSTOMERS TO c_moved",
      "RENAME TABLE `customers` TO `c_moved`",
      `RENAME TABLE ${db.database}.customers TO ${db.database}.c_moved`,
      `RENAME TABLE \`${db.database}\`.\`customers\` TO other.customers`,
      "RENAME TABLE notes TO notes2, customers TO c_moved",
      "RENAME TABLE notes TO notes2; RENAME TABLE customers TO c_moved",
      // version comments the server runs, around the statement or around the name
      "/*!RENAME TABLE customers TO c_moved*/",
      "/*M!100000 ALTER TABLE customers RENAME TO c_moved*/",
      "RENAME TABLE /*!customers*/ TO c_moved",
      // ALTER TABLE … RENAME [TO | AS], with options
      "ALTER TABLE customers RENAME TO c_moved",
      "ALTER TABLE customers RENAME c_moved",
      "ALTER TABLE customers RENAME AS c_moved",
      "ALTER ONLINE IGNORE TABLE customers RENAME c_moved",
      // a masked column renamed: RENAME COLUMN, CHANGE (column names are case-insensitive), backticked, in a version comment
      "ALTER TABLE customers RENAME COLUMN email TO contact",
      "ALTER TABLE customers CHANGE email contact VARCHAR(200)",
      "ALTER TABLE customers CHANGE COLUMN `EMAIL` contact VARCHAR(200)",
      "ALTER TABLE customers /*!CHANGE ssn x CHAR(11)*/",
      // copies: CREATE TABLE … AS SELECT / LIKE, INSERT … SELECT (named columns, *, t.*), EXCHANGE PARTITION
      "CREATE TABLE c_copy AS SELECT * FROM customers",
      "CREATE TABLE c_copy AS SELECT id, email AS e FROM customers",
      "CREATE TABLE c_copy SELECT id, name FROM customers",
      "CREATE TABLE c_copy LIKE customers",
      "CREATE TABLE c_copy LIKE `customers`",
      "INSERT INTO t_copy SELECT * FROM customers",
      "INSERT INTO t_copy (id, name, email) SELECT id, name, email FROM customers",
      "INSERT INTO t_copy SELECT c.* FROM customers c",
      "ALTER TABLE t_part EXCHANGE PARTITION p0 WITH TABLE customers",
    ];
    for (const sql of attacks) {
      const e = await c.query(sql).catch((x) => x);
      expect(e, sql).toMatchObject({ errno: 1227, sqlState: "42000" });
      expect(String(e.message), sql).toMatch(/masked|masking/);
    }
    // the protocol's prepared statement (mysql2 execute) is refused at prepare
    await expect(c.execute("ALTER TABLE customers RENAME TO c_moved")).rejects.toMatchObject({ errno: 1227 });
    // ANSI_QUOTES: "…" is an identifier
    await c.query("SET sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES'");
    for (const sql of ['RENAME TABLE "customers" TO "c_moved"', 'ALTER TABLE "customers" RENAME "c_moved"', 'ALTER TABLE customers RENAME COLUMN "email" TO "contact"']) {
      await expect(c.query(sql), sql).rejects.toMatchObject({ errno: 1227 });
    }
    await c.query("SET sql_mode = 'STRICT_TRANS_TABLES'");
    // ground truth from root: nothing moved, nothing copied, the masked table and its columns are where the rules name them
    expect(await truth(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME IN ('c_moved', 'c_copy', 'notes2') OR (TABLE_SCHEMA = 'other' AND TABLE_NAME = 'customers')`)).toBe("0");
    expect(await truth("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers'")).toBe("id,name,email,ssn,card,note");
    expect(await truth("SELECT email FROM customers WHERE id = 1")).toBe(email1);
    expect(await truth("SELECT (SELECT COUNT(*) FROM t_copy) + (SELECT COUNT(*) FROM t_part)")).toBe("0");
    expect(await truth("SELECT COUNT(*) FROM customers")).toBe("3");
    // the trail: each refusal is recorded with masking.derived (refused), naming the table or column, never a value
    const refused = gw.events.slice(before).filter((e) => e.type === "query" || e.type === "prepare");
    expect(refused.length).toBeGreaterThanOrEqual(attacks.length);
    for (const e of refused) expect(e, JSON.stringify(e)).toMatchObject({ verdict: "refused", guard: "masking", derived: { rule: "pii", refused: true } });
    expect(JSON.stringify(gw.events.slice(before))).not.toContain(email1);
    // tables no rule names are renamed as usual, and plain columns of the masked table can still be read
    await c.query("RENAME TABLE notes TO notes_r; RENAME TABLE notes_r TO notes");
    expect(await truth("SELECT body FROM notes WHERE id = 1")).toBe("hello");
    expect(await rows(c, "SELECT name FROM customers WHERE id = 1")).toEqual([{ name: "Ada Lovelace" }]);
    await c.end();
  });

  it("records masking.derived (rule, sources, not refused) before a statement that reads masked data runs, as PostgreSQL does", async () => {
    const c = await connect();
    const before = gw.events.length;
    expect(await rows(c, "SELECT id, lower(email) AS e FROM customers WHERE id = 1")).toEqual([{ id: 1, e: "[REDACTED]" }]);
    expect((await c.execute("SELECT concat(ssn, '') AS s FROM customers WHERE id = ?", [1]))[0]).toEqual([{ s: "[REDACTED]" }]);
    expect(await rows(c, "SELECT name FROM customers WHERE id = 1")).toEqual([{ name: "Ada Lovelace" }]);
    const events = gw.events.slice(before);
    const derived = events.filter((e) => e.type === "masking.derived");
    // the query, then the prepared statement at prepare and at execute; the plain read records none
    expect(derived).toEqual([
      { type: "masking.derived", rule: "pii", sources: ["column email"], refused: false },
      { type: "masking.derived", rule: "pii", sources: ["column ssn"], refused: false },
      { type: "masking.derived", rule: "pii", sources: ["column ssn"], refused: false },
    ]);
    // recorded before the statement's result
    expect(events.findIndex((e) => e.type === "masking.derived")).toBeLessThan(events.findIndex((e) => e.type === "result"));
    await c.end();
  });
  it("value statistics (mysql.column_stats min/max and JSON histograms) hold a masked column's values: reading them is masked, however spelt", async () => {
    // A DBA's ANALYZE … PERSISTENT copies email values into mysql.column_stats; the pipeline's accounts may read it (monitoring grants).
    const users = Object.values(db.levels).map((l) => `'${l.user}'@'%'`).join(", ");
    await db.rootSql(`SET SESSION histogram_type = 'JSON_HB'; ANALYZE TABLE customers PERSISTENT FOR COLUMNS (email, name) INDEXES (); GRANT SELECT ON mysql.column_stats TO ${users};`, db.database);
    const minEmail = await truth("SELECT min_value FROM mysql.column_stats WHERE db_name = DATABASE() AND table_name = 'customers' AND column_name = 'email'");
    expect(minEmail).toMatch(/@example\.com$/); // the attack is real: root sees a masked value there
    expect(await truth("SELECT histogram FROM mysql.column_stats WHERE db_name = DATABASE() AND table_name = 'customers' AND column_name = 'email'")).toContain("@example.com");
    const c = await connect();
    // varbinary columns come back as Buffers: shown as text
    const shown = (v: unknown) => JSON.stringify(v, (_k, x) => (x?.type === "Buffer" && Array.isArray(x.data) ? Buffer.from(x.data).toString("utf8") : x));
    const where = "WHERE table_name = 'customers' AND column_name = 'email'";
    const reads = [
      `SELECT min_value, max_value, histogram FROM mysql.column_stats ${where}`,
      `SELECT * FROM mysql.column_stats ${where}`,
      `SELECT min_value AS m FROM \`mysql\`.\`column_stats\` ${where}`,
      `SELECT s.max_value FROM mysql.column_stats s ${where.replace(/table_name|column_name/g, (x) => `s.${x}`)}`,
      `SELECT CONVERT(min_value USING utf8mb4) AS m FROM mysql.column_stats ${where}`,
      `/*!SELECT min_value FROM mysql.column_stats ${where}*/`,
    ];
    for (const sql of reads) {
      const got = shown(await rows(c, sql));
      expect(got, sql).toContain("[REDACTED]");
      expect(got, sql).not.toContain("@example.com");
    }
    // the protocol's prepared statements, and `USE mysql` then the bare name
    expect(shown((await c.execute("SELECT min_value FROM mysql.column_stats WHERE table_name = ? AND column_name = ?", ["customers", "email"]))[0])).toBe('[{"min_value":"[REDACTED]"}]');
    await c.query("USE mysql");
    expect(shown(await rows(c, `SELECT min_value, max_value FROM column_stats ${where}`))).toBe('[{"min_value":"[REDACTED]","max_value":"[REDACTED]"}]');
    await c.query(`USE ${db.database}`);
    // copying the statistics out is a tainted write: refused, nothing written
    await expect(c.query(`INSERT INTO notes SELECT 9, min_value FROM mysql.column_stats ${where}`)).rejects.toMatchObject({ errno: 1227 });
    expect(await truth("SELECT COUNT(*) FROM notes WHERE id = 9")).toBe("0");
    // a view over the statistics, created by another session, is a masked view
    await other(`CREATE VIEW v_stats AS SELECT table_name AS t, column_name AS col, min_value AS lo FROM mysql.column_stats`);
    expect(await truth("SELECT lo FROM v_stats WHERE t = 'customers' AND col = 'email'")).toBe(minEmail);
    expect(shown(await rows(c, "SELECT lo FROM v_stats WHERE t = 'customers' AND col = 'email'"))).toBe('[{"lo":"[REDACTED]"}]');
    await c.end();
  });

  it("the optimizer trace quotes a const table's masked value (n.body = 'ada@…'): reading it is masked, however spelt, in a multi-statement text", async () => {
    // The optimizer reads customers' row 1 while planning and writes the substituted condition into
    // the trace, which the next statement of the same text reads (no privilege needed).
    const tainted = "SELECT n.id FROM customers c JOIN notes n ON n.body = c.email WHERE c.id = 1";
    expect(await truth(`SET optimizer_trace='enabled=on'; ${tainted}; SELECT trace FROM information_schema.OPTIMIZER_TRACE`)).toContain(`'${email1}'`); // the attack is real
    const c = await connect();
    await c.query("SET optimizer_trace='enabled=on'");
    for (const read of [
      "SELECT trace FROM information_schema.OPTIMIZER_TRACE",
      "select TRACE AS t from INFORMATION_SCHEMA.optimizer_trace",
      "SELECT `trace` FROM `information_schema`.`OPTIMIZER_TRACE`",
      "SELECT CONCAT('', trace) AS t, missing_bytes_beyond_max_mem_size FROM information_schema.OPTIMIZER_TRACE",
      "/*!SELECT trace FROM information_schema.OPTIMIZER_TRACE*/",
    ]) {
      const [results] = (await c.query(`${tainted}; ${read}`)) as unknown as [unknown[][]];
      const got = JSON.stringify(results[1]);
      expect(got, read).toContain("[REDACTED]");
      expect(got, read).not.toContain("@example.com");
    }
    // a view over the trace (created outside the gateway) is a masked view
    await other("CREATE VIEW v_trace AS SELECT trace AS t FROM information_schema.OPTIMIZER_TRACE");
    const [viaView] = (await c.query(`${tainted}; SELECT t FROM v_trace`)) as unknown as [unknown[][]];
    expect(viaView[1]).toEqual([{ t: "[REDACTED]" }]);
    // copying it out is a tainted write: refused, nothing written
    await expect(c.query(`${tainted}; INSERT INTO notes SELECT 8, LEFT(trace, 200) FROM information_schema.OPTIMIZER_TRACE`)).rejects.toMatchObject({ errno: 1227 });
    expect(await truth("SELECT COUNT(*) FROM notes WHERE id = 8")).toBe("0");
    await c.end();
  });

  it("query plans quote a const table's masked value without the statement naming it (NATURAL JOIN): EXPLAIN / ANALYZE output and EXPLAIN EXTENDED's note are masked", async () => {
    // An application table with its own email column, not under the customers.email rule.
    await other("CREATE TABLE subscribers (id INT, email VARCHAR(200), KEY (id)); INSERT INTO subscribers VALUES (1, 'x@x.test'), (2, 'y@y.test'), (3, 'z@z.test'), (4, 'w@w.test')");
    const joined = "SELECT c.id FROM customers c NATURAL JOIN subscribers s WHERE c.id = 1";
    // the attack is real: root's plan and note show customer 1's e-mail
    expect(await truth(`EXPLAIN FORMAT=JSON ${joined}`)).toContain(`s.email = '${email1}'`);
    expect(await truth(`EXPLAIN EXTENDED ${joined}; SHOW WARNINGS`)).toContain(`'${email1}'`);
    const c = await connect();
    const plans = [
      `EXPLAIN FORMAT=JSON ${joined}`,
      `explain format=json ${joined.toLowerCase()}`,
      `ANALYZE FORMAT=JSON ${joined}`,
      `DESCRIBE FORMAT=JSON ${joined}`,
      `/*!EXPLAIN FORMAT=JSON ${joined}*/`,
      // the plan of a statement run with per-statement settings (the classifier reads the inner statement)
      `SET STATEMENT max_statement_time = 10 FOR EXPLAIN FORMAT=JSON ${joined}`,
    ];
    for (const sql of plans) {
      const got = JSON.stringify(await rows(c, sql));
      expect(got, sql).toContain("[REDACTED]");
      expect(got, sql).not.toContain("@example.com");
    }
    const prepared = JSON.stringify((await c.execute(`EXPLAIN FORMAT=JSON ${joined.replace("= 1", "= ?")}`, [1]))[0]);
    expect(prepared).toContain("[REDACTED]");
    expect(prepared).not.toContain("@example.com");
    // EXPLAIN EXTENDED's note 1003 (the rewritten query) in SHOW WARNINGS: after it, and in the same text
    await c.query(`EXPLAIN EXTENDED ${joined}`);
    expect(JSON.stringify(await rows(c, "SHOW WARNINGS"))).not.toContain("@example.com");
    const [both] = (await c.query(`EXPLAIN EXTENDED ${joined}; SHOW WARNINGS`)) as unknown as [unknown[][]];
    expect(JSON.stringify(both[1])).toContain("[REDACTED]");
    expect(JSON.stringify(both)).not.toContain("@example.com");
    // A plan stored in a variable (MySQL 8.1+ `EXPLAIN FORMAT=JSON INTO @v …`) would come back
    // unmasked from a later `SELECT @v`: refused by the gateway like a masked read that assigns
    // (MariaDB would answer a syntax error instead, errno 1064), in every spelling.
    for (const sql of [`EXPLAIN FORMAT=JSON INTO @v ${joined}`, `explain format=json into @v ${joined.toLowerCase()}`, `/*!EXPLAIN FORMAT=JSON INTO @v ${joined}*/`, `SET STATEMENT max_statement_time = 10 FOR EXPLAIN FORMAT=JSON INTO @v ${joined}`, `SELECT 1; EXPLAIN FORMAT=JSON INTO @v ${joined}`]) {
      await expect(c.query(sql), sql).rejects.toMatchObject({ errno: 1227, message: expect.stringContaining("assigns a variable or selects INTO") });
    }
    // and as a protocol prepared statement (COM_STMT_PREPARE is classified like a query)
    await expect(c.execute(`EXPLAIN FORMAT=JSON INTO @v ${joined.replace("= 1", "= ?")}`, [1])).rejects.toMatchObject({ errno: 1227, message: expect.stringContaining("assigns a variable or selects INTO") });
    // DESCRIBE of a table is not a plan: its column list stays readable
    expect((await rows(c, "DESCRIBE subscribers")).map((r) => r.Field)).toEqual(["id", "email"]);
    await c.end();
  });

  it("the InnoDB monitor (SHOW ENGINE INNODB STATUS, with PROCESS) quotes locked records and deadlocked statements: its text is redacted under column rules", async () => {
    const users = Object.values(db.levels).map((l) => `'${l.user}'@'%'`).join(", ");
    await db.rootSql(`GRANT PROCESS ON *.* TO ${users};`, db.database);
    // Ground truth: the server gives the pipeline's accounts the monitor's text.
    expect(await db.rootSql("SHOW ENGINE INNODB STATUS", db.database)).toContain("INNODB MONITOR OUTPUT");
    const c = await connect();
    for (const sql of ["SHOW ENGINE INNODB STATUS", "show engine innodb status", "/*!SHOW ENGINE INNODB STATUS*/", "Show Engine InnoDB Status"]) {
      const got = await rows(c, sql);
      expect(got.length, sql).toBeGreaterThan(0);
      for (const row of got) expect(Object.values(row), sql).toContain("[REDACTED]");
      expect(JSON.stringify(got), sql).not.toContain("INNODB MONITOR OUTPUT");
    }
    await c.end();
  });

  it("relation names with capitals are looked up as spelt (the per-statement lookup): a table stays plain, a view over a masked column is redacted", async () => {
    await other("CREATE TABLE MixedCase (id INT PRIMARY KEY, label VARCHAR(50)); INSERT INTO MixedCase VALUES (1, 'plain'); CREATE VIEW `VwUpper` AS SELECT id, email AS label FROM customers WHERE id = 1");
    expect(await truth("SELECT label FROM VwUpper")).toBe(email1);
    const c = await connect();
    expect(await rows(c, "SELECT label FROM MixedCase WHERE id = 1")).toEqual([{ label: "plain" }]);
    expect(await rows(c, "SELECT label FROM `VwUpper`")).toEqual([{ label: "[REDACTED]" }]);
    // replaced by another session between two statements: seen before the next read
    await other("CREATE OR REPLACE VIEW MixedView AS SELECT id, label FROM MixedCase");
    expect(await rows(c, "SELECT label FROM MixedView WHERE id = 1")).toEqual([{ label: "plain" }]);
    await other("CREATE OR REPLACE VIEW MixedView AS SELECT id, email AS label FROM customers");
    expect(await truth("SELECT label FROM MixedView WHERE id = 1")).toBe(email1);
    expect(await rows(c, "SELECT label FROM MixedView WHERE id = 1")).toEqual([{ label: "[REDACTED]" }]);
    await c.end();
  });

  it("hostile relation names (quotes, a backslash, a backtick, comment and UNION text) reach the per-statement lookup as data: a table created after the first read stays plain, such a view over a masked column is redacted", async () => {
    const table = "t'q\"x\\-- y";
    const view = "v') UNION SELECT 1 -- `x";
    const quoted = (n: string) => `\`${n.replace(/`/g, "``")}\``;
    const c = await connect();
    expect(await rows(c, "SELECT body FROM notes WHERE id = 1")).toEqual([{ body: "hello" }]); // the whole catalog read
    await other(`CREATE TABLE ${quoted(table)} (id INT PRIMARY KEY, label VARCHAR(50)); INSERT INTO ${quoted(table)} VALUES (1, 'plain'); CREATE VIEW ${quoted(view)} AS SELECT id, email AS label FROM customers WHERE id = 1`);
    expect(await truth(`SELECT label FROM ${quoted(view)}`)).toBe(email1);
    // Known only through the targeted lookup (an unknown relation's columns would be redacted).
    expect(await rows(c, `SELECT label FROM ${quoted(table)} WHERE id = 1`)).toEqual([{ label: "plain" }]);
    expect(await rows(c, `SELECT label FROM ${quoted(view)}`)).toEqual([{ label: "[REDACTED]" }]);
    expect(await rows(c, `SELECT t.label AS a, v.label AS b FROM ${quoted(table)} t JOIN ${quoted(view)} v USING (id)`)).toEqual([{ a: "[REDACTED]", b: "[REDACTED]" }]);
    await c.end();
  });

  it("a FULLTEXT index's words (INNODB_FT_INDEX_TABLE / _CACHE, with PROCESS and a DBA's innodb_ft_aux_table) are masked", async () => {
    const admin = `'${db.levels.admin.user}'@'%'`;
    await other(`ALTER TABLE customers ADD FULLTEXT KEY ft_email (email); SET GLOBAL innodb_ft_aux_table = '${db.database}/customers'; GRANT PROCESS ON *.* TO ${admin}`);
    try {
      expect((await truth("SELECT word FROM information_schema.INNODB_FT_INDEX_TABLE")).split("\n")).toContain("ada"); // the attack is real
      const c = await connect();
      for (const sql of [
        "SELECT word, doc_id FROM information_schema.INNODB_FT_INDEX_TABLE",
        "select WORD from information_schema.innodb_ft_index_table",
        "SELECT `word` FROM `information_schema`.`INNODB_FT_INDEX_TABLE` UNION ALL SELECT word FROM information_schema.INNODB_FT_INDEX_CACHE",
        "/*!SELECT word FROM information_schema.INNODB_FT_INDEX_TABLE*/",
      ]) {
        const got = await rows(c, sql);
        expect(got.length, sql).toBeGreaterThan(0);
        expect(JSON.stringify(got), sql).not.toMatch(/"(ada|alan|grace)"/);
        expect(got.every((r) => r.word === "[REDACTED]" || r.WORD === "[REDACTED]"), sql).toBe(true);
      }
      await c.end();
    } finally {
      await other(`SET GLOBAL innodb_ft_aux_table = DEFAULT; REVOKE PROCESS ON *.* FROM ${admin}; ALTER TABLE customers DROP KEY ft_email`);
    }
  });

  it("lock data (INNODB_LOCKS.LOCK_DATA, with PROCESS) quotes the locked key of a unique index over a masked column: masked", async () => {
    const admin = `'${db.levels.admin.user}'@'%'`;
    await other(`ALTER TABLE customers ADD UNIQUE KEY uq_lock_email (email); GRANT PROCESS ON *.* TO ${admin}`);
    const [holder, waiter, reader] = [await connect(), await connect(), await connect()];
    try {
      // two of the attacker's own sessions make a lock wait on the e-mail index
      const lock = "SELECT id FROM customers FORCE INDEX (uq_lock_email) WHERE email >= 'a' FOR UPDATE";
      await holder.query("START TRANSACTION");
      await holder.query(lock);
      await waiter.query("SET SESSION innodb_lock_wait_timeout = 5");
      const waiting = waiter.query(lock).catch((e) => e);
      let truthLocks = "";
      for (let i = 0; i < 50 && !truthLocks.includes("@"); i++) {
        await new Promise((r) => setTimeout(r, 100));
        truthLocks = await truth("SELECT lock_data FROM information_schema.INNODB_LOCKS");
      }
      expect(truthLocks).toContain(`'${email1}'`); // the attack is real
      for (const sql of ["SELECT lock_data FROM information_schema.INNODB_LOCKS", "SELECT * FROM information_schema.innodb_locks", "SELECT `lock_data` AS d FROM `information_schema`.`INNODB_LOCKS`", "/*!SELECT lock_data FROM information_schema.INNODB_LOCKS*/"]) {
        const got = JSON.stringify(await rows(reader, sql));
        expect(got, sql).toContain("[REDACTED]");
        expect(got, sql).not.toContain("@example.com");
      }
      await holder.query("ROLLBACK");
      await waiting;
    } finally {
      for (const c of [holder, waiter, reader]) await c.end();
      await other(`REVOKE PROCESS ON *.* FROM ${admin}; ALTER TABLE customers DROP KEY uq_lock_email`);
    }
  });

  it("other sessions' statement texts (PROCESSLIST.INFO, SHOW FULL PROCESSLIST) quote the masked values their WHERE compares: masked", async () => {
    // A job outside the gateway on the same account (every gateway session of a level shares it;
    // without PROCESS an account sees its own sessions' texts) runs a statement with an e-mail in
    // its WHERE, waiting on a row lock the attacker's gateway session holds.
    const job = await mysql.createConnection({ host: db.host, port: db.port, user: db.levels.admin.user, password: db.levels.admin.password, database: db.database });
    const [holder, reader] = [await connect(), await connect()];
    try {
      await holder.query("START TRANSACTION");
      await holder.query("SELECT id FROM customers WHERE id = 1 FOR UPDATE");
      await job.query("SET SESSION innodb_lock_wait_timeout = 10");
      const waiting = job.query(`UPDATE customers SET note = note WHERE email = '${email1}'`).catch((e) => e);
      let truthText = "";
      for (let i = 0; i < 50 && !truthText.includes(email1); i++) {
        await new Promise((r) => setTimeout(r, 100));
        truthText = await truth("SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE customers%'");
      }
      expect(truthText).toContain(email1); // the attack is real (root's view of the same row)
      for (const sql of [
        "SELECT INFO FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query'",
        "select info from INFORMATION_SCHEMA.processlist",
        "SELECT * FROM information_schema.PROCESSLIST",
        "SELECT `INFO_BINARY` AS i FROM `information_schema`.`PROCESSLIST`",
        "SHOW FULL PROCESSLIST",
        "show processlist",
        "/*!SELECT INFO FROM information_schema.PROCESSLIST*/",
      ]) {
        // (blob cells as text: INFO_BINARY)
        const got = JSON.stringify(await rows(reader, sql), (_k, v) => (v?.type === "Buffer" ? Buffer.from(v.data).toString() : v));
        expect(got, sql).toContain("[REDACTED]");
        expect(got, sql).not.toContain(email1);
      }
      const [bin] = await reader.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE COMMAND = ?", ["Query"]);
      expect(JSON.stringify(bin)).not.toContain(email1);
      // copied out it would leave masking: a tainted write, refused
      await expect(reader.query("INSERT INTO notes SELECT 99, INFO FROM information_schema.PROCESSLIST LIMIT 1")).rejects.toMatchObject({ errno: 1227 });
      await holder.query("ROLLBACK");
      await waiting;
    } finally {
      for (const c of [holder, reader, job]) await c.end();
    }
  });

  it("the binary log's events (SHOW BINLOG EVENTS, with BINLOG MONITOR) quote every write's text: masked", async () => {
    const logged = await startMariaDb({ serverArgs: ["--log-bin=gh-bin", "--binlog-format=STATEMENT", "--server-id=7"] });
    const lgw = await startMysqlGateway(logged, { policy: POLICY, masking: MASKING });
    try {
      await logged.rootSql(`GRANT BINLOG MONITOR ON *.* TO '${logged.levels.admin.user}'@'%'; UPDATE customers SET note = 'seen' WHERE email = 'ada@example.com'`, logged.database);
      expect(await logged.rootSql("SHOW BINLOG EVENTS")).toContain("ada@example.com"); // the attack is real
      const c = await mysql.createConnection({ host: "127.0.0.1", port: lgw.port, user: "pipeline", password: lgw.password, database: logged.database });
      for (const sql of ["SHOW BINLOG EVENTS", "show binlog events limit 100", "/*!SHOW BINLOG EVENTS*/"]) {
        const got = JSON.stringify((await c.query(sql))[0]);
        expect(got, sql).toContain("[REDACTED]");
        expect(got, sql).not.toContain("ada@example.com");
      }
      await c.end();
    } finally {
      await lgw.close();
      await logged.stop();
    }
  }, 120_000);

  it("CHECKSUM TABLE hashes every column without naming one (an equality oracle with a table of guesses): its result is derived, refused under predicates: refuse", async () => {
    // the oracle is real: a table of the same column types (any names) holding the readable
    // columns and a guessed e-mail has the same checksum exactly when the guess is right
    await other(`CREATE TABLE guesses (a INT PRIMARY KEY AUTO_INCREMENT, b VARCHAR(100) NOT NULL, c VARCHAR(200), d CHAR(11), e VARCHAR(19), f TEXT);
      INSERT INTO guesses SELECT * FROM customers;`);
    const sum = async (t: string) => (await truth(`CHECKSUM TABLE ${t}`)).split("\t")[1];
    expect(await sum("guesses")).toBe(await sum("customers"));
    await other("UPDATE guesses SET c = 'bob@example.com' WHERE a = 1");
    expect(await sum("guesses")).not.toBe(await sum("customers"));
    const c = await connect();
    try {
      for (const sql of ["CHECKSUM TABLE customers", "checksum table `customers` extended", "CHECKSUM TABLE guesses, customers QUICK", "/*!CHECKSUM TABLE customers*/"]) {
        const got = await rows(c, sql);
        expect(got.length, sql).toBeGreaterThan(0);
        for (const r of got) expect(r, sql).toEqual({ Table: "[REDACTED]", Checksum: null });
      }
    } finally {
      await c.end();
    }
    const strict = await startMysqlGateway(db, { policy: POLICY, masking: [{ ...MASKING[0]!, mask: { predicates: "refuse" as const } }] });
    try {
      const s = await mysql.createConnection({ host: "127.0.0.1", port: strict.port, user: "pipeline", password: strict.password, database: db.database });
      await expect(s.query("CHECKSUM TABLE customers")).rejects.toMatchObject({ errno: 1227, message: expect.stringContaining("CHECKSUM TABLE") });
      await s.end();
    } finally {
      await strict.close();
      await other("DROP TABLE guesses");
    }
  });

  it("a duplicate-key error quotes a unique key holding a masked column, though the write names none: withheld, code kept", async () => {
    // A multi-tenant key: the same person in two tenants; moving one row clashes on (tenant, email).
    await other("ALTER TABLE customers ADD COLUMN tenant INT NOT NULL DEFAULT 1, ADD UNIQUE KEY uq_tenant_email (tenant, email); INSERT INTO customers (id, name, email, tenant) VALUES (90, 'Ada Again', 'ada@example.com', 2)");
    try {
      const move = "UPDATE customers SET tenant = 1 WHERE id = 90";
      // the attack is real: the server's message quotes the key
      await expect(db.rootSql(move, db.database)).rejects.toThrow(`Duplicate entry '1-${email1}'`);
      const c = await connect();
      const err = await c.query(move).catch((e) => e);
      expect(err).toMatchObject({ errno: 1062, sqlState: "23000" });
      expect(err.message).toMatch(/withheld/);
      expect(err.message).not.toContain("@example.com");
      // prepared (binary protocol), and the INSERT spelling
      const prepared = await c.execute("UPDATE customers SET tenant = ? WHERE id = ?", [1, 90]).catch((e) => e);
      expect(prepared).toMatchObject({ errno: 1062 });
      expect(prepared.message).not.toContain("@example.com");
      // in a multi-statement text, and a multi-table UPDATE naming only the tenant
      const multi = await c.query("SELECT 1; UPDATE customers SET tenant = 1 WHERE id = 90").catch((e) => e);
      expect(multi).toMatchObject({ errno: 1062 });
      expect(multi.message).not.toContain("@example.com");
      const joined = await c.query("UPDATE customers c JOIN orders o ON o.customer_id = 1 SET c.tenant = 1 WHERE c.id = 90").catch((e) => e);
      expect(joined).toMatchObject({ errno: 1062 });
      expect(joined.message).not.toContain("@example.com");
      // MariaDB 10.11's UPDATE IGNORE skips the row without a warning (measured): nothing to withhold there
      expect(await truth("SELECT tenant FROM customers WHERE id = 90")).toBe("2"); // nothing moved
      // INSERT IGNORE … ON DUPLICATE KEY UPDATE turns the same clash into a warning quoting the key
      const ignored = "INSERT IGNORE INTO customers (id, name) VALUES (90, 'x') ON DUPLICATE KEY UPDATE tenant = 1";
      expect(await truth(`${ignored}; SHOW WARNINGS`)).toContain(`Duplicate entry '1-${email1}'`); // the attack is real
      await c.query(ignored);
      const after = await rows(c, "SHOW WARNINGS");
      expect(after).toHaveLength(1);
      expect(JSON.stringify(after)).not.toContain("@example.com");
      const [[, same]] = (await c.query(`${ignored}; SHOW WARNINGS`)) as unknown as [[unknown, Record<string, unknown>[]]];
      expect(same).toHaveLength(1);
      expect(JSON.stringify(same)).not.toContain("@example.com");
      await c.execute("INSERT IGNORE INTO customers (id, name) VALUES (?, 'x') ON DUPLICATE KEY UPDATE tenant = 1", [90]);
      expect(JSON.stringify(await rows(c, "SHOW ERRORS; SHOW WARNINGS"))).not.toContain("@example.com");
      await c.query(ignored);
      await expect(c.query("GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT")).rejects.toMatchObject({ errno: 1227 });
      expect(await rows(c, "SELECT @m AS m")).toEqual([{ m: null }]);
      expect(await truth("SELECT tenant FROM customers WHERE id = 90")).toBe("2");
      await c.end();
    } finally {
      await other("DELETE FROM customers WHERE id = 90; ALTER TABLE customers DROP KEY uq_tenant_email, DROP COLUMN tenant");
    }
  });

  it("a DBA's generated column that converts a masked column makes the server quote it for statements naming neither: SELECT * warnings and a write's ERR are withheld", async () => {
    // Virtual: computed by every SELECT *; stored: recomputed by any UPDATE of the row (strict mode: an error).
    await other("SET SESSION sql_mode = ''; ALTER TABLE customers ADD COLUMN e_num INT AS (CAST(email AS SIGNED)) VIRTUAL, ADD COLUMN e_st INT AS (CAST(email AS SIGNED)) STORED");
    try {
      // the attacks are real (root)
      expect(await truth("SELECT * FROM customers WHERE id = 1; SHOW WARNINGS")).toContain(`Truncated incorrect INTEGER value: '${email1}'`);
      await expect(db.rootSql("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'; UPDATE customers SET name = 'Ada Lovelace' WHERE id = 1", db.database)).rejects.toThrow(`'${email1}'`);
      const c = await connect();
      for (const sql of ["SELECT * FROM customers WHERE id = 1", "select c.* from customers c where id = 1", "SELECT id, c.* FROM customers c WHERE id = 1"]) {
        const r = await rows(c, sql);
        expect(r[0]!.email, sql).toBe("[REDACTED]");
        const w = await rows(c, "SHOW WARNINGS");
        expect(w.length, sql).toBeGreaterThan(0);
        expect(JSON.stringify(w), sql).not.toContain("@example.com");
        const [[, same]] = (await c.query(`${sql}; SHOW WARNINGS`)) as unknown as [[unknown, Record<string, unknown>[]]];
        expect(JSON.stringify(same), sql).not.toContain("@example.com");
      }
      // binary protocol
      await c.execute("SELECT * FROM customers WHERE id = ?", [1]);
      expect(JSON.stringify(await rows(c, "SHOW WARNINGS"))).not.toContain("@example.com");
      // a write naming neither column: its ERR text is withheld, code and SQLSTATE kept
      await c.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'");
      for (const sql of ["UPDATE customers SET name = 'Ada Lovelace' WHERE id = 1", "SELECT 1; UPDATE customers SET name = 'Ada Lovelace' WHERE id = 1"]) {
        const e = await c.query(sql).catch((x) => x);
        expect(e, sql).toMatchObject({ errno: 1292, sqlState: "22007" });
        expect(e.message, sql).toMatch(/withheld/);
        expect(e.message, sql).not.toContain("@example.com");
      }
      const pe = await c.execute("UPDATE customers SET name = ? WHERE id = 1", ["Ada Lovelace"]).catch((x) => x);
      expect(pe).toMatchObject({ errno: 1292 });
      expect(pe.message).not.toContain("@example.com");
      await c.end();
    } finally {
      await other("ALTER TABLE customers DROP COLUMN e_num, DROP COLUMN e_st");
    }
  });

  it("generated columns computed from a masked column (a DBA's email_lower AS (LOWER(email))) are masked: stored or virtual, aliased, binary, through a view, added after the session's first read", async () => {
    await other("ALTER TABLE customers ADD COLUMN email_lower VARCHAR(200) AS (LOWER(email)) STORED, ADD COLUMN dom VARCHAR(200) AS (SUBSTRING_INDEX(email, '@', -1)) VIRTUAL, ADD COLUMN name_upper VARCHAR(100) AS (UPPER(name)) VIRTUAL");
    try {
      expect(await truth("SELECT email_lower FROM customers WHERE id = 1")).toBe(email1); // the attack is real
      expect(await truth("SELECT dom FROM customers WHERE id = 1")).toBe("example.com");
      const c = await connect();
      expect(await rows(c, "SELECT id, email_lower, dom, name_upper FROM customers WHERE id = 1")).toEqual([{ id: 1, email_lower: "[REDACTED]", dom: "[REDACTED]", name_upper: "ADA LOVELACE" }]);
      expect(await rows(c, "SELECT x.email_lower AS e FROM customers x WHERE x.id = 1")).toEqual([{ e: "[REDACTED]" }]);
      expect(await rows(c, "SELECT CONCAT(dom, '') AS d, `EMAIL_LOWER` FROM customers WHERE id = 1")).toEqual([{ d: "[REDACTED]", EMAIL_LOWER: "[REDACTED]" }]);
      expect((await c.execute("SELECT email_lower FROM customers WHERE id = ?", [1]))[0]).toEqual([{ email_lower: "[REDACTED]" }]);
      // a view over it (made outside the gateway) is a masked view
      await other("CREATE VIEW v_dom AS SELECT id, dom AS d FROM customers");
      expect(await truth("SELECT d FROM v_dom WHERE id = 1")).toBe("example.com");
      expect(await rows(c, "SELECT d FROM v_dom WHERE id = 1")).toEqual([{ d: "[REDACTED]" }]);
      // copying it out is a tainted write: refused, nothing written
      await expect(c.query("INSERT INTO notes SELECT 7, email_lower FROM customers WHERE id = 1")).rejects.toMatchObject({ errno: 1227 });
      expect(await truth("SELECT COUNT(*) FROM notes WHERE id = 7")).toBe("0");
      // added by another session after this session read the catalog: seen before the next read
      await other("ALTER TABLE customers ADD COLUMN e_rev VARCHAR(200) AS (REVERSE(email)) VIRTUAL");
      expect(await truth("SELECT e_rev FROM customers WHERE id = 1")).toBe([...email1].reverse().join(""));
      expect(await rows(c, "SELECT e_rev FROM customers WHERE id = 1")).toEqual([{ e_rev: "[REDACTED]" }]);
      await c.end();
    } finally {
      await other("DROP VIEW IF EXISTS v_dom; ALTER TABLE customers DROP COLUMN email_lower, DROP COLUMN dom, DROP COLUMN name_upper, DROP COLUMN IF EXISTS e_rev");
    }
  });
});
