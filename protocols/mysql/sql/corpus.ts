/**
 * The classifier's oracle corpus: base statements of every kind against the oracle fixtures
 * (FIXTURES: tables, a stored function and procedure that write, a sequence, a view), each
 * multiplied by spellings an attacker controls (case, comments of every kind, version comments
 * that run and that do not, multi-statement neighbours, quoting), plus hand-written attacker
 * cases. oracle.test.ts runs every entry on a real MariaDB and compares what the server did
 * with what the classifier says.
 */

/** Scratch schema the corpus talks about (created by the oracle before the run and after any DDL). */
export const FIXTURES = `
CREATE TABLE t1 (a INT PRIMARY KEY, b VARCHAR(20));
CREATE TABLE t2 (a INT, c TEXT);
CREATE TABLE wlog (id INT AUTO_INCREMENT PRIMARY KEY, at TEXT);
INSERT INTO t1 VALUES (1,'one'),(2,'two'),(3,'three');
INSERT INTO t2 VALUES (1,'x'),(2,'y');
CREATE VIEW v1 AS SELECT a, b FROM t1;
CREATE SEQUENCE s1;
CREATE FUNCTION f_write() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO wlog (at) VALUES ('f_write'); RETURN 1; END;
CREATE FUNCTION f_read() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM t1);
CREATE PROCEDURE p_write() MODIFIES SQL DATA INSERT INTO wlog (at) VALUES ('p_write');
CREATE PROCEDURE p_read() SELECT * FROM t1;
`;

const READS = [
  "SELECT * FROM t1",
  "SELECT a, b FROM t1 WHERE a = 1",
  "SELECT COUNT(*) FROM t1 JOIN t2 USING (a)",
  "SELECT * FROM v1",
  "SELECT 1",
  "SELECT 'a;b', \"c;d\"",
  "SELECT CONCAT(b, 'x') FROM t1",
  "SELECT UPPER(b), LENGTH(b) FROM t1 ORDER BY a LIMIT 2",
  "SELECT * FROM t1 WHERE b LIKE 'o%'",
  "SELECT a FROM t1 UNION SELECT a FROM t2",
  "SELECT * FROM (SELECT a FROM t1) AS d",
  "SELECT JSON_OBJECT('k', b) FROM t1",
  "SELECT f_read()",
  "SELECT NOW(), DATABASE(), VERSION()",
  "SELECT IF(a > 1, 'big', 'small') FROM t1",
  "SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END FROM t1",
  "SELECT * FROM t1 FOR UPDATE",
  "SELECT * FROM t1 LOCK IN SHARE MODE",
  "SELECT a INTO @x FROM t1 LIMIT 1",
  "SELECT PREVIOUS VALUE FOR s1",
  "SELECT LASTVAL(s1)",
  "WITH c AS (SELECT a FROM t1) SELECT * FROM c",
  "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
  "VALUES (1, 2)",
  "SHOW TABLES",
  "SHOW CREATE TABLE t1",
  "SHOW VARIABLES LIKE 'sql_mode'",
  "SHOW PROCESSLIST",
  "DESCRIBE t1",
  "DESC t1",
  "EXPLAIN SELECT * FROM t1",
  "EXPLAIN t1",
  "EXPLAIN DELETE FROM t1 WHERE a = 99",
  "EXPLAIN FORMAT=JSON SELECT * FROM t1",
  "HELP 'SELECT'",
  "CHECK TABLE t1",
  "CHECKSUM TABLE t1",
  "DO 1 + 1",
  "SELECT SLEEP(0)",
  "SELECT GET_LOCK('gatehouse', 0)",
  "SELECT RELEASE_LOCK('gatehouse')",
  "SELECT LOAD_FILE('/etc/hostname')",
  "SELECT @@sql_mode",
  "SELECT * FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'gatehouse_scratch'",
];

const WRITES = [
  "INSERT INTO t2 VALUES (9, 'w')",
  "INSERT INTO t2 (a, c) SELECT a, b FROM t1",
  "INSERT IGNORE INTO t1 VALUES (1, 'dup')",
  "INSERT INTO t1 VALUES (1, 'x') ON DUPLICATE KEY UPDATE b = 'upd'",
  "REPLACE INTO t2 VALUES (1, 'r')",
  "UPDATE t1 SET b = 'u' WHERE a = 1",
  "UPDATE t1 SET b = b",
  "UPDATE t1 JOIN t2 USING (a) SET t1.b = t2.c",
  "DELETE FROM t2 WHERE a = 2",
  "DELETE FROM t2",
  "DELETE t2 FROM t2 JOIN t1 USING (a)",
  "SELECT f_write()",
  "SELECT a, f_write() FROM t1",
  "SELECT * FROM t1 WHERE a = f_write()",
  "DO f_write()",
  "SELECT NEXTVAL(s1)",
  "SELECT NEXT VALUE FOR s1",
  "SELECT SETVAL(s1, 100)",
  "CALL p_write()",
  "CALL p_read()",
  "WITH c AS (SELECT 1) SELECT f_write() FROM c",
  "SELECT * FROM t1 WHERE a IN (SELECT f_write())",
  "ANALYZE DELETE FROM t2 WHERE a = 1",
  "ANALYZE UPDATE t1 SET b = 'a' WHERE a = 2",
  "ANALYZE SELECT f_write()",
  "EXPLAIN SELECT f_write()",
  "PREPARE ps FROM 'DELETE FROM t2'",
  "EXECUTE IMMEDIATE 'DELETE FROM t2 WHERE a = 1'",
  "EXECUTE IMMEDIATE CONCAT('DELETE FROM t2', ' WHERE a = 3')",
  "SELECT * FROM t1 INTO OUTFILE '/tmp/gatehouse-oracle-never'",
  "LOAD DATA INFILE '/nonexistent/gatehouse' INTO TABLE t2",
  "HANDLER t1 OPEN",
];

const DDL = [
  "CREATE TABLE t9 (a INT)",
  "CREATE TABLE IF NOT EXISTS t1 (a INT)",
  "CREATE TABLE t8 AS SELECT * FROM t1",
  "CREATE TABLE t7 SELECT f_write() AS x",
  "CREATE TEMPORARY TABLE tt (a INT)",
  "CREATE OR REPLACE TABLE t6 (a INT)",
  "ALTER TABLE t1 ADD COLUMN z INT",
  "DROP TABLE t2",
  "DROP TABLE IF EXISTS nosuch",
  "TRUNCATE TABLE t2",
  "TRUNCATE t2",
  "RENAME TABLE t2 TO t3",
  "CREATE INDEX i1 ON t1 (b)",
  "DROP INDEX `PRIMARY` ON t1",
  "CREATE VIEW v2 AS SELECT * FROM t1",
  "CREATE OR REPLACE VIEW v1 AS SELECT 1 AS a",
  "CREATE DEFINER = CURRENT_USER VIEW v3 AS SELECT 1",
  "DROP VIEW v1",
  "CREATE DATABASE gatehouse_other",
  "DROP DATABASE IF EXISTS gatehouse_other",
  "CREATE PROCEDURE p9() DELETE FROM t2",
  "DROP PROCEDURE p_write",
  "CREATE FUNCTION f9() RETURNS INT RETURN 1",
  "DROP FUNCTION f_write",
  "CREATE TRIGGER tr1 BEFORE INSERT ON t2 FOR EACH ROW SET NEW.c = 'trig'",
  "CREATE EVENT e1 ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY DO DELETE FROM t2",
  "CREATE SEQUENCE s9",
  "DROP SEQUENCE s1",
  "ALTER SEQUENCE s1 RESTART 5",
  "OPTIMIZE TABLE t1",
  "REPAIR TABLE t1",
  "ANALYZE TABLE t1",
  "ALTER DATABASE gatehouse_scratch CHARACTER SET utf8mb4",
];

const PRIVILEGE = [
  "GRANT SELECT ON gatehouse_scratch.* TO 'gh_nobody'@'%'",
  "REVOKE SELECT ON gatehouse_scratch.* FROM 'gh_nobody'@'%'",
  "CREATE USER 'gh_new'@'%' IDENTIFIED BY 'x'",
  "DROP USER IF EXISTS 'gh_new'@'%'",
  "ALTER USER CURRENT_USER() IDENTIFIED BY 'x'",
  "RENAME USER 'a'@'%' TO 'b'@'%'",
  "SET PASSWORD = PASSWORD('x')",
  "SET ROLE NONE",
  "SET DEFAULT ROLE NONE",
  "CREATE ROLE r1",
  "DROP ROLE IF EXISTS r1",
];

const ADMIN = [
  "KILL 999999",
  "KILL QUERY 999999",
  "FLUSH TABLES",
  "FLUSH PRIVILEGES",
  "RESET QUERY CACHE",
  "PURGE BINARY LOGS BEFORE '2000-01-01'",
  "SET GLOBAL max_connections = 151",
  "SET @@global.max_connections = 151",
  "SET sql_log_bin = 1",
  "INSTALL SONAME 'nosuch_plugin'",
  "UNINSTALL PLUGIN nosuch",
  "CHANGE MASTER TO MASTER_HOST = 'nowhere'",
  "STOP SLAVE",
  "START SLAVE",
  "CACHE INDEX t1 IN nosuch",
  "LOAD INDEX INTO CACHE t1",
  "BACKUP STAGE START",
  "CREATE SERVER s9 FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')",
];

const TRANSACTION_SESSION = [
  "START TRANSACTION",
  "START TRANSACTION READ ONLY",
  "BEGIN",
  "BEGIN WORK",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT sp1",
  "SET @a = 1",
  "SET @a := (SELECT COUNT(*) FROM t1)",
  "SET @a = f_write()",
  "SET SESSION wait_timeout = 100",
  "SET autocommit = 1",
  "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
  "USE gatehouse_scratch",
  "LOCK TABLES t1 READ",
  "UNLOCK TABLES",
  "DEALLOCATE PREPARE nosuch",
  "SET max_statement_time = 5",
  "SIGNAL SQLSTATE '45000'",
];

export const BASE_STATEMENTS = [...READS, ...WRITES, ...DDL, ...PRIVILEGE, ...ADMIN, ...TRANSACTION_SESSION];

/** Spellings an attacker controls; each keeps the statement's meaning (or makes it a comment, which the oracle also checks). */
const VARIANTS: ((s: string) => string)[] = [
  (s) => s,
  (s) => s.toLowerCase(),
  (s) => `/* lead */ ${s}`,
  (s) => `${s} -- trailing`,
  (s) => `${s} # hash`,
  (s) => `/*!50000 ${s} */`,
  (s) => `/*M!100000 ${s} */`,
  (s) => `/*!99999 ${s} */ SELECT 1`,
  (s) => `SELECT 1; ${s}`,
  (s) => `${s}; SELECT 2`,
  (s) => `\n\t${s.replace(/ /g, "\n")}`,
  (s) => s.replace(/\bt1\b/g, "`t1`").replace(/\bt2\b/g, "gatehouse_scratch.`t2`"),
  (s) => `/*!*/ ${s}`,
  (s) => `(${s})`,
  (s) => s.replace(/ /g, "/**/"),
];

/** Hand-written attacker cases: each tries to make a write look like a read (or hide a statement). */
export const ATTACKS = [
  "SELECT 1 /*!50000 ; DELETE FROM t2 */",
  "SELECT 1 /*M!100000 ; DELETE FROM t2 */",
  "SELECT 1 /*!99999 ; DELETE FROM t2 */",
  "SELECT 1 /*!50700 ; DELETE FROM t2 */",
  "SELECT 1 /*M!999999 ; DELETE FROM t2 */",
  "SELECT 1 /*!50000a ; DELETE FROM t2 */",
  "SELECT 1 /*!1234 ; DELETE FROM t2 */",
  "SELECT 1 /*!*/; DELETE FROM t2",
  "SELECT 1 /*! ; DELETE FROM t2 */",
  "SELECT 'a\\'; DELETE FROM t2; -- '",
  "SELECT \"a\\\"; DELETE FROM t2; -- \"",
  "SELECT 'a'' ; DELETE FROM t2; -- '",
  "SELECT `a;DELETE FROM t2` FROM (SELECT 1 AS `a;DELETE FROM t2`) x",
  "SELECT 1 -- ; DELETE FROM t2",
  "SELECT 1 --; DELETE FROM t2",
  "SELECT 1 --\t; DELETE FROM t2",
  "SELECT 1--1; DELETE FROM t2",
  "SELECT 1 # ; DELETE FROM t2",
  "SELECT 1 /* ; */ ; DELETE FROM t2",
  "SELECT 1 /* /* */ ; DELETE FROM t2 */",
  "SELECT _utf8'x'; DELETE FROM t2",
  "SELECT _binary'\\'' ; DELETE FROM t2",
  "SELECT N'x\\''; DELETE FROM t2",
  "SELECT X'41'; DELETE FROM t2",
  "SELECT @`a;b` := 1; DELETE FROM t2",
  "SELECT @'a\\';b' := 1; DELETE FROM t2",
  "SELECT 1 INTO @x; DELETE FROM t2",
  "SELECT\tf_write()",
  "SELECT `f_write`()",
  "SELECT gatehouse_scratch.f_write()",
  "SELECT gatehouse_scratch . f_write ()",
  "SELECT f_write ()",
  "SELECT F_WRITE()",
  "SELECT /*!50000 f_write() */",
  "SELECT 1 FROM DUAL WHERE f_write() = 1",
  "SELECT (SELECT f_write()) AS x",
  "SELECT * FROM t1 ORDER BY f_write()",
  "SELECT * FROM t1 GROUP BY a HAVING f_write()",
  "SELECT * FROM (SELECT f_write() AS x) AS d",
  "SELECT JSON_OBJECT('a', f_write())",
  "SELECT nextval(s1)",
  "SELECT next value for s1",
  "SELECT NEXT/**/VALUE/**/FOR s1",
  "SELECT 1; CALL p_write()",
  "(SELECT f_write())",
  "((SELECT 1)); DELETE FROM t2",
  "WITH x AS (SELECT f_write()) SELECT * FROM x",
  "BEGIN NOT ATOMIC DELETE FROM t2; END",
  "BEGIN NOT ATOMIC SELECT 1; END",
  "IF 1 THEN DELETE FROM t2; END IF",
  "lbl: BEGIN NOT ATOMIC DELETE FROM t2; END",
  "CREATE PROCEDURE p8() BEGIN SELECT 1; END; DELETE FROM t2",
  "EXECUTE IMMEDIATE 'SELECT 1'",
  "PREPARE ps FROM 'SELECT 1'; EXECUTE ps",
  "SET STATEMENT max_statement_time = 5 FOR DELETE FROM t2",
  "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT \"a\"",
  "SET @x = 1, @@session.sql_mode = 'NO_BACKSLASH_ESCAPES'",
  "SET NAMES latin1",
  "SET CHARACTER SET latin1",
  "SET character_set_client = latin1",
  "/*!40101 SET NAMES utf8mb4 */",
  "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */",
  "SELECT 1 FROM t1 WHERE a = 1 UNION SELECT f_write()",
  "DO f_write(), 1",
  "HANDLER t1 OPEN; HANDLER t1 READ FIRST; HANDLER t1 CLOSE",
  "SELECT 0x3b44454c455445; DELETE FROM t2",
  "SELECT 1e1; DELETE FROM t2",
  "SELECT .5; DELETE FROM t2",
  "SELECT 1.e1; DELETE FROM t2",
  "SELECT 'x' 'y'; DELETE FROM t2",
  "SELECT 1 FROM t1 WHERE b = 'it''s'; DELETE FROM t2",
  "SELECT '\\\\'; DELETE FROM t2",
  "SELECT 1 AS `x``;`; DELETE FROM t2",
  "  ;; SELECT 1 ;; DELETE FROM t2",
  "SELECT 1 /*+ hint */; DELETE FROM t2",
  "SELECT * FROM t1 WHERE a = ? ; DELETE FROM t2",
  "SELECT 'é;' ; DELETE FROM t2",
  "SELECT 1\u00a0; DELETE FROM t2",
  "DELETE FROM t2 /*!99999 WHERE 1 = 0 */",
  "UPDATE t1 SET b = 'x' /*!99999 WHERE a = 0 */",
  "SELECT * FROM t1 WHERE a = 1 -- \n; DELETE FROM t2",
  "SELECT * FROM t1 WHERE a = 1 #\n; DELETE FROM t2",
  "SELECT 1 /*M!50000 ; DELETE FROM t2 */",
  "SELECT 1 /*M! ; DELETE FROM t2 */",
  "select 1 /*!000000 ; DELETE FROM t2 */",
  "SELECT 1 /*!101119 ; DELETE FROM t2 */",
  "SELECT 1 /*!101120 ; DELETE FROM t2 */",
  "INSERT/**/INTO t2 VALUES (5, 'x')",
  "REPLACE t2 VALUES (5, 'x')",
];

const DAMAGING = /^(DROP (TABLE t2|INDEX|VIEW v1|PROCEDURE|FUNCTION|SEQUENCE s1)|ALTER TABLE t1|RENAME TABLE|CREATE (OR REPLACE VIEW v1|TRIGGER|EVENT)|ALTER SEQUENCE)/;

export interface CorpusEntry {
  sql: string;
  source: string;
}

export function buildCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const seen = new Set<string>();
  BASE_STATEMENTS.forEach((base, b) =>
    VARIANTS.forEach((v, k) => {
      // Statements that damage the fixtures cost a rebuild each: fewer spellings of them.
      if (DAMAGING.test(base) && ![0, 1, 5, 6, 8, 13].includes(k)) return;
      const sql = v(base);
      if (!seen.has(sql)) {
        seen.add(sql);
        out.push({ sql, source: `base ${b} variant ${k}` });
      }
    }),
  );
  ATTACKS.forEach((sql, k) => {
    if (!seen.has(sql)) {
      seen.add(sql);
      out.push({ sql, source: `attack ${k}` });
    }
  });
  return out;
}
