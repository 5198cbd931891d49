/**
 * Micro-benchmark of the WASM SQL classifier: `node bin/run-ts.mjs bench/sql-classifier.ts [seconds]`.
 * Workload: the hand-written corpus (parsers/sql/corpus/*.sql — ORM queries, migrations, psql catalog
 * queries, pg_dump fragments, PostgreSQL documentation examples), classified one simple-query string
 * at a time, plus a few large inputs. Prints statements/s and MB/s; asserts nothing.
 * The workload lives in bench/hot/classifier.ts, shared with the suite (npm run bench).
 */
import { benchClassifier } from "./hot/classifier.ts";

const seconds = Number(process.argv[2] ?? 2);
for (const r of benchClassifier(seconds)) {
  console.log(
    `${r.name.padEnd(38)} ${Math.round(r.statementsPerSecond).toLocaleString("en-US").padStart(12)} statements/s ` +
      `${r.mbPerSecond.toFixed(1).padStart(8)} MB/s  (${r.inputs} inputs, ${r.statementsPerPass} statements per pass)`,
  );
}
