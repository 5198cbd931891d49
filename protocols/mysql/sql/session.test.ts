import { describe, expect, it } from "vitest";
import { SessionPin, readSqlMode } from "./session.ts";
import { classifyMysql } from "./classify.ts";
import { SERVER_STATUS } from "../codec/constants.ts";

const server = { flavor: "mariadb" as const, version: 101119 };
const start = { sqlMode: "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION", charsetClient: "utf8mb4", charsetResults: "utf8mb4", charsetConnection: "utf8mb4" };

describe("pinned session state", () => {
  it("refuses grammar-changing or unknown sql_mode flags and non-UTF-8 character sets at start", () => {
    expect(readSqlMode("ORACLE").ok).toBe(false);
    expect(readSqlMode("STRICT_TRANS_TABLES,IGNORE_SPACE").ok).toBe(false);
    expect(readSqlMode("SOMETHING_NEW").ok).toBe(false);
    expect(() => new SessionPin(server, { ...start, sqlMode: "PIPES_AS_CONCAT" })).toThrow(/grammar/);
    expect(() => new SessionPin(server, { ...start, charsetResults: "latin1" })).toThrow(/latin1/);
  });

  it("allows a literal change only as the single statement of its query, and applies it on OK", () => {
    const pin = new SessionPin(server, start);
    const c = (sql: string) => classifyMysql(sql, pin.dialect);
    expect(pin.check(c("SET sql_mode = 'ANSI_QUOTES'; SELECT \"a\""))).toMatch(/only statement/);
    expect(pin.check(c("SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"))).toMatch(/not a literal/);
    expect(pin.check(c("SET @@session.sql_mode = DEFAULT"))).toMatch(/DEFAULT/);
    expect(pin.check(c("SET NAMES latin1"))).toMatch(/latin1/);
    expect(pin.check(c("/*!40101 SET character_set_client = koi8r */"))).toMatch(/koi8r/);
    expect(pin.check(c("SET NAMES utf8mb4"))).toBeNull();
    const change = c("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'");
    expect(pin.check(change)).toBeNull();
    pin.apply(change[0]);
    expect(pin.dialect).toMatchObject({ ansiQuotes: true, noBackslashEscapes: true });
    // With the new mode, "…" is an identifier and \ is no escape: the split changes accordingly.
    expect(classifyMysql("SELECT 'a\\'; DELETE FROM t", pin.dialect).map((s) => s.kind)).toEqual(["read", "write"]);
  });

  it("cross-checks NO_BACKSLASH_ESCAPES on every status and re-reads settings after opaque statements", () => {
    const pin = new SessionPin(server, start);
    expect(pin.confirmStatus(SERVER_STATUS.AUTOCOMMIT)).toBeNull();
    expect(pin.confirmStatus(SERVER_STATUS.AUTOCOMMIT | SERVER_STATUS.NO_BACKSLASH_ESCAPES)).toMatch(/NO_BACKSLASH_ESCAPES/);
    pin.markUnconfirmed(classifyMysql("CALL p()", pin.dialect));
    expect(pin.check(classifyMysql("SELECT 1", pin.dialect))).toMatch(/unconfirmed/);
    expect(pin.confirm({ ...start, charsetClient: "latin1" })).toMatch(/latin1/);
    expect(pin.confirm(start)).toBeNull();
    expect(pin.check(classifyMysql("SELECT 1", pin.dialect))).toBeNull();
  });

  it("refuses a text where anything but a compound statement's own pieces follows opaque code (the re-read comes only after the text)", () => {
    const pin = new SessionPin(server, start);
    const c = (sql: string) => pin.check(classifyMysql(sql, pin.dialect));
    for (const sql of ["CALL p(); SELECT 1", `EXECUTE IMMEDIATE 'SET sql_mode=''ANSI_QUOTES'''; SELECT "a"`, "PREPARE s FROM @q; EXECUTE s; SELECT 1", "SELECT f(); SELECT 1"]) expect(c(sql), sql).toMatch(/must be the last statement/);
    for (const sql of ["SELECT 1; CALL p()", "SELECT 1; EXECUTE s", "SELECT 1; BEGIN NOT ATOMIC SELECT 1; END", "SELECT lower(name) FROM t"]) expect(c(sql), sql).toBeNull();
  });
});
