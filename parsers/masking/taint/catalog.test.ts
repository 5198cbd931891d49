import { describe, it, expect } from "vitest";
import { catalogQuery } from "./catalog.ts";

/** The fifth column of the 'att' arm: how generated columns are read. */
function generatedExpression(serverVersion: string | undefined): string {
  const att = catalogQuery(serverVersion).split(";\n").find((arm) => arm.startsWith("SELECT 'att',"));
  const match = /^SELECT 'att', a\.attrelid::pg_catalog\.text, a\.attnum::pg_catalog\.text, a\.attname::pg_catalog\.text, (.+) FROM pg_catalog\.pg_attribute a /.exec(att ?? "");
  if (!match) throw new Error(`no 'att' arm of five columns in the query for ${serverVersion}`);
  return match[1];
}

const DIRECT = "a.attgenerated::pg_catalog.text";
const ANY_VERSION = "COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'attgenerated', '')";

describe("the catalogue query by the server's reported version", () => {
  it.each(["12.0", "18.1", "18beta1", "18devel", "17rc1", "15.19 (Debian 15.19-0+deb12u1)", "16.4 (Ubuntu 16.4-1.pgdg22.04+1)", "13.0.0", "100.1"])(
    "%s (PostgreSQL 12 or later): attgenerated read directly, no row converted to jsonb",
    (version) => {
      expect(generatedExpression(version)).toBe(DIRECT);
      expect(catalogQuery(version)).not.toContain("to_jsonb");
    },
  );

  it.each(["11.22", "11.2-YB-2.18.0.0-b0", "10.5 (Debian 10.5-1.pgdg90+1)", "9.6.24", "8.0.2"])(
    "%s (before 12): the form that is right on any server — a fork claiming an old version may still have generated columns",
    (version) => {
      expect(generatedExpression(version)).toBe(ANY_VERSION);
    },
  );

  it.each([undefined, "", "beta", " 15.1", "v15.1", "PostgreSQL 15.1", "12345.1"])("%j (no major version to read): the form that is right on any server", (version) => {
    expect(generatedExpression(version)).toBe(ANY_VERSION);
  });

  it("differs only in that column: the rows keep their shape for buildCatalog", () => {
    const old = catalogQuery(undefined);
    expect(catalogQuery("18.1")).toBe(old.replace(ANY_VERSION, DIRECT));
    expect(catalogQuery("11.22")).toBe(old);
    expect(old.split(";\n").map((arm) => arm.slice(0, 13))).toEqual(["SELECT 'rel',", "SELECT 'att',", "SELECT 'fn', ", "SELECT 'op', ", "SELECT 'rule'", "SELECT 'pol',", "SELECT 'pid',", "SELECT 'typ',"]);
  });
});
