/**
 * protocols/postgres/codec/copy-options.ts against the real server: for every statement, `header` must be set
 * exactly when PostgreSQL itself sends a header line — never when it does not (that would let a
 * data row through unmasked). Statements PostgreSQL refuses must not report a header either.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFile } from "node:child_process";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { cleanPgEnv } from "../harness/stack.ts";
import { copyOutFormat } from "../../protocols/postgres/codec/copy-options.ts";

let db: RunningPostgres;

/** psql -c <sql> as the ordinary role; stdout is the COPY output. */
function run(sql: string, settings = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("psql", [db.url, "-X", "-v", "ON_ERROR_STOP=1", ...(settings ? ["-c", settings] : []), "-c", sql], { env: cleanPgEnv() }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
    child.stdin!.end("");
  });
}

beforeAll(async () => {
  db = await startPostgres();
  const setup = await run(`
    create table t (a text, header text, email text);
    insert into t values ('val1', 'val2', 'val@example.com');
    create table header (a text);
    insert into header values ('val1');
    create table u (a text);
    insert into u values ('val1');
    create table customers (email text);
    insert into customers values ('val@example.com');`);
  if (setup.code !== 0) throw new Error(setup.stderr);
}, 120_000);

afterAll(async () => {
  await db?.stop();
});

const STATEMENTS = [
  `COPY t TO STDOUT (FORMAT csv, HEADER)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER true)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER ON)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER 1)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER 'true')`,
  `COPY t TO STDOUT (FORMAT csv, "header" "on")`,
  `COPY t TO STDOUT (HEADER)`,
  `COPY t TO STDOUT WITH (FORMAT text, HEADER)`,
  `COPY t TO STDOUT CSV HEADER`,
  `COPY t TO STDOUT HEADER`,
  `COPY t TO STDIN (FORMAT csv, HEADER)`,
  `copy (select email from customers) to stdout with csv header`,
  `COPY t TO STDOUT CSV FORCE QUOTE a, header HEADER`,
  `COPY t TO STDOUT /* a /* nested */ comment */ CSV HEADER -- trailing`,
  `COPY t TO STDOUT (FORMAT csv)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER false)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER off)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER 0)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER MATCH)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER 2)`,
  `COPY t TO STDOUT (FORMAT csv, HEADER 'yes please')`,
  `COPY t TO STDOUT (FORMAT csv, "HEADER")`,
  `COPY (SELECT 'val HEADER' AS header) TO STDOUT CSV`,
  `COPY t (header) TO STDOUT CSV`,
  `COPY header TO STDOUT CSV`,
  `COPY t TO STDOUT (FORMAT csv, NULL 'HEADER')`,
  `COPY t TO STDOUT CSV NULL AS 'header'`,
  `COPY t TO STDOUT CSV FORCE QUOTE header`,
  `COPY t TO STDOUT CSV FORCE QUOTE a, header`,
  `COPY t TO STDOUT CSV FORCE NOT NULL header`,
  `COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE (a, header))`,
  `COPY t TO STDOUT (FORMAT csv, NULL $$a, header, b$$)`,
  `COPY t TO STDOUT (FORMAT csv, NULL $x$ header $x$)`,
  `COPY t TO STDOUT (FORMAT csv /* , HEADER */)`,
  `COPY t TO STDOUT (FORMAT csv /* /* nested */ , HEADER */)`,
  `COPY t TO STDOUT (FORMAT csv, NULL E'\\', HEADER, x')`,
  `COPY t TO STDOUT (FORMAT csv, HEADER, HEADER)`,
  `COPY t TO STDOUT CSV HEADER HEADER`,
  `COPY t TO STDOUT CSV BINARY HEADER`,
  `COPY t TO STDOUT CSV HEADER garbage`,
  `COPY t TO STDOUT (FORMAT csv, HEADER`,
  `COPY t TO STDOUT (FORMAT csv, HEADER) extra`,
  `COPY t TO PROGRAM 'cat' CSV HEADER`,
  `COPY t TO '/tmp/gatehouse-never-written.csv' (FORMAT csv, HEADER)`,
];

/** PostgreSQL sends a header here, but the gateway declines it on purpose (the line is masked like a row). */
const DECLINED = [
  `COPY t TO STDOUT CSV HEADER ENCODING 'UTF8'`, // any ENCODING option
  `COPY t TO STDOUT (FORMAT csv, HEADER +1)`, // a spelling not worth reading
];

describe("copyOutFormat(…).header agrees with PostgreSQL", () => {
  it.each([...STATEMENTS, ...DECLINED])("%s", async (sql) => {
    const r = await run(sql);
    const firstLine = r.stdout.split("\n")[0] ?? "";
    // Every data value starts with "val"; a header line starts with a column name.
    const serverSentHeader = r.code === 0 && r.stdout !== "" && !/^"?val/.test(firstLine);
    if (DECLINED.includes(sql)) expect(serverSentHeader, `${sql}\n${r.stdout}${r.stderr}`).toBe(true);
    expect(copyOutFormat(sql).header === true, `${sql}\n${r.stdout}${r.stderr}`).toBe(serverSentHeader && !DECLINED.includes(sql));
  });

  it("reads string literals the way the session does (standard_conforming_strings)", async () => {
    // on: NULL is `a\` and HEADER is an option; off: the backslash escapes the quote, so HEADER is
    // inside a string that never ends (PostgreSQL refuses the statement).
    const sql = `COPY t TO STDOUT (FORMAT csv, DELIMITER '|', NULL 'a\\', HEADER, ESCAPE '\\')`;
    const on = await run(sql);
    expect(on.stdout.split("\n")[0], on.stderr).toBe("a|header|email");
    expect(copyOutFormat(sql, { standardConformingStrings: true }).header).toBe(true);
    const off = await run(sql, "set standard_conforming_strings = off");
    expect(off.code).not.toBe(0);
    expect(copyOutFormat(sql, { standardConformingStrings: false }).header).toBeUndefined();
  });
});
