/** Test helper (runtime-neutral): run the WASM masker and the reference side by side and insist they agree. */
import { createMasker, type PgMasker } from "../../wasm/loader/mask.ts";
import { ReferenceMasker } from "./reference.ts";
import type { CopyFormatOptions, MaskingConfig } from "./config.ts";
import { toHex } from "../encoding/hex-base64.ts";

const hex = toHex;

/** The part of the masker both implementations have (taint verdicts are the worker's, WASM only). */
export type TwinMasker = Pick<PgMasker, "process" | "maskText" | "setCopyFormat" | "setTables" | "counts">;

export function twinMaskers(module: WebAssembly.Module, config: MaskingConfig): TwinMasker {
  const wasm = createMasker(module, config);
  const ref = new ReferenceMasker(config);
  return {
    process(messages: Uint8Array): Uint8Array {
      const a = wasm.process(messages);
      const b = ref.process(messages);
      const ha = hex(a);
      const hb = hex(b);
      if (ha !== hb) throw new Error(`WASM and reference differ:\n wasm ${ha}\n ref  ${hb}`);
      if ((a === messages) !== (b === messages)) throw new Error("WASM and reference disagree on whether anything changed");
      return a;
    },
    maskText(text: Uint8Array): Uint8Array {
      const a = wasm.maskText(text);
      const b = ref.maskText(text);
      if (hex(a) !== hex(b)) throw new Error("WASM and reference differ on maskText");
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
