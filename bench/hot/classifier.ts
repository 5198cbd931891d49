/**
 * The WASM SQL classifier in isolation: statements/s over the hand-written corpus
 * (parsers/sql/corpus/*.sql) and a few shapes. Used by bench/run.ts and bench/sql-classifier.ts.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createSqlClassifier } from "../../wasm/loader/sql.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";

export interface ClassifierResult {
  name: string;
  statementsPerSecond: number;
  mbPerSecond: number;
  inputs: number;
  statementsPerPass: number;
}

export function corpusQueries(): string[] {
  const dir = fileURLToPath(new URL("../../parsers/sql/corpus/", import.meta.url));
  const queries: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const block of readFileSync(join(dir, file), "utf8").split(/\n[ \t]*\n/)) {
      const sql = block.trim();
      if (sql && !sql.split("\n").every((l) => l.trim().startsWith("--"))) queries.push(sql);
    }
  }
  return queries;
}

/** The workloads of bench/sql-classifier.ts, each timed for `seconds`. */
export function benchClassifier(seconds: number): ClassifierResult[] {
  const queries = corpusQueries();
  const classifier = createSqlClassifier(loadWasmModule("sql"));
  const bytesOf = (s: string) => new TextEncoder().encode(s).length;
  const run = (name: string, inputs: string[]): ClassifierResult => {
    const statementsPerPass = inputs.reduce((n, q) => n + classifier.classify(q).length, 0);
    const bytesPerPass = inputs.reduce((n, q) => n + bytesOf(q), 0);
    for (let i = 0; i < 3; i++) for (const q of inputs) classifier.classify(q); // warm up
    let passes = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (const q of inputs) classifier.classify(q);
      passes++;
      elapsed = performance.now() - start;
    } while (elapsed < seconds * 1000);
    return {
      name,
      statementsPerSecond: (statementsPerPass * passes) / (elapsed / 1000),
      mbPerSecond: (bytesPerPass * passes) / (elapsed / 1000) / 1e6,
      inputs: inputs.length,
      statementsPerPass,
    };
  };
  return [
    run("corpus mix (one query per call)", queries),
    run("corpus as one multi-statement query", [queries.join(";\n")]),
    run("1 MB INSERT ... VALUES", ["INSERT INTO t (a, b) VALUES " + Array.from({ length: 40_000 }, (_, i) => `(${i}, 'v${i}')`).join(", ")]),
    run("ORM point lookup", ['SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2']),
  ];
}
