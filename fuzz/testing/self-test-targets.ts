/**
 * Deliberately broken codecs, for the harness's own test (fuzz.test.ts): each misbehaves on a
 * recognisable input so the test can check the harness names that input. Never in the codec table.
 */
import type { FuzzTarget } from "../target.ts";

const retained: number[][] = [];
const linear = (n: number) => 4 * n + 64;

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  {
    name: "self-test-hang",
    input: "bytes",
    typedErrors: [],
    hangMs: 500,
    run: (b) => {
      if (b.length === 7) for (;;); // the hang the watchdog must catch, with this input
      return b.length;
    },
    maxOutput: linear,
  },
  {
    name: "self-test-oom",
    input: "bytes",
    typedErrors: [],
    // Reaching the heap cap can take seconds of GC on a loaded machine: that is not the hang under test.
    hangMs: 60_000,
    run: (b) => {
      if (b.length !== 5) return null;
      const hoard: number[][] = [];
      for (;;) hoard.push(new Array(1 << 16).fill(b[0]));
    },
    maxOutput: linear,
  },
  { name: "self-test-oversize", input: "bytes", typedErrors: [], run: (b) => new Uint8Array(b.length * 100 + 100), maxOutput: linear },
  {
    name: "self-test-leak",
    input: "bytes",
    typedErrors: [],
    run: (b) => {
      retained.push(new Array(2048).fill(b.length)); // ~16 KiB of heap kept forever: heap grows with the number of inputs
      return b.length;
    },
    maxOutput: linear,
  },
];
