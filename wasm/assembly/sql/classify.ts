// Statement splitter + classifier. One pass over the tokens of each statement feeds a small set of
// streaming facts (paren depth, data-modifying keywords, function calls, ...) and keeps the first
// HEAD_MAX tokens; when the statement ends, its leading keywords decide the kind and the facts
// refine it. Everything is in globals and static memory: no heap allocation.
//
// Conservative by construction: every path that does not positively recognise a statement form
// returns KIND_UNKNOWN, and the facts can only move a statement away from "read".

import {
  T_EOF, T_IDENT, T_QIDENT, T_UIDENT, T_STRING, T_ESTRING, T_USTRING, T_BITSTR, T_DOLLAR, T_NUMBER,
  T_LPAREN, T_RPAREN, T_SEMI, T_COMMA, T_DOT, T_OTHER, T_UNTERMINATED,
  src, srcLen, tokType, tokStart, tokEnd, tokBodyStart, tokBodyEnd, tokCooked, distrust,
  resetLexer, resetDistrust, nextToken,
} from "./lexer";
import * as K from "./keywords";
import { lookupKeyword, initKeywords } from "./keywords";

export const KIND_READ: i32 = 0;
export const KIND_WRITE: i32 = 1;
export const KIND_DDL: i32 = 2;
export const KIND_PRIVILEGE: i32 = 3;
export const KIND_PROCEDURAL: i32 = 4;
export const KIND_TRANSACTION: i32 = 5;
export const KIND_SESSION: i32 = 6;
export const KIND_COPY_EXTERNAL: i32 = 7;
export const KIND_UNKNOWN: i32 = 8;

export const FLAG_NO_WHERE: i32 = 1;
export const FLAG_DATA_MODIFYING_CTE: i32 = 2;
export const FLAG_EXPLAIN_ANALYZE: i32 = 4;
export const FLAG_DANGEROUS_FUNCTION: i32 = 8;
export const FLAG_SELECT_INTO: i32 = 16;
export const FLAG_LOCKS: i32 = 32;
/** Internal: more than MAX_CALLS_PER_STATEMENT distinct calls; not every call was reported. */
const CALLS_TRUNCATED_BIT: i32 = 64;

// Command codes: the JS wrapper (wasm/loader/sql.ts, COMMANDS) has the names in this order.
const CMD_UNKNOWN: i32 = 0;
const CMD_SELECT: i32 = 1;
const CMD_SELECT_INTO: i32 = 2;
const CMD_INSERT: i32 = 3;
const CMD_UPDATE: i32 = 4;
const CMD_DELETE: i32 = 5;
const CMD_MERGE: i32 = 6;
const CMD_SHOW: i32 = 7;
const CMD_EXPLAIN: i32 = 8;
const CMD_COPY_FROM: i32 = 9;
const CMD_COPY_TO: i32 = 10;
const CMD_CREATE: i32 = 11;
const CMD_ALTER: i32 = 12;
const CMD_DROP: i32 = 13;
const CMD_CREATE_TABLE_AS: i32 = 14;
const CMD_TRUNCATE: i32 = 15;
const CMD_COMMENT: i32 = 16;
const CMD_REINDEX: i32 = 17;
const CMD_VACUUM: i32 = 18;
const CMD_ANALYZE: i32 = 19;
const CMD_CLUSTER: i32 = 20;
const CMD_REFRESH: i32 = 21;
const CMD_IMPORT: i32 = 22;
const CMD_LOCK: i32 = 23;
const CMD_GRANT: i32 = 24;
const CMD_REVOKE: i32 = 25;
const CMD_SET_ROLE: i32 = 26;
const CMD_SET_SESSION_AUTH: i32 = 27;
const CMD_SECURITY_LABEL: i32 = 28;
const CMD_REASSIGN_OWNED: i32 = 29;
const CMD_DROP_OWNED: i32 = 30;
const CMD_DO: i32 = 31;
const CMD_CALL: i32 = 32;
const CMD_PREPARE: i32 = 33;
const CMD_EXECUTE: i32 = 34;
const CMD_LOAD: i32 = 35;
const CMD_BEGIN: i32 = 36;
const CMD_START_TRANSACTION: i32 = 37;
const CMD_COMMIT: i32 = 38;
const CMD_ROLLBACK: i32 = 39;
const CMD_SAVEPOINT: i32 = 40;
const CMD_RELEASE: i32 = 41;
const CMD_PREPARE_TRANSACTION: i32 = 42;
const CMD_COMMIT_PREPARED: i32 = 43;
const CMD_ROLLBACK_PREPARED: i32 = 44;
const CMD_SET: i32 = 45;
const CMD_RESET: i32 = 46;
const CMD_DISCARD: i32 = 47;
const CMD_LISTEN: i32 = 48;
const CMD_UNLISTEN: i32 = 49;
const CMD_NOTIFY: i32 = 50;
const CMD_DEALLOCATE: i32 = 51;
const CMD_DECLARE_CURSOR: i32 = 52;
const CMD_FETCH: i32 = 53;
const CMD_MOVE: i32 = 54;
const CMD_CLOSE: i32 = 55;
const CMD_CHECKPOINT: i32 = 56;
const CMD_SET_TRANSACTION: i32 = 57;
const CMD_SET_CONSTRAINTS: i32 = 58;

// Object codes for CREATE/ALTER/DROP (JS: OBJECTS, same order).
const OBJ_TABLE: i32 = 1;
const OBJ_INDEX: i32 = 2;
const OBJ_VIEW: i32 = 3;
const OBJ_MATVIEW: i32 = 4;
const OBJ_SEQUENCE: i32 = 5;
const OBJ_SCHEMA: i32 = 6;
const OBJ_FUNCTION: i32 = 7;
const OBJ_PROCEDURE: i32 = 8;
const OBJ_ROUTINE: i32 = 9;
const OBJ_AGGREGATE: i32 = 10;
const OBJ_TRIGGER: i32 = 11;
const OBJ_EVENT_TRIGGER: i32 = 12;
const OBJ_TYPE: i32 = 13;
const OBJ_DOMAIN: i32 = 14;
const OBJ_EXTENSION: i32 = 15;
const OBJ_DATABASE: i32 = 16;
const OBJ_TABLESPACE: i32 = 17;
const OBJ_ROLE: i32 = 18;
const OBJ_USER: i32 = 19;
const OBJ_GROUP: i32 = 20;
const OBJ_USER_MAPPING: i32 = 21;
const OBJ_POLICY: i32 = 22;
const OBJ_RULE: i32 = 23;
const OBJ_SERVER: i32 = 24;
const OBJ_FOREIGN_TABLE: i32 = 25;
const OBJ_FDW: i32 = 26;
const OBJ_PUBLICATION: i32 = 27;
const OBJ_SUBSCRIPTION: i32 = 28;
const OBJ_COLLATION: i32 = 29;
const OBJ_CONVERSION: i32 = 30;
const OBJ_OPERATOR: i32 = 31;
const OBJ_OPERATOR_CLASS: i32 = 32;
const OBJ_OPERATOR_FAMILY: i32 = 33;
const OBJ_CAST: i32 = 34;
const OBJ_LANGUAGE: i32 = 35;
const OBJ_TS_CONFIGURATION: i32 = 36;
const OBJ_TS_DICTIONARY: i32 = 37;
const OBJ_TS_PARSER: i32 = 38;
const OBJ_TS_TEMPLATE: i32 = 39;
const OBJ_STATISTICS: i32 = 40;
const OBJ_ACCESS_METHOD: i32 = 41;
const OBJ_TRANSFORM: i32 = 42;
const OBJ_DEFAULT_PRIVILEGES: i32 = 43;
const OBJ_SYSTEM: i32 = 44;
const OBJ_LARGE_OBJECT: i32 = 45;

/** Output row: kind, command, object, start, end, flags, first function row, function count. */
export const STMT_ROW_BYTES: i32 = 32;
/** Function row: name start, name end, list index, token type. */
export const FN_ROW_BYTES: i32 = 16;
const MAX_FUNCTIONS_PER_STATEMENT: i32 = 64;
/** Distinct call rows per statement; more sets CALLS_TRUNCATED_BIT (the policy layer then fails closed). */
const MAX_CALLS_PER_STATEMENT: i32 = 256;
/** Names in attribute notation (`c.email`, `c.leak_row`) kept per statement, besides the calls; more fail closed. */
const MAX_ATTRIBUTES_PER_STATEMENT: i32 = 1024;
/**
 * Function-row type bits: a call row (every `name(`), its qualifier (0 none, 1 pg_catalog, 2 other),
 * UESCAPE char, and (bits 25..29) the type of the token before the name; field 8 of a call row is
 * that token's offset when it is a word (else -1).
 */
const CALL_ROW: i32 = 1 << 24;

// ---- the first HEAD_MAX tokens of the statement ----
const HEAD_MAX: i32 = 256;
const hType = memory.data(HEAD_MAX);
const hKw = memory.data(HEAD_MAX * 2, 2);
const hStart = memory.data(HEAD_MAX * 4, 4);
const hEnd = memory.data(HEAD_MAX * 4, 4);
const hBodyStart = memory.data(HEAD_MAX * 4, 4);
const hBodyEnd = memory.data(HEAD_MAX * 4, 4);
const hCooked = memory.data(HEAD_MAX);

// ---- function-name lists (from JS, and the built-in "writes data" list) ----
const LIST_MAX: i32 = 512;
const listOff = memory.data(LIST_MAX * 4, 4);
const listLen = memory.data(LIST_MAX * 4, 4);
const listPrefix = memory.data(LIST_MAX);
let listCount: i32 = 0;
let listBase: usize = 0;

// Functions that modify data or server state: a "read" that calls one is a write whatever the
// configurable dangerous list says. Entries ending in `*` are prefixes.
// One literal (no `+`): a concatenation would be built at run time on the heap, which JS owns.
const WRITER_LIST =
  "nextval setval lowrite lo_* dblink* pg_stat_reset* pg_create_* pg_drop_* pg_logical_* pg_replication_* pg_file_* pg_switch_* pg_import_* pg_promote pg_wal_replay_* pg_backup_* pg_sequence_* pg_advisory_* pg_try_advisory_*";
const writerBytes = memory.data(512);
const writerOff = memory.data(64 * 4, 4);
const writerLen = memory.data(64 * 4, 4);
const writerPrefix = memory.data(64);
let writerCount: i32 = 0;

const nameScratch = memory.data(256);

// ---- output ----
let outPtr: usize = 0;
let fnPtr: usize = 0;
let fnCap: i32 = 0;
let fnTotal: i32 = 0;
let fnOverflow = false;

// ---- per-statement state ----
let tokenCount: i32 = 0;
let stmtStart: i32 = 0;
let stmtEnd: i32 = 0;
let depth: i32 = 0;
let bad = false;
let semiInParens = false;
let atomicDepth: i32 = 0;
let fnFirst: i32 = 0;
let fnHere: i32 = 0;
let callsHere: i32 = 0;
let attributesHere: i32 = 0;
let callsTruncated = false;

let p1Type: i32 = 0, p1Kw: i32 = 0, p1Start: i32 = 0, p1End: i32 = 0, p1BodyStart: i32 = 0, p1BodyEnd: i32 = 0, p1Cooked = false;
let p2Type: i32 = 0, p2Kw: i32 = 0, p2Start: i32 = 0, p2End: i32 = 0, p2BodyStart: i32 = 0, p2BodyEnd: i32 = 0;
let p3Type: i32 = 0, p3Start: i32 = 0, p3End: i32 = 0, p3BodyStart: i32 = 0, p3BodyEnd: i32 = 0;
let chainPrevKw: i32 = 0;

let anyDml = false;
let dmlParenTop = false;
let dmlParenDeep = false;
let mainIdx: i32 = -1;
let mainKw: i32 = 0;
let whereAfterMain = false;
let pendingDml: u64 = 0;
let pendingWhere: u64 = 0;
let noWhereInner = false;
let intoSeen = false;
let lockSeen = false;
let writeFn = false;
let dangerous = false;
let setCfgState: i32 = 0;
let setCfgPrivilege = false;
let ownerTo = false;
let ownerTop = false;
let authTop = false;
let grantInside = false;
let firstAsIdx: i32 = -1;
let copyDir: i32 = 0;
let copyWait = false;
let copyTargetType: i32 = 0;
let copyTargetKw: i32 = 0;

// ---- result of classification ----
let outCmd: i32 = 0;
let outObj: i32 = 0;
let outFlags: i32 = 0;

@inline function ch(i: i32): i32 {
  return <i32>load<u8>(src + <usize>i);
}

@inline function fold(c: i32): i32 {
  return c >= 65 && c <= 90 ? c | 32 : c;
}

// ------------------------------------------------------------------------------------------
// Name lists

/** Parses "name\nname*\n..." (lower-case) into the list table. */
export function setFunctionList(ptr: usize, len: i32): void {
  listBase = ptr;
  listCount = 0;
  let start = 0;
  for (let i = 0; i <= len && listCount < LIST_MAX; i++) {
    if (i == len || load<u8>(ptr + <usize>i) == 10) {
      let n = i - start;
      if (n > 0) {
        const prefix = load<u8>(ptr + <usize>(start + n - 1)) == 42;
        if (prefix) n--;
        store<i32>(listOff + <usize>(listCount << 2), start);
        store<i32>(listLen + <usize>(listCount << 2), n);
        store<u8>(listPrefix + <usize>listCount, prefix ? 1 : 0);
        listCount++;
      }
      start = i + 1;
    }
  }
}

function initWriters(): void {
  if (writerCount > 0) return;
  const n = WRITER_LIST.length;
  let out = 0;
  let wordStart = 0;
  for (let i = 0; i <= n; i++) {
    const c: i32 = i < n ? <i32>WRITER_LIST.charCodeAt(i) : 32;
    if (c == 32) {
      let len = out - wordStart;
      if (len > 0) {
        const prefix = load<u8>(writerBytes + <usize>(out - 1)) == 42;
        if (prefix) len--;
        store<i32>(writerOff + <usize>(writerCount << 2), wordStart);
        store<i32>(writerLen + <usize>(writerCount << 2), len);
        store<u8>(writerPrefix + <usize>writerCount, prefix ? 1 : 0);
        writerCount++;
      }
      wordStart = out;
    } else {
      store<u8>(writerBytes + <usize>out, <u8>c);
      out++;
    }
  }
}

/** Does the name at [ptr, ptr+len) (folded when `foldCase`) match entry (off, n, prefix)? */
function nameMatches(ptr: usize, len: i32, foldCase: bool, entry: usize, n: i32, prefix: bool): bool {
  if (prefix ? len < n : len != n) return false;
  for (let i = 0; i < n; i++) {
    let c = <i32>load<u8>(ptr + <usize>i);
    if (foldCase) c = fold(c);
    if (c != <i32>load<u8>(entry + <usize>i)) return false;
  }
  return true;
}

function findInList(ptr: usize, len: i32, foldCase: bool): i32 {
  for (let i = 0; i < listCount; i++) {
    const off = load<i32>(listOff + <usize>(i << 2));
    const n = load<i32>(listLen + <usize>(i << 2));
    if (nameMatches(ptr, len, foldCase, listBase + <usize>off, n, load<u8>(listPrefix + <usize>i) != 0)) return i;
  }
  return -1;
}

function isWriter(ptr: usize, len: i32, foldCase: bool): bool {
  for (let i = 0; i < writerCount; i++) {
    const off = load<i32>(writerOff + <usize>(i << 2));
    const n = load<i32>(writerLen + <usize>(i << 2));
    if (nameMatches(ptr, len, foldCase, writerBytes + <usize>off, n, load<u8>(writerPrefix + <usize>i) != 0)) return true;
  }
  return false;
}

function isSetConfig(ptr: usize, len: i32, foldCase: bool): bool {
  if (len != 10) return false;
  // "set_config"
  const a = foldCase ? fold(<i32>load<u8>(ptr)) : <i32>load<u8>(ptr);
  if (a != 115) return false;
  const s = "set_config";
  for (let i = 0; i < 10; i++) {
    let c = <i32>load<u8>(ptr + <usize>i);
    if (foldCase) c = fold(c);
    if (c != <i32>s.charCodeAt(i)) return false;
  }
  return true;
}

/** Case-insensitive compare of source bytes [start, end) with an ASCII literal. */
function textIs(start: i32, end: i32, word: string): bool {
  const n = word.length;
  if (end - start != n) return false;
  for (let i = 0; i < n; i++) {
    if (fold(ch(start + i)) != <i32>word.charCodeAt(i)) return false;
  }
  return true;
}

@inline function hexVal(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Decodes a U&"..." body into nameScratch (code points >= 128 become 0xFF). Returns length or -1. */
function decodeUnicodeIdent(bodyStart: i32, bodyEnd: i32, esc: i32): i32 {
  let n = 0;
  let i = bodyStart;
  while (i < bodyEnd) {
    if (n >= 255) return -1;
    const c = ch(i);
    if (c == 34) {
      store<u8>(nameScratch + <usize>(n++), 34);
      i += 2;
    } else if (c == esc) {
      if (i + 1 < bodyEnd && ch(i + 1) == esc) {
        store<u8>(nameScratch + <usize>(n++), <u8>esc);
        i += 2;
        continue;
      }
      let digits = 4;
      let j = i + 1;
      if (j < bodyEnd && ch(j) == 43) {
        digits = 6;
        j++;
      }
      let cp = 0;
      for (let d = 0; d < digits; d++) {
        if (j >= bodyEnd) return -1;
        const v = hexVal(ch(j));
        if (v < 0) return -1;
        cp = (cp << 4) | v;
        j++;
      }
      store<u8>(nameScratch + <usize>(n++), cp < 128 ? <u8>cp : 0xff);
      i = j;
    } else {
      store<u8>(nameScratch + <usize>(n++), <u8>c);
      i++;
    }
  }
  return n;
}

/** Calls that define or name a relation rather than call a function: `INSERT INTO lo_t (...)`. */
function excludedContext(kw: i32): bool {
  switch (kw) {
    case K.KW_TABLE: case K.KW_INTO: case K.KW_REFERENCES: case K.KW_FUNCTION: case K.KW_PROCEDURE:
    case K.KW_ROUTINE: case K.KW_AGGREGATE: case K.KW_TYPE: case K.KW_COPY: case K.KW_INDEX: case K.KW_VIEW:
      return true;
  }
  return false;
}

/** Checks one function name against the built-in writer list and the dangerous list. */
function checkFunctionName(type: i32, start: i32, end: i32, bodyStart: i32, bodyEnd: i32, esc: i32): void {
  let ptr: usize;
  let len: i32;
  let foldCase = false;
  if (type == T_IDENT) {
    ptr = src + <usize>start;
    len = end - start;
    foldCase = true;
  } else if (type == T_QIDENT) {
    ptr = src + <usize>bodyStart;
    len = bodyEnd - bodyStart;
  } else {
    len = decodeUnicodeIdent(bodyStart, bodyEnd, esc);
    if (len < 0) return;
    ptr = nameScratch;
  }
  if (isWriter(ptr, len, foldCase)) writeFn = true;
  const hit = findInList(ptr, len, foldCase);
  if (hit >= 0) {
    dangerous = true;
    if (fnHere < MAX_FUNCTIONS_PER_STATEMENT) {
      if (fnTotal >= fnCap) {
        fnOverflow = true;
        return;
      }
      const row = fnPtr + <usize>(fnTotal * FN_ROW_BYTES);
      const quoted = type != T_IDENT;
      store<i32>(row, quoted ? bodyStart : start);
      store<i32>(row, quoted ? bodyEnd : end, 4);
      store<i32>(row, hit, 8);
      store<i32>(row, type, 12);
      fnTotal++;
      fnHere++;
    }
  }
}

/** Is [s1, e1) the same name as [s2, e2) (both source ranges; folded when `fold1`/`fold2`)? */
function sameName(s1: i32, e1: i32, f1: bool, s2: i32, e2: i32, f2: bool): bool {
  if (e1 - s1 != e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) {
    const a = f1 ? fold(ch(s1 + i)) : ch(s1 + i);
    const b = f2 ? fold(ch(s2 + i)) : ch(s2 + i);
    if (a != b) return false;
  }
  return true;
}

/** Qualifier code of a `q.name(` call: 1 when q is pg_catalog (unquoted any case, or "pg_catalog"), else 2. */
function qualifierCode(type: i32, start: i32, end: i32, bodyStart: i32, bodyEnd: i32): i32 {
  if (type == T_IDENT && textIs(start, end, "pg_catalog")) return 1;
  if (type == T_QIDENT && bodyEnd - bodyStart == 10) {
    const s = "pg_catalog";
    for (let i = 0; i < 10; i++) if (ch(bodyStart + i) != <i32>s.charCodeAt(i)) return 2;
    return 1;
  }
  return 2;
}

/**
 * Reports every `name(` of the statement (deduplicated by spelling and qualifier) so the policy
 * layer can classify each called function (parsers/sql/function-actions.ts). Keywords that are
 * syntax before `(` are filtered there, not here.
 */
/** End of the unquoted word starting at `i` (identifier characters of scan.l). */
function wordEnd(i: i32): i32 {
  while (i < srcLen) {
    const c = ch(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 36 || c >= 128)) break;
    i++;
  }
  return i;
}

function recordCall(type: i32, start: i32, end: i32, bodyStart: i32, bodyEnd: i32, esc: i32, qual: i32, prevType: i32, prevStart: i32): void {
  if (callsTruncated) return; // already failing closed; no more scans over the rows
  const quoted = type != T_IDENT;
  const s = quoted ? bodyStart : start;
  const e = quoted ? bodyEnd : end;
  // The token before the name (type in tag bits 25..29; for a word, its offset in field 8) tells
  // the policy layer whether an unreserved keyword such as `key(` is a call or grammar
  // (function-actions.ts): calls are deduplicated per name and preceding token.
  const tag = CALL_ROW | (prevType << 25) | (esc << 16) | (qual << 8) | type;
  const prevWord = prevType == T_IDENT;
  for (let r = fnFirst; r < fnTotal; r++) {
    const row = fnPtr + <usize>(r * FN_ROW_BYTES);
    const t = load<i32>(row, 12);
    if (t != tag) continue;
    if (prevWord) {
      const other = load<i32>(row, 8);
      if (!sameName(other, wordEnd(other), true, prevStart, wordEnd(prevStart), true)) continue;
    }
    if (sameName(load<i32>(row), load<i32>(row, 4), !quoted, s, e, !quoted)) return;
  }
  if (callsHere >= MAX_CALLS_PER_STATEMENT) {
    callsTruncated = true;
    return;
  }
  if (fnTotal >= fnCap) {
    fnOverflow = true;
    return;
  }
  const row = fnPtr + <usize>(fnTotal * FN_ROW_BYTES);
  store<i32>(row, s);
  store<i32>(row, e, 4);
  store<i32>(row, prevWord ? prevStart : -1, 8);
  store<i32>(row, tag, 12);
  fnTotal++;
  callsHere++;
}

/**
 * Attribute notation: PostgreSQL reads `x.f` as the call `f(x)` when `x` has no column `f` (also
 * `(expr).f`, `a[1].f`), so the name after a dot — once the next token shows it is neither a
 * qualified call `s.f(` nor a qualifier `s.t.` — is reported as a row tagged qualifier 0 after a
 * `.` (a qualified call always has qualifier 1 or 2). The policy layer decides what it may be
 * (function-actions.ts). They have their own budget: a wide select names many columns.
 */
function recordAttribute(): void {
  if (attributesHere >= MAX_ATTRIBUTES_PER_STATEMENT) {
    callsTruncated = true;
    return;
  }
  const before = callsHere;
  recordCall(p1Type, p1Start, p1End, p1BodyStart, p1BodyEnd, 92, 0, T_DOT, p2Start);
  if (callsHere > before) {
    callsHere = before;
    attributesHere++;
  }
}

@inline function isName(t: i32): bool {
  return t == T_IDENT || t == T_QIDENT || t == T_UIDENT;
}

@inline function isStringType(t: i32): bool {
  return t == T_STRING || t == T_ESTRING || t == T_USTRING || t == T_DOLLAR || t == T_BITSTR;
}

// ------------------------------------------------------------------------------------------
// Streaming facts

function beginStatement(): void {
  tokenCount = 0;
  stmtStart = 0;
  stmtEnd = 0;
  depth = 0;
  bad = false;
  semiInParens = false;
  atomicDepth = 0;
  fnFirst = fnTotal;
  fnHere = 0;
  callsHere = 0;
  attributesHere = 0;
  callsTruncated = false;
  p1Type = T_EOF; p1Kw = 0; p2Type = T_EOF; p2Kw = 0; p3Type = T_EOF;
  chainPrevKw = 0;
  anyDml = false;
  dmlParenTop = false;
  dmlParenDeep = false;
  mainIdx = -1;
  mainKw = 0;
  whereAfterMain = false;
  pendingDml = 0;
  pendingWhere = 0;
  noWhereInner = false;
  intoSeen = false;
  lockSeen = false;
  writeFn = false;
  dangerous = false;
  setCfgState = 0;
  setCfgPrivilege = false;
  ownerTo = false;
  ownerTop = false;
  authTop = false;
  grantInside = false;
  firstAsIdx = -1;
  copyDir = 0;
  copyWait = false;
  copyTargetType = 0;
  copyTargetKw = 0;
  resetDistrust();
}

@inline function headKw(i: i32): i32 {
  return <i32>load<u16>(hKw + <usize>(i << 1));
}

function isCreateRoutine(): bool {
  if (tokenCount < 2 || headKw(0) != K.KW_CREATE) return false;
  let i = 1;
  if (headKw(1) == K.KW_OR) {
    if (tokenCount < 4 || headKw(2) != K.KW_REPLACE) return false;
    i = 3;
  }
  const k = headKw(i);
  return k == K.KW_FUNCTION || k == K.KW_PROCEDURE;
}

@inline function isDmlKw(k: i32): bool {
  return k == K.KW_INSERT || k == K.KW_UPDATE || k == K.KW_DELETE || k == K.KW_MERGE;
}

function feed(): void {
  const t = tokType;
  const idx = tokenCount;
  if (idx == 0) stmtStart = tokStart;
  stmtEnd = tokEnd;
  let kw = 0;
  if (t == T_IDENT) kw = lookupKeyword(src + <usize>tokStart, tokEnd - tokStart);
  if (idx < HEAD_MAX) {
    store<u8>(hType + <usize>idx, <u8>t);
    store<u16>(hKw + <usize>(idx << 1), <u16>kw);
    store<i32>(hStart + <usize>(idx << 2), tokStart);
    store<i32>(hEnd + <usize>(idx << 2), tokEnd);
    store<i32>(hBodyStart + <usize>(idx << 2), tokBodyStart);
    store<i32>(hBodyEnd + <usize>(idx << 2), tokBodyEnd);
    store<u8>(hCooked + <usize>idx, tokCooked ? 1 : 0);
  }
  tokenCount = idx + 1;

  if (t == T_OTHER) bad = true;
  if (t == T_SEMI && depth > 0) semiInParens = true;

  // set_config(<first argument>, ...): only a plain literal naming a harmless setting is trusted
  if (setCfgState == 1) {
    if (((t == T_STRING || t == T_ESTRING) && !tokCooked) || t == T_DOLLAR) {
      if (textIs(tokBodyStart, tokBodyEnd, "role") || textIs(tokBodyStart, tokBodyEnd, "session_authorization")) {
        setCfgPrivilege = true;
        setCfgState = 0;
      } else {
        setCfgState = 2;
      }
    } else {
      setCfgPrivilege = true;
      setCfgState = 0;
    }
  } else if (setCfgState == 2) {
    if (t != T_COMMA) setCfgPrivilege = true;
    setCfgState = 0;
  }

  if (copyWait) {
    copyWait = false;
    copyTargetType = t;
    copyTargetKw = kw;
  }

  const prevKw = p1Type == T_IDENT ? p1Kw : 0;
  const afterDot = p1Type == T_DOT;
  if (p2Type == T_DOT && isName(p1Type) && t != T_LPAREN && t != T_DOT) recordAttribute();

  if (t == T_LPAREN) {
    // a call: name(  — or U&"name" UESCAPE 'c' (
    if (isName(p1Type) && !excludedContext(chainPrevKw)) {
      if (p2Type != T_DOT) checkFunctionName(p1Type, p1Start, p1End, p1BodyStart, p1BodyEnd, 92);
      // `AS x(a, b)` and `WITH [RECURSIVE] x(a) AS` name column lists, never calls.
      if (chainPrevKw != K.KW_AS && chainPrevKw != K.KW_WITH && chainPrevKw != K.KW_RECURSIVE) {
        recordCall(p1Type, p1Start, p1End, p1BodyStart, p1BodyEnd, 92, p2Type == T_DOT ? qualifierCode(p3Type, p3Start, p3End, p3BodyStart, p3BodyEnd) : 0, p2Type, p2Start);
      }
      const foldCase = p1Type == T_IDENT;
      if (p1Type != T_UIDENT) {
        const nameStart = foldCase ? p1Start : p1BodyStart;
        const nameEnd = foldCase ? p1End : p1BodyEnd;
        if (isSetConfig(src + <usize>nameStart, nameEnd - nameStart, foldCase)) setCfgState = 1;
      } else {
        const n = decodeUnicodeIdent(p1BodyStart, p1BodyEnd, 92);
        if (n < 0 || isSetConfig(nameScratch, n, false)) setCfgState = 1;
      }
    } else if (p1Type == T_STRING && p2Type == T_IDENT && p2Kw == K.KW_UESCAPE && p3Type == T_UIDENT) {
      const esc = p1BodyEnd - p1BodyStart == 1 ? ch(p1BodyStart) : 92;
      checkFunctionName(T_UIDENT, p3Start, p3End, p3BodyStart, p3BodyEnd, esc);
      // What precedes the name is out of the look-behind window: report it as qualified by some
      // other schema (a user-defined function), which fails closed.
      recordCall(T_UIDENT, p3Start, p3End, p3BodyStart, p3BodyEnd, esc, 2, 0, 0);
      const n = decodeUnicodeIdent(p3BodyStart, p3BodyEnd, esc);
      if (n < 0 || isSetConfig(nameScratch, n, false)) setCfgState = 1;
    }
    depth++;
  } else if (t == T_RPAREN) {
    if (depth > 0 && depth < 64) {
      const bit: u64 = (<u64>1) << <u64>depth;
      if ((pendingDml & bit) != 0 && (pendingWhere & bit) == 0) noWhereInner = true;
      pendingDml &= ~bit;
      pendingWhere &= ~bit;
    }
    depth--;
    if (depth < 0) {
      bad = true; // more `)` than `(`: a syntax error; never trust it
      depth = 0;
    }
  } else if (isName(t)) {
    if (afterDot) {
      // attribute notation x.func is a call too
      if (!excludedContext(chainPrevKw)) checkFunctionName(t, tokStart, tokEnd, tokBodyStart, tokBodyEnd, 92);
    } else {
      chainPrevKw = prevKw;
    }
    if (kw != 0) onKeyword(kw, idx, prevKw, afterDot);
  }

  p3Type = p2Type; p3Start = p2Start; p3End = p2End; p3BodyStart = p2BodyStart; p3BodyEnd = p2BodyEnd;
  p2Type = p1Type; p2Kw = p1Kw; p2Start = p1Start; p2End = p1End; p2BodyStart = p1BodyStart; p2BodyEnd = p1BodyEnd;
  p1Type = t; p1Kw = kw; p1Start = tokStart; p1End = tokEnd; p1BodyStart = tokBodyStart; p1BodyEnd = tokBodyEnd; p1Cooked = tokCooked;
}

function onKeyword(kw: i32, idx: i32, prevKw: i32, afterDot: bool): void {
  if (afterDot || prevKw == K.KW_AS) return; // a column or alias that happens to be a keyword
  if (isDmlKw(kw)) {
    if ((kw == K.KW_UPDATE) && (prevKw == K.KW_FOR || prevKw == K.KW_KEY)) {
      lockSeen = true; // FOR UPDATE / FOR NO KEY UPDATE
      return;
    }
    anyDml = true;
    if (p1Type == T_LPAREN) {
      if (depth == 1) dmlParenTop = true;
      else dmlParenDeep = true;
      if ((kw == K.KW_UPDATE || kw == K.KW_DELETE) && depth < 64) pendingDml |= (<u64>1) << <u64>depth;
    }
    if (depth == 0 && mainIdx < 0 && prevKw != K.KW_DO && prevKw != K.KW_THEN) {
      mainIdx = idx;
      mainKw = kw;
    }
    return;
  }
  switch (kw) {
    case K.KW_SHARE:
      if (prevKw == K.KW_FOR || prevKw == K.KW_KEY) lockSeen = true;
      break;
    case K.KW_SELECT: case K.KW_VALUES: case K.KW_TABLE:
      if (depth == 0 && mainIdx < 0) {
        mainIdx = idx;
        mainKw = kw;
      }
      break;
    case K.KW_WHERE:
      if (depth == 0 && mainIdx >= 0) whereAfterMain = true;
      if (depth > 0 && depth < 64) pendingWhere |= (<u64>1) << <u64>depth;
      break;
    case K.KW_INTO:
      if (prevKw != K.KW_INSERT && prevKw != K.KW_MERGE) intoSeen = true;
      break;
    case K.KW_ATOMIC:
      if (prevKw == K.KW_BEGIN && p1Type == T_IDENT && depth == 0 && (atomicDepth > 0 || isCreateRoutine())) atomicDepth++;
      break;
    case K.KW_CASE:
      if (atomicDepth > 0) atomicDepth++;
      break;
    case K.KW_END:
      if (atomicDepth > 0) atomicDepth--;
      break;
    case K.KW_TO:
      if (depth == 0 && prevKw == K.KW_OWNER) ownerTo = true;
      if (depth == 0 && copyDir == 0 && idx > 0) {
        copyDir = K.KW_TO;
        copyWait = true;
      }
      break;
    case K.KW_FROM:
      if (depth == 0 && copyDir == 0 && idx > 0) {
        copyDir = K.KW_FROM;
        copyWait = true;
      }
      break;
    case K.KW_GRANT:
      if (depth == 0 && idx > 0) grantInside = true;
      break;
    case K.KW_OWNER:
      if (depth == 0) ownerTop = true;
      break;
    case K.KW_AUTHORIZATION:
      if (depth == 0) authTop = true;
      break;
    case K.KW_AS:
      if (depth == 0 && firstAsIdx < 0) firstAsIdx = idx;
      break;
  }
}

// ------------------------------------------------------------------------------------------
// Classification from the head tokens

/** Token type at head index i: T_EOF past the statement, -1 past the stored head. */
function typeAt(i: i32): i32 {
  if (i >= tokenCount) return T_EOF;
  if (i >= HEAD_MAX) return -1;
  return <i32>load<u8>(hType + <usize>i);
}

/** Keyword id at head index i (0 for a non-keyword), -1 past the stored head. */
function kwAt(i: i32): i32 {
  if (i >= tokenCount) return 0;
  if (i >= HEAD_MAX) return -1;
  return headKw(i);
}

function bodyIs(i: i32, word: string): bool {
  return textIs(load<i32>(hBodyStart + <usize>(i << 2)), load<i32>(hBodyEnd + <usize>(i << 2)), word);
}

function tokenIs(i: i32, word: string): bool {
  return textIs(load<i32>(hStart + <usize>(i << 2)), load<i32>(hEnd + <usize>(i << 2)), word);
}

@inline function cooked(i: i32): bool {
  return load<u8>(hCooked + <usize>i) != 0;
}

/** A word the way PostgreSQL's grammar sees it: keyword/identifier or "quoted identifier". */
function wordIs(i: i32, word: string): bool {
  const t = typeAt(i);
  if (t == T_IDENT) return tokenIs(i, word);
  if (t == T_QIDENT) return !cooked(i) && bodyIs(i, word);
  return false;
}

function dmlCommand(kw: i32): i32 {
  if (kw == K.KW_INSERT) return CMD_INSERT;
  if (kw == K.KW_UPDATE) return CMD_UPDATE;
  if (kw == K.KW_DELETE) return CMD_DELETE;
  return CMD_MERGE;
}

function applyNoWhere(): void {
  if ((mainKw == K.KW_UPDATE || mainKw == K.KW_DELETE) && !whereAfterMain) outFlags |= FLAG_NO_WHERE;
  if (noWhereInner) outFlags |= FLAG_NO_WHERE;
}

/** Function calls that change what a statement does: writers make a read a write, role changes. */
function callOverrides(kind: i32): i32 {
  if (writeFn && kind == KIND_READ) kind = KIND_WRITE;
  if (setCfgPrivilege && (kind == KIND_READ || kind == KIND_WRITE)) kind = KIND_PRIVILEGE;
  return kind;
}

function isQueryStart(i: i32): bool {
  const k = kwAt(i);
  return typeAt(i) == T_LPAREN || k == K.KW_SELECT || k == K.KW_VALUES || k == K.KW_TABLE || k == K.KW_WITH;
}

/** SELECT / VALUES / TABLE / WITH ... / ( ... ) starting at head index i. */
function queryKind(i: i32): i32 {
  if (!isQueryStart(i)) return KIND_UNKNOWN;
  outCmd = CMD_SELECT;
  let kind = KIND_READ;
  if (kwAt(i) == K.KW_WITH && mainIdx > i && isDmlKw(mainKw)) outCmd = dmlCommand(mainKw);
  if (anyDml) {
    kind = KIND_WRITE;
    // a data-modifying statement that is not the main one can only sit in a WITH
    if (dmlParenTop || dmlParenDeep || !isDmlKw(mainKw)) outFlags |= FLAG_DATA_MODIFYING_CTE;
  }
  if (intoSeen) {
    kind = KIND_WRITE;
    outFlags |= FLAG_SELECT_INTO;
    if (outCmd == CMD_SELECT) outCmd = CMD_SELECT_INTO;
  }
  if (lockSeen) {
    kind = KIND_WRITE;
    outFlags |= FLAG_LOCKS;
  }
  applyNoWhere();
  return callOverrides(kind);
}

function dmlKind(i: i32): i32 {
  outCmd = dmlCommand(kwAt(i));
  if (dmlParenTop || dmlParenDeep) outFlags |= FLAG_DATA_MODIFYING_CTE;
  if (lockSeen) outFlags |= FLAG_LOCKS;
  applyNoWhere();
  return callOverrides(KIND_WRITE);
}

/** EXPLAIN option value that turns ANALYZE off (defGetBoolean: false/off, or integer 0). */
function isFalseValue(j: i32): bool {
  const t = typeAt(j);
  const k = kwAt(j);
  if (k == K.KW_FALSE || k == K.KW_OFF) return true;
  if (t == T_QIDENT || t == T_DOLLAR || ((t == T_STRING || t == T_ESTRING) && !cooked(j))) {
    return bodyIs(j, "false") || bodyIs(j, "off");
  }
  if (t == T_NUMBER) {
    const s = load<i32>(hStart + <usize>(j << 2));
    const e = load<i32>(hEnd + <usize>(j << 2));
    for (let p = s; p < e; p++) if (ch(p) != 48) return false;
    return true;
  }
  return false;
}

function explainKind(i: i32): i32 {
  let j = i + 1;
  let analyze = false;
  if (typeAt(j) == T_LPAREN) {
    j++;
    for (;;) {
      const t = typeAt(j);
      if (t == T_RPAREN) {
        j++;
        break;
      }
      if (t == T_EOF || t < 0) return KIND_UNKNOWN;
      const k = kwAt(j);
      // U&"..." spells any option name (U&"analyze" is ANALYZE): treat it as ANALYZE
      const isAnalyze = k == K.KW_ANALYZE || k == K.KW_ANALYSE || (t == T_QIDENT && !cooked(j) && bodyIs(j, "analyze")) ||
        t == T_UIDENT;
      j++;
      let valueIdx = -1;
      for (;;) {
        const v = typeAt(j);
        if (v == T_COMMA || v == T_RPAREN) break;
        if (v == T_EOF || v < 0 || v == T_LPAREN) return KIND_UNKNOWN;
        if (valueIdx < 0) valueIdx = j;
        j++;
      }
      if (isAnalyze) analyze = valueIdx < 0 || !isFalseValue(valueIdx) || valueIdx + 1 != j;
      if (typeAt(j) == T_COMMA) j++;
    }
  } else {
    if (kwAt(j) == K.KW_ANALYZE || kwAt(j) == K.KW_ANALYSE) {
      analyze = true;
      j++;
    }
    if (kwAt(j) == K.KW_VERBOSE) j++;
  }
  let inner = KIND_UNKNOWN;
  const k = kwAt(j);
  if (isQueryStart(j)) inner = queryKind(j);
  else if (isDmlKw(k)) inner = dmlKind(j);
  else if (k == K.KW_CREATE) inner = createKind(j);
  else if (k == K.KW_DECLARE) inner = declareKind(j);
  else if (k == K.KW_REFRESH) inner = refreshKind(j);
  else if (k == K.KW_EXECUTE) inner = KIND_PROCEDURAL;
  outCmd = CMD_EXPLAIN;
  outObj = 0;
  if (inner == KIND_UNKNOWN) return KIND_UNKNOWN;
  if (analyze) {
    outFlags |= FLAG_EXPLAIN_ANALYZE;
    return inner;
  }
  outFlags = 0; // planned, not executed
  return KIND_READ;
}

function copyKind(i: i32): i32 {
  if (copyDir == 0) return KIND_UNKNOWN;
  outCmd = copyDir == K.KW_FROM ? CMD_COPY_FROM : CMD_COPY_TO;
  if (copyTargetKw == K.KW_PROGRAM || isStringType(copyTargetType)) return KIND_COPY_EXTERNAL;
  if (copyDir == K.KW_FROM) {
    if (copyTargetKw != K.KW_STDIN || typeAt(i + 1) == T_LPAREN) return KIND_UNKNOWN;
    return callOverrides(KIND_WRITE);
  }
  if (copyTargetKw != K.KW_STDOUT) return KIND_UNKNOWN;
  let kind = KIND_READ;
  if (typeAt(i + 1) == T_LPAREN) {
    // COPY (query) TO STDOUT runs the query: INSERT/UPDATE/DELETE/MERGE ... RETURNING are allowed
    if (anyDml) kind = KIND_WRITE;
    if (dmlParenDeep) outFlags |= FLAG_DATA_MODIFYING_CTE;
    if (intoSeen) kind = KIND_UNKNOWN;
    if (lockSeen) {
      kind = KIND_WRITE;
      outFlags |= FLAG_LOCKS;
    }
    if (noWhereInner) outFlags |= FLAG_NO_WHERE;
  }
  return callOverrides(kind);
}

/** Object type words at head index j (TABLE, MATERIALIZED VIEW, TEXT SEARCH PARSER, ...). */
function objectAt(j: i32): i32 {
  const k = kwAt(j);
  const k1 = kwAt(j + 1);
  switch (k) {
    case K.KW_TABLE: return OBJ_TABLE;
    case K.KW_INDEX: return OBJ_INDEX;
    case K.KW_VIEW: return OBJ_VIEW;
    case K.KW_MATERIALIZED: return k1 == K.KW_VIEW ? OBJ_MATVIEW : 0;
    case K.KW_SEQUENCE: return OBJ_SEQUENCE;
    case K.KW_SCHEMA: return OBJ_SCHEMA;
    case K.KW_FUNCTION: return OBJ_FUNCTION;
    case K.KW_PROCEDURE: return OBJ_PROCEDURE;
    case K.KW_ROUTINE: return OBJ_ROUTINE;
    case K.KW_AGGREGATE: return OBJ_AGGREGATE;
    case K.KW_TRIGGER: return OBJ_TRIGGER;
    case K.KW_EVENT: return k1 == K.KW_TRIGGER ? OBJ_EVENT_TRIGGER : 0;
    case K.KW_TYPE: return OBJ_TYPE;
    case K.KW_DOMAIN: return OBJ_DOMAIN;
    case K.KW_EXTENSION: return OBJ_EXTENSION;
    case K.KW_DATABASE: return OBJ_DATABASE;
    case K.KW_TABLESPACE: return OBJ_TABLESPACE;
    case K.KW_ROLE: return OBJ_ROLE;
    case K.KW_USER: return k1 == K.KW_MAPPING ? OBJ_USER_MAPPING : OBJ_USER;
    case K.KW_GROUP: return OBJ_GROUP;
    case K.KW_POLICY: return OBJ_POLICY;
    case K.KW_RULE: return OBJ_RULE;
    case K.KW_SERVER: return OBJ_SERVER;
    case K.KW_FOREIGN:
      if (k1 == K.KW_TABLE) return OBJ_FOREIGN_TABLE;
      if (k1 == K.KW_DATA && kwAt(j + 2) == K.KW_WRAPPER) return OBJ_FDW;
      return 0;
    case K.KW_PUBLICATION: return OBJ_PUBLICATION;
    case K.KW_SUBSCRIPTION: return OBJ_SUBSCRIPTION;
    case K.KW_COLLATION: return OBJ_COLLATION;
    case K.KW_CONVERSION: return OBJ_CONVERSION;
    case K.KW_OPERATOR:
      if (k1 == K.KW_CLASS) return OBJ_OPERATOR_CLASS;
      if (k1 == K.KW_FAMILY) return OBJ_OPERATOR_FAMILY;
      return OBJ_OPERATOR;
    case K.KW_CAST: return OBJ_CAST;
    case K.KW_LANGUAGE: return OBJ_LANGUAGE;
    case K.KW_TEXT:
      if (k1 != K.KW_SEARCH) return 0;
      switch (kwAt(j + 2)) {
        case K.KW_CONFIGURATION: return OBJ_TS_CONFIGURATION;
        case K.KW_DICTIONARY: return OBJ_TS_DICTIONARY;
        case K.KW_PARSER: return OBJ_TS_PARSER;
        case K.KW_TEMPLATE: return OBJ_TS_TEMPLATE;
      }
      return 0;
    case K.KW_STATISTICS: return OBJ_STATISTICS;
    case K.KW_ACCESS: return k1 == K.KW_METHOD ? OBJ_ACCESS_METHOD : 0;
    case K.KW_TRANSFORM: return OBJ_TRANSFORM;
    case K.KW_DEFAULT: return k1 == K.KW_PRIVILEGES ? OBJ_DEFAULT_PRIVILEGES : 0;
    case K.KW_SYSTEM: return OBJ_SYSTEM;
    case K.KW_LARGE: return k1 == K.KW_OBJECT ? OBJ_LARGE_OBJECT : 0;
  }
  return 0;
}

function isRoleObject(obj: i32): bool {
  return obj == OBJ_ROLE || obj == OBJ_USER || obj == OBJ_GROUP || obj == OBJ_USER_MAPPING || obj == OBJ_POLICY;
}

function createKind(i: i32): i32 {
  let j = i + 1;
  if (kwAt(j) == K.KW_OR && kwAt(j + 1) == K.KW_REPLACE) j += 2;
  for (;;) {
    const k = kwAt(j);
    if (
      k == K.KW_GLOBAL || k == K.KW_LOCAL || k == K.KW_TEMP || k == K.KW_TEMPORARY || k == K.KW_UNLOGGED ||
      k == K.KW_UNIQUE || k == K.KW_TRUSTED || k == K.KW_PROCEDURAL || k == K.KW_DEFAULT || k == K.KW_CONSTRAINT ||
      k == K.KW_RECURSIVE
    ) {
      j++;
    } else {
      break;
    }
  }
  const obj = objectAt(j);
  if (obj == 0) return KIND_UNKNOWN;
  outCmd = CMD_CREATE;
  outObj = obj;
  if (obj == OBJ_TABLE && firstAsIdx > j) {
    // CREATE TABLE ... AS query / EXECUTE: creates and fills a table
    outCmd = CMD_CREATE_TABLE_AS;
    outObj = 0;
    if (intoSeen) return KIND_UNKNOWN;
    if (lockSeen) outFlags |= FLAG_LOCKS;
    return callOverrides(KIND_WRITE);
  }
  if (isRoleObject(obj)) return KIND_PRIVILEGE;
  if (obj == OBJ_SCHEMA && (grantInside || authTop)) return KIND_PRIVILEGE;
  if (obj == OBJ_DATABASE && ownerTop) return KIND_PRIVILEGE;
  return KIND_DDL;
}

function alterKind(i: i32): i32 {
  const obj = objectAt(i + 1);
  if (obj == 0) return KIND_UNKNOWN;
  outCmd = CMD_ALTER;
  outObj = obj;
  if (isRoleObject(obj) || obj == OBJ_DEFAULT_PRIVILEGES || ownerTo) return KIND_PRIVILEGE;
  return KIND_DDL;
}

function dropKind(i: i32): i32 {
  if (kwAt(i + 1) == K.KW_OWNED) {
    outCmd = CMD_DROP_OWNED;
    return KIND_PRIVILEGE;
  }
  const obj = objectAt(i + 1);
  if (obj == 0 || obj == OBJ_SYSTEM || obj == OBJ_DEFAULT_PRIVILEGES || obj == OBJ_LARGE_OBJECT) return KIND_UNKNOWN;
  outCmd = CMD_DROP;
  outObj = obj;
  if (isRoleObject(obj)) return KIND_PRIVILEGE;
  return KIND_DDL;
}

function refreshKind(i: i32): i32 {
  if (kwAt(i + 1) != K.KW_MATERIALIZED || kwAt(i + 2) != K.KW_VIEW) return KIND_UNKNOWN;
  outCmd = CMD_REFRESH;
  return KIND_WRITE; // rewrites the view's stored rows
}

function declareKind(i: i32): i32 {
  // DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH|WITHOUT} HOLD] FOR query
  let j = i + 2;
  while (j < i + 8 && kwAt(j) != K.KW_CURSOR) {
    if (typeAt(j) != T_IDENT) return KIND_UNKNOWN;
    j++;
  }
  if (kwAt(j) != K.KW_CURSOR) return KIND_UNKNOWN;
  j++;
  if ((kwAt(j) == K.KW_WITH || kwAt(j) == K.KW_WITHOUT) && kwAt(j + 1) == K.KW_HOLD) j += 2;
  if (kwAt(j) != K.KW_FOR) return KIND_UNKNOWN;
  const kind = queryKind(j + 1);
  outCmd = CMD_DECLARE_CURSOR;
  return kind;
}

function setKind(i: i32): i32 {
  let j = i + 1;
  let k = kwAt(j);
  if (k == K.KW_SESSION || k == K.KW_LOCAL) {
    const k2 = kwAt(j + 1);
    if (!(k == K.KW_SESSION && (k2 == K.KW_AUTHORIZATION || k2 == K.KW_CHARACTERISTICS))) j++;
  }
  k = kwAt(j);
  const t = typeAt(j);
  if (k == K.KW_ROLE || (t == T_QIDENT && wordIs(j, "role"))) {
    outCmd = CMD_SET_ROLE;
    return KIND_PRIVILEGE;
  }
  if ((k == K.KW_SESSION && kwAt(j + 1) == K.KW_AUTHORIZATION) || k == K.KW_SESSION_AUTHORIZATION ||
      (t == T_QIDENT && wordIs(j, "session_authorization"))) {
    outCmd = CMD_SET_SESSION_AUTH;
    return KIND_PRIVILEGE;
  }
  if (k == K.KW_TRANSACTION || (k == K.KW_SESSION && kwAt(j + 1) == K.KW_CHARACTERISTICS)) {
    outCmd = CMD_SET_TRANSACTION;
    return KIND_TRANSACTION;
  }
  if (k == K.KW_CONSTRAINTS) {
    outCmd = CMD_SET_CONSTRAINTS;
    return KIND_TRANSACTION;
  }
  if (t != T_IDENT && t != T_QIDENT) return KIND_UNKNOWN;
  outCmd = CMD_SET;
  return KIND_SESSION;
}

function resetKind(i: i32): i32 {
  outCmd = CMD_RESET;
  const k = kwAt(i + 1);
  const t = typeAt(i + 1);
  if (k == K.KW_ROLE || k == K.KW_ALL || k == K.KW_SESSION_AUTHORIZATION || k == K.KW_SESSION ||
      (t == T_QIDENT && (wordIs(i + 1, "role") || wordIs(i + 1, "session_authorization")))) {
    return KIND_PRIVILEGE; // back to the login role's privileges
  }
  if (t != T_IDENT && t != T_QIDENT) return KIND_UNKNOWN;
  return KIND_SESSION;
}

function simple(cmd: i32, kind: i32): i32 {
  outCmd = cmd;
  return kind;
}

function classifyHead(): i32 {
  const k = kwAt(0);
  if (isQueryStart(0)) return queryKind(0);
  if (isDmlKw(k)) return dmlKind(0);
  switch (k) {
    case K.KW_EXPLAIN: return explainKind(0);
    case K.KW_SHOW: return simple(CMD_SHOW, KIND_READ);
    case K.KW_COPY: return copyKind(0);
    case K.KW_CREATE: return createKind(0);
    case K.KW_ALTER: return alterKind(0);
    case K.KW_DROP: return dropKind(0);
    case K.KW_TRUNCATE: return simple(CMD_TRUNCATE, KIND_DDL);
    case K.KW_COMMENT: return kwAt(1) == K.KW_ON ? simple(CMD_COMMENT, KIND_DDL) : KIND_UNKNOWN;
    case K.KW_REINDEX: return simple(CMD_REINDEX, KIND_DDL);
    case K.KW_VACUUM: return simple(CMD_VACUUM, KIND_DDL);
    case K.KW_ANALYZE: case K.KW_ANALYSE: return simple(CMD_ANALYZE, KIND_DDL);
    case K.KW_CLUSTER: return simple(CMD_CLUSTER, KIND_DDL);
    case K.KW_REFRESH: return refreshKind(0);
    case K.KW_IMPORT:
      return kwAt(1) == K.KW_FOREIGN && kwAt(2) == K.KW_SCHEMA ? simple(CMD_IMPORT, KIND_DDL) : KIND_UNKNOWN;
    case K.KW_LOCK:
      outFlags |= FLAG_LOCKS;
      return simple(CMD_LOCK, KIND_WRITE);
    case K.KW_GRANT: return simple(CMD_GRANT, KIND_PRIVILEGE);
    case K.KW_REVOKE: return simple(CMD_REVOKE, KIND_PRIVILEGE);
    case K.KW_SECURITY: return kwAt(1) == K.KW_LABEL ? simple(CMD_SECURITY_LABEL, KIND_PRIVILEGE) : KIND_UNKNOWN;
    case K.KW_REASSIGN: return kwAt(1) == K.KW_OWNED ? simple(CMD_REASSIGN_OWNED, KIND_PRIVILEGE) : KIND_UNKNOWN;
    case K.KW_DO: return simple(CMD_DO, KIND_PROCEDURAL);
    case K.KW_CALL: return simple(CMD_CALL, KIND_PROCEDURAL);
    case K.KW_EXECUTE: return simple(CMD_EXECUTE, KIND_PROCEDURAL);
    case K.KW_LOAD: return simple(CMD_LOAD, KIND_PROCEDURAL);
    case K.KW_PREPARE:
      if (kwAt(1) == K.KW_TRANSACTION && isStringType(typeAt(2))) return simple(CMD_PREPARE_TRANSACTION, KIND_TRANSACTION);
      return simple(CMD_PREPARE, KIND_PROCEDURAL);
    case K.KW_BEGIN: return simple(CMD_BEGIN, KIND_TRANSACTION);
    case K.KW_START: return kwAt(1) == K.KW_TRANSACTION ? simple(CMD_START_TRANSACTION, KIND_TRANSACTION) : KIND_UNKNOWN;
    case K.KW_COMMIT:
      return kwAt(1) == K.KW_PREPARED ? simple(CMD_COMMIT_PREPARED, KIND_TRANSACTION) : simple(CMD_COMMIT, KIND_TRANSACTION);
    case K.KW_END: return simple(CMD_COMMIT, KIND_TRANSACTION);
    case K.KW_ROLLBACK:
      return kwAt(1) == K.KW_PREPARED ? simple(CMD_ROLLBACK_PREPARED, KIND_TRANSACTION) : simple(CMD_ROLLBACK, KIND_TRANSACTION);
    case K.KW_ABORT: return simple(CMD_ROLLBACK, KIND_TRANSACTION);
    case K.KW_SAVEPOINT: return simple(CMD_SAVEPOINT, KIND_TRANSACTION);
    case K.KW_RELEASE: return simple(CMD_RELEASE, KIND_TRANSACTION);
    case K.KW_SET: return setKind(0);
    case K.KW_RESET: return resetKind(0);
    case K.KW_DISCARD:
      // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT and RESET ALL
      return kwAt(1) == K.KW_ALL ? simple(CMD_DISCARD, KIND_PRIVILEGE) : simple(CMD_DISCARD, KIND_SESSION);
    case K.KW_LISTEN: return simple(CMD_LISTEN, KIND_SESSION);
    case K.KW_UNLISTEN: return simple(CMD_UNLISTEN, KIND_SESSION);
    case K.KW_NOTIFY: return simple(CMD_NOTIFY, KIND_SESSION);
    case K.KW_DEALLOCATE: return simple(CMD_DEALLOCATE, KIND_SESSION);
    case K.KW_CLOSE: return simple(CMD_CLOSE, KIND_SESSION);
    case K.KW_FETCH: return simple(CMD_FETCH, KIND_SESSION);
    case K.KW_MOVE: return simple(CMD_MOVE, KIND_SESSION);
    case K.KW_CHECKPOINT: return simple(CMD_CHECKPOINT, KIND_SESSION);
    case K.KW_DECLARE: return declareKind(0);
  }
  return KIND_UNKNOWN;
}

function finishStatement(count: i32): void {
  outCmd = CMD_UNKNOWN;
  outObj = 0;
  outFlags = 0;
  if (atomicDepth > 0 || depth != 0 || distrust || setCfgState != 0) bad = true;
  if (p2Type == T_DOT && isName(p1Type)) recordAttribute(); // `select c.leak_row` ends with it
  let kind = classifyHead();
  if (semiInParens && !(outCmd == CMD_CREATE && outObj == OBJ_RULE)) bad = true; // only rules allow (a; b)
  if (bad) kind = KIND_UNKNOWN;
  if (dangerous) outFlags |= FLAG_DANGEROUS_FUNCTION;
  if (callsTruncated) outFlags |= CALLS_TRUNCATED_BIT;
  const row = outPtr + <usize>(count * STMT_ROW_BYTES);
  store<i32>(row, kind);
  store<i32>(row, outCmd, 4);
  store<i32>(row, outObj, 8);
  store<i32>(row, stmtStart, 12);
  store<i32>(row, stmtEnd, 16);
  store<i32>(row, outFlags, 20);
  store<i32>(row, fnFirst, 24);
  store<i32>(row, fnTotal - fnFirst, 28);
}

/**
 * Splits and classifies [input, input+len). Returns the number of statement rows written to `out`,
 * -1 when more than `outCap` statements, -2 when more than `fnCapacity` function rows are needed.
 */
export function classifyAll(
  input: usize, len: i32, standardConformingStrings: bool,
  out: usize, outCap: i32, fns: usize, fnCapacity: i32,
): i32 {
  initKeywords();
  initWriters();
  resetLexer(input, len, standardConformingStrings);
  outPtr = out;
  fnPtr = fns;
  fnCap = fnCapacity;
  fnTotal = 0;
  fnOverflow = false;
  let count = 0;
  let done = false;
  while (!done) {
    beginStatement();
    for (;;) {
      nextToken();
      if (tokType == T_EOF) {
        done = true;
        break;
      }
      if (tokType == T_UNTERMINATED) {
        // unterminated quote or comment: one unknown statement covering the rest of the input
        if (tokenCount == 0) stmtStart = tokStart;
        tokenCount++;
        stmtEnd = srcLen;
        bad = true;
        done = true;
        break;
      }
      if (tokType == T_SEMI && depth == 0 && atomicDepth == 0) break;
      feed();
    }
    if (fnOverflow) return -2;
    if (tokenCount > 0) {
      if (count >= outCap) return -1;
      finishStatement(count);
      count++;
    }
  }
  return count;
}

/** Test hook: keyword id of the identifier at [ptr, ptr+len). */
export function keywordOf(ptr: usize, len: i32): i32 {
  initKeywords();
  return lookupKeyword(ptr, len);
}
