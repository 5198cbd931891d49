/**
 * Micro-benchmark of the WASM SQL classifier: `node bin/run-ts.mjs bench/sql-classifier.ts [seconds]`.
 * Workload: the hand-written corpus (parsers/sql/corpus/*.sql — ORM queries, migrations, psql catalog
 * queries, pg_dump fragments, PostgreSQL documentation examples), classified one simple-query string
 * at a time, plus a few large inputs. Prints statements/s and MB/s; asserts nothing.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createSqlClassifier } from "../wasm/loader/sql.ts";
import { loadWasmModule } from "../wasm/loader/node.ts";

const seconds = Number(process.argv[2] ?? 2);
const dir = fileURLToPath(new URL("../parsers/sql/corpus/", import.meta.url));
const queries: string[] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
  for (const block of readFileSync(join(dir, file), "utf8").split(/\n[ \t]*\n/)) {
    const sql = block.trim();
    if (sql && !sql.split("\n").every((l) => l.trim().startsWith("--"))) queries.push(sql);
  }
}
const classifier = createSqlClassifier(loadWasmModule("sql"));
const bytesOf = (s: string) => new TextEncoder().encode(s).length;

function run(name: string, inputs: string[]): void {
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
  const perSecond = (statementsPerPass * passes) / (elapsed / 1000);
  const mbPerSecond = (bytesPerPass * passes) / (elapsed / 1000) / 1e6;
  console.log(
    `${name.padEnd(38)} ${Math.round(perSecond).toLocaleString("en-US").padStart(12)} statements/s ` +
      `${mbPerSecond.toFixed(1).padStart(8)} MB/s  (${inputs.length} inputs, ${statementsPerPass} statements per pass)`,
  );
}

run("corpus mix (one query per call)", queries);
run("corpus as one multi-statement query", [queries.join(";\n")]);
run("1 MB INSERT ... VALUES", ["INSERT INTO t (a, b) VALUES " + Array.from({ length: 40_000 }, (_, i) => `(${i}, 'v${i}')`).join(", ")]);
run("ORM point lookup", ['SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2']);
