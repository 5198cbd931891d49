/**
 * Byte-array helpers shared by every codec (runtime-neutral: worker, connector and CLI bundles).
 */

/** The parts joined into one new array, in order (always a copy, so callers may keep or reuse the parts). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
