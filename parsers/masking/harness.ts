/** Test helper: run the WASM masker and the reference side by side and insist they agree. */
import { createMasker, type PgMasker } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { ReferenceMasker } from "./reference.ts";
import type { CopyFormatOptions, MaskingConfig } from "./config.ts";

export function twinMaskers(config: MaskingConfig): PgMasker {
  const wasm = createMasker(loadWasmModule("mask"), config);
  const ref = new ReferenceMasker(config);
  return {
    process(messages: Uint8Array): Uint8Array {
      const a = wasm.process(messages);
      const b = ref.process(messages);
      const ha = Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
      const hb = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      if (ha !== hb) throw new Error(`WASM and reference differ:\n wasm ${ha}\n ref  ${hb}`);
      if ((a === messages) !== (b === messages)) throw new Error("WASM and reference disagree on whether anything changed");
      return a;
    },
    maskText(text: Uint8Array): Uint8Array {
      const a = wasm.maskText(text);
      const b = ref.maskText(text);
      if (Buffer.from(a).toString("hex") !== Buffer.from(b).toString("hex")) throw new Error("WASM and reference differ on maskText");
      if ((a === text) !== (b === text)) throw new Error("WASM and reference disagree on whether anything changed");
      return a;
    },
    setCopyFormat(format: "text" | "csv", options?: CopyFormatOptions): void {
      wasm.setCopyFormat(format, options);
      ref.setCopyFormat(format, options);
    },
    setTables(tables): void {
      wasm.setTables(tables);
      ref.setTables(tables);
    },
    counts(): Record<string, number> {
      const a = wasm.counts();
      const b = ref.counts();
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`counts differ: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      return a;
    },
  };
}
