/**
 * Function calls in MySQL/MariaDB statements: which `name(` is a built-in, which is grammar, and
 * which may run something the statement's own kind does not say (a stored function can write,
 * LOAD_FILE reads the server's files, NEXTVAL advances a sequence).
 *
 * Unqualified built-in names always resolve to the built-in (MySQL never lets a stored function
 * shadow one), so they are safe to skip; any other name, any qualified `db.f(` and any quoted
 * `` `f`( `` may be a stored function → an `execute` part. Over-reporting costs a refusal;
 * under-reporting would let a write through as a read, so the lists below only ever shrink what
 * is reported for names the server itself lists as built-in or that are reserved grammar.
 */
import { MARIADB_BUILTIN_FUNCTIONS } from "./mariadb-functions.generated.ts";
import type { StatementKind } from "../../../parsers/sql/types.ts";

/** Reserved words (cannot name a stored function unquoted) and keyword-functions the grammar handles itself. */
const GRAMMAR = new Set(
  (
    "IF INSERT REPLACE CHAR CHARACTER DATE TIME TIMESTAMP YEAR MONTH DAY HOUR MINUTE SECOND WEEK VALUES VALUE MATCH AGAINST EXISTS " +
    "IN ANY SOME ALL ROW COLUMN_ADD COLUMN_CREATE COLUMN_DELETE COLUMN_GET TRIM SUBSTRING POSITION EXTRACT CURRENT_USER CURRENT_ROLE " +
    "CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP UTC_DATE UTC_TIME UTC_TIMESTAMP USER SYSDATE MOD DIV " +
    "AS ON USING INTO FROM JOIN WHERE AND OR NOT XOR SELECT KEY INDEX PRIMARY UNIQUE FOREIGN REFERENCES CHECK CONSTRAINT PARTITION " +
    "OVER WINDOW TABLE BY HAVING LIMIT WITH UNION EXCEPT INTERSECT DISTINCT THEN ELSE WHEN CASE INT INTEGER VARCHAR DECIMAL NUMERIC " +
    "FLOAT DOUBLE BINARY VARBINARY TINYINT SMALLINT MEDIUMINT BIGINT REAL NCHAR NVARCHAR LIKE REGEXP RLIKE BETWEEN IS NULL " +
    "TINYBLOB BLOB MEDIUMBLOB LONGBLOB TINYTEXT MEDIUMTEXT LONGTEXT ENUM SET BIT DATETIME TEXT DEC FIXED BOOL BOOLEAN SIGNED UNSIGNED " +
    "POINT LINESTRING POLYGON MULTIPOINT MULTILINESTRING MULTIPOLYGON GEOMETRYCOLLECTION GEOMETRY COLLATE DEFAULT INTERVAL " +
    "CONVERT CAST LEFT RIGHT FOR ROWS RANGE GROUP ORDER DUAL LATERAL RETURNS RETURN STRAIGHT_JOIN NATURAL OUTER INNER CROSS " +
    "UPDATE DELETE CALL DO KILL SHOW EXPLAIN DESCRIBE WHILE REPEAT LOOP UNTIL ELSEIF OUT INOUT ROW_NUMBER"
  ).split(/\s+/),
);

export interface DangerousFunction {
  kind: StatementKind;
  why: string;
}

/** Built-ins that act beyond reading: the statement gets a part of this kind and the dangerous-function flag. */
export const MARIADB_DANGEROUS_FUNCTIONS: Record<string, DangerousFunction> = {
  LOAD_FILE: { kind: "admin", why: "reads a file on the database server" },
  SLEEP: { kind: "admin", why: "holds the connection (denial of service)" },
  BENCHMARK: { kind: "admin", why: "burns server CPU (denial of service)" },
  GET_LOCK: { kind: "admin", why: "takes a server-wide named lock" },
  RELEASE_LOCK: { kind: "admin", why: "releases a server-wide named lock" },
  RELEASE_ALL_LOCKS: { kind: "admin", why: "releases server-wide named locks" },
  MASTER_POS_WAIT: { kind: "admin", why: "waits on replication" },
  MASTER_GTID_WAIT: { kind: "admin", why: "waits on replication" },
  WSREP_SYNC_WAIT_UPTO_GTID: { kind: "admin", why: "waits on cluster replication" },
  NEXTVAL: { kind: "write", why: "advances a sequence" },
  SETVAL: { kind: "write", why: "sets a sequence" },
};

export type CallClass = "builtin" | "grammar" | "dangerous" | "stored";

export function classifyCall(upperName: string, qualified: boolean, quoted: boolean): CallClass {
  if (qualified || quoted) return "stored";
  if (MARIADB_DANGEROUS_FUNCTIONS[upperName]) return "dangerous";
  if (GRAMMAR.has(upperName)) return "grammar";
  if (MARIADB_BUILTIN_FUNCTIONS.has(upperName)) return "builtin";
  return "stored";
}
