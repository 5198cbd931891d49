/** Messages and shared-memory layout between the fuzz runner (run.ts) and its worker (worker.ts). */
import type { Finding } from "./check.ts";

export const SHARED = {
  /** [0] inputs started, [1] length of the current input, [2] 1 while a codec runs (else 0). */
  headerInts: 4,
  headerBytes: 16,
  /** Room for the current input (larger than any generator's maxInputBytes). */
  inputBytes: 1 << 20,
} as const;

export interface WorkerJob {
  codec: string;
  inputs: number;
  seed: number;
  shared: SharedArrayBuffer;
  maxHeapGrowth: number;
  /** Modules (absolute paths) exporting more targets as FUZZ_TARGETS (tests register a hanging one). */
  extraTargets: string[];
}

export type WorkerReport =
  | { t: "progress"; done: number }
  | { t: "done"; done: number }
  | { t: "finding"; finding: Finding };
