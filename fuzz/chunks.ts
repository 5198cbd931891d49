/** Helpers the codec table's entries share. */

/** Deterministic chunk sizes from the input itself (a finding reproduces from its bytes alone). */
export function chunksOf(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let state = (bytes.length * 2654435761) >>> 0;
  for (let off = 0; off < bytes.length; ) {
    state = (state * 1103515245 + 12345) >>> 0;
    const size = 1 + (state >>> 16) % (bytes.length % 3 === 0 ? 9 : 700);
    out.push(bytes.subarray(off, off + size));
    off += size;
  }
  return out;
}

/** An output bound of k units per input byte plus c. */
export const linear = (k: number, c: number) => (n: number) => k * n + c;

/** A codec that disagrees with the harness's reference check (a wrong answer, not a refusal). */
export class OracleMismatch extends Error {
  override name = "OracleMismatch";
}

/** Runs `f`; its typed error counts as a clean refusal (undefined), anything else propagates. */
export function refusedAs<T>(typed: abstract new (...args: never[]) => Error, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof typed) return undefined;
    throw e;
  }
}
