// PostgreSQL lexer (the rules of src/backend/parser/scan.l that decide token *boundaries*).
// It does not build values: the classifier only needs where each token starts and ends, its
// type, and a few facts about literals. Everything lives in globals — no heap allocation.
//
// Rules mirrored from scan.l (the comments name the flex states):
//  - whitespace [ \t\n\r\f\v]; `--` comments to end of line; `/* */` comments NEST (xc)
//  - identifiers [A-Za-z\x80-\xff_][A-Za-z\x80-\xff_0-9$]* — `$` inside an identifier does not
//    start a dollar quote; quoted identifiers "..." with "" (xd), U&"..." (xui)
//  - '...' with '' (xq); with standard_conforming_strings off a plain '...' is lexed like E'...'
//  - E'...' backslash escapes (xe): a backslash always consumes the next byte, so \' does not end it
//  - B'...' / X'...' (xb/xh) end at the FIRST quote (no '' doubling there)
//  - N'...' is a plain string; U&'...' (xus) has only '' doubling
//  - string continuation: after the closing quote, whitespace containing a newline (and `--`
//    comments) followed by another quote continues the SAME string in the SAME mode (xqs)
//  - $tag$...$tag$ dollar quotes (xdolq); `$1` parameters; a `$tag` with no closing `$` is an error
//  - operators stop before an embedded `/*` or `--` (the comment wins)

export const T_EOF: i32 = 0;
export const T_IDENT: i32 = 1; // unquoted word (maybe a keyword)
export const T_QIDENT: i32 = 2; // "quoted identifier"
export const T_UIDENT: i32 = 3; // U&"unicode identifier"
export const T_STRING: i32 = 4; // '...' or N'...'
export const T_ESTRING: i32 = 5; // E'...'
export const T_USTRING: i32 = 6; // U&'...'
export const T_BITSTR: i32 = 7; // B'...' or X'...'
export const T_DOLLAR: i32 = 8; // $tag$...$tag$
export const T_NUMBER: i32 = 9;
export const T_PARAM: i32 = 10; // $1
export const T_OP: i32 = 11; // operator or ':'/'::'
export const T_LPAREN: i32 = 12;
export const T_RPAREN: i32 = 13;
export const T_LBRACKET: i32 = 14;
export const T_RBRACKET: i32 = 15;
export const T_SEMI: i32 = 16;
export const T_COMMA: i32 = 17;
export const T_DOT: i32 = 18;
export const T_OTHER: i32 = 19; // a byte PostgreSQL's lexer rejects (syntax error) or a NUL
export const T_UNTERMINATED: i32 = 20; // unterminated quote or comment: runs to end of input

const MODE_STD: i32 = 0; // '' doubling only
const MODE_ESC: i32 = 1; // '' doubling and backslash escapes
const MODE_BIT: i32 = 2; // ends at the first quote

export let src: usize = 0;
export let srcLen: i32 = 0;
export let pos: i32 = 0;
export let standardStrings: bool = true;

export let tokType: i32 = T_EOF;
export let tokStart: i32 = 0;
export let tokEnd: i32 = 0;
/** For string tokens: content start/end (inside the quotes or dollar tags of the first part). */
export let tokBodyStart: i32 = 0;
export let tokBodyEnd: i32 = 0;
/** The literal's value may differ from its raw text (escapes, '' doubling, continuation). */
export let tokCooked: bool = false;
/**
 * Since the last resetDistrust(): a NUL byte was seen (PostgreSQL ends the query text there), or a
 * string continued across a `--` comment (scan.l allows it and PostgreSQL 15 does it, but newer
 * parsers such as libpg-query 18 do not: string boundaries differ between versions).
 */
export let distrust: bool = false;

export function resetLexer(ptr: usize, len: i32, standardConformingStrings: bool): void {
  src = ptr;
  srcLen = len;
  pos = 0;
  standardStrings = standardConformingStrings;
  tokType = T_EOF;
  distrust = false;
}

export function resetDistrust(): void {
  distrust = false;
}

@inline function ch(i: i32): i32 {
  return <i32>load<u8>(src + <usize>i);
}

@inline function isIdentStart(c: i32): bool {
  return ((c | 32) >= 97 && (c | 32) <= 122) || c == 95 || c >= 128;
}

@inline function isDigit(c: i32): bool {
  return c >= 48 && c <= 57;
}

@inline function isIdentCont(c: i32): bool {
  return isIdentStart(c) || isDigit(c) || c == 36;
}

@inline function isTagCont(c: i32): bool {
  return isIdentStart(c) || isDigit(c);
}

function isOpChar(c: i32): bool {
  // ~ ! @ # ^ & | ` ? + - * / % < > =
  switch (c) {
    case 126: case 33: case 64: case 35: case 94: case 38: case 124: case 96: case 63:
    case 43: case 45: case 42: case 47: case 37: case 60: case 62: case 61:
      return true;
  }
  return false;
}

function unterminated(start: i32): void {
  tokType = T_UNTERMINATED;
  tokStart = start;
  tokEnd = srcLen;
  pos = srcLen;
}

/** After a closing quote at p-1: index of the quote that continues the string, or -1 (xqs). */
function continuation(p: i32): i32 {
  let newline = false;
  let comment = false;
  while (p < srcLen) {
    const c = ch(p);
    if (c == 32 || c == 9 || c == 12 || c == 11) {
      p++;
    } else if (c == 10 || c == 13) {
      newline = true;
      p++;
    } else if (c == 45 && p + 1 < srcLen && ch(p + 1) == 45) {
      comment = true;
      p += 2;
      while (p < srcLen && ch(p) != 10 && ch(p) != 13) {
        if (ch(p) == 0) distrust = true;
        p++;
      }
    } else if (c == 39 && newline) {
      if (comment) distrust = true; // version-dependent boundary: never trust this statement
      return p;
    } else {
      return -1;
    }
  }
  return -1;
}

/** Quoted string whose body starts at p (just after the opening quote). */
function lexString(type: i32, start: i32, p: i32, mode: i32): void {
  tokType = type;
  tokStart = start;
  tokBodyStart = p;
  tokBodyEnd = -1;
  tokCooked = false;
  for (;;) {
    if (p >= srcLen) {
      unterminated(start);
      return;
    }
    const c = ch(p);
    if (c == 39) {
      if (mode != MODE_BIT && p + 1 < srcLen && ch(p + 1) == 39) {
        tokCooked = true;
        p += 2;
        continue;
      }
      if (tokBodyEnd < 0) tokBodyEnd = p;
      const next = continuation(p + 1);
      if (next >= 0) {
        tokCooked = true;
        p = next + 1;
        continue;
      }
      tokEnd = p + 1;
      pos = tokEnd;
      return;
    }
    if (c == 92 && mode == MODE_ESC) {
      tokCooked = true;
      p += 2;
      continue;
    }
    if (c == 0) distrust = true;
    p++;
  }
}

/** Quoted identifier whose body starts at p. */
function lexQuotedIdent(type: i32, start: i32, p: i32): void {
  tokType = type;
  tokStart = start;
  tokBodyStart = p;
  tokCooked = false;
  for (;;) {
    if (p >= srcLen) {
      unterminated(start);
      return;
    }
    const c = ch(p);
    if (c == 34) {
      if (p + 1 < srcLen && ch(p + 1) == 34) {
        tokCooked = true;
        p += 2;
        continue;
      }
      tokBodyEnd = p;
      tokEnd = p + 1;
      pos = tokEnd;
      return;
    }
    if (c == 0) distrust = true;
    p++;
  }
}

/** `$` at pos: a parameter, a dollar quote, or a lone `$` (a syntax error in PostgreSQL). */
function lexDollar(): void {
  const start = pos;
  let p = pos + 1;
  if (p < srcLen && isDigit(ch(p))) {
    while (p < srcLen && (isDigit(ch(p)) || ch(p) == 95)) p++;
    tokType = T_PARAM;
    tokStart = start;
    tokEnd = p;
    pos = p;
    return;
  }
  if (p < srcLen && isIdentStart(ch(p))) {
    while (p < srcLen && isTagCont(ch(p))) p++;
  }
  if (p < srcLen && ch(p) == 36) {
    // opening delimiter is [start, p]; search for the identical closing delimiter
    const delimLen = p - start + 1;
    const bodyStart = p + 1;
    let q = bodyStart;
    while (q + delimLen <= srcLen) {
      if (ch(q) == 36) {
        let same = true;
        for (let i = 1; i < delimLen; i++) {
          if (ch(q + i) != ch(start + i)) {
            same = false;
            break;
          }
        }
        if (same) {
          tokType = T_DOLLAR;
          tokStart = start;
          tokBodyStart = bodyStart;
          tokBodyEnd = q;
          tokCooked = false;
          tokEnd = q + delimLen;
          pos = tokEnd;
          return;
        }
      } else if (ch(q) == 0) {
        distrust = true;
      }
      q++;
    }
    unterminated(start);
    return;
  }
  // "dolqfailed": PostgreSQL returns the `$` alone, which no grammar rule accepts
  tokType = T_OTHER;
  tokStart = start;
  tokEnd = start + 1;
  pos = tokEnd;
}

function lexNumber(): void {
  const start = pos;
  let p = pos;
  const hex = ch(p) == 48 && p + 1 < srcLen && (ch(p + 1) | 32) == 120;
  let prev = 0;
  while (p < srcLen) {
    const c = ch(p);
    if (isDigit(c) || isIdentStart(c)) {
      prev = c;
      p++;
    } else if (c == 46 && !(p + 1 < srcLen && ch(p + 1) == 46)) {
      prev = c;
      p++;
    } else if ((c == 43 || c == 45) && !hex && (prev | 32) == 101 && p + 1 < srcLen && isDigit(ch(p + 1))) {
      prev = c;
      p++;
    } else {
      break;
    }
  }
  tokType = T_NUMBER;
  tokStart = start;
  tokEnd = p;
  pos = p;
}

@inline function single(type: i32): void {
  tokType = type;
  tokStart = pos;
  tokEnd = pos + 1;
  pos = tokEnd;
}

/** Advances to the next token (comments and whitespace skipped). */
export function nextToken(): void {
  // whitespace and comments
  while (pos < srcLen) {
    const c = ch(pos);
    if (c == 32 || (c >= 9 && c <= 13)) {
      pos++;
    } else if (c == 45 && pos + 1 < srcLen && ch(pos + 1) == 45) {
      pos += 2;
      while (pos < srcLen) {
        const d = ch(pos);
        if (d == 10 || d == 13) break;
        if (d == 0) distrust = true;
        pos++;
      }
    } else if (c == 47 && pos + 1 < srcLen && ch(pos + 1) == 42) {
      const start = pos;
      let depth = 1;
      pos += 2;
      while (depth > 0 && pos < srcLen) {
        const d = ch(pos);
        if (d == 47 && pos + 1 < srcLen && ch(pos + 1) == 42) {
          depth++;
          pos += 2;
        } else if (d == 42 && pos + 1 < srcLen && ch(pos + 1) == 47) {
          depth--;
          pos += 2;
        } else {
          if (d == 0) distrust = true;
          pos++;
        }
      }
      if (depth > 0) {
        unterminated(start);
        return;
      }
    } else {
      break;
    }
  }
  if (pos >= srcLen) {
    tokType = T_EOF;
    tokStart = srcLen;
    tokEnd = srcLen;
    return;
  }
  const c = ch(pos);
  const next = pos + 1 < srcLen ? ch(pos + 1) : -1;
  const lower = c | 32;
  if (next == 39 && (lower == 101 || lower == 98 || lower == 120 || lower == 110)) {
    // E'..' B'..' X'..' N'..'
    if (lower == 101) lexString(T_ESTRING, pos, pos + 2, MODE_ESC);
    else if (lower == 110) lexString(T_STRING, pos, pos + 2, standardStrings ? MODE_STD : MODE_ESC);
    else lexString(T_BITSTR, pos, pos + 2, MODE_BIT);
    return;
  }
  if (lower == 117 && next == 38 && pos + 2 < srcLen) {
    const q = ch(pos + 2);
    if (q == 39) {
      lexString(T_USTRING, pos, pos + 3, MODE_STD);
      return;
    }
    if (q == 34) {
      lexQuotedIdent(T_UIDENT, pos, pos + 3);
      return;
    }
  }
  if (isIdentStart(c)) {
    let p = pos + 1;
    while (p < srcLen && isIdentCont(ch(p))) p++;
    tokType = T_IDENT;
    tokStart = pos;
    tokEnd = p;
    pos = p;
    return;
  }
  if (isDigit(c) || (c == 46 && next >= 48 && next <= 57)) {
    lexNumber();
    return;
  }
  switch (c) {
    case 39:
      lexString(T_STRING, pos, pos + 1, standardStrings ? MODE_STD : MODE_ESC);
      return;
    case 34:
      lexQuotedIdent(T_QIDENT, pos, pos + 1);
      return;
    case 36:
      lexDollar();
      return;
    case 40:
      single(T_LPAREN);
      return;
    case 41:
      single(T_RPAREN);
      return;
    case 91:
      single(T_LBRACKET);
      return;
    case 93:
      single(T_RBRACKET);
      return;
    case 59:
      single(T_SEMI);
      return;
    case 44:
      single(T_COMMA);
      return;
    case 46:
      single(T_DOT);
      return;
    case 58: {
      tokType = T_OP;
      tokStart = pos;
      tokEnd = next == 58 || next == 61 ? pos + 2 : pos + 1;
      pos = tokEnd;
      return;
    }
  }
  if (isOpChar(c)) {
    let p = pos + 1;
    while (p < srcLen && isOpChar(ch(p))) {
      const d = ch(p);
      const e = p + 1 < srcLen ? ch(p + 1) : -1;
      if ((d == 47 && e == 42) || (d == 45 && e == 45)) break; // a comment starts inside
      p++;
    }
    tokType = T_OP;
    tokStart = pos;
    tokEnd = p;
    pos = p;
    return;
  }
  if (c == 0) distrust = true;
  single(T_OTHER);
}
