/**
 * Function calls against the real PostgreSQL parser (libpg-query, PG 18): for every read or write
 * statement of the differential corpus (parsers/sql/corpus/*.sql, function-calls.sql among them),
 * every function PostgreSQL's parser sees called must be among the calls the classifier reports,
 * with the same name and a qualifier at least as strict — so a statement's function parts never
 * miss a call that does more than read (calls the grammar makes itself, like LIKE … ESCAPE, are
 * built-in reads and only counted). Extra calls the classifier reports (a `name(` that is grammar) only make it
 * stricter; they are counted and must stay rare.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { loadModule, parseSync } from "libpg-query";
import { createSqlClassifier } from "../../wasm/loader/sql.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { functionAction, isSyntaxWord } from "./function-actions.ts";

type Node = Record<string, unknown>;

/** The corpus cases (blank-line separated, comment-only blocks skipped), as differential.test.ts reads them. */
function loadCorpus(): Array<{ file: string; sql: string }> {
  const dir = fileURLToPath(new URL("./corpus/", import.meta.url));
  const cases: Array<{ file: string; sql: string }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const block of readFileSync(join(dir, file), "utf8").split(/\n[ \t]*\n/)) {
      const sql = block.trim();
      if (sql && !sql.split("\n").every((l) => l.trim().startsWith("--"))) cases.push({ file, sql });
    }
  }
  return cases;
}

function funcCalls(n: unknown, out: Array<{ name: string; schema: string }>): void {
  if (Array.isArray(n)) for (const x of n) funcCalls(x, out);
  else if (n && typeof n === "object") {
    for (const [k, v] of Object.entries(n as Node)) {
      if (k === "FuncCall" && v && typeof v === "object") {
        const body = v as Node;
        // SQL-syntax forms (EXTRACT, TRIM, AT TIME ZONE, …) are built-ins the grammar names itself.
        if (body.funcformat !== "COERCE_SQL_SYNTAX") {
          const names = (body.funcname as Node[]).map((s) => (s.String as Node).sval as string);
          out.push({ name: names[names.length - 1]!, schema: names.length > 1 ? names[names.length - 2]! : "" });
        }
      }
      funcCalls(v, out);
    }
  }
}

describe("function calls vs libpg-query", () => {
  const classifier = createSqlClassifier(loadWasmModule("sql"));
  beforeAll(async () => {
    await loadModule();
  });

  it("reports every call PostgreSQL sees, with its qualifier", () => {
    let calls = 0;
    let extra = 0;
    let benign = 0;
    const missed: string[] = [];
    for (const { file, sql } of loadCorpus()) {
      const stmts = (parseSync(sql).stmts ?? []) as Array<{ stmt: unknown }>;
      const ours = classifier.classify(sql);
      if (ours.length !== stmts.length) continue; // splitting is the other test's business
      stmts.forEach((s, i) => {
        const mine = ours[i]!;
        if (mine.kind !== "read" && mine.kind !== "write") return;
        const expected: Array<{ name: string; schema: string }> = [];
        funcCalls(s.stmt, expected);
        const reported = (mine.calls ?? []).filter((c) => !isSyntaxWord(c));
        for (const e of expected) {
          calls++;
          const hit = reported.find((c) => c.name === e.name && (e.schema === "" ? c.schema === "" : e.schema === "pg_catalog" ? c.schema === "pg_catalog" : c.schema === "other"));
          // A call the grammar makes itself (LIKE … ESCAPE → like_escape) or a keyword-named built-in
          // read (substring, json_object) changes nothing; any other miss would hide an action.
          const schema = e.schema === "" ? "" : e.schema === "pg_catalog" ? "pg_catalog" : "other";
          const action = functionAction({ name: e.name, schema, quoted: false, start: 0, end: 0 });
          if (!hit && action === "read") benign++;
          else if (!hit) missed.push(`${file}: ${e.schema ? e.schema + "." : ""}${e.name} (${action}) in ${sql.slice(0, 200)}`);
        }
        for (const c of reported) if (!expected.some((e) => e.name === c.name) && functionAction(c) !== "read") extra++;
      });
    }
    console.log(`function calls checked: ${calls}, missed: ${missed.length}, built-in reads not seen as calls: ${benign}, extra non-read calls reported: ${extra}`);
    expect(missed, missed.slice(0, 20).join("\n")).toEqual([]);
    expect(calls).toBeGreaterThan(200);
    expect(extra).toBeLessThan(calls / 50);
  });
});
