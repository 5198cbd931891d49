/**
 * What a fuzz target is: one codec, fed raw bytes, with the errors it is allowed to throw and a
 * bound on how much it may produce. The harness (check.ts) turns everything else into a finding.
 */

/** An error class a codec throws on purpose for bad input (the caller turns it into a clean refusal). */
export type TypedError = abstract new (...args: never[]) => Error;

export interface FuzzTarget {
  /** Short name: the --codec= value and the folder under fuzz/corpus/. */
  readonly name: string;
  /** What the bytes are read as: text codecs get them UTF-8 decoded (invalid sequences become U+FFFD). */
  readonly input: "bytes" | "text";
  /** The codec's own error classes; any other exception is a crash. Empty: the codec never throws. */
  readonly typedErrors: readonly TypedError[];
  /**
   * Run the codec over one input and return what it produced (for the size bound). May return a
   * promise (the policy loader is async). Must not keep state between inputs: a finding is
   * reproduced from its input alone.
   */
  run(bytes: Uint8Array, text: string): unknown;
  /** Largest output size (see outputSize) allowed for an input of n bytes: allocation stays bounded. */
  maxOutput(n: number): number;
  /** Wall-clock budget for one input before the watchdog calls it a hang (default 5000 ms: generous, the machine may be busy). */
  readonly hangMs?: number;
  /** Largest input the generators make (default 4096 bytes). */
  readonly maxInputBytes?: number;
}

/**
 * Size of a codec's output in "units": one per byte of a byte array, per character of a string,
 * per number/boolean, per array element or object property (plus what it holds). Walks at most
 * `cap` units, so a huge output is measured without building anything new.
 */
export function outputSize(value: unknown, cap = Number.MAX_SAFE_INTEGER): number {
  let total = 0;
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (total > cap) return;
    if (v === null || v === undefined) return;
    switch (typeof v) {
      case "string":
        total += v.length;
        return;
      case "number":
      case "boolean":
      case "bigint":
        total += 1;
        return;
      case "object":
        break;
      default:
        return;
    }
    const o = v as object;
    if (seen.has(o)) return;
    seen.add(o);
    if (ArrayBuffer.isView(o)) {
      total += o.byteLength;
      return;
    }
    if (o instanceof Map) {
      for (const [k, x] of o) {
        total += 1;
        walk(k);
        walk(x);
      }
      return;
    }
    if (o instanceof Set) {
      for (const x of o) {
        total += 1;
        walk(x);
      }
      return;
    }
    if (Array.isArray(o)) {
      for (const x of o) {
        total += 1;
        walk(x);
      }
      return;
    }
    for (const k of Object.keys(o)) {
      total += 1;
      walk((o as Record<string, unknown>)[k]);
    }
  };
  walk(value);
  return total;
}
