import { describe, expect, it } from "vitest";
import { createMasker } from "./mask.ts";
import { loadWasmModule } from "./node.ts";
import { buildMaskingInput, DETECTORS_ONLY, TYPICAL_RULES } from "../../bench/hot/masking.ts";

describe("masker processView (borrowed output)", () => {
  it("gives the bytes process() gives, batch by batch, and the input itself when nothing changed", () => {
    const input = buildMaskingInput(2);
    for (const config of [DETECTORS_ONLY, TYPICAL_RULES]) {
      const copying = createMasker(loadWasmModule("mask"), config);
      const borrowing = createMasker(loadWasmModule("mask"), config);
      let changed = 0;
      for (const batch of input.batches) {
        const a = copying.process(batch);
        const b = borrowing.processView(batch);
        expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
        if (a !== batch) changed++;
      }
      expect(changed).toBeGreaterThan(0);
      expect(borrowing.counts()).toEqual(copying.counts());
    }
    const plain = createMasker(loadWasmModule("mask"), DETECTORS_ONLY);
    const untouched = new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]); // ReadyForQuery
    expect(plain.processView(untouched)).toBe(untouched);
  });
});
