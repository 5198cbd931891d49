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
