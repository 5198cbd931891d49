/**
 * The one hex and base64 module (runtime-neutral, no Buffer): every other file imports these.
 * Decoders are strict — one spelling per byte string — because their results are compared,
 * hashed and signed: a second spelling of the same bytes would be a second identity.
 */

export class EncodingError extends Error {
  override name = "EncodingError";
}

const HEX_DIGITS = "0123456789abcdef";
const HEX_PAIRS: string[] = Array.from({ length: 256 }, (_, b) => HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!);

/** Lower-case hex, two digits per byte. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX_PAIRS[bytes[i]!];
  return s;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Hex (either case, even length, nothing else) → bytes. */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new EncodingError("hex text has an odd number of digits");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(hex.charCodeAt(2 * i));
    const lo = hexValue(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new EncodingError(`not a hex digit at ${hi < 0 ? 2 * i : 2 * i + 1}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const decodeTable = (alphabet: string): Int8Array => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
};
const STD_VALUES = decodeTable(STD);
const URL_VALUES = decodeTable(URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? "=" : "");
  }
  return out;
}

function decode(text: string, values: Int8Array, padded: boolean, what: string): Uint8Array {
  let s = text;
  if (padded) {
    if (s.length % 4 !== 0) throw new EncodingError(`invalid ${what}: length is not a multiple of 4`);
    if (s.endsWith("==")) s = s.slice(0, -2);
    else if (s.endsWith("=")) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1) throw new EncodingError(`invalid ${what}: impossible length`);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? values[c]! : -1;
    if (v < 0) throw new EncodingError(`invalid ${what}: unexpected character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero: "QQ" and "QR" would otherwise both decode to "A".
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new EncodingError(`invalid ${what}: non-zero padding bits`);
  return out.subarray(0, o);
}

/** RFC 4648 §4 base64 with padding. */
export const base64Encode = (bytes: Uint8Array): string => encode(bytes, STD, true);
export const base64Decode = (text: string): Uint8Array => decode(text, STD_VALUES, true, "base64");
/** RFC 4648 §5 base64url without padding (JWS, JWK, audit signatures). */
export const base64urlEncode = (bytes: Uint8Array): string => encode(bytes, URL, false);
export const base64urlDecode = (text: string): Uint8Array => decode(text, URL_VALUES, false, "base64url");
