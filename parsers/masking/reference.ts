/**
 * Plain TypeScript REFERENCE of the WASM masker (wasm/assembly/mask.ts) — same semantics, written
 * for clarity, used only by tests: property tests assert both produce identical bytes. Unlike the
 * WASM scanner it has no first-byte dispatch table and no word skipping: it simply tries every
 * detector, in priority order, at every candidate position.
 */
import {
  compileConfig,
  validateTables,
  UNKNOWN_SHAPE_COUNT,
  type CompiledConfig,
  type CopyFormatOptions,
  type MaskingConfig,
  type PatternItem,
} from "./config.ts";
import { toHex } from "../encoding/hex-base64.ts";

const encoder = new TextEncoder();

// ---------------------------------------------------------------- SHA-256 / HMAC
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256(msg: Uint8Array): Uint8Array {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const padded = new Uint8Array(((msg.length + 9 + 63) >> 6) << 6);
  padded.set(msg);
  padded[msg.length] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor((msg.length * 8) / 2 ** 32));
  dv.setUint32(padded.length - 4, (msg.length * 8) >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let o = 0; o < padded.length; o += 64) {
    for (let t = 0; t < 16; t++) w[t] = dv.getUint32(o + t * 4);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15]!, 7) ^ rotr(w[t - 15]!, 18) ^ (w[t - 15]! >>> 3);
      const s1 = rotr(w[t - 2]!, 17) ^ rotr(w[t - 2]!, 19) ^ (w[t - 2]! >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h as unknown as number[];
    for (let t = 0; t < 64; t++) {
      const t1 = (hh! + (rotr(e!, 6) ^ rotr(e!, 11) ^ rotr(e!, 25)) + ((e! & f!) ^ (~e! & g!)) + K[t]! + w[t]!) >>> 0;
      const t2 = ((rotr(a!, 2) ^ rotr(a!, 13) ^ rotr(a!, 22)) + ((a! & b!) ^ (a! & c!) ^ (b! & c!))) >>> 0;
      hh = g; g = f; f = e; e = (d! + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a!; h[1] += b!; h[2] += c!; h[3] += d!; h[4] += e!; h[5] += f!; h[6] += g!; h[7] += hh!;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let k = 0; k < 8; k++) ov.setUint32(k * 4, h[k]!);
  return out;
}

export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const k0 = new Uint8Array(64);
  k0.set(key.length > 64 ? sha256(key) : key);
  const inner = new Uint8Array(64 + msg.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = k0[i]! ^ 0x36;
    outer[i] = k0[i]! ^ 0x5c;
  }
  inner.set(msg, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

// ---------------------------------------------------------------- byte classes
const isDigit = (c: number) => c >= 48 && c <= 57;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isAlnum = (c: number) => isAlpha(c) || isDigit(c);
const isWord = (c: number) => isAlnum(c) || c === 95;
const inChars = (chars: string) => {
  const set = new Set([...chars].map((ch) => ch.charCodeAt(0)));
  return (c: number) => isAlnum(c) || set.has(c);
};
const isB64u = inChars("_-");
const isLocal = inChars("._%+-");
const isDomain = inChars(".-");
const isHashCh = inChars("./+=,$");
const isBcrypt = inChars("./");
const isS40 = inChars("/+");
const isBearerCh = inChars("._~+/=-");
const isSlackCh = inChars("-");

// ---------------------------------------------------------------- detectors
interface Ctx {
  stop: number; // -1 none
  unsafe: number[];
  sanitize: boolean;
}

type Match = { start: number; end: number } | null;

class Detectors {
  constructor(private readonly v: Uint8Array) {}
  private b(q: number): number {
    return this.v[q]!;
  }
  private lit(i: number, e: number, s: string): boolean {
    if (i + s.length > e) return false;
    for (let k = 0; k < s.length; k++) if (this.v[i + k] !== s.charCodeAt(k)) return false;
    return true;
  }

  private pemLabel(j: number, e: number): number {
    let k = j;
    while (k < e && k - j < 40) {
      const c = this.b(k);
      if (!isUpper(c) && !isDigit(c) && c !== 32) break;
      k++;
    }
    if (k - j < 11 || !this.lit(k - 11, e, "PRIVATE KEY") || !this.lit(k, e, "-----")) return 0;
    return k + 5;
  }

  privateKey(i: number, e: number, stop: number): number {
    if (!this.lit(i, e, "-----BEGIN ")) return 0;
    const h = this.pemLabel(i + 11, e);
    if (!h) return 0;
    let limit = e;
    if (stop >= 0) {
      const q = this.v.subarray(h, e).indexOf(stop);
      if (q >= 0) limit = h + q;
    }
    for (let q = h; q + 9 <= limit; q++) {
      if (this.lit(q, limit, "-----END ")) {
        const t = this.pemLabel(q + 9, limit);
        if (t) return t;
      }
    }
    return limit;
  }

  passwordHash(i: number, e: number): number {
    if (this.b(i) !== 36) return 0;
    if (i + 7 <= e && this.b(i + 1) === 50 && this.b(i + 3) === 36 && this.b(i + 6) === 36 && "abxy".includes(String.fromCharCode(this.b(i + 2))) &&
        isDigit(this.b(i + 4)) && isDigit(this.b(i + 5))) {
      if (i + 60 > e) return 0;
      for (let k = 7; k < 60; k++) if (!isBcrypt(this.b(i + k))) return 0;
      if (i + 60 < e && isBcrypt(this.b(i + 60))) return 0;
      return i + 60;
    }
    let j = 0;
    for (const prefix of ["$argon2id$", "$argon2i$", "$argon2d$", "$scrypt$", "$7$", "$6$", "$5$", "$y$"]) {
      if (this.lit(i, e, prefix)) {
        j = i + prefix.length;
        break;
      }
    }
    if (!j) return 0;
    let k = j;
    while (k < e && isHashCh(this.b(k))) k++;
    return k - j >= 20 ? k : 0;
  }

  jwt(i: number, e: number): number {
    if (!this.lit(i, e, "eyJ")) return 0;
    let k = i + 3;
    while (k < e && isB64u(this.b(k))) k++;
    if (k - i < 10 || k >= e || this.b(k) !== 46) return 0;
    const j = k + 1;
    k = j;
    while (k < e && isB64u(this.b(k))) k++;
    if (k - j < 2 || k >= e || this.b(k) !== 46) return 0;
    k++;
    while (k < e && isB64u(this.b(k))) k++;
    return k;
  }

  github(i: number, e: number): number {
    if (this.lit(i, e, "github_pat_")) {
      let k = i + 11;
      while (k < e && isWord(this.b(k))) k++;
      return k - (i + 11) >= 22 ? k : 0;
    }
    if (!(this.lit(i, e, "ghp_") || this.lit(i, e, "gho_") || this.lit(i, e, "ghs_") || this.lit(i, e, "ghu_") || this.lit(i, e, "ghr_"))) return 0;
    let k = i + 4;
    while (k < e && isAlnum(this.b(k))) k++;
    if (k - (i + 4) < 36 || (k < e && isWord(this.b(k)))) return 0;
    return k;
  }

  gitlab(i: number, e: number): number {
    if (!this.lit(i, e, "glpat-")) return 0;
    let k = i + 6;
    while (k < e && isB64u(this.b(k))) k++;
    return k - (i + 6) >= 20 ? k : 0;
  }

  slack(i: number, e: number): number {
    if (!(this.lit(i, e, "xoxa-") || this.lit(i, e, "xoxb-") || this.lit(i, e, "xoxp-") || this.lit(i, e, "xoxr-"))) return 0;
    let k = i + 5;
    while (k < e && isSlackCh(this.b(k))) k++;
    if (k - (i + 5) < 10 || (k < e && isWord(this.b(k)))) return 0;
    return k;
  }

  awsAccessKey(i: number, e: number): number {
    if (!(this.lit(i, e, "AKIA") || this.lit(i, e, "ASIA")) || i + 20 > e) return 0;
    for (let k = 4; k < 20; k++) if (!isUpper(this.b(i + k)) && !isDigit(this.b(i + k))) return 0;
    if (i + 20 < e && isWord(this.b(i + 20))) return 0;
    return i + 20;
  }

  bearer(i: number, e: number): Match {
    if (i + 7 > e) return null;
    const word = latin1(this.v.subarray(i, i + 6)).replace(/[A-Z]/g, (ch) => ch.toLowerCase());
    if (word !== "bearer" || this.b(i + 6) !== 32) return null;
    let j = i + 6;
    while (j < e && this.b(j) === 32) j++;
    let k = j;
    while (k < e && isBearerCh(this.b(k))) k++;
    return k - j >= 8 ? { start: j, end: k } : null;
  }

  awsSecretKey(p: number, i: number, e: number): number {
    let k = i;
    while (k < e && k - i < 41 && isS40(this.b(k))) k++;
    if (k - i !== 40 || (k < e && this.b(k) === 61)) return 0;
    const key = this.v.subarray(i, k);
    if (!key.some(isUpper) || !key.some(isLower) || !key.some(isDigit)) return 0;
    const lo = i - p > 64 ? i - 64 : p;
    const before = String.fromCharCode(...this.v.subarray(lo, i)).replace(/[A-Z]/g, (c) => c.toLowerCase());
    return before.includes("aws") || before.includes("secret") ? k : 0;
  }

  email(i: number, e: number): number {
    if (!isAlnum(this.b(i))) return 0;
    let j = i;
    while (j < e && j - i < 65 && isLocal(this.b(j))) j++;
    if (j - i > 64 || j >= e || this.b(j) !== 64) return 0;
    const d = j + 1;
    let k = d;
    while (k < e && k - d < 254 && isDomain(this.b(k))) k++;
    if (k - d > 253) return 0;
    while (k > d && this.b(k - 1) === 46) k--;
    if (k === d || !isAlnum(this.b(d))) return 0;
    const domain = String.fromCharCode(...this.v.subarray(d, k));
    if (domain.includes("..")) return 0;
    const dot = domain.lastIndexOf(".");
    if (dot <= 0) return 0;
    const tld = domain.slice(dot + 1);
    return tld.length >= 2 && /^[A-Za-z]+$/.test(tld) ? k : 0;
  }

  iban(i: number, e: number): number {
    const up = (c: number) => isUpper(c) || isDigit(c);
    if (i + 4 > e || !isUpper(this.b(i)) || !isUpper(this.b(i + 1)) || !isDigit(this.b(i + 2)) || !isDigit(this.b(i + 3))) return 0;
    let pos = i + 4;
    let cnt = 4;
    const ends: [number, number][] = [];
    for (;;) {
      while (pos < e && up(this.b(pos)) && cnt < 34) {
        pos++;
        cnt++;
      }
      if (pos + 1 < e && this.b(pos) === 32 && cnt % 4 === 0 && cnt < 34 && up(this.b(pos + 1))) {
        ends.push([pos, cnt]);
        pos++;
        continue;
      }
      break;
    }
    ends.push([pos, cnt]);
    for (const [end, c] of ends.reverse()) {
      if (c < 15 || c > 34 || (end < e && isAlnum(this.b(end)))) continue;
      const chars = [...this.v.subarray(i, end)].filter((x) => x !== 32);
      const rearranged = [...chars.slice(4), ...chars.slice(0, 4)];
      let r = 0;
      for (const x of rearranged) r = isDigit(x) ? (r * 10 + (x - 48)) % 97 : (r * 100 + (x - 55)) % 97;
      if (r === 1) return end;
    }
    return 0;
  }

  private digitGroups(i: number, e: number, seps: string, same: boolean, max: number): [number, number][] {
    let pos = i;
    let digits = 0;
    let sep = 0;
    const ends: [number, number][] = [];
    for (;;) {
      while (pos < e && isDigit(this.b(pos))) {
        pos++;
        digits++;
      }
      ends.push([pos, digits]);
      if (digits < max && pos + 1 < e && isDigit(this.b(pos + 1))) {
        const c = this.b(pos);
        if (seps.includes(String.fromCharCode(c)) && (!same || sep === 0 || c === sep)) {
          sep = c;
          pos++;
          continue;
        }
      }
      break;
    }
    return ends;
  }

  card(i: number, e: number): number {
    const c0 = this.b(i);
    if (c0 < 50 || c0 > 54) return 0;
    for (const [end, d] of this.digitGroups(i, e, " -", true, 19).reverse()) {
      if (d < 13 || d > 19 || (end < e && isWord(this.b(end)))) continue;
      const digits = [...this.v.subarray(i, end)].filter(isDigit).map((x) => x - 48);
      let sum = 0;
      digits.reverse().forEach((d0, k) => {
        let d1 = k % 2 === 1 ? d0 * 2 : d0;
        if (d1 > 9) d1 -= 9;
        sum += d1;
      });
      if (sum % 10 === 0) return end;
    }
    return 0;
  }

  ssn(i: number, e: number): number {
    if (i + 11 > e) return 0;
    const s = String.fromCharCode(...this.v.subarray(i, i + 11));
    const m = /^(\d{3})-(\d{2})-(\d{4})$/.exec(s);
    if (!m || m[1]![0] === "9" || m[1] === "000" || m[1] === "666" || m[2] === "00" || m[3] === "0000") return 0;
    const end = i + 11;
    if (end < e && (isWord(this.b(end)) || this.b(end) === 45)) return 0;
    return end;
  }

  private phoneRight(end: number, e: number): boolean {
    if (end >= e) return true;
    const c = this.b(end);
    if (isWord(c)) return false;
    return !((c === 45 || c === 46) && end + 1 < e && isDigit(this.b(end + 1)));
  }

  phone(i: number, e: number): number {
    const c = this.b(i);
    if (c === 43) {
      if (i + 1 >= e || this.b(i + 1) < 49 || this.b(i + 1) > 57) return 0;
      for (const [end, d] of this.digitGroups(i + 1, e, " -.", false, 15).reverse()) {
        if (d < 8 || d > 15 || (end < e && isWord(this.b(end)))) continue;
        return end;
      }
      return 0;
    }
    if (c === 48) {
      let k = i;
      while (k < e && isDigit(this.b(k))) k++;
      const first = k - i;
      if (first < 2 || first > 5) return 0;
      let total = first;
      let pos = k;
      let sep = 0;
      let groups = 0;
      while (pos + 1 < e && (this.b(pos) === 32 || this.b(pos) === 45) && (sep === 0 || this.b(pos) === sep) && isDigit(this.b(pos + 1))) {
        sep = this.b(pos);
        let q = pos + 1;
        while (q < e && isDigit(this.b(q))) q++;
        const g = q - pos - 1;
        if (g < 3 || g > 4) return 0;
        total += g;
        pos = q;
        groups++;
        if (total > 11) return 0;
      }
      if (groups === 0 || total < 10) return 0;
      return this.phoneRight(pos, e) ? pos : 0;
    }
    const d3 = (q: number) => q + 3 <= e && isDigit(this.b(q)) && isDigit(this.b(q + 1)) && isDigit(this.b(q + 2)) && this.b(q) >= 50;
    let j: number;
    let sep1 = 0;
    const seps = [45, 46, 32];
    if (c === 40) {
      if (!d3(i + 1) || i + 5 > e || this.b(i + 4) !== 41) return 0;
      j = i + 5;
      if (j < e && this.b(j) === 32) j++;
    } else {
      if (!d3(i) || i + 4 > e) return 0;
      sep1 = this.b(i + 3);
      if (!seps.includes(sep1)) return 0;
      j = i + 4;
    }
    if (!d3(j) || j + 4 > e) return 0;
    const sep2 = this.b(j + 3);
    if (!seps.includes(sep2) || (sep1 !== 0 && sep2 !== sep1) || j + 8 > e) return 0;
    for (let q = j + 4; q < j + 8; q++) if (!isDigit(this.b(q))) return 0;
    return this.phoneRight(j + 8, e) ? j + 8 : 0;
  }

  custom(items: PatternItem[], p: number, i: number, e: number, ctx: Ctx): number {
    let pos = i;
    for (const it of items) {
      if (it.kind === "boundary") {
        const before = pos > p && isWord(this.b(pos - 1));
        const after = pos < e && isWord(this.b(pos));
        if (before === after) return 0;
        continue;
      }
      let cnt = 0;
      while (cnt < it.max && pos < e && (it.set[this.b(pos) >> 3]! >> (this.b(pos) & 7)) & 1) {
        pos++;
        cnt++;
      }
      if (cnt < it.min) return 0;
    }
    if (pos === i) return 0;
    while (pos < e && (this.b(pos) & 0xc0) === 0x80) pos++;
    for (let q = i; q < pos; q++) if (ctx.unsafe.includes(this.b(q))) return 0;
    return pos;
  }
}

// ---------------------------------------------------------------- the masker
/** Fixed-format text forms that cannot hold a detector match: never scanned, NULL under a column rule. */
const FIXED_TYPES = new Set([16, 17, 21, 23, 26, 27, 28, 29, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 869, 650, 829, 774, 1560, 1562, 3220]);
/** Numbers that can spell a card number: scanned, NULL on a hit. */
const STRICT_TYPES = new Set([20, 1700, 790]);
/** Built-in array types (text format): scanned like text, NULL under a column rule. */
const ARRAY_TYPES = new Set([1000, 1001, 1002, 1003, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1040, 1041, 1115, 1182, 1183, 1185, 1187,
  1231, 1270, 199, 3807, 2951, 651, 143, 791, 1561, 1563]);
type Cls = "text" | "strict" | "json" | "jsonb_bin" | "opaque" | "array";

function classify(oid: number, fmt: number): Cls {
  if (fmt === 0 && ARRAY_TYPES.has(oid)) return "array";
  if (fmt === 0) return FIXED_TYPES.has(oid) ? "opaque" : STRICT_TYPES.has(oid) ? "strict" : oid === 114 || oid === 3802 ? "json" : "text";
  if (oid === 3802) return "jsonb_bin";
  if (oid === 114) return "json";
  return [25, 1043, 1042, 19, 705, 142].includes(oid) ? "text" : "opaque";
}

function globMatch(pat: string, s: string): boolean {
  const esc = pat.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${esc}$`).test(s.replace(/[A-Z]/g, (ch) => ch.toLowerCase()));
}

const tail = (s: string) => s.slice(s.lastIndexOf(".") + 1);
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

class Out {
  private buf = new Uint8Array(1024);
  length = 0;
  push(...bytes: number[]): void {
    for (const x of bytes) this.bytes(new Uint8Array([x]));
  }
  bytes(b: Uint8Array): void {
    if (this.length + b.length > this.buf.length) {
      const n = new Uint8Array(Math.max(this.buf.length * 2, this.length + b.length));
      n.set(this.buf.subarray(0, this.length));
      this.buf = n;
    }
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  be32(n: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n);
    this.bytes(b);
  }
  patch(at: number, n: number): void {
    new DataView(this.buf.buffer).setInt32(at, n);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export class ReferenceMasker {
  private readonly cfg: CompiledConfig;
  private tables: Map<number, string>;
  private totals: number[] = new Array(33).fill(0);
  private plan: { rule: number; cls: Cls }[] | null = null;
  /** header: binary signature still to come; textHeader: the next CopyData's first row is the header line. */
  private copy: { kind: "text" | "csv" | "binary"; delim: number; quote: number; escape: number; nul: Uint8Array; plan: number[] | null; header: boolean; textHeader: boolean } | null = null;
  private pendingCopy: { kind: "text" | "csv"; delim: number; quote: number; escape: number; nul: Uint8Array; plan: number[] | null; textHeader: boolean } | null = null;

  constructor(config: MaskingConfig) {
    this.cfg = compileConfig(config);
    this.tables = this.cfg.tables;
  }

  setTables(t: ReadonlyMap<number, string> | Record<number, string>): void {
    this.tables = validateTables(t);
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    this.cfg.rules.forEach((r, k) => (out[r.name] = this.totals[k]!));
    if (this.totals[32]! > 0) out[UNKNOWN_SHAPE_COUNT] = this.totals[32]!;
    return out;
  }

  ruleForColumn(name: string, table: string | null): number {
    for (const rule of this.cfg.rules) {
      for (const g of rule.columns) {
        if (g.table !== null && table) {
          if (!globMatch(g.table, table) && !globMatch(tail(g.table), tail(table))) continue;
        }
        if (globMatch(g.column, name)) return rule.index;
      }
    }
    return -1;
  }

  setCopyFormat(format: "text" | "csv", o: CopyFormatOptions = {}): void {
    const csv = format === "csv";
    const ch = (s: string | undefined, d: number) => (s === undefined ? d : s.charCodeAt(0));
    const quote = ch(o.quote, 34);
    this.pendingCopy = {
      kind: format,
      delim: ch(o.delimiter, csv ? 44 : 9),
      quote,
      escape: ch(o.escape, quote),
      nul: encoder.encode(o.null ?? (csv ? "" : "\\N")),
      plan: o.columns ? o.columns.map((c) => this.ruleForColumn(latin1(encoder.encode(c)), o.table ? latin1(encoder.encode(o.table)) : null)) : null,
      textHeader: o.header === true,
    };
  }

  process(input: Uint8Array): Uint8Array {
    return this.run(input, false);
  }

  /** Content detectors over plain text (no framing, no column rules, no state). */
  maskText(input: Uint8Array): Uint8Array {
    return this.run(input, true);
  }

  private run(input: Uint8Array, textOnly: boolean): Uint8Array {
    const v = input;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const det = new Detectors(v);
    const out = new Out();
    let changed = false;
    let pending = 0;
    let pos = 0;
    const self = this;
    const cfg = this.cfg;
    let pendingCounts: number[] = [];
    const count = (r: number) => pendingCounts.push(r);

    const textCtx: Ctx = { stop: -1, unsafe: [], sanitize: false };
    const jsonCtx: Ctx = { stop: 34, unsafe: [34, 92], sanitize: false };

    function tryAt(p: number, i: number, e: number, ctx: Ctx): { start: number; end: number; rule: number } | null {
      const r = cfg.detectorRule;
      const one = (k: number, end: number) => (r[k]! >= 0 && end ? { start: i, end, rule: r[k]! } : null);
      const attempts: (() => { start: number; end: number; rule: number } | null)[] = [
        () => one(0, det.privateKey(i, e, ctx.stop)),
        () => one(1, det.passwordHash(i, e)),
        () => one(2, det.jwt(i, e)),
        () => one(3, det.github(i, e)),
        () => one(4, det.gitlab(i, e)),
        () => one(5, det.slack(i, e)),
        () => one(6, det.awsAccessKey(i, e)),
        () => {
          const m = r[7]! >= 0 ? det.bearer(i, e) : null;
          return m ? { ...m, rule: r[7]! } : null;
        },
        () => one(8, det.awsSecretKey(p, i, e)),
        () => one(9, det.email(i, e)),
        () => one(10, det.iban(i, e)),
        () => one(11, det.card(i, e)),
        () => one(12, det.ssn(i, e)),
        () => one(13, det.phone(i, e)),
      ];
      for (const attempt of attempts) {
        const m = attempt();
        if (m) return m;
      }
      for (const c of cfg.customs) {
        const end = det.custom(c.items, p, i, e, ctx);
        if (end) return { start: i, end, rule: c.rule };
      }
      return null;
    }

    /** Every match of [p, e) in order (non-overlapping, leftmost first). */
    function matches(p: number, e: number, ctx: Ctx): { start: number; end: number; rule: number }[] {
      const found: { start: number; end: number; rule: number }[] = [];
      let i = p;
      while (i < e) {
        const c = v[i]!;
        const candidate = (i === p || !isWord(v[i - 1]!)) && !(c >= 0x80 && c < 0xc0);
        if (candidate) {
          const m = tryAt(p, i, e, ctx);
          if (m) {
            found.push(m);
            i = m.end;
            continue;
          }
        }
        i++;
      }
      return found;
    }

    function replacement(rule: number, ms: number, me: number, ctx: Ctx): Uint8Array {
      const r = cfg.rules[rule]!;
      let bytes: Uint8Array;
      if (r.style === "redact") bytes = encoder.encode("[REDACTED]");
      else if (r.style === "hash") bytes = encoder.encode("h:" + hex(hmacSha256(cfg.hashKey, v.subarray(ms, me))).slice(0, 16));
      else {
        const starts: number[] = [];
        for (let q = ms; q < me; q++) if ((v[q]! & 0xc0) !== 0x80) starts.push(q);
        const cps = starts.length;
        if (cps > r.keep) {
          const from = r.keep === 0 ? me : starts[cps - r.keep]!;
          bytes = new Uint8Array([...new Array(cps - r.keep).fill(42), ...v.subarray(from, me)]);
        } else bytes = new Uint8Array(cps).fill(42);
      }
      if (ctx.sanitize) bytes = bytes.map((x) => (ctx.unsafe.includes(x) ? 95 : x));
      return bytes;
    }

    function jsonReplacement(rule: number, ms: number, me: number): Uint8Array {
      const r = cfg.rules[rule]!;
      const inner = r.style === "hash" ? "h:" + hex(hmacSha256(cfg.hashKey, v.subarray(ms, me))).slice(0, 16) : "[REDACTED]";
      return encoder.encode(`"${inner}"`);
    }

    /** The masked value bytes; counts each match. */
    function masked(p: number, e: number, ctx: Ctx): Uint8Array {
      const o = new Out();
      let last = p;
      for (const m of matches(p, e, ctx)) {
        o.bytes(v.subarray(last, m.start));
        o.bytes(replacement(m.rule, m.start, m.end, ctx));
        count(m.rule);
        last = m.end;
      }
      o.bytes(v.subarray(last, e));
      return o.result();
    }

    const fail = (code: "framing" | "malformed" | "unsupported") => {
      throw new Error(`reference: ${code}`);
    };

    // Per message: produce the new bytes, or null when unchanged.
    function dataRow(m: number, end: number): Uint8Array | null {
      if (m + 7 > end) fail("malformed");
      const nf = dv.getUint16(m + 5);
      const known = self.plan !== null && self.plan.length === nf;
      const o = new Out();
      o.push(68);
      o.be32(0);
      o.push(nf >> 8, nf & 255);
      let p = m + 7;
      let any = false;
      for (let k = 0; k < nf; k++) {
        if (p + 4 > end) fail("malformed");
        const flen = dv.getInt32(p);
        p += 4;
        if (flen < 0) {
          if (flen !== -1) fail("malformed");
          o.be32(-1);
          continue;
        }
        if (flen > end - p) fail("malformed");
        const s = p;
        const e = p + flen;
        p = e;
        const field = (bytes: Uint8Array | null) => {
          any = true;
          if (bytes === null) o.be32(-1);
          else {
            o.be32(bytes.length);
            o.bytes(bytes);
          }
        };
        const keep = () => {
          o.be32(flen);
          o.bytes(v.subarray(s, e));
        };
        if (!known) {
          if (cfg.unknownNull) {
            count(32);
            field(null);
            continue;
          }
          const ms = matches(s, e, textCtx);
          if (ms.length) {
            count(ms[0]!.rule);
            field(null);
          } else keep();
          continue;
        }
        const { rule, cls } = self.plan![k]!;
        if (rule >= 0) {
          count(rule);
          if (cls === "strict" || cls === "opaque" || cls === "array") field(null);
          else if (cls === "text") field(replacement(rule, s, e, textCtx));
          else if (cls === "json") field(jsonReplacement(rule, s, e));
          else field(new Uint8Array([1, ...jsonReplacement(rule, e > s ? s + 1 : s, e)]));
          continue;
        }
        if (cls === "opaque") keep();
        else if (cls === "strict") {
          const ms = matches(s, e, textCtx);
          if (ms.length) {
            count(ms[0]!.rule);
            field(null);
          } else keep();
        } else if (cls === "jsonb_bin" && (e === s || v[s] !== 1)) keep();
        else {
          const from = cls === "jsonb_bin" ? s + 1 : s;
          const ctx = cls === "json" || cls === "jsonb_bin" ? jsonCtx : textCtx;
          if (matches(from, e, ctx).length) field(new Uint8Array([...v.subarray(s, from), ...masked(from, e, ctx)]));
          else keep();
        }
      }
      if (p !== end) fail("malformed");
      if (!any) return null;
      o.patch(1, o.length - 1);
      return o.result();
    }

    function errorFields(m: number, end: number): Uint8Array | null {
      const fields: { t: number; s: number; z: number }[] = [];
      let p = m + 5;
      let table: string | null = null;
      for (;;) {
        if (p >= end) fail("malformed");
        const t = v[p]!;
        if (t === 0) break;
        const z = v.subarray(p + 1, end).indexOf(0);
        if (z < 0) fail("malformed");
        fields.push({ t, s: p + 1, z: p + 1 + z });
        if (t === 116) table = latin1(v.subarray(p + 1, p + 1 + z));
        p = p + 2 + z;
      }
      if (p + 1 !== end) fail("malformed");
      const o = new Out();
      o.push(v[m]!);
      o.be32(0);
      let any = false;
      for (const { t, s, z } of fields) {
        o.push(t);
        if ("MDHWq".includes(String.fromCharCode(t))) {
          const special = t === 68 ? detail(s, z, table) : null;
          if (special) {
            any = true;
            o.bytes(masked(s, special.vs, textCtx));
            o.bytes(replacement(special.rule, special.vs, special.ve, textCtx));
            count(special.rule);
            o.bytes(masked(special.ve, z, textCtx));
          } else {
            if (matches(s, z, textCtx).length) any = true;
            o.bytes(masked(s, z, textCtx));
          }
        } else o.bytes(v.subarray(s, z));
        o.push(0);
      }
      o.push(0);
      if (!any) return null;
      o.patch(1, o.length - 1);
      return o.result();
    }

    function detail(s: number, z: number, table: string | null): { vs: number; ve: number; rule: number } | null {
      if (!cfg.rules.some((r) => r.columns.length > 0)) return null;
      const text = latin1(v.subarray(s, z));
      const close = text.lastIndexOf(")");
      if (text.startsWith("Key (")) {
        const eq = text.indexOf(")=(", 5);
        if (eq < 0 || close < eq + 3) return null;
        const names = text.slice(5, eq).split(", ");
        for (const raw of names) {
          const name = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
          const r = self.ruleForColumn(name, table && table.length ? table : null);
          if (r >= 0) return { vs: s + eq + 3, ve: s + close, rule: r };
        }
        return null;
      }
      if (text.startsWith("Failing row contains (")) {
        if (close < 22) return null;
        const first = cfg.rules.find((r) => r.columns.length > 0)!;
        return { vs: s + 22, ve: s + close, rule: first.index };
      }
      return null;
    }

    function notification(m: number, end: number): Uint8Array | null {
      if (m + 9 > end) fail("malformed");
      const cz = v.subarray(m + 9, end).indexOf(0);
      if (cz < 0) fail("malformed");
      const s = m + 9 + cz + 1;
      const pz = v.subarray(s, end).indexOf(0);
      if (pz < 0 || s + pz + 1 !== end) fail("malformed");
      if (!matches(s, s + pz, textCtx).length) return null;
      const o = new Out();
      o.push(65);
      o.be32(0);
      o.bytes(v.subarray(m + 5, s));
      o.bytes(masked(s, s + pz, textCtx));
      o.push(0);
      o.patch(1, o.length - 1);
      return o.result();
    }

    function functionResult(m: number, end: number): Uint8Array | null {
      if (m + 9 > end) fail("malformed");
      const flen = dv.getInt32(m + 5);
      if (flen === -1) {
        if (m + 9 !== end) fail("malformed");
        return null;
      }
      if (flen < 0 || m + 9 + flen !== end) fail("malformed");
      const ms = matches(m + 9, end, textCtx);
      if (!ms.length) return null;
      count(ms[0]!.rule);
      return new Uint8Array([86, 0, 0, 0, 8, 255, 255, 255, 255]);
    }

    function copyRows(m: number, end: number): Uint8Array | null {
      const c = self.copy!;
      const csv = c.kind === "csv";
      const ctx: Ctx = csv
        ? { stop: c.quote, unsafe: [c.delim, c.quote, c.escape, 10, 13], sanitize: true }
        : { stop: -1, unsafe: [c.delim, 92, 10, 13], sanitize: true };
      const o = new Out();
      o.push(100);
      o.be32(0);
      let last = m + 5;
      let p = m + 5;
      let any = false;
      let header = c.textHeader; // the first row of the first CopyData: walked, never masked
      while (p < end) {
        let col = 0;
        for (;;) {
          const fs = p;
          let vs = p;
          let ve: number;
          let quoted = false;
          if (csv && p < end && v[p] === c.quote) {
            quoted = true;
            p++;
            vs = p;
            while (p < end) {
              const x = v[p]!;
              if (x === c.escape && c.escape !== c.quote && p + 1 < end && (v[p + 1] === c.quote || v[p + 1] === c.escape)) {
                p += 2;
                continue;
              }
              if (x === c.quote) {
                if (c.escape === c.quote && p + 1 < end && v[p + 1] === c.quote) {
                  p += 2;
                  continue;
                }
                break;
              }
              p++;
            }
            ve = p;
            if (p < end) p++;
            while (p < end && v[p] !== c.delim && v[p] !== 10) p++;
          } else if (csv) {
            while (p < end && v[p] !== c.delim && v[p] !== 10) p++;
            ve = p;
          } else {
            while (p < end && v[p] !== c.delim && v[p] !== 10) p += v[p] === 92 && p + 1 < end ? 2 : 1;
            ve = p;
          }
          const isNull = !quoted && ve - vs === c.nul.length && c.nul.every((x, k) => v[vs + k] === x);
          if (!isNull && !header) {
            const rule = c.plan && col < c.plan.length ? c.plan[col]! : -1;
            if (c.plan === null && cfg.unknownNull) {
              any = true;
              o.bytes(v.subarray(last, fs));
              o.bytes(c.nul);
              last = p;
              count(32);
            } else if (rule >= 0) {
              any = true;
              o.bytes(v.subarray(last, vs));
              o.bytes(replacement(rule, vs, ve, ctx));
              count(rule);
              last = ve;
            } else if (matches(vs, ve, ctx).length) {
              any = true;
              o.bytes(v.subarray(last, vs));
              o.bytes(masked(vs, ve, ctx));
              last = ve;
            }
          }
          col++;
          if (p < end && v[p] === c.delim) {
            p++;
            continue;
          }
          if (p < end) p++;
          break;
        }
        header = false;
      }
      if (!any) return null;
      o.bytes(v.subarray(last, end));
      o.patch(1, o.length - 1);
      return o.result();
    }

    function copyBinary(m: number, end: number): Uint8Array | null {
      const c = self.copy!;
      let p = m + 5;
      if (c.header) {
        const sig = [80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0];
        if (end - p < 19 || !sig.every((x, k) => v[p + k] === x)) fail("malformed");
        const ext = dv.getUint32(p + 15);
        if (ext > end - p - 19) fail("malformed");
        p += 19 + ext;
      }
      const o = new Out();
      o.push(100);
      o.be32(0);
      let last = m + 5;
      let any = false;
      while (p < end) {
        if (p + 2 > end) fail("malformed");
        const n = dv.getInt16(p);
        p += 2;
        if (n === -1) {
          if (p !== end) fail("malformed");
          break;
        }
        if (n < 0) fail("malformed");
        for (let k = 0; k < n; k++) {
          if (p + 4 > end) fail("malformed");
          const lenPos = p;
          const flen = dv.getInt32(p);
          p += 4;
          if (flen === -1) continue;
          if (flen < 0 || flen > end - p) fail("malformed");
          const vs = p;
          p += flen;
          let rule = -1;
          const planned = c.plan && k < c.plan.length ? c.plan[k]! : -1;
          if (c.plan === null && cfg.unknownNull) rule = 32;
          else if (planned >= 0) rule = planned;
          else {
            const ms = matches(vs, p, textCtx);
            if (ms.length) rule = ms[0]!.rule;
          }
          if (rule < 0) continue;
          any = true;
          o.bytes(v.subarray(last, lenPos));
          o.be32(-1);
          count(rule);
          last = p;
        }
      }
      if (!any) return null;
      o.bytes(v.subarray(last, end));
      o.patch(1, o.length - 1);
      return o.result();
    }

    function rowDescription(m: number, end: number): void {
      if (m + 7 > end) fail("malformed");
      const nf = dv.getUint16(m + 5);
      if (nf > 1664) fail("unsupported");
      let p = m + 7;
      const plan: { rule: number; cls: Cls }[] = [];
      for (let k = 0; k < nf; k++) {
        const z = v.subarray(p, end).indexOf(0);
        if (z < 0 || p + z + 19 > end) fail("malformed");
        const name = latin1(v.subarray(p, p + z));
        const at = p + z;
        const tableName = self.tables.get(dv.getUint32(at + 1)) ?? null;
        plan.push({ rule: self.ruleForColumn(name, tableName === null ? null : latin1(encoder.encode(tableName))), cls: classify(dv.getUint32(at + 7), dv.getUint16(at + 17)) });
        p = at + 19;
      }
      if (p !== end) fail("malformed");
      self.plan = plan;
    }

    if (textOnly) {
      pendingCounts = [];
      if (!matches(0, v.length, textCtx).length) return input;
      const result = masked(0, v.length, textCtx);
      for (const r of pendingCounts) this.totals[r]++;
      return result;
    }

    while (pos < v.length) {
      if (v.length - pos < 5) fail("framing");
      const len = dv.getUint32(pos + 1);
      if (len < 4 || len > v.length - pos - 1) fail("framing");
      const end = pos + 1 + len;
      const t = String.fromCharCode(v[pos]!);
      pendingCounts = [];
      let replaced: Uint8Array | null = null;
      switch (t) {
        case "D": replaced = dataRow(pos, end); break;
        case "E": case "N": replaced = errorFields(pos, end); break;
        case "A": replaced = notification(pos, end); break;
        case "V": replaced = functionResult(pos, end); break;
        case "d":
          if (this.copy) replaced = this.copy.kind === "binary" ? copyBinary(pos, end) : copyRows(pos, end);
          break;
        case "T": rowDescription(pos, end); break; // validated here, applied below (after)
        case "H": if (pos + 8 > end) fail("malformed"); break;
        case "W": fail("unsupported"); break;
        default: break;
      }
      if (replaced) {
        out.bytes(v.subarray(pending, pos));
        out.bytes(replaced);
        pending = end;
        changed = true;
        for (const r of pendingCounts) this.totals[r]++;
      }
      // state transitions
      switch (t) {
        case "H": {
          const fmt = v[pos + 5]!;
          const ncols = dv.getUint16(pos + 6);
          const pc = this.pendingCopy;
          this.copy = fmt === 1
            ? { kind: "binary", delim: 9, quote: 34, escape: 34, nul: encoder.encode("\\N"), plan: pc?.plan && pc.plan.length === ncols ? pc.plan : null, header: true, textHeader: false }
            : pc
              ? { ...pc, plan: pc.plan && pc.plan.length === ncols ? pc.plan : null, header: false }
              : { kind: "text", delim: 9, quote: 34, escape: 34, nul: encoder.encode("\\N"), plan: null, header: false, textHeader: false };
          this.pendingCopy = null;
          break;
        }
        case "d":
          if (this.copy) {
            this.copy.header = false;
            this.copy.textHeader = false;
          }
          break;
        case "C": case "Z": case "E": this.plan = null; this.copy = null; break;
        case "c": this.copy = null; break;
        case "I": case "n": case "2": this.plan = null; break;
        default: break;
      }
      pos = end;
    }
    if (!changed) return input;
    out.bytes(v.subarray(pending));
    return out.result();
  }
}

const hex = toHex;
