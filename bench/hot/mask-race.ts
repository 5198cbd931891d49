/**
 * The bench's masking measure (bench/run.ts --only=hot: 64 MB of DataRows, process() as the
 * engine's default call, best of 3 interleaved rounds, ratio to the JS regex reference) for two
 * mask.wasm builds in one process: before/after ratios from the same run. For work on the scanner.
 *
 *   node bin/run-ts.mjs bench/hot/mask-race.ts /tmp/old-mask.wasm [wasm/build/mask.wasm] [--cpu] [--rounds=N]
 *
 * --cpu: best CPU time of this process per contender instead of wall time (see race()); on the
 * shared machine under load it moves far less between runs than the wall clock.
 */
import { readFileSync } from "node:fs";
import { buildMaskingInput, runJsReference, race, DETECTORS_ONLY, TYPICAL_RULES } from "./masking.ts";
import { createMasker, type MaskingConfig } from "../../wasm/loader/mask.ts";
// typed here: the repo's node-side lib declares no WebAssembly values
const WasmModule = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WebAssembly.Module } }).WebAssembly.Module;
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const clock = process.argv.includes("--cpu") ? "cpu" : "wall";
const rounds = Number(process.argv.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 3);
const before = new WasmModule(readFileSync(args[0]!));
const after = new WasmModule(readFileSync(args[1] ?? "wasm/build/mask.wasm"));
const input = buildMaskingInput(64);
const runner = (mod: WebAssembly.Module, cfg: MaskingConfig) => () => {
  const m = createMasker(mod, cfg);
  let n = 0;
  for (const b of input.batches) n += m.process(b).length;
  return n;
};
// warm up (JIT, WASM tier-up), as benchMasking does
runner(before, DETECTORS_ONLY)();
runner(after, DETECTORS_ONLY)();
runJsReference(input.batches.slice(0, 8));
const results = race(
  [
    { name: "JS reference", run: () => runJsReference(input.batches) },
    { name: "detectors, before", run: runner(before, DETECTORS_ONLY) },
    { name: "detectors, after", run: runner(after, DETECTORS_ONLY) },
    { name: "rules+detectors, before", run: runner(before, TYPICAL_RULES) },
    { name: "rules+detectors, after", run: runner(after, TYPICAL_RULES) },
  ],
  input.bytes.length / 1e6,
  rounds,
  clock,
);
console.log(`${clock} clock, best of ${rounds}, load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const r of results) console.log(`${r.name.padEnd(24)} ${r.mbPerSecond.toFixed(1).padStart(7)} MB/s  ${(r.mbPerSecond / results[0]!.mbPerSecond).toFixed(2)} × the JS reference`);
