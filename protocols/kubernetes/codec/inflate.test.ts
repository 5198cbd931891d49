import { describe, expect, it } from "vitest";
import { constants, deflateRawSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { inflateBlocks, InflateError } from "./inflate.ts";

/** Inputs with structure (repeats, runs, text) and without (random bytes). */
function sample(k: number): Buffer {
  const words = ["port", "streamtype", "data", "error", "requestid", "8080", "5432", "\u0000\u0000\u0000"];
  if (k % 4 === 0) return randomBytes(1 + ((k * 37) % 3000));
  if (k % 4 === 1) return Buffer.alloc(1 + ((k * 53) % 5000), k % 251);
  return Buffer.from(Array.from({ length: 1 + (k % 400) }, (_, i) => words[(i * k) % words.length]).join(k % 2 ? "" : "\u0001"));
}

describe("inflateBlocks (differential against Node's zlib)", () => {
  it("decodes what zlib writes at every level and strategy, with and without a dictionary window", () => {
    const dictionary = Buffer.from("streamtypeporterrordatarequestid".repeat(8));
    for (let k = 0; k < 120; k++) {
      const input = sample(k);
      const level = k % 10;
      const strategy = [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE][k % 4]!;
      const withDict = k % 3 === 0;
      const raw = deflateRawSync(input, { level, strategy, ...(withDict ? { dictionary } : {}), finishFlush: constants.Z_SYNC_FLUSH });
      const r = inflateBlocks(raw, withDict ? dictionary : new Uint8Array(0), 1 << 20);
      expect(Buffer.from(r.output).equals(input), `sample ${k} level ${level} strategy ${strategy}`).toBe(true);
      expect(r.final).toBe(false);
    }
  });

  it("refuses output over the bound, references before the window, and never throws anything but InflateError", () => {
    const big = deflateRawSync(Buffer.alloc(100_000, 97), { finishFlush: constants.Z_SYNC_FLUSH });
    expect(() => inflateBlocks(big, new Uint8Array(0), 65_536)).toThrow(/more than 65536/);
    const withDict = deflateRawSync(Buffer.from("portport"), { dictionary: Buffer.from("port"), finishFlush: constants.Z_SYNC_FLUSH });
    expect(() => inflateBlocks(withDict, new Uint8Array(0), 1000)).toThrow(/before the start of the window/);
    for (let k = 0; k < 2000; k++) {
      try {
        inflateBlocks(randomBytes(1 + (k % 200)), new Uint8Array(0), 4096);
      } catch (e) {
        expect(e).toBeInstanceOf(InflateError);
      }
    }
  });
});
