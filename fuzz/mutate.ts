/**
 * Input generators (fast-check arbitraries, so test failures shrink): random bytes or text, and
 * mutated seeds — bit flips, interesting bytes, truncation, splices with another seed, length-field
 * edits (int16/int32 big-endian, the shape of every length in PostgreSQL, SFTP and SSH), repeats,
 * insertions and deletions. Positions are drawn as naturals and taken modulo the current length.
 */
import fc from "fast-check";

export const INT32S = [0, 1, 3, 4, 5, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff] as const;
export const INT16S = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xfffe, 0xffff] as const;
export const INTERESTING_BYTES = [0, 1, 0x0a, 0x22, 0x27, 0x3b, 0x5c, 0x7b, 0x7f, 0x80, 0xc0, 0xe2, 0xef, 0xff] as const;

/** Characters random text is made of half the time: quoting, shell and SQL punctuation, a few letters. */
export const TEXT_SPECIALS = "'\";$\\`(){}[]|&<>*?!#~=-_ \t\n:,/.%@^0aAzZE";

export type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "byte"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "splice"; seed: number; from: number; len: number; at: number }
  | { op: "int32"; at: number; value: number; relative: boolean }
  | { op: "int16"; at: number; value: number }
  | { op: "repeat"; from: number; len: number; times: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; len: number };

const pos = fc.nat({ max: 1 << 20 });
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: pos, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant("byte" as const), at: pos, value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat({ max: 255 })) }),
  fc.record({ op: fc.constant("truncate" as const), at: pos }),
  fc.record({ op: fc.constant("splice" as const), seed: fc.nat(), from: pos, len: fc.nat({ max: 512 }), at: pos }),
  fc.record({ op: fc.constant("int32" as const), at: pos, value: fc.oneof(fc.constantFrom(...INT32S), fc.integer({ min: -8, max: 8 })), relative: fc.boolean() }),
  fc.record({ op: fc.constant("int16" as const), at: pos, value: fc.constantFrom(...INT16S) }),
  fc.record({ op: fc.constant("repeat" as const), from: pos, len: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant("insert" as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant("delete" as const), at: pos, len: fc.integer({ min: 1, max: 32 }) }),
);

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

/** Applies one mutation; the result never exceeds maxBytes. */
export function mutate(input: Uint8Array, m: Mutation, seeds: readonly Uint8Array[], maxBytes: number): Uint8Array {
  const n = input.length;
  const at = (p: number, extra = 0) => (n + extra === 0 ? 0 : p % (n + extra));
  let out: Uint8Array;
  switch (m.op) {
    case "flip": {
      if (n === 0) return input;
      out = input.slice();
      out[at(m.at)]! ^= 1 << m.bit;
      return out;
    }
    case "byte": {
      if (n === 0) return Uint8Array.of(m.value);
      out = input.slice();
      out[at(m.at)] = m.value;
      return out;
    }
    case "truncate":
      return input.subarray(0, at(m.at, 1));
    case "splice": {
      const other = seeds.length > 0 ? seeds[m.seed % seeds.length]! : input;
      const from = other.length === 0 ? 0 : m.from % other.length;
      const piece = other.subarray(from, from + m.len);
      const where = at(m.at, 1);
      out = concat(input.subarray(0, where), piece, input.subarray(where));
      break;
    }
    case "int32": {
      if (n < 4) return input;
      out = input.slice();
      const where = m.at % (n - 3);
      const view = new DataView(out.buffer);
      const value = m.relative ? view.getUint32(where) + m.value : m.value;
      view.setUint32(where, value >>> 0);
      return out;
    }
    case "int16": {
      if (n < 2) return input;
      out = input.slice();
      new DataView(out.buffer).setUint16(m.at % (n - 1), m.value);
      return out;
    }
    case "repeat": {
      if (n === 0) return input;
      const from = at(m.from);
      const piece = input.subarray(from, from + m.len);
      const parts = [input.subarray(0, from + piece.length)];
      for (let i = 0; i < m.times; i++) parts.push(piece);
      parts.push(input.subarray(from + piece.length));
      out = concat(...parts);
      break;
    }
    case "insert": {
      const where = at(m.at, 1);
      out = concat(input.subarray(0, where), m.bytes, input.subarray(where));
      break;
    }
    case "delete": {
      if (n === 0) return input;
      const where = at(m.at);
      return concat(input.subarray(0, where), input.subarray(where + m.len));
    }
  }
  return out.length > maxBytes ? out.subarray(0, maxBytes) : out;
}

const encoder = new TextEncoder();

/** Random inputs shaped for the codec: bytes, or text (any code points, including lone surrogates' U+FFFD). */
export function randomArb(kind: "bytes" | "text", maxBytes: number): fc.Arbitrary<Uint8Array> {
  if (kind === "bytes") return fc.uint8Array({ maxLength: Math.min(maxBytes, 512) });
  return fc.string({ unit: fc.oneof(fc.constantFrom(...TEXT_SPECIALS), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 256 }).map((s) => encoder.encode(s).subarray(0, maxBytes));
}

/** Mutated seeds: one seed, 1–8 mutations in a row. */
export function mutatedArb(seeds: readonly Uint8Array[], maxBytes: number): fc.Arbitrary<Uint8Array> {
  return fc
    .record({ seed: fc.nat({ max: Math.max(0, seeds.length - 1) }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 8 }) })
    .map(({ seed, mutations }) => mutations.reduce((b, m) => mutate(b, m, seeds, maxBytes), seeds[seed] ?? new Uint8Array(0)));
}

/** What the harness feeds a codec: mostly mutated captures, some random input, some seeds as they are. */
export function inputArb(kind: "bytes" | "text", seeds: readonly Uint8Array[], maxBytes: number): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) return randomArb(kind, maxBytes);
  return fc.oneof(
    { weight: 6, arbitrary: mutatedArb(seeds, maxBytes) },
    { weight: 3, arbitrary: randomArb(kind, maxBytes) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
  );
}
