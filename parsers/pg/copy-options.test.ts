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
    });
  });
  it("reads the old syntax psql's \\copy sends", () => {
    expect(copyOutFormat(`COPY  public.customers TO STDOUT csv delimiter as '|' quote '''' `)).toEqual({ format: "csv", delimiter: "|", quote: "'", table: "customers", shapeQuery: "SELECT * FROM public.customers" });
  });
  it("handles COPY (query) and defaults to text", () => {
    expect(copyOutFormat(`copy (select ')' as x, email from customers) to stdout`)).toEqual({ format: "text", shapeQuery: "select ')' as x, email from customers" });
    expect(copyOutFormat(`COPY (SELECT 1) TO STDOUT (FORMAT binary)`)).toEqual({ format: "binary" });
    expect(copyOutFormat(`COPY t TO STDOUT WITH (FORMAT 'csv', DELIMITER E'\\t')`)).toEqual({ format: "csv", delimiter: "\t", table: "t", shapeQuery: "SELECT * FROM t" });
    expect(copyOutFormat(`COPY "Sales"."Orders" TO STDOUT`).shapeQuery).toBe(`SELECT * FROM "Sales"."Orders"`);
  });
});
