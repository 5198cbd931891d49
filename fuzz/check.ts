/**
 * One input through one codec: a finding when it throws anything but its own typed error, or
 * produces more than its size bound. (Hangs and heap growth are caught around this: worker.ts/run.ts.)
 */
import { outputSize, type FuzzTarget } from "./target.ts";

export type FindingKind = "exception" | "oversize" | "hang" | "heap" | "out-of-memory";

export interface Finding {
  codec: string;
  kind: FindingKind;
  /** One line: what went wrong. */
  message: string;
  /** Stack of the exception, when there is one. */
  stack?: string;
  input: Uint8Array;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

export function textOf(target: FuzzTarget, bytes: Uint8Array): string {
  return target.input === "text" ? decoder.decode(bytes) : "";
}

function judge(target: FuzzTarget, bytes: Uint8Array, outcome: { value: unknown } | { error: unknown }): Finding | null {
  if ("error" in outcome) {
    const e = outcome.error;
    if (target.typedErrors.some((t) => e instanceof t)) return null;
    const err = e instanceof Error ? e : new Error(`non-Error thrown: ${String(e)}`);
    return { codec: target.name, kind: "exception", message: `${err.name}: ${err.message}`.split("\n")[0]!.slice(0, 300), stack: err.stack, input: bytes };
  }
  const bound = target.maxOutput(bytes.length);
  const size = outputSize(outcome.value, bound);
  if (size > bound) return { codec: target.name, kind: "oversize", message: `output larger than ${bound} units for ${bytes.length} input bytes`, input: bytes };
  return null;
}

/** Runs one input; returns synchronously unless the codec is async (then a promise). */
export function checkInput(target: FuzzTarget, bytes: Uint8Array): Finding | null | Promise<Finding | null> {
  let value: unknown;
  try {
    value = target.run(bytes, textOf(target, bytes));
  } catch (error) {
    return judge(target, bytes, { error });
  }
  if (value instanceof Promise) {
    return value.then(
      (v) => judge(target, bytes, { value: v }),
      (error) => judge(target, bytes, { error }),
    );
  }
  return judge(target, bytes, { value });
}
