/**
 * Binary-format values that carry text inside a container — arrays, records (composites),
 * ranges, domains and enums — decoded, their text leaves run through the content detectors, and
 * re-encoded with a valid layout (docs/MASKING.md, "Binary containers"). The WASM masker treats
 * these types as opaque; the worker applies this pass to such columns only.
 *
 * A leaf that a detector hits is replaced inside the text (text, varchar, bpchar, name, xml,
 * bytea, enum labels: "[REDACTED]" is a valid value of each) or made NULL where the replacement
 * could break the value (json, jsonb, int8 that spells a card number; a range bound cannot be
 * NULL, so there the whole value is NULL). Whatever cannot be decoded exactly — an unknown type,
 * a malformed layout, a multirange — makes the whole value NULL: never passed through.
 */
import { concat } from "../../protocols/postgres/codec/codec.ts";

export interface PgTypeInfo {
  /** pg_type.typtype: b base, c composite, d domain, e enum, r range, m multirange, p pseudo */
  typtype: string;
  /** Array element type (0: not an array) */
  elem: number;
  /** Domain base type or range subtype */
  base: number;
}

export type TypeLookup = (oid: number) => PgTypeInfo | undefined;
/** The detectors over text; returns the same array when nothing matched. */
export type TextMasker = (text: Uint8Array) => Uint8Array;

const TEXT_LEAVES = new Set([25, 1043, 1042, 19, 705, 142, 17, 1033 /* aclitem */]);
const JSON_LEAVES = new Set([114, 3802]);
/** Leaves whose binary form cannot hold text (fixed-size numbers, times, uuid, network, bits…). */
const FIXED_LEAVES = new Set([16, 21, 23, 26, 27, 28, 29, 700, 701, 790, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 869, 650, 829, 774, 1560, 1562, 3220, 1700, 18]);
const MAX_DEPTH = 16;

class Undecodable extends Error {}

/** Does a binary value of this type need this pass (a container or enum that may hold text)? */
export function needsBinaryPass(oid: number, lookup: TypeLookup): boolean {
  if (TEXT_LEAVES.has(oid) || JSON_LEAVES.has(oid) || FIXED_LEAVES.has(oid) || oid === 20) return false;
  const t = lookup(oid);
  if (!t) return true;
  if (t.elem !== 0 && (t.typtype === "b" || t.typtype === "p")) return !FIXED_LEAVES.has(t.elem);
  return true;
}

/** The masked value bytes, the same array when nothing changed, or null for SQL NULL. */
export function maskBinaryValue(oid: number, value: Uint8Array, lookup: TypeLookup, mask: TextMasker): Uint8Array | null {
  try {
    const out = leaf(oid, value, lookup, mask, 0);
    return out;
  } catch (e) {
    if (e instanceof Undecodable || e instanceof RangeError) return null;
    throw e;
  }
}

function leaf(oid: number, v: Uint8Array, lookup: TypeLookup, mask: TextMasker, depth: number): Uint8Array | null {
  if (depth > MAX_DEPTH) throw new Undecodable();
  if (FIXED_LEAVES.has(oid)) return v;
  if (TEXT_LEAVES.has(oid)) return mask(v);
  if (JSON_LEAVES.has(oid)) {
    const body = oid === 3802 ? v.subarray(1) : v;
    if (oid === 3802 && v[0] !== 1) throw new Undecodable();
    return mask(body) === body ? v : null;
  }
  if (oid === 20) {
    if (v.length !== 8) throw new Undecodable();
    const digits = new TextEncoder().encode(new DataView(v.buffer, v.byteOffset, 8).getBigInt64(0).toString());
    return mask(digits) === digits ? v : null;
  }
  if (oid === 2249) return record(v, lookup, mask, depth);
  const t = lookup(oid);
  if (!t) throw new Undecodable();
  if (t.typtype === "e") return mask(v);
  if (t.typtype === "d") return leaf(t.base, v, lookup, mask, depth + 1);
  if (t.typtype === "c") return record(v, lookup, mask, depth);
  if (t.typtype === "r") return range(t.base, v, lookup, mask, depth);
  if ((t.typtype === "b" || t.typtype === "p") && t.elem !== 0) return array(v, lookup, mask, depth); // _record is a pseudo-type array
  throw new Undecodable();
}

function array(v: Uint8Array, lookup: TypeLookup, mask: TextMasker, depth: number): Uint8Array {
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  const ndim = dv.getInt32(0);
  const elem = dv.getUint32(8);
  if (ndim < 0 || ndim > 6) throw new Undecodable();
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= dv.getInt32(12 + d * 8);
  let off = 12 + ndim * 8;
  const parts: Uint8Array[] = [];
  let changed = false;
  let nulls = dv.getInt32(4) !== 0;
  for (let i = 0; i < count; i++) {
    const len = dv.getInt32(off);
    off += 4;
    if (len < 0) {
      parts.push(int32(-1));
      continue;
    }
    if (off + len > v.length) throw new Undecodable();
    const element = v.subarray(off, off + len);
    off += len;
    const masked = leaf(elem, element, lookup, mask, depth + 1);
    if (masked !== element) changed = true;
    if (masked === null) {
      nulls = true;
      parts.push(int32(-1));
    } else parts.push(int32(masked.length), masked);
  }
  if (off !== v.length) throw new Undecodable();
  if (!changed) return v;
  const header = v.slice(0, 12 + ndim * 8);
  new DataView(header.buffer).setInt32(4, nulls ? 1 : 0);
  return concat([header, ...parts]);
}

function record(v: Uint8Array, lookup: TypeLookup, mask: TextMasker, depth: number): Uint8Array {
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  const n = dv.getInt32(0);
  if (n < 0 || n > 1664) throw new Undecodable();
  let off = 4;
  const parts: Uint8Array[] = [v.subarray(0, 4)];
  let changed = false;
  for (let i = 0; i < n; i++) {
    const type = dv.getUint32(off);
    const len = dv.getInt32(off + 4);
    off += 8;
    if (len < 0) {
      parts.push(uint32(type), int32(-1));
      continue;
    }
    if (off + len > v.length) throw new Undecodable();
    const field = v.subarray(off, off + len);
    off += len;
    const masked = leaf(type, field, lookup, mask, depth + 1);
    if (masked !== field) changed = true;
    parts.push(uint32(type), ...(masked === null ? [int32(-1)] : [int32(masked.length), masked]));
  }
  if (off !== v.length) throw new Undecodable();
  return changed ? concat(parts) : v;
}

function range(subtype: number, v: Uint8Array, lookup: TypeLookup, mask: TextMasker, depth: number): Uint8Array {
  const flags = v[0]!;
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  let off = 1;
  const parts: Uint8Array[] = [v.subarray(0, 1)];
  let changed = false;
  // a bound is sent unless the range is empty (0x01) or the bound is infinite (0x08/0x10) or absent (0x20/0x40)
  for (const absent of [0x01 | 0x08 | 0x20, 0x01 | 0x10 | 0x40]) {
    if ((flags & absent) !== 0) continue;
    const len = dv.getInt32(off);
    off += 4;
    if (len < 0 || off + len > v.length) throw new Undecodable();
    const bound = v.subarray(off, off + len);
    off += len;
    const masked = leaf(subtype, bound, lookup, mask, depth + 1);
    if (masked === null) throw new Undecodable(); // a bound cannot be NULL: the whole value is
    if (masked !== bound) changed = true;
    parts.push(int32(masked.length), masked);
  }
  if (off !== v.length) throw new Undecodable();
  return changed ? concat(parts) : v;
}

function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

function uint32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

