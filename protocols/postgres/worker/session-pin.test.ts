import { describe, it, expect } from "vitest";
import { sqlClassifier } from "../../../worker/wasm-modules.ts";
import { pinViolation, startupViolation } from "./session-pin.ts";
import { sameLexing, watchedSettingChange } from "./session-state.ts";
import { hasHighByte, isUnsafeEncoding } from "./client-encoding.ts";

const classifier = sqlClassifier();
const pin = (sql: string, scs = true) => pinViolation(sql, classifier.classify(sql, { standardConformingStrings: scs }), scs);

describe("session pin", () => {
  it("refuses every spelling of a change to a pinned setting", () => {
    const refused = [
      "SET standard_conforming_strings = off",
      "set standard_conforming_strings to off",
      "SET SESSION standard_conforming_strings = off",
      "SET LOCAL standard_conforming_strings = off",
      'SET "STANDARD_CONFORMING_STRINGS" = off',
      "SET /* c */ standard_conforming_strings --x\n = off",
      "SET --x\rstandard_conforming_strings TO\noff", // scan.l ends a -- comment at \r too
      "SET --\rsearch_path TO\nwork_mem",
      "SELECT set_config(--\r'search_path', 'x', false)",
      "RESET standard_conforming_strings",
      "RESET ALL",
      "DISCARD ALL",
      "SET client_encoding = 'SJIS'",
      "SET NAMES 'GBK'",
      "SET search_path = evil, pg_catalog",
      "SET SCHEMA 'evil'",
      "reset search_path",
      "SET ROLE postgres",
      "SET SESSION ROLE postgres",
      "RESET ROLE",
      "SET SESSION AUTHORIZATION postgres",
      "RESET SESSION AUTHORIZATION",
      "SET default_transaction_read_only = off",
      "SET transaction_read_only = off",
      "SET session_replication_role = replica",
      "SET backslash_quote = on",
      "BEGIN READ WRITE",
      "SET search_path = E'evil", // read with the one SQL tokenizer: the head is read before an unterminated value
      "SET search_path = $$evil",
      "SET /* a /* nested */ comment */ search_path = evil",
      "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE",
      "START TRANSACTION READ /* x */ WRITE",
      "SET TRANSACTION READ WRITE",
      "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
      'SET U&"search\\005fpath" = evil',
      "SELECT set_config('standard_conforming_strings', 'off', false)",
      "SELECT set_config('SEARCH_PATH', 'evil', false)",
      "SELECT pg_catalog.set_config('role', 'postgres', false)",
      'SELECT "set_config"(\'client_encoding\', \'SJIS\', false)',
      'SELECT U&"\\0073et_config"(\'search_path\', \'evil\', false)',
      "SELECT set_config(name, 'x', false) FROM t",
      "SELECT set_config('a' || 'b', 'x', false)",
      "SELECT set_config(E'search\\x5fpath', 'x', false)",
      "SELECT 1 /* set_config('search_path','x',false) */",
      "SELECT query_to_xml('select set_config(''search_path'', ''x'', false)', true, false, '')",
      "SELECT set_config('application_name', 'a', false), set_config('search_path', 'x', false)",
      "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
      "SELECT 1; SET search_path = x",
      "SELECT query_to_xml('update pg_settings set setting = ''off'' where name = ''standard_conforming_strings''', true, false, '')",
      // COPY's own output encoding: a second byte 0x5C would split the masker's fields
      "COPY (SELECT 'ソ', id, api_token FROM vault) TO STDOUT (ENCODING 'SJIS')",
      "copy vault to stdout (format csv, encoding sjis)",
      'copy vault to stdout ("encoding" \'Shift_JIS\')',
      "COPY vault TO STDOUT CSV ENCODING 'WIN932'",
      "COPY vault TO STDOUT WITH (ENCODING 'BIG5', HEADER)",
      "SELECT 1; COPY vault TO STDOUT (encoding 'gbk')",
      "COPY vault TO STDOUT (FORMAT csv, FORCE_QUOTE (a, (b)), ENCODING 'UHC')",
      "COPY vault TO STDOUT (ENCODING)",
    ];
    for (const sql of refused) expect(pin(sql), sql).toMatch(/refused|pinned|may only be read|cannot check/);
  });

  it("lets harmless session statements through", () => {
    for (const sql of [
      "SET application_name = 'ci'",
      "SET statement_timeout = '5s'",
      "SET TIME ZONE 'UTC'",
      "SET myext.flag = 1",
      "RESET application_name",
      "BEGIN",
      "BEGIN READ ONLY",
      "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
      "SET TRANSACTION READ ONLY",
      "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
      "SELECT set_config('application_name', 'ci', false)",
      "SELECT * FROM pg_settings WHERE name = 'search_path'",
      "BEGIN; SELECT setting FROM pg_settings; COMMIT",
      "DISCARD PLANS",
      "SELECT 'read write'",
      "COPY vault TO STDOUT (ENCODING 'UTF8')",
      "COPY (SELECT encoding FROM pg_database) TO STDOUT",
      "COPY vault TO STDOUT (ENCODING 'LATIN1', FORMAT csv)",
    ]) {
      expect(pin(sql), sql).toBeNull();
    }
  });

  it("refuses startup parameters that would set pinned settings", () => {
    expect(startupViolation(new Map([["options", "-c standard_conforming_strings=off"]]))).toMatch(/options/);
    expect(startupViolation(new Map([["search_path", "evil"]]))).toMatch(/search_path is pinned/);
    expect(startupViolation(new Map([["Default_Transaction_Read_Only", "off"]]))).toMatch(/pinned/);
    expect(startupViolation(new Map([["client_encoding", "UTF8"], ["application_name", "x"], ["options", ""]]))).toBeNull();
  });
});

describe("session state", () => {
  const both = (sql: string) => sameLexing(classifier.classify(sql, { standardConformingStrings: true }), classifier.classify(sql, { standardConformingStrings: false }));
  it("a query must read the same with standard_conforming_strings on and off", () => {
    expect(both("SELECT 'a\\'; DELETE FROM t; --'")).toBe(false);
    expect(both("SELECT 'a\\', $$'; SELECT setval('s', 999); --$$")).toBe(false); // a read with escapes off… a write with them on
    expect(both("SELECT '\\' || pg_terminate_backend(1) || '\\'")).toBe(false);
    expect(both("SELECT 'C:\\temp', E'x\\'y'")).toBe(true);
    expect(both("SELECT 1; SELECT 2")).toBe(true);
  });

  it("a reported change of a watched setting ends the session", () => {
    const login = new Map([["search_path", '"$user", public'], ["default_transaction_read_only", "on"], ["standard_conforming_strings", "on"]]);
    expect(watchedSettingChange(login, "search_path", "evil")).toMatch(/search_path changed/);
    expect(watchedSettingChange(login, "search_path", '"$user", public')).toBeNull();
    expect(watchedSettingChange(login, "default_transaction_read_only", "off")).toMatch(/pinned/);
    expect(watchedSettingChange(login, "standard_conforming_strings", "off")).toMatch(/pinned/);
    expect(watchedSettingChange(login, "application_name", "x")).toBeNull();
    expect(watchedSettingChange(new Map([["default_transaction_read_only", "off"]]), "default_transaction_read_only", "on")).toBeNull();
  });

  it("knows the client encodings whose characters hide ASCII bytes, in every alias", () => {
    for (const e of ["SJIS", "sjis", "Shift_JIS", "MSKANJI", "WIN932", "SHIFT_JIS_2004", "BIG5", "big-5", "GBK", "CP936", "GB18030", "UHC", "WIN949", "JOHAB", "Windows932", "windows936", "WINDOWS949", "windows950"]) expect(isUnsafeEncoding(e), e).toBe(true);
    for (const e of ["UTF8", "utf-8", "UNICODE", "LATIN1", "EUC_JP", "EUC_KR", "WIN1252", "SQL_ASCII", "KOI8R"]) expect(isUnsafeEncoding(e), e).toBe(false);
    expect(hasHighByte(new TextEncoder().encode("select 1"))).toBe(false);
    expect(hasHighByte(new Uint8Array([0x27, 0x95, 0x5c]))).toBe(true);
  });
});
