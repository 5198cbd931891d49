// Built-in content detectors. Each is an anchored matcher: called at a candidate position i of a
// value [p, e) (i == p, or the byte before i is not [A-Za-z0-9_]), it returns the end of the match
// or 0. The masked range is [maskStart(), end) — maskStart() == i except for `bearer`, which keeps
// the "Bearer " prefix visible. The exact grammar of every detector is in docs/MASKING.md and is
// mirrored byte for byte by parsers/masking/reference.ts (property tests compare the two).

import { cls, isWord, isDigit, span, C_ALNUM, C_UPPER, C_LOWER, C_DIGIT, C_DOMAIN, C_BCRYPT, C_S40, S_WORD, S_ALNUM, S_B64U, S_LOCAL, S_DOMAIN, S_HASH, S_BCRYPT, S_BEARER, S_SLACK, S_UPPER_DIGIT, S_ALPHA } from "./chars";

export const D_PRIVATE_KEY: u32 = 0;
export const D_PASSWORD_HASH: u32 = 1;
export const D_JWT: u32 = 2;
export const D_GITHUB: u32 = 3;
export const D_GITLAB: u32 = 4;
export const D_SLACK: u32 = 5;
export const D_AWS_ACCESS_KEY: u32 = 6;
export const D_BEARER: u32 = 7;
export const D_AWS_SECRET_KEY: u32 = 8;
export const D_EMAIL: u32 = 9;
export const D_IBAN: u32 = 10;
export const D_CARD: u32 = 11;
export const D_SSN: u32 = 12;
export const D_PHONE: u32 = 13;
export const BUILTIN_DETECTORS: u32 = 14;

let mStart: usize = 0;
export function maskStart(): usize {
  return mStart;
}

/** Group ends (position, digit count) for the digit-group detectors; at most 40 groups. */
const ENDS: usize = memory.data(40 * 8);

@inline function b(p: usize): u32 {
  return <u32>load<u8>(p);
}

@inline function has(p: usize, f: u32): bool {
  return (cls(<u32>load<u8>(p)) & f) != 0;
}

function lit(i: usize, e: usize, s: string): bool {
  const n = <usize>s.length;
  if (i + n > e) return false;
  const sp = changetype<usize>(s);
  for (let k: usize = 0; k < n; k++) {
    if (b(i + k) != <u32>load<u16>(sp + (k << 1))) return false;
  }
  return true;
}

// ---------------------------------------------------------------- PEM private key blocks
/** After "-----BEGIN " / "-----END ": [A-Z0-9 ]{0,40} ending in "PRIVATE KEY", then "-----". */
function pemLabel(j: usize, e: usize): usize {
  let k = j;
  while (k < e && k - j < 40) {
    const c = b(k);
    if ((cls(c) & (C_UPPER | C_DIGIT)) == 0 && c != 32) break;
    k++;
  }
  if (k - j < 11) return 0;
  if (!lit(k - 11, e, "PRIVATE KEY")) return 0;
  if (!lit(k, e, "-----")) return 0;
  return k + 5;
}

export function detPrivateKey(i: usize, e: usize, stop: i32): usize {
  if (!lit(i, e, "-----BEGIN ")) return 0;
  const h = pemLabel(i + 11, e);
  if (h == 0) return 0;
  let limit = e;
  if (stop >= 0) {
    for (let q = h; q < e; q++) {
      if (b(q) == <u32>stop) {
        limit = q;
        break;
      }
    }
  }
  for (let q = h; q + 9 <= limit; q++) {
    if (b(q) == 45 && lit(q, limit, "-----END ")) {
      const t = pemLabel(q + 9, limit);
      if (t != 0) return t;
    }
  }
  // No footer: a truncated key is still a key — mask to the end of the value (or the stop byte).
  return limit;
}

// ---------------------------------------------------------------- password hashes
export function detPasswordHash(i: usize, e: usize): usize {
  if (b(i) != 36) return 0;
  // bcrypt: $2a$10$ + 53 chars of [./A-Za-z0-9]
  if (i + 7 <= e && b(i + 1) == 50 && b(i + 3) == 36 && b(i + 6) == 36) {
    const v = b(i + 2);
    if ((v == 97 || v == 98 || v == 120 || v == 121) && isDigit(b(i + 4)) && isDigit(b(i + 5))) {
      if (i + 60 > e) return 0;
      if (span(i + 7, i + 60, S_BCRYPT) != i + 60) return 0;
      if (i + 60 < e && has(i + 60, C_BCRYPT)) return 0;
      return i + 60;
    }
  }
  let j: usize = 0;
  if (lit(i, e, "$argon2id$")) j = i + 10;
  else if (lit(i, e, "$argon2i$") || lit(i, e, "$argon2d$")) j = i + 9;
  else if (lit(i, e, "$scrypt$")) j = i + 8;
  else if (lit(i, e, "$7$") || lit(i, e, "$6$") || lit(i, e, "$5$") || lit(i, e, "$y$")) j = i + 3;
  else return 0;
  const k = span(j, e, S_HASH);
  return k - j >= 20 ? k : 0;
}

// ---------------------------------------------------------------- JWT
export function detJwt(i: usize, e: usize): usize {
  if (!lit(i, e, "eyJ")) return 0;
  let k = span(i + 3, e, S_B64U);
  if (k - i < 10 || k >= e || b(k) != 46) return 0;
  const j = k + 1;
  k = span(j, e, S_B64U);
  if (k - j < 2 || k >= e || b(k) != 46) return 0;
  return span(k + 1, e, S_B64U);
}

// ---------------------------------------------------------------- vendor tokens
export function detGithub(i: usize, e: usize): usize {
  if (lit(i, e, "github_pat_")) {
    const k = span(i + 11, e, S_WORD);
    return k - (i + 11) >= 22 ? k : 0;
  }
  if (i + 4 > e || b(i) != 103 || b(i + 1) != 104 || b(i + 3) != 95) return 0; // "gh?_"
  const t = b(i + 2);
  if (t != 112 && t != 111 && t != 115 && t != 117 && t != 114) return 0; // p o s u r
  const k = span(i + 4, e, S_ALNUM);
  if (k - (i + 4) < 36) return 0;
  if (k < e && isWord(b(k))) return 0;
  return k;
}

export function detGitlab(i: usize, e: usize): usize {
  if (!lit(i, e, "glpat-")) return 0;
  const k = span(i + 6, e, S_B64U);
  return k - (i + 6) >= 20 ? k : 0;
}

export function detSlack(i: usize, e: usize): usize {
  if (!lit(i, e, "xox") || i + 5 > e || b(i + 4) != 45) return 0;
  const t = b(i + 3);
  if (t != 97 && t != 98 && t != 112 && t != 114) return 0; // a b p r
  const k = span(i + 5, e, S_SLACK);
  if (k - (i + 5) < 10) return 0;
  if (k < e && isWord(b(k))) return 0;
  return k;
}

export function detAwsAccessKey(i: usize, e: usize): usize {
  if (!lit(i, e, "AKIA") && !lit(i, e, "ASIA")) return 0;
  if (i + 20 > e) return 0;
  if (span(i + 4, i + 20, S_UPPER_DIGIT) != i + 20) return 0;
  if (i + 20 < e && isWord(b(i + 20))) return 0;
  return i + 20;
}

export function detBearer(i: usize, e: usize): usize {
  if (i + 7 > e) return 0;
  // case-insensitive "bearer" + at least one space
  if ((b(i) | 32) != 98 || (b(i + 1) | 32) != 101 || (b(i + 2) | 32) != 97 || (b(i + 3) | 32) != 114 ||
      (b(i + 4) | 32) != 101 || (b(i + 5) | 32) != 114 || b(i + 6) != 32) return 0;
  let j = i + 6;
  while (j < e && b(j) == 32) j++;
  const k = span(j, e, S_BEARER);
  if (k - j < 8) return 0;
  mStart = j;
  return k;
}

function lowerAt(q: usize): u32 {
  const c = b(q);
  return c - 65 < 26 ? c | 32 : c;
}

export function detAwsSecretKey(p: usize, i: usize, e: usize): usize {
  let k = i;
  let seen: u32 = 0;
  while (k < e && k - i < 41 && has(k, C_S40)) {
    seen |= cls(b(k));
    k++;
  }
  if (k - i != 40) return 0;
  if (k < e && b(k) == 61) return 0;
  if ((seen & C_UPPER) == 0 || (seen & C_LOWER) == 0 || (seen & C_DIGIT) == 0) return 0;
  // context: "aws" or "secret" (any case) within the 64 bytes before the key
  const lo = i - p > 64 ? i - 64 : p;
  for (let q = lo; q < i; q++) {
    const c = lowerAt(q);
    if (c == 97 && q + 3 <= i && lowerAt(q + 1) == 119 && lowerAt(q + 2) == 115) return k;
    if (c == 115 && q + 6 <= i && lowerAt(q + 1) == 101 && lowerAt(q + 2) == 99 && lowerAt(q + 3) == 114 &&
        lowerAt(q + 4) == 101 && lowerAt(q + 5) == 116) return k;
  }
  return 0;
}

// ---------------------------------------------------------------- e-mail
export function detEmail(i: usize, e: usize): usize {
  if (!has(i, C_ALNUM)) return 0;
  const j = span(i, e - i > 65 ? i + 65 : e, S_LOCAL);
  if (j - i > 64 || j >= e || b(j) != 64) return 0;
  const d = j + 1;
  let k = span(d, e - d > 254 ? d + 254 : e, S_DOMAIN);
  if (k - d > 253) return 0;
  while (k > d && b(k - 1) == 46) k--;
  if (k == d || !has(d, C_ALNUM)) return 0;
  // The dots of [d, k) (b(d) is alnum), 16 bytes per step: none right after another, and the
  // last one followed by 2+ letters to k. Reads up to 15 bytes past k (< e) and ignores them.
  let lastDot: usize = 0;
  let prevDot: u32 = 0; // whether the byte before the chunk is a dot
  const dot = i8x16.splat(46);
  for (let q = d; q < k; q += 16) {
    let dots = <u32>i8x16.bitmask(i8x16.eq(v128.load(q), dot));
    if (k - q < 16) dots &= (<u32>1 << <u32>(k - q)) - 1;
    if ((dots & ((dots << 1) | prevDot)) != 0) return 0;
    if (dots != 0) lastDot = q + 31 - <usize>clz<u32>(dots);
    prevDot = (dots >> 15) & 1;
  }
  if (lastDot == 0 || k - lastDot - 1 < 2) return 0;
  if (span(lastDot + 1, k, S_ALPHA) != k) return 0;
  return k;
}

// ---------------------------------------------------------------- IBAN
function mod97(r: u32, c: u32): u32 {
  return isDigit(c) ? (r * 10 + (c - 48)) % 97 : (r * 100 + (c - 55)) % 97;
}

function ibanValid(i: usize, end: usize): bool {
  let r: u32 = 0;
  for (let q = i + 4; q < end; q++) {
    const c = b(q);
    if (c != 32) r = mod97(r, c);
  }
  for (let q = i; q < i + 4; q++) r = mod97(r, b(q));
  return r == 1;
}

export function detIban(i: usize, e: usize): usize {
  if (i + 4 > e || !has(i, C_UPPER) || !has(i + 1, C_UPPER) || !isDigit(b(i + 2)) || !isDigit(b(i + 3))) return 0;
  let pos = i + 4;
  let cnt: u32 = 4;
  let ng: usize = 0;
  while (true) {
    while (pos < e && has(pos, C_UPPER | C_DIGIT) && cnt < 34) {
      pos++;
      cnt++;
    }
    if (pos + 1 < e && b(pos) == 32 && (cnt & 3) == 0 && cnt < 34 && has(pos + 1, C_UPPER | C_DIGIT)) {
      store<u32>(ENDS + (ng << 3), <u32>pos);
      store<u32>(ENDS + (ng << 3), cnt, 4);
      ng++;
      pos++;
      continue;
    }
    break;
  }
  store<u32>(ENDS + (ng << 3), <u32>pos);
  store<u32>(ENDS + (ng << 3), cnt, 4);
  ng++;
  for (let g = <isize>ng - 1; g >= 0; g--) {
    const end = <usize>load<u32>(ENDS + (<usize>g << 3));
    const c = load<u32>(ENDS + (<usize>g << 3), 4);
    if (c < 15 || c > 34) continue;
    if (end < e && has(end, C_ALNUM)) continue;
    if (ibanValid(i, end)) return end;
  }
  return 0;
}

// ---------------------------------------------------------------- digit groups (cards, E.164)
/** Digit run from i, then more runs each after one separator byte allowed by `seps`
 * (bit 0 ' ', bit 1 '-', bit 2 '.'); `same` forces one separator kind. Stops once `max` digits
 * are reached. Records every group end in ENDS; returns the number of groups. */
function digitGroups(i: usize, e: usize, seps: u32, same: bool, max: u32): usize {
  let pos = i;
  let digits: u32 = 0;
  let ng: usize = 0;
  let sep: u32 = 0;
  while (true) {
    const q = digitRun(pos, e);
    digits += <u32>(q - pos);
    pos = q;
    store<u32>(ENDS + (ng << 3), <u32>pos);
    store<u32>(ENDS + (ng << 3), digits, 4);
    ng++;
    if (digits < max && pos + 1 < e && isDigit(b(pos + 1))) {
      const c = b(pos);
      const bit: u32 = c == 32 ? 1 : c == 45 ? 2 : c == 46 ? 4 : 0;
      if ((bit & seps) != 0 && (!same || sep == 0 || c == sep)) {
        sep = c;
        pos++;
        continue;
      }
    }
    break;
  }
  return ng;
}

/**
 * ASCII digits in [i, min(i + n, e)), n <= 32: an early exit for the digit-group detectors, whose
 * grammars need many digits close together (most digit runs in text are dates, versions, ids).
 * Reads 32 bytes from i (the arena keeps >= 32 bytes of slack after its input) and ignores those
 * at or past e.
 */
function digitsIn(i: usize, e: usize, n: usize): u32 {
  const s48 = i8x16.splat(48), s10 = i8x16.splat(10);
  const lo = <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i), s48), s10));
  const hi = <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i + 16), s48), s10));
  const lim = e - i < n ? e - i : n;
  return <u32>popcnt<u64>((lo | (hi << 16)) & ((<u64>1 << <u64>lim) - 1));
}

/** First position in [k, e) that is not an ASCII digit (e when none), 16 bytes per step; reads up
 * to 15 bytes past e and ignores them. */
function digitRun(k: usize, e: usize): usize {
  const s48 = i8x16.splat(48), s10 = i8x16.splat(10);
  while (k < e) {
    const bits = <u32>i8x16.bitmask(i8x16.ge_u(i8x16.sub(v128.load(k), s48), s10));
    if (bits != 0) {
      const q = k + <usize>ctz<u32>(bits);
      return q < e ? q : e;
    }
    k += 16;
  }
  return e;
}

/** Luhn doubling: 2d, minus 9 above 9. */
const LUHN_DBL: usize = memory.data<u8>([0, 2, 4, 6, 8, 1, 3, 5, 7, 9, 0, 0, 0, 0, 0, 0]);
/** Lanes 0, 2, ..., 14 set: counted from a chunk's last lane (weight 1), the doubled digits. */
const EVEN_LANES: usize = memory.data<u8>([255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0]);

/** Sum of the u8 lanes of v. */
@inline function laneSum(v: v128): u32 {
  const w = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
  return <u32>(i32x4.extract_lane(w, 0) + i32x4.extract_lane(w, 1) + i32x4.extract_lane(w, 2) + i32x4.extract_lane(w, 3));
}

/** The Luhn check of [i, end) when every byte is a digit and end - i <= 32: two chunks ending at
 * end (the weights of a chunk's lanes do not depend on where it starts, 16 being even); lanes
 * before i are zeroed (a zero adds nothing, doubled or not). Reads up to 32 bytes before end. */
function luhnRun(i: usize, end: usize): bool {
  const s48 = i8x16.splat(48), dbl = v128.load(LUHN_DBL), even = v128.load(EVEN_LANES);
  let sum: u32 = 0;
  let start = end - 16;
  for (let c = 0; c < 2; c++) {
    let v = i8x16.sub(v128.load(start), s48);
    if (start < i) {
      const skip = i - start; // lanes before i, 1..16
      v = v128.and(v, i8x16.ge_u(v128.load(LANE_IDX), i8x16.splat(<i8>skip)));
    }
    sum += laneSum(v128.bitselect(i8x16.swizzle(dbl, v), v, even));
    if (start <= i) break;
    start -= 16;
  }
  return sum % 10 == 0;
}
const LANE_IDX: usize = memory.data<u8>([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

function luhn(i: usize, end: usize): bool {
  if (end - i <= 32 && digitRun(i, end) == end) return luhnRun(i, end);
  let sum: u32 = 0;
  let dbl = false;
  for (let q = <isize>end - 1; q >= <isize>i; q--) {
    const c = b(<usize>q);
    if (!isDigit(c)) continue;
    let d = c - 48;
    if (dbl) {
      d <<= 1;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

export function detCard(i: usize, e: usize): usize {
  const c0 = b(i);
  if (c0 < 50 || c0 > 54) return 0; // first digit 2..6
  // 13+ digits in groups split by single separators: the first 13 lie within [i, i + 25)
  if (digitsIn(i, e, 25) < 13) return 0;
  const ng = digitGroups(i, e, 3, true, 19);
  for (let g = <isize>ng - 1; g >= 0; g--) {
    const end = <usize>load<u32>(ENDS + (<usize>g << 3));
    const d = load<u32>(ENDS + (<usize>g << 3), 4);
    if (d < 13 || d > 19) continue;
    if (end < e && isWord(b(end))) continue;
    if (luhn(i, end)) return end;
  }
  return 0;
}

// ---------------------------------------------------------------- US SSN
export function detSsn(i: usize, e: usize): usize {
  if (i + 11 > e || b(i + 3) != 45 || b(i + 6) != 45) return 0;
  for (let k: usize = 0; k < 11; k++) {
    if (k == 3 || k == 6) continue;
    if (!isDigit(b(i + k))) return 0;
  }
  if (b(i) == 57) return 0; // 9xx: not issued (ITINs)
  if (b(i) == 48 && b(i + 1) == 48 && b(i + 2) == 48) return 0;
  if (b(i) == 54 && b(i + 1) == 54 && b(i + 2) == 54) return 0;
  if (b(i + 4) == 48 && b(i + 5) == 48) return 0;
  if (b(i + 7) == 48 && b(i + 8) == 48 && b(i + 9) == 48 && b(i + 10) == 48) return 0;
  const end = i + 11;
  if (end < e && (isWord(b(end)) || b(end) == 45)) return 0;
  return end;
}

// ---------------------------------------------------------------- phone numbers
/** The byte after a national-format number: not a word byte, and not "-d" / ".d" (a longer id). */
function phoneRight(end: usize, e: usize): bool {
  if (end >= e) return true;
  const c = b(end);
  if (isWord(c)) return false;
  if ((c == 45 || c == 46) && end + 1 < e && isDigit(b(end + 1))) return false;
  return true;
}

function d3(q: usize, e: usize, first2to9: bool): bool {
  if (q + 3 > e || !isDigit(b(q)) || !isDigit(b(q + 1)) || !isDigit(b(q + 2))) return false;
  return !first2to9 || b(q) >= 50;
}

export function detPhone(i: usize, e: usize): usize {
  // Every form has 8+ digits within its first 16 bytes: E.164 8 digits after '+' with single
  // separators (<= 16 bytes); North American 10 digits in <= 14 bytes; trunk-prefix 10-11 digits
  // in at most 4 groups (<= 14 bytes).
  if (digitsIn(i, e, 16) < 8) return 0;
  const c = b(i);
  if (c == 43) { // '+': E.164, 8..15 digits, groups separated by one ' ', '-' or '.'
    if (i + 1 >= e || b(i + 1) < 49 || b(i + 1) > 57) return 0;
    const ng = digitGroups(i + 1, e, 7, false, 15);
    for (let g = <isize>ng - 1; g >= 0; g--) {
      const end = <usize>load<u32>(ENDS + (<usize>g << 3));
      const d = load<u32>(ENDS + (<usize>g << 3), 4);
      if (d < 8 || d > 15) continue;
      if (end < e && isWord(b(end))) continue;
      return end;
    }
    return 0;
  }
  if (c == 48) { // trunk prefix 0: 0d{1,4} then 1+ groups of 3-4 digits, one separator kind, 10-11 digits
    let k = i;
    while (k < e && isDigit(b(k))) k++;
    const first = k - i;
    if (first < 2 || first > 5) return 0;
    let total = <u32>first;
    let pos = k;
    let sep: u32 = 0;
    let groups = 0;
    while (pos + 1 < e && (b(pos) == 32 || b(pos) == 45) && (sep == 0 || b(pos) == sep) && isDigit(b(pos + 1))) {
      sep = b(pos);
      let q = pos + 1;
      while (q < e && isDigit(b(q))) q++;
      const g = q - pos - 1;
      if (g < 3 || g > 4) return 0;
      total += <u32>g;
      pos = q;
      groups++;
      if (total > 11) return 0;
    }
    if (groups == 0 || total < 10) return 0;
    return phoneRight(pos, e) ? pos : 0;
  }
  // North American: (NXX) NXX-XXXX, (NXX)NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, NXX NXX XXXX
  let j: usize;
  let sep1: u32 = 0;
  if (c == 40) {
    if (!d3(i + 1, e, true) || i + 5 > e || b(i + 4) != 41) return 0;
    j = i + 5;
    if (j < e && b(j) == 32) j++;
  } else {
    if (!d3(i, e, true) || i + 4 > e) return 0;
    sep1 = b(i + 3);
    if (sep1 != 45 && sep1 != 46 && sep1 != 32) return 0;
    j = i + 4;
  }
  if (!d3(j, e, true) || j + 4 > e) return 0;
  const sep2 = b(j + 3);
  if (sep2 != 45 && sep2 != 46 && sep2 != 32) return 0;
  if (sep1 != 0 && sep2 != sep1) return 0;
  if (j + 8 > e) return 0;
  for (let q = j + 4; q < j + 8; q++) if (!isDigit(b(q))) return 0;
  const end = j + 8;
  return phoneRight(end, e) ? end : 0;
}

/** Reset the mask start before a detector call (only `bearer` moves it). */
export function resetMaskStart(i: usize): void {
  mStart = i;
}
