// Byte classes for the masking scanners: one u16 of flags per byte value, filled once by
// initChars(). Only ASCII bytes carry flags; bytes >= 0x80 (UTF-8 lead/continuation bytes) are
// never "word" characters, so a multi-byte character is a token boundary for every detector.

export const C_WORD: u32 = 1; //       [A-Za-z0-9_]
export const C_DIGIT: u32 = 2; //      [0-9]
export const C_UPPER: u32 = 4; //      [A-Z]
export const C_LOWER: u32 = 8; //      [a-z]
export const C_B64U: u32 = 16; //      [A-Za-z0-9_-]        JWT segments, GitLab tokens
export const C_LOCAL: u32 = 32; //     [A-Za-z0-9._%+-]     e-mail local part
export const C_DOMAIN: u32 = 64; //    [A-Za-z0-9.-]        e-mail domain
export const C_HASH: u32 = 128; //     [A-Za-z0-9./+=,$]    modular-crypt password hashes
export const C_BCRYPT: u32 = 256; //   [A-Za-z0-9./]        bcrypt salt+hash alphabet
export const C_S40: u32 = 512; //      [A-Za-z0-9/+]        AWS secret access keys
export const C_BEARER: u32 = 1024; //  [A-Za-z0-9._~+/=-]   RFC 6750 b64token
export const C_SLACK: u32 = 2048; //   [A-Za-z0-9-]         Slack tokens
export const C_ALNUM: u32 = C_DIGIT | C_UPPER | C_LOWER;

const TABLE: usize = memory.data(512);

function add(c: i32, f: u32): void {
  const a = TABLE + ((<usize>c) << 1);
  store<u16>(a, load<u16>(a) | <u16>f);
}

export function initChars(): void {
  memory.fill(TABLE, 0, 512);
  const all = C_WORD | C_B64U | C_LOCAL | C_DOMAIN | C_HASH | C_BCRYPT | C_S40 | C_BEARER | C_SLACK;
  for (let c = 48; c < 58; c++) add(c, C_DIGIT | all);
  for (let c = 65; c < 91; c++) add(c, C_UPPER | all);
  for (let c = 97; c < 123; c++) add(c, C_LOWER | all);
  add(95, C_WORD | C_B64U | C_LOCAL | C_BEARER); //               _
  add(45, C_B64U | C_LOCAL | C_DOMAIN | C_BEARER | C_SLACK); //   -
  add(46, C_LOCAL | C_DOMAIN | C_HASH | C_BCRYPT | C_BEARER); //  .
  add(37, C_LOCAL); //                                            %
  add(43, C_LOCAL | C_HASH | C_S40 | C_BEARER); //                +
  add(47, C_HASH | C_BCRYPT | C_S40 | C_BEARER); //               /
  add(61, C_HASH | C_BEARER); //                                  =
  add(44, C_HASH); //                                             ,
  add(36, C_HASH); //                                             $
  add(126, C_BEARER); //                                          ~
  initSets();
}

@inline export function cls(c: u32): u32 {
  return <u32>load<u16>(TABLE + ((<usize>c) << 1));
}

@inline export function isWord(c: u32): bool {
  return (cls(c) & C_WORD) != 0;
}

@inline export function isDigit(c: u32): bool {
  return c - 48 < 10;
}

// Class runs 16 bytes at a time. A class (any of some C_* flags) is kept as a nibble table: for
// each low nibble, a bitmap of the high nibbles 0-7 whose byte is in the class (bytes >= 0x80
// never are). span() is the SIMD form of `while (k < e && has(k, flags)) k++` — exact, since the
// table is built from the scalar one. It reads up to 15 bytes past e (the arena keeps >= 32 bytes
// of slack after its input) and ignores them.
export const S_WORD: usize = 0;
export const S_ALNUM: usize = 1;
export const S_B64U: usize = 2;
export const S_LOCAL: usize = 3;
export const S_DOMAIN: usize = 4;
export const S_HASH: usize = 5;
export const S_BCRYPT: usize = 6;
export const S_BEARER: usize = 7;
export const S_SLACK: usize = 8;
export const S_UPPER_DIGIT: usize = 9;
export const S_ALPHA: usize = 10;
const SETS: usize = memory.data(16 * 11);
const HI_BITS: usize = memory.data<u8>([1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0]);

/** The S_WORD nibble table and the high-nibble bits (for word-start tests in mask.ts). */
export function wordSet(): usize {
  return SETS + (S_WORD << 4);
}
/** The S_LOCAL nibble table (e-mail local part). */
export function localSet(): usize {
  return SETS + (S_LOCAL << 4);
}
export function wordHiBits(): usize {
  return HI_BITS;
}

function buildSet(slot: usize, f: u32): void {
  for (let lo: u32 = 0; lo < 16; lo++) {
    let bits: u32 = 0;
    for (let hi: u32 = 0; hi < 8; hi++) if ((cls((hi << 4) | lo) & f) != 0) bits |= 1 << hi;
    store<u8>(SETS + (slot << 4) + <usize>lo, <u8>bits);
  }
}

export function initSets(): void {
  buildSet(S_WORD, C_WORD);
  buildSet(S_ALNUM, C_ALNUM);
  buildSet(S_B64U, C_B64U);
  buildSet(S_LOCAL, C_LOCAL);
  buildSet(S_DOMAIN, C_DOMAIN);
  buildSet(S_HASH, C_HASH);
  buildSet(S_BCRYPT, C_BCRYPT);
  buildSet(S_BEARER, C_BEARER);
  buildSet(S_SLACK, C_SLACK);
  buildSet(S_UPPER_DIGIT, C_UPPER | C_DIGIT);
  buildSet(S_ALPHA, C_UPPER | C_LOWER);
}

/** First position in [k, e) whose byte is not in class `slot` (e when there is none). */
export function span(k: usize, e: usize, slot: usize): usize {
  const set = v128.load(SETS + (slot << 4));
  const hb = v128.load(HI_BITS);
  const m = i8x16.splat(15);
  const zero = i8x16.splat(0);
  while (k < e) {
    const v = v128.load(k);
    const t = v128.and(i8x16.swizzle(set, v128.and(v, m)), i8x16.swizzle(hb, i8x16.shr_u(v, 4)));
    const bits = i8x16.bitmask(i8x16.eq(t, zero));
    if (bits != 0) {
      const q = k + <usize>ctz<u32>(bits);
      return q < e ? q : e;
    }
    k += 16;
  }
  return e;
}
