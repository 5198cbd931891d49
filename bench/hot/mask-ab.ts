/**
 * A/B of two mask.wasm builds in one process (same input, alternating, best of 5): the COPY text
 * path with the demo rules, DataRows with detectors only and with typical rules. For profiling
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
const copyRun = (mod: WebAssembly.Module) => { const m = createMasker(mod, rules); m.setCopyFormat("text", { columns: ["id", "email", "card_number", "note"] }); let n = 0; for (const b of copyBatches) n += m.process(b).length; return n; };
const rowRun = (mod: WebAssembly.Module, cfg: MaskingConfig) => { const m = createMasker(mod, cfg); let n = 0; for (const b of rowsIn.batches) n += m.process(b).length; return n; };
const best: Record<string, number> = {};
for (let r = 0; r < 5; r++) for (const [name, mod] of Object.entries(mods)) {
  for (const [w, fn, mb] of [["copy", () => copyRun(mod), bytes.length], ["rows-det", () => rowRun(mod, DETECTORS_ONLY), rowsIn.bytes.length], ["rows-typ", () => rowRun(mod, TYPICAL_RULES), rowsIn.bytes.length]] as const) {
    const t0 = performance.now(); fn(); const s = (performance.now() - t0) / 1000;
    const k = `${w} ${name}`; best[k] = Math.max(best[k] ?? 0, mb / 1e6 / s);
  }
}
for (const [k, v] of Object.entries(best)) console.log(k, v.toFixed(1), "MB/s");
