import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createSqlClassifier, keywordIdForTest, COMMANDS, OBJECTS, KINDS, FLAGS } from "./sql.ts";
import { loadWasmModule } from "./node.ts";

const module = loadWasmModule("sql");
const source = (rel: string): string => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8");

/** `const PREFIX_NAME: i32 = n;` declarations of an AssemblyScript file, in source order. */
function constants(text: string, prefix: string): Array<[string, number]> {
  return [...text.matchAll(new RegExp(`const ${prefix}(\\w+): i32 = (-?\\d+);`, "g"))].map((m) => [m[1]!, Number(m[2])]);
}

describe("WASM SQL classifier loader", () => {
  it("the keyword table gives every word its KW_ id (list and constants in the same order)", () => {
    const kw = source("../assembly/sql/keywords.ts");
    const list = /const KEYWORD_LIST =([\s\S]*?);\n/.exec(kw)![1]!;
    const words = [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]!).join("").split(" ").filter(Boolean);
    const ids = new Map(constants(kw, "KW_"));
    expect(words.length).toBe(ids.get("COUNT"));
    words.forEach((word, i) => {
      expect(ids.get(word.toUpperCase()), word).toBe(i + 1);
      expect(keywordIdForTest(module, word), word).toBe(i + 1);
      expect(keywordIdForTest(module, word.toUpperCase()), word).toBe(i + 1);
    });
    expect(keywordIdForTest(module, "selectx")).toBe(0);
    expect(keywordIdForTest(module, "sélect")).toBe(0);
    expect(keywordIdForTest(module, "SELECT".padEnd(40, "x"))).toBe(0);
  });

  it("the JS code tables match the AssemblyScript constants", () => {
    const cls = source("../assembly/sql/classify.ts");
    const commandAliases: Record<string, string> = {
      UNKNOWN: "", SET_SESSION_AUTH: "SET SESSION AUTHORIZATION", REFRESH: "REFRESH MATERIALIZED VIEW",
      IMPORT: "IMPORT FOREIGN SCHEMA", LOCK: "LOCK TABLE",
    };
    const commands = constants(cls, "CMD_");
    expect(commands.length).toBe(COMMANDS.length);
    for (const [name, value] of commands) expect(COMMANDS[value], name).toBe(commandAliases[name] ?? name.replace(/_/g, " "));
    const objectAliases: Record<string, string> = {
      MATVIEW: "MATERIALIZED VIEW", FDW: "FOREIGN DATA WRAPPER", TS_CONFIGURATION: "TEXT SEARCH CONFIGURATION",
      TS_DICTIONARY: "TEXT SEARCH DICTIONARY", TS_PARSER: "TEXT SEARCH PARSER", TS_TEMPLATE: "TEXT SEARCH TEMPLATE",
    };
    const objects = constants(cls, "OBJ_");
    expect(objects.length + 1).toBe(OBJECTS.length);
    for (const [name, value] of objects) expect(OBJECTS[value], name).toBe(objectAliases[name] ?? name.replace(/_/g, " "));
    for (const [name, value] of constants(cls, "KIND_")) expect(KINDS[value]!.toUpperCase(), name).toBe(name);
    for (const [name, value] of constants(cls, "FLAG_")) expect(FLAGS[Math.log2(value)]!.toUpperCase().replace(/-/g, "_"), name).toBe(name);
  });

  it("keeps the arena untouched by its own initialisation (first call on a fresh instance)", () => {
    for (const size of [1_000, 20_000, 40_000]) {
      const sql = "SELECT '" + "x".repeat(size) + "'; DELETE FROM t";
      expect(createSqlClassifier(module).classify(sql).map((s) => s.kind)).toEqual(["read", "write"]);
    }
  });

  it("never throws, and statements are ordered, non-empty and inside the input (property)", () => {
    const classifier = createSqlClassifier(module);
    const pieces = fc.constantFrom(
      "SELECT", "DELETE", " ", ";", "'", "''", '"', "$$", "$a$", "$1", "E'", "\\", "--", "\n", "/*", "*/", "(", ")",
      "U&'", "B'", "é", "😀", "\u0000", "BEGIN ATOMIC", "CREATE FUNCTION f()", "END", "CASE", "x", "1",
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string()), { maxLength: 40 }), fc.boolean(), (parts, scs) => {
        const sql = parts.join("");
        const out = classifier.classify(sql, { standardConformingStrings: scs });
        let last = 0;
        for (const s of out) {
          expect(s.start).toBeGreaterThanOrEqual(last);
          expect(s.end).toBeGreaterThan(s.start);
          expect(s.end).toBeLessThanOrEqual(sql.length);
          expect(sql.slice(s.start, s.end).trim()).not.toBe("");
          last = s.end;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("grows its arena for large inputs and keeps working for small ones afterwards", () => {
    const classifier = createSqlClassifier(module);
    const big = "INSERT INTO t VALUES " + Array.from({ length: 300_000 }, (_, i) => `(${i}, 'row ${i}')`).join(", ");
    const out = classifier.classify(big);
    expect(out.map((s) => [s.kind, s.end])).toEqual([["write", big.length]]);
    expect(classifier.classify("SELECT 1; SELECT 2").map((s) => s.kind)).toEqual(["read", "read"]);
  });

  it("grows its result tables when a query has many statements or dangerous calls", () => {
    const classifier = createSqlClassifier(module);
    const sql = Array.from({ length: 5_000 }, (_, i) => `SELECT pg_read_file('${i}'), lo_get(${i})`).join(";");
    const out = classifier.classify(sql);
    expect(out).toHaveLength(5_000);
    expect(out.every((s) => s.functions.join() === "pg_read_file,lo_get")).toBe(true);
  });

  it("converts UTF-8 byte offsets to JS string offsets (astral characters, lone surrogates)", () => {
    const classifier = createSqlClassifier(module);
    const sql = "SELECT '😀\ud800x'; SELECT \"ü\"; SELECT pg_read_file('é')";
    const out = classifier.classify(sql);
    expect(out.map((s) => sql.slice(s.start, s.end))).toEqual(["SELECT '😀\ud800x'", 'SELECT "ü"', "SELECT pg_read_file('é')"]);
    expect(out[2]!.functions).toEqual(["pg_read_file"]);
  });

  it("rejects a non-string input with a typed error", () => {
    const classifier = createSqlClassifier(module);
    expect(() => classifier.classify(42 as unknown as string)).toThrow(/sql must be a string/);
  });
});
