/**
 * Little-endian readers/writers for MySQL's wire types: fixed ints, length-encoded ints
 * ("lenenc"), length-encoded / NUL-terminated / rest-of-packet strings. Runtime-neutral
 * (Uint8Array only). Every read is bounds-checked and throws MysqlCodecError("truncated").
 */
import { MysqlCodecError } from "./errors.ts";

// ignoreBOM: a BOM is kept as the character it is (the server does not strip it either).
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const enc = new TextEncoder();

export function utf8Bytes(s: string): Uint8Array {
  return enc.encode(s);
}
export function utf8Text(b: Uint8Array): string {
  return utf8.decode(b);
}
/** Decodes UTF-8 or throws: the classifier must see exactly the characters the server sees. */
export function utf8TextStrict(b: Uint8Array): string {
  try {
    return utf8Strict.decode(b);
  } catch {
    throw new MysqlCodecError("malformed", "statement text is not valid UTF-8");
  }
}

export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new MysqlCodecError("truncated", `packet ends inside ${what}`);
  }
  u8(what = "int<1>"): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }
  u16(what = "int<2>"): number {
    this.need(2, what);
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }
  u24(what = "int<3>"): number {
    this.need(3, what);
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8) | (this.buf[this.pos + 2] << 16);
    this.pos += 3;
    return v;
  }
  u32(what = "int<4>"): number {
    this.need(4, what);
    const v = (this.buf[this.pos] | (this.buf[this.pos + 1] << 8) | (this.buf[this.pos + 2] << 16)) + this.buf[this.pos + 3] * 0x1000000;
    this.pos += 4;
    return v;
  }
  u64(what = "int<8>"): bigint {
    const lo = BigInt(this.u32(what));
    const hi = BigInt(this.u32(what));
    return (hi << 32n) | lo;
  }
  /** Length-encoded integer; null for the 0xfb NULL marker (only meaningful in rows). */
  lenenc(what = "lenenc int"): number | null {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) return this.u24(what);
    if (first === 0xfe) {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MysqlCodecError("too-large", `${what} ${v} is out of range`);
      return Number(v);
    }
    throw new MysqlCodecError("malformed", `${what}: 0xff is not a length-encoded integer`);
  }
  bytes(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  lenencBytes(what = "lenenc string"): Uint8Array | null {
    const n = this.lenenc(what);
    return n === null ? null : this.bytes(n, what);
  }
  nulBytes(what = "NUL-terminated string"): Uint8Array {
    const at = this.buf.indexOf(0, this.pos);
    if (at < 0 || at >= this.end) throw new MysqlCodecError("truncated", `${what} has no NUL terminator`);
    const v = this.buf.subarray(this.pos, at);
    this.pos = at + 1;
    return v;
  }
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

export class Writer {
  private buf = new Uint8Array(64);
  private len = 0;
  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): this {
    this.grow(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  u24(v: number): this {
    return this.u8(v).u8(v >>> 8).u8(v >>> 16);
  }
  u32(v: number): this {
    return this.u8(v).u8(v >>> 8).u8(v >>> 16).u8(v >>> 24);
  }
  u64(v: bigint): this {
    return this.u32(Number(v & 0xffffffffn)).u32(Number((v >> 32n) & 0xffffffffn));
  }
  lenenc(v: number): this {
    if (v < 0xfb) return this.u8(v);
    if (v <= 0xffff) return this.u8(0xfc).u16(v);
    if (v <= 0xffffff) return this.u8(0xfd).u24(v);
    return this.u8(0xfe).u64(BigInt(v));
  }
  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }
  nulString(s: string | Uint8Array): this {
    return this.bytes(typeof s === "string" ? utf8Bytes(s) : s).u8(0);
  }
  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
