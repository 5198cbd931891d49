import { describe, it, expect } from "vitest";
import { copyOutFormat } from "./copy-options.ts";

describe("copyOutFormat", () => {
  it("reads the new option syntax", () => {
    expect(copyOutFormat(`COPY customers (id, "Email") TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'none', HEADER)`)).toEqual({
      format: "csv",
      delimiter: ";",
      null: "none",
      columns: ["id", "Email"],
      table: "customers",
      shapeQuery: `SELECT id, "Email" FROM customers`,
      target: "stdout",
      header: true,
    });
  });
  it("reads the old syntax psql's \\copy sends", () => {
    expect(copyOutFormat(`COPY  public.customers TO STDOUT csv delimiter as '|' quote '''' `)).toEqual({
      format: "csv",
      delimiter: "|",
      quote: "'",
      table: "customers",
      shapeQuery: "SELECT * FROM public.customers",
      target: "stdout",
    });
    expect(copyOutFormat(`COPY  customers TO STDOUT CSV HEADER`)).toMatchObject({ format: "csv", header: true, target: "stdout" });
    expect(copyOutFormat(`COPY customers TO STDOUT WITH CSV HEADER FORCE QUOTE *`)).toMatchObject({ format: "csv", header: true });
  });
  it("handles COPY (query) and defaults to text", () => {
    expect(copyOutFormat(`copy (select ')' as x, email from customers) to stdout`)).toEqual({ format: "text", shapeQuery: "select ')' as x, email from customers", target: "stdout" });
    expect(copyOutFormat(`COPY (SELECT 1) TO STDOUT (FORMAT binary)`)).toEqual({ format: "binary", target: "stdout", shapeQuery: "SELECT 1" });
    expect(copyOutFormat(`COPY t TO STDOUT WITH (FORMAT 'csv', DELIMITER E'\\t')`)).toEqual({ format: "csv", delimiter: "\t", table: "t", shapeQuery: "SELECT * FROM t", target: "stdout" });
    expect(copyOutFormat(`COPY "Sales"."Orders" TO STDOUT`)).toMatchObject({ table: "Orders", shapeQuery: `SELECT * FROM "Sales"."Orders"` });
  });
  it("tells the client target from files, programs and COPY FROM", () => {
    expect(copyOutFormat(`COPY t TO '/tmp/x' CSV HEADER`)).toEqual({ format: "text", table: "t", target: "elsewhere" });
    expect(copyOutFormat(`COPY t TO PROGRAM 'gzip' (FORMAT csv, HEADER)`).target).toBe("elsewhere");
    expect(copyOutFormat(`COPY t FROM STDIN (FORMAT csv, HEADER MATCH)`)).toMatchObject({ target: "elsewhere" });
    expect(copyOutFormat(`COPY t FROM STDIN (FORMAT csv, HEADER)`).header).toBeUndefined();
    // The grammar treats TO STDIN like TO STDOUT.
    expect(copyOutFormat(`COPY t TO STDIN (FORMAT csv, HEADER)`)).toMatchObject({ target: "stdout", header: true });
    expect(copyOutFormat(`COPY t TO`).target).toBe("unknown");
    expect(copyOutFormat(`COPY (SELECT 1 TO STDOUT`).target).toBe("unknown");
  });

  describe("HEADER", () => {
    const header = (sql: string, scs = true) => copyOutFormat(sql, { standardConformingStrings: scs }).header === true;

    it("is on for the spellings PostgreSQL accepts as true", () => {
      for (const sql of [
        `COPY t TO STDOUT (FORMAT csv, HEADER)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER true)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER ON)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER 1)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER 'true')`,
        `COPY t TO STDOUT (FORMAT csv, "header" "on")`,
        `COPY t TO STDOUT (HEADER)`, // text format, PostgreSQL 15+
        `COPY t TO STDOUT WITH (FORMAT text, HEADER) ;`,
        `COPY t TO STDOUT CSV HEADER`,
        `COPY t TO STDOUT HEADER`,
        `copy (select email from customers) to stdout with csv header`,
        `COPY t TO STDOUT CSV FORCE QUOTE a, header HEADER`, // list then the option
        `COPY t TO STDOUT /* a /* nested */ comment */ CSV HEADER -- trailing`,
      ]) expect(header(sql.replace(/ ;$/, "")), sql).toBe(true);
    });

    it("is off when HEADER is false, MATCH, not the option, or inside another token", () => {
      for (const sql of [
        `COPY t TO STDOUT (FORMAT csv)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER false)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER off)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER 0)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER MATCH)`, // only valid for COPY FROM
        `COPY t TO STDOUT (FORMAT csv, HEADER 2)`,
        `COPY t TO STDOUT (FORMAT csv, HEADER 'yes please')`,
        `COPY t TO STDOUT (FORMAT csv, "HEADER")`, // an unknown option: PostgreSQL refuses it
        `COPY t TO STDOUT (FORMAT binary, HEADER)`,
        `COPY t TO STDOUT BINARY HEADER`,
        // HEADER as data or names
        `COPY (SELECT 'val HEADER' AS header) TO STDOUT CSV`,
        `COPY t (header) TO STDOUT CSV`,
        `COPY header TO STDOUT CSV`,
        `COPY t TO STDOUT (FORMAT csv, NULL 'HEADER')`,
        `COPY t TO STDOUT CSV NULL AS 'header'`,
        `COPY t TO STDOUT CSV FORCE QUOTE header`, // a column named header
        `COPY t TO STDOUT CSV FORCE QUOTE a, header`,
        `COPY t TO STDOUT CSV FORCE NOT NULL header`,
        `COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE (a, header))`,
        `COPY t TO STDOUT (FORMAT csv, NULL $$a, header, b$$)`, // one dollar-quoted string
        `COPY t TO STDOUT (FORMAT csv, NULL $x$ header $x$)`,
        `COPY t TO STDOUT (FORMAT csv /* , HEADER */)`,
        `COPY t TO STDOUT (FORMAT csv /* /* nested */ , HEADER */)`,
        `COPY t TO STDOUT (FORMAT csv) -- , HEADER`,
        `COPY t TO STDOUT (FORMAT csv, NULL E'\\', HEADER, x')`, // E'' escapes the quote
        `COPY t TO STDOUT (FORMAT csv, NULL U&'\\0027', HEADER)`, // not read: no header
        `COPY t TO STDOUT (FORMAT csv, HEADER, ENCODING 'SJIS')`, // not ASCII-safe text: no header
        // redundant or conflicting options make PostgreSQL refuse the statement
        `COPY t TO STDOUT (FORMAT csv, HEADER, HEADER)`,
        `COPY t TO STDOUT CSV HEADER HEADER`,
        `COPY t TO STDOUT CSV BINARY HEADER`,
        // anything unread
        `COPY t TO STDOUT CSV HEADER garbage`,
        `COPY t TO STDOUT CSV HEADER; COPY u TO STDOUT`,
        `COPY t TO STDOUT (FORMAT csv, HEADER`,
        `COPY t TO STDOUT (FORMAT csv, HEADER) extra`,
        // not to the client
        `COPY t TO '/tmp/t.csv' (FORMAT csv, HEADER)`,
        `COPY t TO PROGRAM 'cat' CSV HEADER`,
        `COPY t FROM STDIN CSV HEADER`,
        `SELECT 'COPY t TO STDOUT CSV HEADER'`,
      ]) expect(header(sql), sql).toBe(false);
    });

    it("reads strings the way the session does (standard_conforming_strings)", () => {
      // scs off: the backslash escapes the quote, so HEADER is inside the string.
      const sql = `COPY t TO STDOUT (FORMAT csv, NULL '\\', HEADER, x')`;
      expect(header(sql, false)).toBe(false);
      // scs on: the string ends at the second quote and the rest does not parse as options.
      expect(header(sql, true)).toBe(false);
      expect(header(`COPY t TO STDOUT (FORMAT csv, NULL '\\', HEADER)`, true)).toBe(true);
      expect(copyOutFormat(`COPY t TO STDOUT (FORMAT csv, NULL '\\', HEADER)`, { standardConformingStrings: true }).null).toBe("\\");
    });
  });
});
