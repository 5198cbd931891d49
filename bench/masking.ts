// Benchmark: WASM masker (all built-in detectors on) vs a JS baseline (pg-protocol Parser + one
// JS regex per field) over the same ~64 MB of realistic DataRow bytes, fed in ≤ 1 MiB batches of
// complete messages (the tunnel's frame size). Run: node bin/run-ts.mjs bench/masking.ts [MB]
// The workload lives in bench/hot/masking.ts, shared with the suite (npm run bench).
import { benchMasking } from "./hot/masking.ts";

const TARGET_MB = Number(process.argv[2] ?? 64);
const { input, results } = benchMasking(TARGET_MB);
const mb = input.bytes.length / 1e6;
const base = results[0]!.seconds;
console.log(`\nInput: ${input.rows.toLocaleString("en")} DataRows (customers: id, name, email, card_number, password_hash, api_token, created_at, note), ${mb.toFixed(1)} MB, ${input.batches.length} batches ≤ 1 MiB; best of runs; Node ${process.version}\n`);
console.log("| implementation | MB/s | time (s) | vs baseline |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of results) console.log(`| ${r.name} | ${r.mbPerSecond.toFixed(0)} | ${r.seconds.toFixed(2)} | ${(base / r.seconds).toFixed(1)}× |`);
