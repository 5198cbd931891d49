/**
 * A/B of two mask.wasm builds in one process (same input): the COPY text path with the demo rules,
 * DataRows with detectors only and with typical rules, output borrowed (processView, as the engine
 * sends streaming results). Prints each build's best MB/s and the median of the paired ratios (the
 * two builds alternate, first one then the other): on a shared, loaded machine the paired median
 * holds up where best-of figures swing by 2×. ROUNDS=n (default 15). For profiling
 * work on wasm/assembly/mask.ts: build the old source to a file and compare.
 *
 *   node bin/run-ts.mjs bench/hot/mask-ab.ts /tmp/old-mask.wasm [wasm/build/mask.wasm]
 */
import { readFileSync } from "node:fs";
import * as f from "../../parsers/masking/fixtures.ts";
import { splitBatches, buildMaskingInput, DETECTORS_ONLY, TYPICAL_RULES } from "../../bench/hot/masking.ts";
import { createMasker, type MaskingConfig } from "../../wasm/loader/mask.ts";
// typed here: the repo's node-side lib declares no WebAssembly values
const WasmModule = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WebAssembly.Module } }).WebAssembly.Module;
const mods = { old: new WasmModule(readFileSync(process.argv[2]!)), new: new WasmModule(readFileSync(process.argv[3] ?? "wasm/build/mask.wasm")) };
const rules = { rules: [
  { name: "pii", columns: ["email", "card_number"], style: "partial", keep: 4 },
  { name: "secret", columns: ["password_hash", "api_token"], style: "redact" },
  { name: "det", detectors: ["all"], style: "redact" },
] } as MaskingConfig;
const parts: Uint8Array[] = [f.copyOutResponse(0, 4)];
let size = 0;
const note = "lorem ipsum dolor sit amet ".repeat(36);
for (let g = 1; size < 16e6; g++) {
  const row = f.copyData(`${g}\tuser${g}@example.com\t4111 1111 1111 ${String(g % 10000).padStart(4, "0")}\t${note}\n`);
  parts.push(row); size += row.length;
}
const bytes = f.concat(parts);
const copyBatches = splitBatches(bytes);
const rowsIn = buildMaskingInput(16);
const copyRun = (mod: WebAssembly.Module) => { const m = createMasker(mod, rules); m.setCopyFormat("text", { columns: ["id", "email", "card_number", "note"] }); let n = 0; for (const b of copyBatches) n += m.processView(b).length; return n; };
const rowRun = (mod: WebAssembly.Module, cfg: MaskingConfig) => { const m = createMasker(mod, cfg); let n = 0; for (const b of rowsIn.batches) n += m.processView(b).length; return n; };
const workloads = [["copy", (mod: WebAssembly.Module) => copyRun(mod), bytes.length], ["rows-det", (mod: WebAssembly.Module) => rowRun(mod, DETECTORS_ONLY), rowsIn.bytes.length], ["rows-typ", (mod: WebAssembly.Module) => rowRun(mod, TYPICAL_RULES), rowsIn.bytes.length]] as const;
const rounds = Number(process.env.ROUNDS ?? 15);
for (const [w, fn, size] of workloads) {
  const best = { old: 0, new: 0 };
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const seconds = { old: 0, new: 0 };
    for (const name of r % 2 ? (["old", "new"] as const) : (["new", "old"] as const)) {
      const t0 = performance.now();
      fn(mods[name]);
      seconds[name] = (performance.now() - t0) / 1000;
      best[name] = Math.max(best[name], size / 1e6 / seconds[name]);
    }
    ratios.push(seconds.old / seconds.new);
  }
  ratios.sort((a, b) => a - b);
  console.log(`${w}: old ${best.old.toFixed(1)} MB/s, new ${best.new.toFixed(1)} MB/s; new ÷ old speed, median of ${rounds} pairs ${ratios[rounds >> 1]!.toFixed(2)} (quartiles ${ratios[rounds >> 2]!.toFixed(2)}–${ratios[(3 * rounds) >> 2]!.toFixed(2)})`);
}
