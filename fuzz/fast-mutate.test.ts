/** The long run's generator (fast-mutate.ts): seeded, bounded, and making every shape of input. */
import { describe, expect, it } from "vitest";
import { FastInputs, Prng } from "./fast-mutate.ts";
import { loadCorpus } from "./corpus.ts";

const sample = (g: FastInputs, n: number) => Array.from({ length: n }, () => g.next().slice());
const hex = (inputs: Uint8Array[]) => inputs.map((b) => Buffer.from(b).toString("hex")).join(",");

describe("FastInputs", () => {
  const seeds = loadCorpus("pg-messages");

  it("is deterministic for a seed and differs between seeds", () => {
    expect(hex(sample(new FastInputs("bytes", seeds, 4096, 7), 500))).toBe(hex(sample(new FastInputs("bytes", seeds, 4096, 7), 500)));
    expect(hex(sample(new FastInputs("bytes", seeds, 4096, 8), 50))).not.toBe(hex(sample(new FastInputs("bytes", seeds, 4096, 7), 50)));
  });

  it("never makes an input longer than the codec's maximum", () => {
    for (const max of [1, 7, 64, 4096]) {
      const g = new FastInputs("bytes", seeds, max, 1);
      let longest = 0;
      for (let i = 0; i < 20_000; i++) longest = Math.max(longest, g.next().length);
      expect(longest).toBeLessThanOrEqual(max);
    }
  });

  it("makes random inputs, seeds as they are and mutated seeds (changed, of many lengths)", () => {
    const inputs = sample(new FastInputs("bytes", seeds, 4096, 3), 5000);
    const key = (b: Uint8Array) => Buffer.from(b).toString("hex");
    const seedKeys = new Set(seeds.map(key));
    const asIs = inputs.filter((b) => seedKeys.has(key(b))).length;
    expect(asIs).toBeGreaterThan(250); // ~1 in 10, plus mutations that cancel out
    expect(asIs).toBeLessThan(1500);
    expect(new Set(inputs.map(key)).size).toBeGreaterThan(3000);
    expect(new Set(inputs.map((b) => b.length)).size).toBeGreaterThan(300);
    expect(inputs.some((b) => b.length === 0)).toBe(true);
  });

  it("random text is valid UTF-8 with specials and characters of every UTF-8 length", () => {
    const g = new FastInputs("text", [], 4096, 5);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const all = sample(g, 2000).map((b) => decoder.decode(b)).join("");
    for (const c of ["'", ";", "$", "`", "\\"]) expect(all).toContain(c);
    const points = [...all].map((c) => c.codePointAt(0)!);
    for (const [lo, hi] of [[0, 0x7f], [0x80, 0x7ff], [0x800, 0xffff], [0x10000, 0x10ffff]]) expect(points.some((p) => p >= lo! && p <= hi!)).toBe(true);
  });

  it("the PRNG is uniform enough to pick among small choices", () => {
    const rng = new Prng(42);
    const counts = new Array(9).fill(0);
    for (let i = 0; i < 90_000; i++) counts[rng.below(9)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });
});
