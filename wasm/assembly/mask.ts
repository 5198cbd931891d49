// Inline data masking of PostgreSQL backend messages (server → client).
//
// JS owns the arena above arenaBase(): it copies a batch of COMPLETE backend messages there,
// reserves an output region after it and calls process(). We walk the messages in place; a
// message with nothing to mask is never copied (the output is built lazily, so an untouched batch
// costs one scan and no writes). A message that needs masking is rewritten into the output region
// with correct lengths. When the output region is too small we roll the current message back and
// return NEED_SPACE; JS grows memory and calls resume(). State that spans calls (the current
// RowDescription plan, COPY state) lives in static memory. Semantics: docs/MASKING.md; a plain
// TypeScript mirror (parsers/masking/reference.ts) is compared byte for byte in property tests.

import { initChars, cls, isWord, span, wordSet, localSet, wordHiBits, C_WORD, C_LOCAL, S_WORD } from "./mask/chars";
import { hmacSetKey, hmac } from "./mask/sha256";
import { glob, tailStart } from "./mask/glob";
import {
  maskStart, resetMaskStart, detPrivateKey, detPasswordHash, detJwt, detGithub, detGitlab, detSlack,
  detAwsAccessKey, detBearer, detAwsSecretKey, detEmail, detIban, detCard, detSsn, detPhone, BUILTIN_DETECTORS,
} from "./mask/detect";

// ---------------------------------------------------------------- limits and layout
const MAX_RULES: u32 = 32;
const UNKNOWN_SLOT: u32 = 32; // counts of values nulled because the row shape was unknown
// Values derived from a masked column (taint, set by the worker through planOverride or the COPY
// plan): always redacted (NULL where the type cannot hold the marker), whatever the source style.
const DERIVED_SLOT: u32 = 33;
const COUNT_SLOTS: u32 = 34;
const MAX_CUSTOM: u32 = 16;
const MAX_ITEMS: u32 = 32;
const ITEM_SIZE: usize = 40; // kind u8, pad, min u16, max u16, pad2, set[32]
const MAX_COLPATS: u32 = 256;
const COLPAT_SIZE: usize = 20; // rule u32, tOff u32, tLen i32 (-1 = none), cOff u32, cLen u32
const PATPOOL_SIZE: u32 = 8192;
const MAX_TABLES: u32 = 1024;
const NAMEPOOL_SIZE: u32 = 32768;
const MAX_COLS: u32 = 1664; // PostgreSQL's own limit (MaxTupleAttributeNumber)

const STYLE_REDACT: u8 = 0;
const STYLE_PARTIAL: u8 = 1;
const STYLE_HASH: u8 = 2;

const CL_TEXT: u8 = 0;
const CL_STRICT: u8 = 1;
const CL_JSON: u8 = 2;
const CL_JSONB_BIN: u8 = 3;
const CL_OPAQUE: u8 = 4;
const CL_ARRAY: u8 = 5; // text-format array of a built-in type: scanned like text, NULL under a column rule

const OK: i32 = 0;
const NEED_SPACE: i32 = 1;
const ERR_FRAMING: i32 = -1;
const ERR_MALFORMED: i32 = -2;
const ERR_UNSUPPORTED: i32 = -3;

const NO_CHANGE: i32 = 0;
const CHANGED: i32 = 1;

const RULE_STYLE: usize = memory.data(COUNT_SLOTS); // slots 32/33 stay STYLE_REDACT
const RULE_KEEP: usize = memory.data(COUNT_SLOTS);
const DET_RULE: usize = memory.data(64); // i32 per built-in detector
const CUSTOM_RULE: usize = memory.data(MAX_CUSTOM * 4);
const CUSTOM_FIRST: usize = memory.data(MAX_CUSTOM * 4);
const CUSTOM_N: usize = memory.data(MAX_CUSTOM * 4);
const ITEMS: usize = memory.data(<i32>(MAX_CUSTOM * MAX_ITEMS * <u32>ITEM_SIZE));
const DISPATCH: usize = memory.data(1024);
const COLPATS: usize = memory.data(<i32>(MAX_COLPATS * <u32>COLPAT_SIZE));
const PATPOOL: usize = memory.data(PATPOOL_SIZE);
const TABLES: usize = memory.data(<i32>(MAX_TABLES * 12)); // oid, off, len
const NAMEPOOL: usize = memory.data(NAMEPOOL_SIZE);
const PLAN_RULE: usize = memory.data(<i32>MAX_COLS * 4);
const PLAN_CLASS: usize = memory.data(<i32>MAX_COLS);
const COPY_PLAN: usize = memory.data(<i32>MAX_COLS * 4);
const PEND_PLAN: usize = memory.data(<i32>MAX_COLS * 4);
const COUNTS: usize = memory.data(<i32>COUNT_SLOTS * 4);
const PENDING_COUNTS: usize = memory.data(<i32>COUNT_SLOTS * 4);
const DIGEST: usize = memory.data(32);
const COPY_NULL: usize = memory.data(64);
const PEND_NULL: usize = memory.data(64);
const UNSAFE: usize = memory.data(8);

let nCustom: u32 = 0;
let nItems: u32 = 0;
let nColpats: u32 = 0;
let patPoolUsed: u32 = 0;
let nTables: u32 = 0;
let namePoolUsed: u32 = 0;
let unknownNull: bool = false;

let planValid: bool = false;
let planCount: u32 = 0;

const COPY_TEXT: u32 = 0;
const COPY_CSV: u32 = 1;
const COPY_BINARY: u32 = 2;
let copyActive: bool = false;
let copyKind: u32 = COPY_TEXT;
let copyDelim: u32 = 9;
let copyQuote: u32 = 34;
let copyEscape: u32 = 34;
let copyNullLen: u32 = 2;
let copyPlanN: i32 = -1; // -1: column names unknown
let copyHeaderPending: bool = false; // binary COPY: the next CopyData starts with the PGCOPY signature
// text/CSV COPY with HEADER: the first row of the first CopyData is the header line (column names
// chosen by the statement, not row data) and passes unmasked. Only ever set from setCopyPending's
// `header`, which the worker passes only for a COPY … TO STDOUT whose options say HEADER is on.
let copyTextHeader: bool = false;
let pendSet: bool = false;
let pendKind: u32 = COPY_TEXT;
let pendDelim: u32 = 9;
let pendQuote: u32 = 34;
let pendEscape: u32 = 34;
let pendNullLen: u32 = 2;
let pendPlanN: i32 = -1;
let pendHeader: bool = false;

// value context
let ctxStop: i32 = -1;
let ctxSanitize: bool = false;
let ctxUnsafeN: u32 = 0;

// run state
let cur: usize = 0;
let inEnd: usize = 0;
let pending: usize = 0;
let outBase: usize = 0;
let outPos: usize = 0;
let outEnd: usize = 0;
let oom: bool = false;
let changedAny: bool = false;
let matchRule: i32 = -1;
let firstHitRule: i32 = -1;

initChars();

/** First byte JS may use: everything below belongs to this module's static data. */
export function arenaBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

// ---------------------------------------------------------------- small helpers
@inline function b(p: usize): u32 {
  return <u32>load<u8>(p);
}
@inline function be32u(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}
@inline function be32s(p: usize): i32 {
  return <i32>bswap<u32>(load<u32>(p));
}
@inline function be16u(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

// ---------------------------------------------------------------- configuration
export function cfgReset(): void {
  memory.fill(RULE_STYLE, 0, COUNT_SLOTS);
  memory.fill(RULE_KEEP, 0, COUNT_SLOTS);
  for (let d: usize = 0; d < 16; d++) store<i32>(DET_RULE + (d << 2), -1);
  memory.fill(DISPATCH, 0, 1024);
  memory.fill(COUNTS, 0, COUNT_SLOTS * 4);
  memory.fill(PENDING_COUNTS, 0, COUNT_SLOTS * 4);
  nCustom = 0;
  nItems = 0;
  nColpats = 0;
  patPoolUsed = 0;
  nTables = 0;
  namePoolUsed = 0;
  unknownNull = false;
  planValid = false;
  copyActive = false;
  copyTextHeader = false;
  pendSet = false;
}

export function cfgRule(rule: u32, style: u32, keep: u32): void {
  store<u8>(RULE_STYLE + rule, <u8>style);
  store<u8>(RULE_KEEP + rule, <u8>keep);
}

/** Column pattern for a rule; tLen < 0 when the pattern has no table part. Returns -1 when full. */
export function cfgColumn(rule: u32, tPtr: usize, tLen: i32, cPtr: usize, cLen: u32): i32 {
  const need = <u32>(tLen > 0 ? tLen : 0) + cLen;
  if (nColpats >= MAX_COLPATS || patPoolUsed + need > PATPOOL_SIZE) return -1;
  const row = COLPATS + <usize>nColpats * COLPAT_SIZE;
  store<u32>(row, rule);
  store<u32>(row, patPoolUsed, 4);
  store<i32>(row, tLen, 8);
  if (tLen > 0) {
    memory.copy(PATPOOL + patPoolUsed, tPtr, <usize>tLen);
    patPoolUsed += <u32>tLen;
  }
  store<u32>(row, patPoolUsed, 12);
  store<u32>(row, cLen, 16);
  memory.copy(PATPOOL + patPoolUsed, cPtr, cLen);
  patPoolUsed += cLen;
  nColpats++;
  return 0;
}

export function cfgDetector(det: u32, rule: i32): void {
  store<i32>(DET_RULE + (<usize>det << 2), rule);
}

/** A compiled custom pattern (items in the 40-byte layout above). Returns -1 when full. */
export function cfgCustom(rule: u32, items: usize, n: u32): i32 {
  if (nCustom >= MAX_CUSTOM || n > MAX_ITEMS || n == 0) return -1;
  store<u32>(CUSTOM_RULE + (<usize>nCustom << 2), rule);
  store<u32>(CUSTOM_FIRST + (<usize>nCustom << 2), nItems);
  store<u32>(CUSTOM_N + (<usize>nCustom << 2), n);
  memory.copy(ITEMS + <usize>nItems * ITEM_SIZE, items, <usize>n * ITEM_SIZE);
  nItems += n;
  nCustom++;
  return 0;
}

export function cfgHmacKey(ptr: usize, len: usize): void {
  hmacSetKey(ptr, len);
}

export function cfgUnknownNull(on: bool): void {
  unknownNull = on;
}

function dispatchAdd(c: u32, bit: u32): void {
  const a = DISPATCH + (<usize>c << 2);
  store<u32>(a, load<u32>(a) | bit);
}

function dispatchRange(lo: u32, hi: u32, bit: u32): void {
  for (let c = lo; c <= hi; c++) dispatchAdd(c, bit);
}

@inline function inSet(set: usize, c: u32): bool {
  return ((<u32>load<u8>(set + (c >> 3)) >> (c & 7)) & 1) != 0;
}

/** Build the first-byte dispatch table: for each byte, the detectors that may start there. */
export function cfgFinish(): void {
  memory.fill(DISPATCH, 0, 1024);
  pfEnabled = false;
  simdConfigure();
  nibbleTables();
  for (let d: u32 = 0; d < BUILTIN_DETECTORS; d++) {
    if (((1 << d) & PF_BITS) != 0 && load<i32>(DET_RULE + (<usize>d << 2)) >= 0) pfEnabled = true;
  }
  for (let d: u32 = 0; d < BUILTIN_DETECTORS; d++) {
    if (load<i32>(DET_RULE + (<usize>d << 2)) < 0) continue;
    const bit: u32 = 1 << d;
    switch (d) {
      case 0: dispatchAdd(45, bit); break; // -
      case 1: dispatchAdd(36, bit); break; // $
      case 2: dispatchAdd(101, bit); break; // e
      case 3: case 4: dispatchAdd(103, bit); break; // g
      case 5: dispatchAdd(120, bit); break; // x
      case 6: dispatchAdd(65, bit); break; // A
      case 7: dispatchAdd(66, bit); dispatchAdd(98, bit); break; // B b
      case 8: dispatchRange(48, 57, bit); dispatchRange(65, 90, bit); dispatchRange(97, 122, bit); dispatchAdd(47, bit); dispatchAdd(43, bit); break;
      case 9: dispatchRange(48, 57, bit); dispatchRange(65, 90, bit); dispatchRange(97, 122, bit); break;
      case 10: dispatchRange(65, 90, bit); break;
      case 11: dispatchRange(50, 54, bit); break;
      case 12: dispatchRange(48, 56, bit); break;
      case 13: dispatchRange(48, 57, bit); dispatchAdd(43, bit); dispatchAdd(40, bit); break;
      default: break;
    }
  }
  for (let k: u32 = 0; k < nCustom; k++) {
    const first = load<u32>(CUSTOM_FIRST + (<usize>k << 2));
    const n = load<u32>(CUSTOM_N + (<usize>k << 2));
    const bit: u32 = 1 << (BUILTIN_DETECTORS + k);
    for (let j: u32 = 0; j < n; j++) {
      const it = ITEMS + <usize>(first + j) * ITEM_SIZE;
      if (load<u8>(it) == 1) continue; // zero-width \b
      for (let c: u32 = 0; c < 256; c++) {
        if (c >= 0x80 && c < 0xc0) continue; // never start inside a UTF-8 character
        if (inSet(it + 8, c)) dispatchAdd(c, bit);
      }
      if (load<u16>(it, 2) > 0) break;
    }
  }
}

export function tablesReset(): void {
  nTables = 0;
  namePoolUsed = 0;
}

export function tableAdd(oid: u32, ptr: usize, len: u32): i32 {
  if (nTables >= MAX_TABLES || namePoolUsed + len > NAMEPOOL_SIZE) return -1;
  const row = TABLES + <usize>nTables * 12;
  store<u32>(row, oid);
  store<u32>(row, namePoolUsed, 4);
  store<u32>(row, len, 8);
  memory.copy(NAMEPOOL + namePoolUsed, ptr, len);
  namePoolUsed += len;
  nTables++;
  return 0;
}

let foundTablePtr: usize = 0;
let foundTableLen: usize = 0;
function findTable(oid: u32): bool {
  if (oid == 0) return false;
  for (let k: u32 = 0; k < nTables; k++) {
    const row = TABLES + <usize>k * 12;
    if (load<u32>(row) == oid) {
      foundTablePtr = NAMEPOOL + <usize>load<u32>(row, 4);
      foundTableLen = <usize>load<u32>(row, 8);
      return true;
    }
  }
  return false;
}

/** First rule (in order) with a column pattern matching this column; -1 when none. tLen 0 = table unknown. */
export function ruleForColumn(nPtr: usize, nLen: usize, tPtr: usize, tLen: usize): i32 {
  for (let k: u32 = 0; k < nColpats; k++) {
    const row = COLPATS + <usize>k * COLPAT_SIZE;
    const tpLen = load<i32>(row, 8);
    if (tpLen >= 0 && tLen > 0) {
      const tp = PATPOOL + <usize>load<u32>(row, 4);
      let ok = glob(tp, <usize>tpLen, tPtr, tLen);
      if (!ok) {
        const a = tailStart(tp, <usize>tpLen);
        const t = tailStart(tPtr, tLen);
        ok = glob(tp + a, <usize>tpLen - a, tPtr + t, tLen - t);
      }
      if (!ok) continue;
    }
    if (glob(PATPOOL + <usize>load<u32>(row, 12), <usize>load<u32>(row, 16), nPtr, nLen)) return load<i32>(row);
  }
  return -1;
}

export function hasColumnRules(): bool {
  return nColpats > 0;
}

// ---------------------------------------------------------------- COPY configuration
/** The next CopyOutResponse uses this format (0 text, 1 csv); planN = column count or -1 unknown;
 * header = 1 when its first CopyData row is the header line. */
export function setCopyPending(kind: u32, delim: u32, quote: u32, escape: u32, nullPtr: usize, nullLen: u32, planN: i32, header: u32): void {
  pendSet = true;
  pendHeader = header == 1;
  pendKind = kind;
  pendDelim = delim;
  pendQuote = quote;
  pendEscape = escape;
  pendNullLen = nullLen > 64 ? 64 : nullLen;
  memory.copy(PEND_NULL, nullPtr, pendNullLen);
  pendPlanN = planN > <i32>MAX_COLS ? -1 : planN;
}

/**
 * The worker's verdict for column k of the current RowDescription plan (taint analysis): a rule
 * index, or DERIVED_SLOT for a value computed from a masked column. Replaces the rule found by
 * name. Only for the plan just built (the worker calls it right after the RowDescription).
 */
export function planOverride(k: u32, rule: i32): void {
  if (planValid && k < planCount && rule >= -1 && rule <= <i32>DERIVED_SLOT && rule != <i32>UNKNOWN_SLOT) store<i32>(PLAN_RULE + (<usize>k << 2), rule);
}

export function setCopyPlanColumn(k: u32, rule: i32): void {
  if (k < MAX_COLS) store<i32>(PEND_PLAN + (<usize>k << 2), rule);
}

// ---------------------------------------------------------------- counts
export function countsPtr(): usize {
  return COUNTS;
}

let touched: u64 = 0; // rules with pending counts

@inline function countHit(rule: i32): void {
  const a = PENDING_COUNTS + (<usize>rule << 2);
  store<u32>(a, load<u32>(a) + 1);
  touched |= (<u64>1) << <u64>rule;
}

function commitCounts(): void {
  while (touched != 0) {
    const r = <usize>ctz<u64>(touched);
    touched &= touched - 1;
    store<u32>(COUNTS + (r << 2), load<u32>(COUNTS + (r << 2)) + load<u32>(PENDING_COUNTS + (r << 2)));
    store<u32>(PENDING_COUNTS + (r << 2), 0);
  }
}

function dropCounts(): void {
  memory.fill(PENDING_COUNTS, 0, COUNT_SLOTS * 4);
  touched = 0;
}

// ---------------------------------------------------------------- output
@inline function outCopy(src: usize, n: usize): void {
  if (n == 0) return;
  if (oom || outPos + n > outEnd) {
    oom = true;
    return;
  }
  copySmall(outPos, src, n);
  outPos += n;
}

/** memory.copy is a call out of WASM in V8; short copies (most fields, and the text between
 * matches in a row) are cheaper inline. Source and destination never overlap (input → output). */
function copySmall(dst: usize, src: usize, n: usize): void {
  if (n > 512) {
    memory.copy(dst, src, n);
  } else if (n > 32) {
    let k: usize = 0;
    while (k + 16 <= n) {
      v128.store(dst + k, v128.load(src + k));
      k += 16;
    }
    v128.store(dst + n - 16, v128.load(src + n - 16));
  } else if (n >= 16) {
    v128.store(dst, v128.load(src));
    v128.store(dst + n - 16, v128.load(src + n - 16));
  } else if (n >= 8) {
    store<u64>(dst, load<u64>(src));
    store<u64>(dst + n - 8, load<u64>(src + n - 8));
  } else if (n >= 4) {
    store<u32>(dst, load<u32>(src));
    store<u32>(dst + n - 4, load<u32>(src + n - 4));
  } else {
    for (let k: usize = 0; k < n; k++) store<u8>(dst + k, load<u8>(src + k));
  }
}

@inline function outByte(c: u32): void {
  if (oom || outPos + 1 > outEnd) {
    oom = true;
    return;
  }
  store<u8>(outPos, <u8>c);
  outPos++;
}

function outBE32(v: i32): void {
  if (oom || outPos + 4 > outEnd) {
    oom = true;
    return;
  }
  store<u32>(outPos, bswap<u32>(<u32>v));
  outPos += 4;
}

function outBE16(v: u32): void {
  if (oom || outPos + 2 > outEnd) {
    oom = true;
    return;
  }
  store<u16>(outPos, bswap<u16>(<u16>v));
  outPos += 2;
}

function outStr(s: string): void {
  const n = <usize>s.length;
  if (oom || outPos + n > outEnd) {
    oom = true;
    return;
  }
  const sp = changetype<usize>(s);
  for (let k: usize = 0; k < n; k++) store<u8>(outPos + k, <u8>load<u16>(sp + (k << 1)));
  outPos += n;
}

/** Reserve a big-endian length word; patchLen(at) later writes (outPos - at). */
function reserveLen(): usize {
  const at = outPos;
  outBE32(0);
  return at;
}

function patchLen(at: usize, extra: i32): void {
  if (oom) return;
  store<u32>(at, bswap<u32>(<u32>(<i32>(outPos - at) + extra)));
}

// ---------------------------------------------------------------- value contexts
const CTX_TEXT: u32 = 0;
const CTX_JSON: u32 = 1;
const CTX_COPY_TEXT: u32 = 2;
const CTX_COPY_CSV: u32 = 3;

/** setCtx(CTX_TEXT), inline: the context of almost every value. */
@inline function setCtxText(): void {
  ctxStop = -1;
  ctxSanitize = false;
  ctxUnsafeN = 0;
}

function setCtx(kind: u32): void {
  if (kind == CTX_TEXT) {
    ctxStop = -1;
    ctxSanitize = false;
    ctxUnsafeN = 0;
  } else if (kind == CTX_JSON) {
    ctxStop = 34;
    ctxSanitize = false;
    store<u8>(UNSAFE, 34);
    store<u8>(UNSAFE + 1, 92);
    ctxUnsafeN = 2;
  } else if (kind == CTX_COPY_TEXT) {
    ctxStop = -1;
    ctxSanitize = true;
    store<u8>(UNSAFE, <u8>copyDelim);
    store<u8>(UNSAFE + 1, 92);
    store<u8>(UNSAFE + 2, 10);
    store<u8>(UNSAFE + 3, 13);
    ctxUnsafeN = 4;
  } else {
    ctxStop = <i32>copyQuote;
    ctxSanitize = true;
    store<u8>(UNSAFE, <u8>copyDelim);
    store<u8>(UNSAFE + 1, <u8>copyQuote);
    store<u8>(UNSAFE + 2, <u8>copyEscape);
    store<u8>(UNSAFE + 3, 10);
    store<u8>(UNSAFE + 4, 13);
    ctxUnsafeN = 5;
  }
}

function isUnsafe(c: u32): bool {
  for (let k: usize = 0; k < <usize>ctxUnsafeN; k++) if (<u32>load<u8>(UNSAFE + k) == c) return true;
  return false;
}

// ---------------------------------------------------------------- replacements
const REDACTED: usize = memory.data<u8>([91, 82, 69, 68, 65, 67, 84, 69, 68, 93]); // [REDACTED]
const HEX: usize = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

function writeHash(ms: usize, me: usize): void {
  hmac(ms, me - ms, DIGEST);
  outStr("h:");
  if (oom || outPos + 16 > outEnd) {
    oom = true;
    return;
  }
  for (let k: usize = 0; k < 8; k++) {
    const v = <usize>load<u8>(DIGEST + k);
    store<u8>(outPos + (k << 1), load<u8>(HEX + (v >> 4)));
    store<u8>(outPos + (k << 1) + 1, load<u8>(HEX + (v & 15)));
  }
  outPos += 16;
}

/** Replacement for the bytes [ms, me) under a rule's style (text contexts). */
function writeRepl(rule: i32, ms: usize, me: usize): void {
  const style = load<u8>(RULE_STYLE + <usize>rule);
  const start = outPos;
  if (style == STYLE_REDACT) {
    if (oom || outPos + 10 > outEnd) {
      oom = true;
      return;
    }
    store<u64>(outPos, load<u64>(REDACTED));
    store<u16>(outPos + 8, load<u16>(REDACTED + 8));
    outPos += 10;
  } else if (style == STYLE_HASH) {
    writeHash(ms, me);
  } else {
    let cps: u32 = 0;
    for (let q = ms; q < me; q++) if ((b(q) & 0xc0) != 0x80) cps++;
    const keep = <u32>load<u8>(RULE_KEEP + <usize>rule);
    if (cps > keep) {
      const stars = cps - keep;
      if (oom || outPos + stars > outEnd) {
        oom = true;
        return;
      }
      memory.fill(outPos, 42, stars);
      outPos += stars;
      let q = me;
      let n: u32 = 0;
      while (n < keep) {
        q--;
        if ((b(q) & 0xc0) != 0x80) n++;
      }
      outCopy(q, me - q);
    } else {
      if (oom || outPos + cps > outEnd) {
        oom = true;
        return;
      }
      memory.fill(outPos, 42, cps);
      outPos += cps;
    }
  }
  if (ctxSanitize && !oom) {
    for (let q = start; q < outPos; q++) if (isUnsafe(b(q))) store<u8>(q, 95);
  }
}

/** Whole-value replacement inside a JSON document: a JSON string. */
function writeJsonRepl(rule: i32, ms: usize, me: usize): void {
  outByte(34);
  if (load<u8>(RULE_STYLE + <usize>rule) == STYLE_HASH) writeHash(ms, me);
  else outStr("[REDACTED]");
  outByte(34);
}

// ---------------------------------------------------------------- the scanner
function customMatch(k: u32, p: usize, i: usize, e: usize): usize {
  const first = load<u32>(CUSTOM_FIRST + (<usize>k << 2));
  const n = load<u32>(CUSTOM_N + (<usize>k << 2));
  let pos = i;
  for (let j: u32 = 0; j < n; j++) {
    const it = ITEMS + <usize>(first + j) * ITEM_SIZE;
    if (load<u8>(it) == 1) {
      const before = pos > p && isWord(b(pos - 1));
      const after = pos < e && isWord(b(pos));
      if (before == after) return 0;
      continue;
    }
    const min = <u32>load<u16>(it, 2);
    const max = <u32>load<u16>(it, 4);
    let cnt: u32 = 0;
    while (cnt < max && pos < e && inSet(it + 8, b(pos))) {
      pos++;
      cnt++;
    }
    if (cnt < min) return 0;
  }
  if (pos == i) return 0;
  while (pos < e && (b(pos) & 0xc0) == 0x80) pos++;
  if (ctxUnsafeN != 0) {
    for (let q = i; q < pos; q++) if (isUnsafe(b(q))) return 0;
  }
  return pos;
}

function tryAt(mask: u32, p: usize, i: usize, e: usize): usize {
  let m = mask;
  while (m != 0) {
    const d = ctz<u32>(m);
    m &= m - 1;
    resetMaskStart(i);
    let end: usize = 0;
    switch (d) {
      case 0: end = detPrivateKey(i, e, ctxStop); break;
      case 1: end = detPasswordHash(i, e); break;
      case 2: end = detJwt(i, e); break;
      case 3: end = detGithub(i, e); break;
      case 4: end = detGitlab(i, e); break;
      case 5: end = detSlack(i, e); break;
      case 6: end = detAwsAccessKey(i, e); break;
      case 7: end = detBearer(i, e); break;
      case 8: end = detAwsSecretKey(p, i, e); break;
      case 9: end = detEmail(i, e); break;
      case 10: end = detIban(i, e); break;
      case 11: end = detCard(i, e); break;
      case 12: end = detSsn(i, e); break;
      case 13: end = detPhone(i, e); break;
      default: end = customMatch(d - BUILTIN_DETECTORS, p, i, e); break;
    }
    if (end != 0) {
      matchRule = d < BUILTIN_DETECTORS
        ? load<i32>(DET_RULE + (<usize>d << 2))
        : load<i32>(CUSTOM_RULE + (<usize>(d - BUILTIN_DETECTORS) << 2));
      return end;
    }
  }
  return 0;
}

/** Scan [p, e). Without emit: true at the first match (firstHitRule set). With emit: write the
 * value with every match replaced, count each match, return whether any matched. */
// Value prefilter: four detectors need bytes that most values lack. One SIMD pass over the value
// finds which are present; detectors whose necessary bytes are absent are switched off for the
// value. A pure optimization — each condition is implied by the detector's grammar:
//   email needs '@'; jwt needs "yJ" (of "eyJ"); bearer needs "r " (of "bearer "); the AWS secret
//   key needs a 40-byte value and "ws" (of "aws") or "cr" (of "secret"), any case.
//   card needs >= 13 digits, ssn 9, phone 8 (E.164 minimum), iban 2.
const PF_BITS: u32 = (1 << 9) | (1 << 2) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13);
const EMAIL_BIT: u32 = 1 << 9;
let pfEnabled: bool = false;

/** 16 × 0xFF then 16 × 0: v128.load(LANES + 16 - n) has the first n lanes set. */
const LANES: usize = memory.data<u8>([
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

// The last chunk reads up to 17 bytes past its start; JS leaves >= 32 bytes of slack after the
// input, and the lane masks drop whatever lies beyond e.
/** Sum of the 16 u8 lanes, in lane 0 of an i32x4. */
function aD4(v: v128): v128 {
  const w = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
  const s2 = i32x4.add(w, i8x16.shuffle(w, w, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  return i32x4.add(s2, i8x16.shuffle(s2, s2, 4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15));
}

/**
 * Set by prefilter(): whether some byte of the value can start a detector under the value's
 * mask, as simdSkip() tests it (same bytes, same gating). When none can, and neither the e-mail
 * nor the AWS secret key detector is on (they start at any alphanumeric), scan() needs no second
 * pass: no detector is ever tried, so nothing matches. Prose without digits, capitals or the few
 * start bytes (most free-text columns) is then read once.
 */
let pfCandidates: bool = true;

// Start-byte classes, one bit each, looked up 16 bytes at a time by nibble:
// class(b) = NIB_LO[b & 15] & NIB_HI[b >> 4]. Each class is a set {lo nibbles} × {hi nibbles};
// bytes of disabled detectors are left out (nibbleTables()). A class may hold more bytes than its
// detectors start at (K_UPPER): pfCandidates and simdSkip() only need a superset of the bytes the
// scalar loop would try, which checks DISPATCH itself.
const K_DASH_DOLLAR: u32 = 1; // '-' PEM, '$' password hash
const K_PHONE: u32 = 2; //       '+' '(' (value needs 8 digits)
const K_G: u32 = 4; //           'g' GitHub / GitLab
const K_X: u32 = 8; //           'x' Slack
const K_A: u32 = 16; //          'A' AWS access key
const K_UPPER: u32 = 32; //      0x40-0x5F ⊇ A-Z: IBAN (value needs 2 digits)
const K_E: u32 = 64; //          'e' JWT (value needs "yJ")
const K_BEARER: u32 = 128; //    'B' 'b' bearer (value needs "r ")
const K_STATIC: u32 = K_DASH_DOLLAR | K_G | K_X | K_A;
const NIB: usize = memory.data(32); // lo table, hi table
let nibLo: v128 = i8x16.splat(0);
let nibHi: v128 = i8x16.splat(0);

function nibAdd(k: u32, lo: u32, hi: u32): void {
  store<u8>(NIB + <usize>lo, load<u8>(NIB + <usize>lo) | <u8>k);
  store<u8>(NIB + 16 + <usize>hi, load<u8>(NIB + 16 + <usize>hi) | <u8>k);
}

function nibbleTables(): void {
  memory.fill(NIB, 0, 32);
  if (detOn(0)) nibAdd(K_DASH_DOLLAR, 0xd, 2);
  if (detOn(1)) nibAdd(K_DASH_DOLLAR, 0x4, 2);
  if (detOn(13)) {
    nibAdd(K_PHONE, 0xb, 2);
    nibAdd(K_PHONE, 0x8, 2);
  }
  if (detOn(3) || detOn(4)) nibAdd(K_G, 0x7, 6);
  if (detOn(5)) nibAdd(K_X, 0x8, 7);
  if (detOn(6)) nibAdd(K_A, 0x1, 4);
  if (detOn(10)) {
    for (let n: u32 = 0; n <= 0xf; n++) nibAdd(K_UPPER, n, 4);
    nibAdd(K_UPPER, 0, 5);
  }
  if (detOn(2)) nibAdd(K_E, 0x5, 6);
  if (detOn(7)) {
    nibAdd(K_BEARER, 0x2, 4);
    nibAdd(K_BEARER, 0x2, 6);
  }
  nibLo = v128.load(NIB);
  nibHi = v128.load(NIB + 16);
}

/** The start-byte classes a value's prefilter mask leaves on (see pfCandidates, simdSkip()). */
function classGate(m: u32): u32 {
  let gate: u32 = K_STATIC;
  if ((m & (1 << 13)) != 0) gate |= K_PHONE;
  if ((m & (1 << 10)) != 0) gate |= K_UPPER;
  if ((m & (1 << 2)) != 0) gate |= K_E;
  if ((m & (1 << 7)) != 0) gate |= K_BEARER;
  return gate;
}

/** prefilter() for a value of at most 16 bytes (names, codes, short labels): one chunk, the same
 * mask and pfCandidates, from lane bitmasks instead of vector accumulators. */
function prefilter16(p: usize, e: usize): u32 {
  const n = <u32>(e - p);
  const lanes: u32 = (<u32>1 << n) - 1;
  const pairs = lanes >> 1; // a pair (q, q + 1) inside the value
  const v = v128.load(p);
  const l = v128.or(v, i8x16.splat(0x20));
  const at = <u32>i8x16.bitmask(i8x16.eq(v, i8x16.splat(64))) & lanes;
  const yj = <u32>i8x16.bitmask(i8x16.eq(v, i8x16.splat(121))) & (<u32>i8x16.bitmask(i8x16.eq(v, i8x16.splat(74))) >> 1) & pairs;
  const rsp = <u32>i8x16.bitmask(i8x16.eq(l, i8x16.splat(114))) & (<u32>i8x16.bitmask(i8x16.eq(v, i8x16.splat(32))) >> 1) & pairs;
  const digits = popcnt<u32>(<u32>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v, i8x16.splat(48)), i8x16.splat(10))) & lanes);
  let m: u32 = ~PF_BITS;
  if (at != 0) m |= 1 << 9;
  if (yj != 0) m |= 1 << 2;
  if (rsp != 0) m |= 1 << 7;
  // the AWS secret key needs 40 bytes: never here
  if (digits >= 2) m |= 1 << 10;
  if (digits >= 13) m |= 1 << 11;
  if (digits >= 9) m |= 1 << 12;
  if (digits >= 8) m |= 1 << 13;
  const kk = v128.and(v128.and(i8x16.swizzle(nibLo, v128.and(v, i8x16.splat(0x0f))), i8x16.swizzle(nibHi, i8x16.shr_u(v, 4))), i8x16.splat(<i8>classGate(m)));
  pfCandidates = (<u32>i8x16.bitmask(i8x16.ne(kk, i8x16.splat(0))) & lanes) != 0
    || (simdDigits && (m & ((1 << 11) | (1 << 12) | (1 << 13))) != 0 && digits > 0);
  return m;
}

function prefilter(p: usize, e: usize): u32 {
  if (e - p <= 16) return prefilter16(p, e);
  const sAt = i8x16.splat(64), sy = i8x16.splat(121), sJ = i8x16.splat(74), sr = i8x16.splat(114);
  const tLo = nibLo, tHi = nibHi, s0f = i8x16.splat(0x0f);
  let aK = i8x16.splat(0); // start-byte classes seen (K_* bits, per lane)
  const ssp = i8x16.splat(32), sw = i8x16.splat(119), ss = i8x16.splat(115), sc = i8x16.splat(99), s20 = i8x16.splat(0x20);
  let aAt = i8x16.splat(0), aYj = i8x16.splat(0), aR = i8x16.splat(0), aC = i8x16.splat(0);
  let aD = i8x16.splat(0); // per-lane digit counts (saturating)
  const s48 = i8x16.splat(48), s10 = i8x16.splat(10), s1 = i8x16.splat(1);
  let i = p;
  while (i < e) {
    const v0 = v128.load(i);
    const v1 = v128.load(i + 1);
    const l0 = v128.or(v0, s20);
    const l1 = v128.or(v1, s20);
    let one = i8x16.eq(v0, sAt);
    let yj = v128.and(i8x16.eq(v0, sy), i8x16.eq(v1, sJ));
    let r = v128.and(i8x16.eq(l0, sr), i8x16.eq(v1, ssp));
    let c = v128.or(v128.and(i8x16.eq(l0, sw), i8x16.eq(l1, ss)), v128.and(i8x16.eq(l0, sc), i8x16.eq(l1, sr)));
    let dg = i8x16.lt_u(i8x16.sub(v0, s48), s10);
    let kk = v128.and(i8x16.swizzle(tLo, v128.and(v0, s0f)), i8x16.swizzle(tHi, i8x16.shr_u(v0, 4)));
    if (i + 17 > e) { // last chunk: n single lanes, n - 1 pair lanes
      const n = e - i;
      const single = v128.load(LANES + 16 - n);
      const pair = v128.load(LANES + 17 - n);
      one = v128.and(one, single);
      dg = v128.and(dg, single);
      kk = v128.and(kk, single);
      yj = v128.and(yj, pair);
      r = v128.and(r, pair);
      c = v128.and(c, pair);
    }
    aAt = v128.or(aAt, one);
    aYj = v128.or(aYj, yj);
    aR = v128.or(aR, r);
    aC = v128.or(aC, c);
    aD = i8x16.add_sat_u(aD, v128.and(dg, s1));
    aK = v128.or(aK, kk);
    i += 16;
  }
  const digits = i32x4.extract_lane(aD4(aD), 0);
  const at = v128.any_true(aAt);
  const yj = v128.any_true(aYj);
  const rsp = v128.any_true(aR);
  const ctx = v128.any_true(aC);
  let m: u32 = ~PF_BITS;
  if (at) m |= 1 << 9;
  if (yj) m |= 1 << 2;
  if (rsp) m |= 1 << 7;
  if (ctx && e - p >= 40) m |= 1 << 8;
  if (digits >= 2) m |= 1 << 10;
  if (digits >= 13) m |= 1 << 11;
  if (digits >= 9) m |= 1 << 12;
  if (digits >= 8) m |= 1 << 13;
  // At least simdSkip()'s start bytes under prepareSimd(m):
  // see pfCandidates and nibbleTables().
  let k8 = v128.or(aK, i8x16.shuffle(aK, aK, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  k8 = v128.or(k8, i8x16.shuffle(k8, k8, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  k8 = v128.or(k8, i8x16.shuffle(k8, k8, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  k8 = v128.or(k8, i8x16.shuffle(k8, k8, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
  pfCandidates = (i8x16.extract_lane_u(k8, 0) & classGate(m)) != 0
    || (simdDigits && (m & ((1 << 11) | (1 << 12) | (1 << 13))) != 0 && digits > 0);
  return m;
}

/**
 * The value's detector mask. Values of more than 16 bytes are read once, by simdSkip(), with
 * every detector on (no prefilter pass): its start-byte classes are then all on, and its digit
 * lanes are cut to those where a digit-group detector can start (digitStarts()), so prose with
 * dates, versions and ids makes no more stops than under the prefilter's digit counts. The e-mail
 * window needs no prefilter bit either: with no '@' in the value, the window is empty. The one
 * detector that cannot be left on is the AWS secret key (it starts at any alphanumeric, which
 * turns the skip off): it needs 40 bytes of [A-Za-z0-9/+], and such a run holds a whole 16-byte
 * chunk counted from p of bytes in 0x2B-0x7F, so only values with such a chunk take the
 * prefilter pass (which looks for the key's context). Without the skip (custom patterns) the
 * prefilter's mask saves detector tries, so it stays.
 */
function valueMask(p: usize, e: usize): u32 {
  if (e - p <= 16 || !simdUsable) return prefilter(p, e);
  if (awsSecretOn && e - p >= 40) {
    const s2a = i8x16.splat(0x2a);
    for (let i = p; i + 16 <= e; i += 16) {
      if (i8x16.all_true(i8x16.gt_s(v128.load(i), s2a))) return prefilter(p, e);
    }
  }
  pfCandidates = true;
  return ~(<u32>1 << 8);
}

// SIMD skipping: the scalar loop in scan() tries a detector only at a word start (the value's
// first byte, or a byte after one that is not [A-Za-z0-9_]) whose byte can start a detector left
// on by the value's prefilter mask. simdSkip() finds the next such position 16 bytes at a time:
// start bytes by class (nibble tables, gated per value by classGate()) or digit range, then word
// starts only (the word class of the byte before each lane). Its classes hold at least every byte
// the scalar loop would try, so the first position it returns is never after the scalar loop's
// next try. E-mail starts at any alnum, so it is handled with the next-'@' bound: a start at pos
// needs an '@' in (pos, pos+64]. Not used with custom patterns or the AWS secret detector.
let simdUsable: bool = false;
let simdDigits: bool = false;
let digitDetOn: u32 = 0; // the digit-group detectors' bits that are configured (digitStarts())
let awsSecretOn: bool = false;
let vDigits: v128 = i8x16.splat(0);
let vGate: v128 = i8x16.splat(0);

function detOn(d: u32): bool {
  return load<i32>(DET_RULE + (<usize>d << 2)) >= 0;
}

function simdConfigure(): void {
  simdUsable = nCustom == 0;
  simdDigits = detOn(11) || detOn(12) || detOn(13);
  awsSecretOn = detOn(8);
  digitDetOn = (detOn(11) ? 1 << 11 : 0) | (detOn(12) ? 1 << 12 : 0) | (detOn(13) ? 1 << 13 : 0);
  preparedMask = 0xffffffff; // the tables changed: refresh the splats on the next value
}

let preparedMask: u32 = 0xffffffff;

/** The value's class gate and digit range; refreshed only when the gating bits change. */
function prepareSimd(vmask: u32): void {
  const bits = vmask & ((1 << 7) | (1 << 2) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13));
  if (bits == preparedMask) return;
  preparedMask = bits;
  vDigits = i8x16.splat(simdDigits && (vmask & ((1 << 11) | (1 << 12) | (1 << 13))) != 0 ? 10 : 0);
  vGate = i8x16.splat(<i8>classGate(vmask));
}

/** Position of the next '@' after the current scan position (e + 65 when none); see scan(). */
let nextAt: usize = 0;
/**
 * The first position from which an e-mail can reach nextAt: an address starting at i has its
 * local part [i, '@') all of [A-Za-z0-9._%+-] (none of them is '@', so its '@' is the first one
 * after i) and at most 64 bytes long. So e-mails can only start in [emailFrom, nextAt), where
 * emailFrom is the start of the run of local-part bytes that ends at nextAt (at most 64 back).
 * Exact: detEmail() fails at every start outside that range.
 */
let emailFrom: usize = 0;

/**
 * False when no e-mail can start at i: the run of local-part bytes from i ends within 16 bytes
 * (or at e) on a byte that is not '@' — detEmail() fails there on its first test. True otherwise
 * (the run is longer, or ends on an '@'). Reads 16 bytes from i; lanes at or past e end the run.
 */
function emailMayStart(i: usize, e: usize): bool {
  const v = v128.load(i);
  const local = v128.and(i8x16.swizzle(v128.load(localSet()), v128.and(v, i8x16.splat(0x0f))), i8x16.swizzle(v128.load(wordHiBits()), i8x16.shr_u(v, 4)));
  let stop = <u32>i8x16.bitmask(i8x16.eq(local, i8x16.splat(0)));
  if (e - i < 16) stop |= ~((<u32>1 << <u32>(e - i)) - 1);
  if ((stop & 0xffff) == 0) return true;
  const q = i + <usize>ctz<u32>(stop);
  return q < e && b(q) == 64;
}

/** First '@' in [k, e) (e when none), 16 bytes per step; the last chunk reads up to 15 bytes
 * past e (slack after the input) and ignores them. */
function nextAtSign(k: usize, e: usize): usize {
  const at = i8x16.splat(64);
  while (k < e) {
    const bits = <u32>i8x16.bitmask(i8x16.eq(v128.load(k), at));
    if (bits != 0) {
      const q = k + <usize>ctz<u32>(bits);
      return q < e ? q : e;
    }
    k += 16;
  }
  return e;
}

/** Move nextAt / emailFrom to the first '@' after i (in [i + 1, e)). */
function nextEmailWindow(p: usize, i: usize, e: usize): void {
  const q = nextAtSign(i + 1, e);
  if (q >= e) {
    nextAt = e + 65;
    emailFrom = nextAt;
    return;
  }
  nextAt = q;
  const lo = q - p > 64 ? q - 64 : p;
  let r = q;
  while (r > lo && (cls(b(r - 1)) & C_LOCAL) != 0) r--;
  emailFrom = r;
}

/**
 * The first position in [start, e) where the scalar loop may try a detector (see above), or e.
 * Reads whole 16-byte chunks (the last one up to 15 bytes past e, and the byte before start),
 * dropping lanes at or past e.
 */
function simdSkip(p: usize, start: usize, e: usize, vmask: u32): usize {
  let i = start;
  const email = (vmask & EMAIL_BIT) != 0;
  const s48 = i8x16.splat(48), s0f = i8x16.splat(0x0f), zero = i8x16.splat(0);
  const tLo = nibLo, tHi = nibHi, gate = vGate, digits = vDigits;
  const wSet = v128.load(wordSet()), wHi = v128.load(wordHiBits());
  while (i < e) {
    // chunks up to the next e-mail window (or e): no window test per chunk
    let cut = e;
    if (email) {
      if (nextAt <= i) nextEmailWindow(p, i, e);
      if (emailFrom <= i) return i;
      if (emailFrom < e) cut = emailFrom;
    }
    while (i < cut) {
      const v = v128.load(i);
      const prev = v128.load(i - 1);
      const k = v128.and(v128.and(i8x16.swizzle(tLo, v128.and(v, s0f)), i8x16.swizzle(tHi, i8x16.shr_u(v, 4))), gate);
      const dg = i8x16.lt_u(i8x16.sub(v, s48), digits);
      const hit = v128.or(i8x16.ne(k, zero), dg);
      // lanes whose previous byte is a word byte are not word starts
      const pw = v128.and(i8x16.swizzle(wSet, v128.and(prev, s0f)), i8x16.swizzle(wHi, i8x16.shr_u(prev, 4)));
      let bits = <u32>i8x16.bitmask(v128.andnot(hit, i8x16.ne(pw, zero)));
      if (i == p) bits |= <u32>i8x16.bitmask(hit) & 1; // the value's first byte is a word start
      if (cut - i < 16) bits &= (<u32>1 << <u32>(cut - i)) - 1; // lanes at or past cut
      if (bits != 0) {
        // digit lanes are never in a start-byte class (no class has high nibble 3): a digit lane
        // is a stop only where a digit-group detector can start (dates, versions, ids are not)
        const dbits = bits & <u32>i8x16.bitmask(dg);
        if (dbits != 0) bits = (bits & ~dbits) | digitStarts(i, e, dbits, vmask & digitDetOn);
        if (bits != 0) return i + <usize>ctz<u32>(bits);
      }
      i += 16;
    }
    return cut; // e, or the e-mail window's start
  }
  return e;
}

const DIGIT_DETECTORS: u32 = (1 << 11) | (1 << 12) | (1 << 13); // card, ssn, phone

/**
 * Of the digit lanes `cand` of the chunk at i (word starts), those where a digit-group detector
 * left on by the value's mask m can match, from one 48-byte digit bitmap; simdSkip() drops the
 * others, so prose digits (dates, versions, ids) are not stops. Each test is the detector's own
 * first checks (detect.ts), so a dropped lane is one where the scalar loop's try fails:
 *   card (first digit 2-6): 13 digits within 25 bytes;
 *   SSN: digits at offsets 0-2, 4-5, 7-10 and none at 3 and 6 (its dashes);
 *   phone at a digit: 1-9 is the North American form, NXX-NXX-XXXX with first digits 2-9 and one
 *   separator (never a digit) at offsets 3 and 7: digits exactly at 0-2, 4-6, 8-11; 0 is the
 *   trunk-prefix form, a first run of 2+ digits and 8 digits within 16 bytes.
 * Reads 48 bytes from i when the value holds them (slack covers the 32 after e) and ignores
 * those at or past e. (Phone at '+' and '(' and e-mail windows are not digit lanes.)
 */
function digitStarts(i: usize, e: usize, cand: u32, m: u32): u32 {
  const s48 = i8x16.splat(48), s10 = i8x16.splat(10);
  let d = <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i), s48), s10));
  d |= <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i + 16), s48), s10)) << 16;
  if (e - i > 32) d |= <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i + 32), s48), s10)) << 32;
  if (e - i < 48) d &= (<u64>1 << <u64>(e - i)) - 1;
  const card = (m & (1 << 11)) != 0, ssn = (m & (1 << 12)) != 0, phone = (m & (1 << 13)) != 0;
  let keep: u32 = 0;
  let c = cand;
  while (c != 0) {
    const j = ctz<u32>(c);
    c &= c - 1;
    const w = d >> <u64>j;
    const x = b(i + <usize>j) - 48;
    if ((card && x - 2 < 5 && popcnt<u64>(w & 0x1ffffff) >= 13)
      || (ssn && (w & 0x7ff) == 0x7b7)
      || (phone && (x >= 2 ? (w & 0xfff) == 0xf77 : x == 0 && (w & 3) == 3 && popcnt<u64>(w & 0xffff) >= 8))) keep |= <u32>1 << j;
  }
  return keep;
}

/**
 * Drops from m the digit-group detectors that cannot match at i, from one 32-byte digit bitmap
 * (most digit runs in text are dates, versions and ids): the card needs 13 digits within 25 bytes
 * and the phone 8 within 16 (the detectors' own early exits, detect.ts), the SSN digits at
 * offsets 0-2, 4-5 and 7-10. Exact: each is implied by the detector's grammar. Reads 32 bytes
 * from i (slack after the input) and ignores those at or past e.
 */
function digitGate(i: usize, e: usize, m: u32): u32 {
  const s48 = i8x16.splat(48), s10 = i8x16.splat(10);
  const lo = <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i), s48), s10));
  const hi = <u64>i8x16.bitmask(i8x16.lt_u(i8x16.sub(v128.load(i + 16), s48), s10));
  let bits = lo | (hi << 16);
  if (e - i < 32) bits &= (<u64>1 << <u64>(e - i)) - 1;
  if (popcnt<u64>(bits & 0x1ffffff) < 13) m &= ~(<u32>1 << 11);
  if ((bits & 0x7b7) != 0x7b7) m &= ~(<u32>1 << 12);
  if (popcnt<u64>(bits & 0xffff) < 8) m &= ~(<u32>1 << 13);
  return m;
}

// The non-emit pass remembers its first match so the emit pass of the same value resumes right
// there instead of scanning the prefix again (scanning is deterministic, so the result is equal).
let resumeValid: bool = false;
let resumeP: usize = 0;
let resumeE: usize = 0;
let resumeMs: usize = 0;
let resumeEnd: usize = 0;
let resumeRule: i32 = 0;
let resumeMask: u32 = 0;

function scan(p: usize, e: usize, emit: bool): bool {
  let i = p;
  let last = p;
  let hit = false;
  let vmask: u32;
  if (emit && resumeValid && resumeP == p && resumeE == e) {
    resumeValid = false;
    vmask = resumeMask;
    outCopy(p, resumeMs - p);
    const o0 = outPos;
    writeRepl(resumeRule, resumeMs, resumeEnd);
    noteSpan(resumeRule, resumeMs, resumeEnd, o0);
    countHit(resumeRule);
    hit = true;
    i = resumeEnd;
    last = resumeEnd;
  } else if (pfEnabled) {
    // Probe at p first: most masked values start with their match (an e-mail column, a card
    // number, a token, a password hash), and a match there needs no prefilter pass over the value.
    // The probe tries every detector the value's first byte can start; the prefilter would only
    // have switched off detectors that cannot match, so the first match is the same one. The AWS
    // secret key needs its context before the key, of which there is none at p.
    vmask = 0; // not computed yet
    const m0 = p < e ? load<u32>(DISPATCH + (<usize>b(p) << 2)) & ~(<u32>1 << 8) : 0;
    // Most values do not start with an e-mail (names, numbers, prose): leave it out of the probe
    // when its local part visibly ends before an '@' (exact, see emailMayStart()).
    const m1 = (m0 & EMAIL_BIT) != 0 && !emailMayStart(p, e) ? m0 & ~EMAIL_BIT : m0;
    if (m1 != 0) {
      const end = tryAt(m1, p, p, e);
      if (end != 0) {
        if (!emit) {
          firstHitRule = matchRule;
          resumeValid = true;
          resumeP = p;
          resumeE = e;
          resumeMs = maskStart();
          resumeEnd = end;
          resumeRule = matchRule;
          resumeMask = 0;
          return true;
        }
        hit = true;
        const ms = maskStart();
        outCopy(p, ms - p);
        const o0 = outPos;
        writeRepl(matchRule, ms, end);
        noteSpan(matchRule, ms, end, o0);
        countHit(matchRule);
        i = end;
        last = end;
      }
    }
    if (!hit) {
      vmask = valueMask(p, e);
      if (!pfCandidates && simdUsable && (vmask & (EMAIL_BIT | (1 << 8))) == 0) {
        if (emit) outCopy(p, e - p);
        return false;
      }
      // p was probed: go on as the loop below would after a failed try there
      if (m0 != 0) {
        if ((cls(b(p)) & C_WORD) != 0) i = span(p + 1, e, S_WORD);
        i++;
      }
    }
  } else {
    vmask = 0xffffffff;
  }
  if (i >= e) {
    if (emit) outCopy(last, e - last);
    return hit;
  }
  if (vmask == 0) vmask = valueMask(p, e); // after a match at p
  // An e-mail can only start in the run of local-part bytes before the next '@' (nextEmailWindow):
  // the detector only runs at word starts inside it.
  nextAt = 0;
  emailFrom = 0;
  // SIMD skip: 16 bytes at a time past chunks where no byte can start a detector (see simdSkip).
  const simd = simdUsable && (vmask & (1 << 8)) == 0; // the AWS secret key starts at any alnum
  let simdNext: usize = p;
  if (simd) prepareSimd(vmask);
  while (i < e) {
    if (simd && i >= simdNext) {
      i = simdSkip(p, i, e, vmask);
      simdNext = i + 1; // after this position's step, skip again
      if (i >= e) break;
    }
    const c = b(i);
    let m = load<u32>(DISPATCH + (<usize>c << 2)) & vmask;
    if (m != 0 && (i == p || (cls(b(i - 1)) & C_WORD) == 0)) {
      if ((m & EMAIL_BIT) != 0) {
        if (nextAt <= i) nextEmailWindow(p, i, e);
        if (i < emailFrom) m &= ~EMAIL_BIT;
      }
      if ((m & DIGIT_DETECTORS) != 0) m = digitGate(i, e, m);
    }
    if (m != 0 && (i == p || (cls(b(i - 1)) & C_WORD) == 0)) {
      const end = tryAt(m, p, i, e);
      if (end != 0) {
        if (!emit) {
          firstHitRule = matchRule;
          resumeValid = true;
          resumeP = p;
          resumeE = e;
          resumeMs = maskStart();
          resumeEnd = end;
          resumeRule = matchRule;
          resumeMask = vmask;
          return true;
        }
        hit = true;
        const ms = maskStart();
        outCopy(last, ms - last);
        const o0 = outPos;
        writeRepl(matchRule, ms, end);
        noteSpan(matchRule, ms, end, o0);
        countHit(matchRule);
        last = end;
        i = end;
        continue;
      }
    }
    // The rest of the word cannot start a match. simdSkip() passes over it anyway, except in an
    // e-mail window, where it stops at every position.
    if (!simd || (i >= emailFrom && i < nextAt)) {
      if ((cls(c) & C_WORD) != 0) i = span(i + 1, e, S_WORD);
    }
    i++;
  }
  if (emit) outCopy(last, e - last);
  return hit;
}

// ---------------------------------------------------------------- RowDescription → plan
/** Built-in types whose text form is fixed-format and cannot hold any detector's match
 * (booleans, dates/times, uuid, network addresses, floats, int2/int4, bytea hex, bit strings…):
 * never scanned; a column rule makes them NULL. */
function isFixedType(oid: u32): bool {
  switch (oid) {
    case 16: case 17: case 21: case 23: case 26: case 27: case 28: case 29:
    case 700: case 701: case 1082: case 1083: case 1114: case 1184: case 1186: case 1266:
    case 2950: case 869: case 650: case 829: case 774: case 1560: case 1562: case 3220:
      return true;
    default:
      return false;
  }
}

/** Numbers that can spell a card number (int8, numeric, money): scanned, NULL on a hit. */
function isStrictType(oid: u32): bool {
  return oid == 20 || oid == 1700 || oid == 790;
}

/** Built-in array types: "[REDACTED]" is not an array literal, so a column rule gives NULL. */
function isArrayType(oid: u32): bool {
  switch (oid) {
    case 1000: case 1001: case 1002: case 1003: case 1005: case 1007: case 1009: case 1014: case 1015: case 1016:
    case 1021: case 1022: case 1028: case 1040: case 1041: case 1115: case 1182: case 1183: case 1185: case 1187:
    case 1231: case 1270: case 199: case 3807: case 2951: case 651: case 143: case 791: case 1561: case 1563:
      return true;
    default:
      return false;
  }
}

function classify(oid: u32, fmt: u32): u8 {
  if (fmt == 0) {
    if (isArrayType(oid)) return CL_ARRAY;
    if (isFixedType(oid)) return CL_OPAQUE;
    if (isStrictType(oid)) return CL_STRICT;
    if (oid == 114 || oid == 3802) return CL_JSON;
    return CL_TEXT;
  }
  if (oid == 3802) return CL_JSONB_BIN;
  if (oid == 114) return CL_JSON;
  if (oid == 25 || oid == 1043 || oid == 1042 || oid == 19 || oid == 705 || oid == 142) return CL_TEXT;
  return CL_OPAQUE;
}

function findNul(p: usize, end: usize): usize {
  for (let q = p; q < end; q++) if (load<u8>(q) == 0) return q;
  return 0;
}

function rowDescription(m: usize, end: usize, apply: bool): i32 {
  if (m + 7 > end) return ERR_MALFORMED;
  const nf = be16u(m + 5);
  if (nf > MAX_COLS) return ERR_UNSUPPORTED;
  let pos = m + 7;
  for (let k: u32 = 0; k < nf; k++) {
    const z = findNul(pos, end);
    if (z == 0 || z + 19 > end) return ERR_MALFORMED;
    if (apply) {
      const tableOid = be32u(z + 1);
      const typeOid = be32u(z + 7);
      const fmt = be16u(z + 17);
      let rule: i32;
      if (findTable(tableOid)) rule = ruleForColumn(pos, z - pos, foundTablePtr, foundTableLen);
      else rule = ruleForColumn(pos, z - pos, 0, 0);
      store<i32>(PLAN_RULE + (<usize>k << 2), rule);
      store<u8>(PLAN_CLASS + <usize>k, classify(typeOid, fmt));
    }
    pos = z + 19;
  }
  if (pos != end) return ERR_MALFORMED;
  if (apply) {
    planValid = true;
    planCount = nf;
  }
  return NO_CHANGE;
}

// ---------------------------------------------------------------- DataRow
/** One DataRow value [p, e) of column k. Without emit: does it change? With emit: write the
 * field (length word + bytes). */
function dataValue(k: u32, known: bool, p: usize, e: usize, emit: bool): bool {
  if (!known) {
    if (unknownNull) {
      if (emit) {
        outBE32(-1);
        countHit(<i32>UNKNOWN_SLOT);
      }
      return true;
    }
    setCtxText();
    if (scan(p, e, false)) { // types unknown: the only always-valid replacement is NULL
      if (emit) {
        outBE32(-1);
        countHit(firstHitRule);
      }
      return true;
    }
    if (emit) outCopy(p - 4, e - p + 4);
    return false;
  }
  const rule = load<i32>(PLAN_RULE + (<usize>k << 2));
  const cl = load<u8>(PLAN_CLASS + <usize>k);
  if (rule >= 0) {
    if (!emit) return true;
    countHit(rule);
    if (cl == CL_STRICT || cl == CL_OPAQUE || cl == CL_ARRAY) {
      outBE32(-1);
    } else if (cl == CL_TEXT) {
      setCtxText();
      const at = reserveLen();
      writeRepl(rule, p, e);
      patchLen(at, -4);
    } else if (cl == CL_JSON) {
      const at = reserveLen();
      writeJsonRepl(rule, p, e);
      patchLen(at, -4);
    } else {
      const at = reserveLen();
      outByte(1);
      writeJsonRepl(rule, e > p ? p + 1 : p, e);
      patchLen(at, -4);
    }
    return true;
  }
  if (cl == CL_OPAQUE) {
    if (emit) outCopy(p - 4, e - p + 4);
    return false;
  }
  if (cl == CL_STRICT) {
    setCtxText();
    if (scan(p, e, false)) {
      if (emit) {
        outBE32(-1);
        countHit(firstHitRule);
      }
      return true;
    }
    if (emit) outCopy(p - 4, e - p + 4);
    return false;
  }
  let s = p;
  if (cl == CL_JSONB_BIN) {
    if (e == p || b(p) != 1) { // unknown jsonb version: opaque
      if (emit) outCopy(p - 4, e - p + 4);
      return false;
    }
    s = p + 1;
  }
  if (cl == CL_JSON || cl == CL_JSONB_BIN) setCtx(CTX_JSON);
  else setCtxText();
  if (!emit) return scan(s, e, false);
  const at = reserveLen();
  outCopy(p, s - p);
  scan(s, e, true);
  patchLen(at, -4);
  return true;
}

// Where the non-emit pass of dataRow() found the first change: the emit pass copies the fields
// before it in one piece instead of scanning them again.
let firstChangeField: u32 = 0;
let firstChangePos: usize = 0;

function dataRow(m: usize, end: usize, emit: bool): i32 {
  if (m + 7 > end) return ERR_MALFORMED;
  const nf = be16u(m + 5);
  const known = planValid && nf == planCount;
  let at: usize = 0;
  let pos = m + 7;
  let k0: u32 = 0;
  if (emit) {
    outByte(68);
    at = reserveLen();
    outBE16(nf);
    outCopy(pos, firstChangePos - pos);
    pos = firstChangePos;
    k0 = firstChangeField;
  }
  for (let k: u32 = k0; k < nf; k++) {
    const fieldStart = pos;
    if (pos + 4 > end) return ERR_MALFORMED;
    const flen = be32s(pos);
    pos += 4;
    if (flen < 0) {
      if (flen != -1) return ERR_MALFORMED;
      if (emit) outBE32(-1);
      continue;
    }
    if (<usize>flen > end - pos) return ERR_MALFORMED;
    const p = pos;
    pos += <usize>flen;
    const changed = dataValue(k, known, p, pos, emit);
    if (!emit && changed) {
      // the rest of the message is validated by the emit pass before anything is committed (run())
      firstChangeField = k;
      firstChangePos = fieldStart;
      return CHANGED;
    }
  }
  if (pos != end) return ERR_MALFORMED;
  if (emit) patchLen(at, 0);
  return NO_CHANGE;
}

// ---------------------------------------------------------------- ErrorResponse / NoticeResponse
@inline function maskedField(t: u32): bool {
  return t == 77 || t == 68 || t == 72 || t == 87 || t == 113; // M D H W q
}

function lit(p: usize, e: usize, s: string): bool {
  const n = <usize>s.length;
  if (p + n > e) return false;
  const sp = changetype<usize>(s);
  for (let k: usize = 0; k < n; k++) if (b(p + k) != <u32>load<u16>(sp + (k << 1))) return false;
  return true;
}

let keyVs: usize = 0;
let keyVe: usize = 0;
let keyRule: i32 = -1;

/** DETAIL "Key (cols)=(vals) …" or "Failing row contains (vals)." naming a column-masked column:
 * find the value range to mask whole. tPtr/tLen: the 't' (table) field, tLen 0 when absent. */
function detailValues(s: usize, z: usize, tPtr: usize, tLen: usize): bool {
  if (nColpats == 0) return false;
  let close: usize = 0;
  for (let q = z; q > s; q--) {
    if (b(q - 1) == 41) {
      close = q - 1;
      break;
    }
  }
  if (lit(s, z, "Key (")) {
    const cs = s + 5;
    let eq: usize = 0;
    for (let q = cs; q + 3 <= z; q++) {
      if (b(q) == 41 && b(q + 1) == 61 && b(q + 2) == 40) {
        eq = q;
        break;
      }
    }
    if (eq == 0 || close < eq + 3) return false;
    let a = cs;
    while (a <= eq) { // column list, ", "-separated, names maybe double-quoted
      let q = a;
      while (q < eq && !(b(q) == 44 && q + 1 < eq && b(q + 1) == 32)) q++;
      let ns = a;
      let ne = q;
      if (ne - ns >= 2 && b(ns) == 34 && b(ne - 1) == 34) {
        ns++;
        ne--;
      }
      const r = ruleForColumn(ns, ne - ns, tPtr, tLen);
      if (r >= 0) {
        keyVs = eq + 3;
        keyVe = close;
        keyRule = r;
        return true;
      }
      a = q + 2;
    }
    return false;
  }
  if (lit(s, z, "Failing row contains (")) {
    if (close < s + 22) return false;
    keyVs = s + 22;
    keyVe = close;
    keyRule = load<i32>(COLPATS); // rule of the first column pattern
    return true;
  }
  return false;
}

function errorFields(m: usize, end: usize, emit: bool): i32 {
  // the table name ('t') comes after DETAIL, so find it first
  let tPtr: usize = 0;
  let tLen: usize = 0;
  let pos = m + 5;
  while (true) {
    if (pos >= end) return ERR_MALFORMED;
    const t = b(pos);
    if (t == 0) break;
    const z = findNul(pos + 1, end);
    if (z == 0) return ERR_MALFORMED;
    if (t == 116) {
      tPtr = pos + 1;
      tLen = z - pos - 1;
    }
    pos = z + 1;
  }
  if (pos + 1 != end) return ERR_MALFORMED;
  let at: usize = 0;
  if (emit) {
    outByte(b(m));
    at = reserveLen();
  }
  pos = m + 5;
  while (b(pos) != 0) {
    const t = b(pos);
    const s = pos + 1;
    const z = findNul(s, end);
    if (maskedField(t)) {
      setCtxText();
      const special = t == 68 && detailValues(s, z, tPtr, tLen);
      if (!emit) {
        if (special) return CHANGED;
        if (scan(s, z, false)) return CHANGED;
      } else {
        outByte(t);
        if (special) {
          const vs = keyVs, ve = keyVe, r = keyRule;
          scan(s, vs, true);
          writeRepl(r, vs, ve);
          countHit(r);
          scan(ve, z, true);
        } else {
          scan(s, z, true);
        }
        outByte(0);
      }
    } else if (emit) {
      outCopy(pos, z + 1 - pos);
    }
    pos = z + 1;
  }
  if (emit) {
    outByte(0);
    patchLen(at, 0);
  }
  return NO_CHANGE;
}

// ---------------------------------------------------------------- NotificationResponse / FunctionCallResponse
function notification(m: usize, end: usize, emit: bool): i32 {
  if (m + 9 > end) return ERR_MALFORMED;
  const cz = findNul(m + 9, end);
  if (cz == 0) return ERR_MALFORMED;
  const s = cz + 1;
  const pz = findNul(s, end);
  if (pz == 0 || pz + 1 != end) return ERR_MALFORMED;
  setCtxText();
  if (!emit) return scan(s, pz, false) ? CHANGED : NO_CHANGE;
  outByte(65);
  const at = reserveLen();
  outCopy(m + 5, s - m - 5);
  scan(s, pz, true);
  outByte(0);
  patchLen(at, 0);
  return NO_CHANGE;
}

function functionResult(m: usize, end: usize, emit: bool): i32 {
  if (m + 9 > end) return ERR_MALFORMED;
  const flen = be32s(m + 5);
  if (flen == -1) return m + 9 == end ? NO_CHANGE : ERR_MALFORMED;
  if (flen < 0 || m + 9 + <usize>flen != end) return ERR_MALFORMED;
  setCtxText();
  if (!scan(m + 9, end, false)) return NO_CHANGE;
  if (!emit) return CHANGED;
  outByte(86);
  outBE32(8);
  outBE32(-1);
  countHit(firstHitRule);
  return NO_CHANGE;
}

// ---------------------------------------------------------------- CopyData (COPY TO STDOUT)
let copyLast: usize = 0;

@inline function copyRule(col: u32): i32 {
  if (copyPlanN < 0 || col >= <u32>copyPlanN) return -1;
  return load<i32>(COPY_PLAN + (<usize>col << 2));
}

/** One text/CSV field: [fs, fe) whole field, [vs, ve) its value (inside quotes for quoted CSV). */
function copyField(col: u32, fs: usize, fe: usize, vs: usize, ve: usize, isNull: bool, emit: bool): bool {
  if (isNull) return false;
  if (copyPlanN < 0 && unknownNull) {
    if (!emit) return true;
    outCopy(copyLast, fs - copyLast);
    outCopy(COPY_NULL, copyNullLen);
    copyLast = fe;
    countHit(<i32>UNKNOWN_SLOT);
    return true;
  }
  const rule = copyRule(col);
  if (rule >= 0) {
    if (!emit) return true;
    outCopy(copyLast, vs - copyLast);
    writeRepl(rule, vs, ve);
    countHit(rule);
    copyLast = ve;
    return true;
  }
  if (!emit) return scan(vs, ve, false);
  outCopy(copyLast, vs - copyLast);
  scan(vs, ve, true);
  copyLast = ve;
  return true;
}

function isCopyNull(s: usize, e: usize): bool {
  if (e - s != <usize>copyNullLen) return false;
  for (let k: usize = 0; k < <usize>copyNullLen; k++) if (b(s + k) != <u32>load<u8>(COPY_NULL + k)) return false;
  return true;
}

/**
 * First position in [pos, end) holding byte x, y or z (end when none), 16 bytes per step. COPY
 * field splitting used to test one byte at a time and was most of the masked COPY's CPU; the
 * 16-byte loads never read past `end`.
 */
function findAny3(pos: usize, end: usize, x: u32, y: u32, z: u32): usize {
  const vx = i8x16.splat(<i8>x), vy = i8x16.splat(<i8>y), vz = i8x16.splat(<i8>z);
  while (pos + 16 <= end) {
    const v = v128.load(pos);
    const bits = i8x16.bitmask(v128.or(v128.or(i8x16.eq(v, vx), i8x16.eq(v, vy)), i8x16.eq(v, vz)));
    if (bits != 0) return pos + <usize>ctz<u32>(bits);
    pos += 16;
  }
  while (pos < end) {
    const c = b(pos);
    if (c == x || c == y || c == z) return pos;
    pos++;
  }
  return end;
}

function copyTextRows(m: usize, end: usize, emit: bool): i32 {
  setCtx(copyKind == COPY_CSV ? CTX_COPY_CSV : CTX_COPY_TEXT);
  let pos = m + 5;
  copyLast = pos;
  let at: usize = 0;
  if (emit) {
    outByte(100);
    at = reserveLen();
  }
  const delim = copyDelim;
  const csv = copyKind == COPY_CSV;
  // The header is walked like a row (quoted CSV names may hold delimiters or newlines) but never
  // masked; only the first row of this message. `after` clears the flag once the message is done.
  let header = copyTextHeader;
  while (pos < end) {
    let col: u32 = 0;
    while (true) {
      const fs = pos;
      let vs = pos;
      let ve: usize;
      let quoted = false;
      if (csv && pos < end && b(pos) == copyQuote) {
        quoted = true;
        pos++;
        vs = pos;
        while (pos < end) {
          const c = b(pos);
          if (c == copyEscape && copyEscape != copyQuote && pos + 1 < end && (b(pos + 1) == copyQuote || b(pos + 1) == copyEscape)) {
            pos += 2;
            continue;
          }
          if (c == copyQuote) {
            if (copyEscape == copyQuote && pos + 1 < end && b(pos + 1) == copyQuote) {
              pos += 2;
              continue;
            }
            break;
          }
          pos++;
        }
        ve = pos;
        if (pos < end) pos++;
        pos = findAny3(pos, end, delim, 10, 10);
      } else if (csv) {
        pos = findAny3(pos, end, delim, 10, 10);
        ve = pos;
      } else {
        while (pos < end) {
          pos = findAny3(pos, end, delim, 10, 92);
          if (pos >= end) break;
          const c = b(pos);
          if (c == delim || c == 10) break;
          pos += pos + 1 < end ? 2 : 1; // a backslash escapes the next byte
        }
        ve = pos;
      }
      const isNull = quoted ? false : isCopyNull(vs, ve);
      const changed = header ? false : copyField(col, fs, pos, vs, ve, isNull, emit);
      if (!emit && changed) return CHANGED;
      col++;
      if (pos < end && b(pos) == delim) {
        pos++;
        continue;
      }
      if (pos < end) pos++; // newline
      break;
    }
    header = false;
  }
  if (emit) {
    outCopy(copyLast, end - copyLast);
    patchLen(at, 0);
  }
  return NO_CHANGE;
}

function copyBinaryRows(m: usize, end: usize, emit: bool): i32 {
  let pos = m + 5;
  if (copyHeaderPending) {
    if (end - pos < 19 || !lit(pos, end, "PGCOPY\n") || b(pos + 7) != 0xff || b(pos + 8) != 13 || b(pos + 9) != 10 || b(pos + 10) != 0) {
      return ERR_MALFORMED;
    }
    const ext = be32u(pos + 15);
    if (<usize>ext > end - pos - 19) return ERR_MALFORMED;
    pos += 19 + <usize>ext;
  }
  let last = m + 5;
  let at: usize = 0;
  if (emit) {
    outByte(100);
    at = reserveLen();
  }
  setCtxText();
  while (pos < end) {
    if (pos + 2 > end) return ERR_MALFORMED;
    const n = <i32><i16>bswap<u16>(load<u16>(pos));
    pos += 2;
    if (n == -1) {
      if (pos != end) return ERR_MALFORMED;
      break;
    }
    if (n < 0) return ERR_MALFORMED;
    for (let k: u32 = 0; k < <u32>n; k++) {
      if (pos + 4 > end) return ERR_MALFORMED;
      const lenPos = pos;
      const flen = be32s(pos);
      pos += 4;
      if (flen == -1) continue;
      if (flen < 0 || <usize>flen > end - pos) return ERR_MALFORMED;
      const vs = pos;
      pos += <usize>flen;
      let rule: i32 = -1;
      if (copyPlanN < 0 && unknownNull) rule = <i32>UNKNOWN_SLOT;
      else if (copyRule(k) >= 0) rule = copyRule(k);
      else if (scan(vs, pos, false)) rule = firstHitRule;
      if (rule < 0) continue;
      if (!emit) return CHANGED;
      outCopy(last, lenPos - last);
      outBE32(-1);
      countHit(rule);
      last = pos;
    }
  }
  if (emit) {
    outCopy(last, end - last);
    patchLen(at, 0);
  }
  return NO_CHANGE;
}

function copyOutResponse(m: usize, end: usize): void {
  const fmt = b(m + 5);
  copyActive = true;
  copyHeaderPending = fmt == 1;
  copyTextHeader = pendSet && pendHeader && fmt != 1;
  if (fmt == 1) copyKind = COPY_BINARY;
  else copyKind = pendSet ? pendKind : COPY_TEXT;
  if (pendSet && fmt != 1) {
    copyDelim = pendDelim;
    copyQuote = pendQuote;
    copyEscape = pendEscape;
    copyNullLen = pendNullLen;
    memory.copy(COPY_NULL, PEND_NULL, pendNullLen);
  } else {
    copyDelim = 9;
    copyQuote = 34;
    copyEscape = 34;
    copyNullLen = 2;
    store<u8>(COPY_NULL, 92);
    store<u8>(COPY_NULL + 1, 78);
  }
  const ncols = m + 8 <= end ? be16u(m + 6) : 0;
  copyPlanN = pendSet && pendPlanN >= 0 && <u32>pendPlanN == ncols ? pendPlanN : -1;
  if (copyPlanN > 0) memory.copy(COPY_PLAN, PEND_PLAN, <usize>copyPlanN << 2);
  pendSet = false;
}

// ---------------------------------------------------------------- message loop
function handle(t: u32, m: usize, end: usize, emit: bool): i32 {
  switch (t) {
    case 68: return dataRow(m, end, emit); // D
    case 84: return emit ? NO_CHANGE : rowDescription(m, end, false); // T
    case 69: case 78: return errorFields(m, end, emit); // E N
    case 65: return notification(m, end, emit); // A
    case 86: return functionResult(m, end, emit); // V
    case 100: // d
      if (!copyActive) return NO_CHANGE;
      return copyKind == COPY_BINARY ? copyBinaryRows(m, end, emit) : copyTextRows(m, end, emit);
    case 72: return m + 8 <= end ? NO_CHANGE : ERR_MALFORMED; // H
    case 87: return ERR_UNSUPPORTED; // W CopyBothResponse (replication): cannot be masked
    default: return NO_CHANGE;
  }
}

/** State transitions, applied once a message is done (and committed). */
function after(t: u32, m: usize, end: usize): void {
  switch (t) {
    case 84: rowDescription(m, end, true); break;
    case 72: copyOutResponse(m, end); break;
    case 100: // d
      copyHeaderPending = false;
      copyTextHeader = false;
      break;
    case 67: case 90: case 69: // C Z E
      planValid = false;
      copyActive = false;
      copyTextHeader = false;
      break;
    case 99: copyActive = false; copyTextHeader = false; break; // c CopyDone
    case 73: case 110: case 50: planValid = false; break; // I n 2
    default: break;
  }
}

/**
 * Whether the last DataRow changed. Rows of one result tend to change together (a masked column
 * changes every row), so after a changed row the next one is rewritten at once, without the
 * pass that finds its first change; when nothing in it changed (no count was taken: every change
 * counts) its output is dropped and it stays in the pending run, as if that pass had said so.
 * The output is the same either way; only the work differs.
 */
let rowsChanging: bool = false;

function run(): i32 {
  while (cur < inEnd) {
    if (inEnd - cur < 5) return ERR_FRAMING;
    const len = be32u(cur + 1);
    if (len < 4 || <usize>len > inEnd - cur - 1) return ERR_FRAMING;
    const end = cur + 1 + <usize>len;
    const t = b(cur);
    resumeValid = false;
    if (t == 68 && rowsChanging) {
      const save = outPos;
      oom = false;
      outCopy(pending, cur - pending);
      firstChangeField = 0;
      firstChangePos = cur + 7;
      const w = dataRow(cur, end, true);
      resumeValid = false;
      if (w < 0 || oom) { // refused, or out of space: nothing of the row is kept
        outPos = save;
        oom = false;
        dropCounts();
        return w < 0 ? w : NEED_SPACE;
      }
      if (touched != 0) {
        commitCounts();
        pending = end;
        changedAny = true;
      } else {
        outPos = save;
        rowsChanging = false;
      }
      cur = end; // after() has nothing to do for a DataRow
      continue;
    }
    const r = handle(t, cur, end, false);
    if (t == 68) rowsChanging = r == CHANGED;
    if (r < 0) return r;
    if (r == CHANGED) {
      const save = outPos;
      oom = false;
      outCopy(pending, cur - pending);
      // The emit pass validates what the first pass left unread after its first change (the
      // rest of a DataRow, of a binary COPY tuple): a malformed message is refused, never sent
      // on half rewritten.
      const w = handle(t, cur, end, true);
      resumeValid = false;
      if (w < 0) {
        outPos = save;
        oom = false;
        dropCounts();
        return w;
      }
      if (oom) {
        outPos = save;
        oom = false;
        dropCounts();
        return NEED_SPACE;
      }
      commitCounts();
      pending = end;
      changedAny = true;
    }
    after(t, cur, end);
    cur = end;
  }
  if (changedAny && pending < inEnd) {
    if (outPos + (inEnd - pending) > outEnd) return NEED_SPACE;
    memory.copy(outPos, pending, inEnd - pending);
    outPos += inEnd - pending;
    pending = inEnd;
  }
  return OK;
}

/** Mask the complete backend messages [inPtr, inPtr+inLen) into [outPtr, outPtr+outCap).
 * Returns OK, NEED_SPACE (grow the output region, then resume()) or a negative error. */
export function process(inPtr: usize, inLen: usize, outPtr: usize, outCap: usize): i32 {
  cur = inPtr;
  inEnd = inPtr + inLen;
  pending = inPtr;
  outBase = outPtr;
  outPos = outPtr;
  outEnd = outPtr + outCap;
  oom = false;
  changedAny = false;
  return run();
}

export function resume(outCap: usize): i32 {
  outEnd = outBase + outCap;
  return run();
}

/** Run the content detectors over one plain text [inPtr, inPtr+len) (e.g. SSH output): no
 * PostgreSQL framing, no column rules, no state. Returns OK (see changed()/outputLength()) or
 * NEED_SPACE (call again with a larger output region). */
export function maskText(inPtr: usize, len: usize, outPtr: usize, outCap: usize): i32 {
  outBase = outPtr;
  outPos = outPtr;
  outEnd = outPtr + outCap;
  oom = false;
  changedAny = false;
  setCtxText();
  resumeValid = false;
  if (!scan(inPtr, inPtr + len, false)) return OK;
  scan(inPtr, inPtr + len, true);
  resumeValid = false;
  if (oom) {
    outPos = outBase;
    oom = false;
    dropCounts();
    return NEED_SPACE;
  }
  commitCounts();
  changedAny = true;
  return OK;
}

// ---------------------------------------------------------------- match spans (SSH streams)
// maskTextSpans() also reports where each match is, so a stream can be cut only between matches
// and a match can be overwritten with the same number of bytes (SFTP file contents).
let spanPtr: usize = 0;
let spanCap: u32 = 0;
let spanN: u32 = 0;
let spanIn: usize = 0;

/** Record one replaced match: rule, input [ms, me) and output [o0, outPos), relative offsets. */
function noteSpan(rule: i32, ms: usize, me: usize, o0: usize): void {
  if (spanPtr == 0) return;
  if (spanN < spanCap) {
    const a = spanPtr + <usize>spanN * 20;
    store<u32>(a, <u32>rule);
    store<u32>(a + 4, <u32>(ms - spanIn));
    store<u32>(a + 8, <u32>(me - spanIn));
    store<u32>(a + 12, <u32>(o0 - outBase));
    store<u32>(a + 16, <u32>(outPos - outBase));
  }
  spanN++;
}

/** maskText() that also writes each match at sPtr as 5 u32 (rule, input start, input end,
 * output start, output end; offsets relative to inPtr / outPtr), at most sCap of them — see
 * spanCount(). The JS side discards this call's counts and counts the spans it releases (a
 * stream re-scans what it holds back). */
export function maskTextSpans(inPtr: usize, len: usize, outPtr: usize, outCap: usize, sPtr: usize, sCap: u32): i32 {
  spanPtr = sPtr;
  spanCap = sCap;
  spanN = 0;
  spanIn = inPtr;
  const r = maskText(inPtr, len, outPtr, outCap);
  spanPtr = 0;
  return r;
}

/** Matches found by the last maskTextSpans() (more than its capacity: call again with more room). */
export function spanCount(): u32 {
  return spanN;
}

/** Whether the last process() changed anything (if not, the input can be forwarded as is). */
export function changed(): bool {
  return changedAny;
}

export function outputLength(): usize {
  return outPos - outBase;
}
