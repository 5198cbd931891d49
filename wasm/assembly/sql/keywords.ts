// Keyword table for the SQL classifier. Only the words the classifier looks at are listed: an
// identifier that is not here gets KW_NONE. Matching is ASCII case-insensitive, like PostgreSQL's
// downcase_identifier for keywords (non-ASCII bytes never match).
//
// The ids below are the 1-based positions of the words in KEYWORD_LIST — keep both in the same
// order (wasm/loader/sql.test.ts checks every word through the exported kwLookup()).

// One literal (no `+`): a concatenation would be built at run time on the heap, which JS owns.
const KEYWORD_LIST =
  "select insert update delete merge values table with into where for share key no do then as from to begin atomic case end owner create alter drop or replace function procedure explain analyze analyse verbose copy binary stdin stdout program show set reset session local role authorization transaction characteristics constraints session_authorization all discard start commit rollback abort savepoint release prepare prepared execute deallocate grant revoke truncate comment reindex vacuum cluster refresh materialized view import foreign lock call load listen unlisten notify close fetch move checkpoint declare cursor hold without security label reassign owned default privileges user group mapping policy schema database system large object temp temporary unlogged global unique trusted procedural constraint recursive index sequence routine aggregate trigger event type domain extension tablespace rule server data wrapper publication subscription collation conversion operator class family cast language text search configuration dictionary parser template statistics access method transform references true false on off uescape returning";

export const KW_NONE: i32 = 0;
export const KW_SELECT: i32 = 1;
export const KW_INSERT: i32 = 2;
export const KW_UPDATE: i32 = 3;
export const KW_DELETE: i32 = 4;
export const KW_MERGE: i32 = 5;
export const KW_VALUES: i32 = 6;
export const KW_TABLE: i32 = 7;
export const KW_WITH: i32 = 8;
export const KW_INTO: i32 = 9;
export const KW_WHERE: i32 = 10;
export const KW_FOR: i32 = 11;
export const KW_SHARE: i32 = 12;
export const KW_KEY: i32 = 13;
export const KW_NO: i32 = 14;
export const KW_DO: i32 = 15;
export const KW_THEN: i32 = 16;
export const KW_AS: i32 = 17;
export const KW_FROM: i32 = 18;
export const KW_TO: i32 = 19;
export const KW_BEGIN: i32 = 20;
export const KW_ATOMIC: i32 = 21;
export const KW_CASE: i32 = 22;
export const KW_END: i32 = 23;
export const KW_OWNER: i32 = 24;
export const KW_CREATE: i32 = 25;
export const KW_ALTER: i32 = 26;
export const KW_DROP: i32 = 27;
export const KW_OR: i32 = 28;
export const KW_REPLACE: i32 = 29;
export const KW_FUNCTION: i32 = 30;
export const KW_PROCEDURE: i32 = 31;
export const KW_EXPLAIN: i32 = 32;
export const KW_ANALYZE: i32 = 33;
export const KW_ANALYSE: i32 = 34;
export const KW_VERBOSE: i32 = 35;
export const KW_COPY: i32 = 36;
export const KW_BINARY: i32 = 37;
export const KW_STDIN: i32 = 38;
export const KW_STDOUT: i32 = 39;
export const KW_PROGRAM: i32 = 40;
export const KW_SHOW: i32 = 41;
export const KW_SET: i32 = 42;
export const KW_RESET: i32 = 43;
export const KW_SESSION: i32 = 44;
export const KW_LOCAL: i32 = 45;
export const KW_ROLE: i32 = 46;
export const KW_AUTHORIZATION: i32 = 47;
export const KW_TRANSACTION: i32 = 48;
export const KW_CHARACTERISTICS: i32 = 49;
export const KW_CONSTRAINTS: i32 = 50;
export const KW_SESSION_AUTHORIZATION: i32 = 51;
export const KW_ALL: i32 = 52;
export const KW_DISCARD: i32 = 53;
export const KW_START: i32 = 54;
export const KW_COMMIT: i32 = 55;
export const KW_ROLLBACK: i32 = 56;
export const KW_ABORT: i32 = 57;
export const KW_SAVEPOINT: i32 = 58;
export const KW_RELEASE: i32 = 59;
export const KW_PREPARE: i32 = 60;
export const KW_PREPARED: i32 = 61;
export const KW_EXECUTE: i32 = 62;
export const KW_DEALLOCATE: i32 = 63;
export const KW_GRANT: i32 = 64;
export const KW_REVOKE: i32 = 65;
export const KW_TRUNCATE: i32 = 66;
export const KW_COMMENT: i32 = 67;
export const KW_REINDEX: i32 = 68;
export const KW_VACUUM: i32 = 69;
export const KW_CLUSTER: i32 = 70;
export const KW_REFRESH: i32 = 71;
export const KW_MATERIALIZED: i32 = 72;
export const KW_VIEW: i32 = 73;
export const KW_IMPORT: i32 = 74;
export const KW_FOREIGN: i32 = 75;
export const KW_LOCK: i32 = 76;
export const KW_CALL: i32 = 77;
export const KW_LOAD: i32 = 78;
export const KW_LISTEN: i32 = 79;
export const KW_UNLISTEN: i32 = 80;
export const KW_NOTIFY: i32 = 81;
export const KW_CLOSE: i32 = 82;
export const KW_FETCH: i32 = 83;
export const KW_MOVE: i32 = 84;
export const KW_CHECKPOINT: i32 = 85;
export const KW_DECLARE: i32 = 86;
export const KW_CURSOR: i32 = 87;
export const KW_HOLD: i32 = 88;
export const KW_WITHOUT: i32 = 89;
export const KW_SECURITY: i32 = 90;
export const KW_LABEL: i32 = 91;
export const KW_REASSIGN: i32 = 92;
export const KW_OWNED: i32 = 93;
export const KW_DEFAULT: i32 = 94;
export const KW_PRIVILEGES: i32 = 95;
export const KW_USER: i32 = 96;
export const KW_GROUP: i32 = 97;
export const KW_MAPPING: i32 = 98;
export const KW_POLICY: i32 = 99;
export const KW_SCHEMA: i32 = 100;
export const KW_DATABASE: i32 = 101;
export const KW_SYSTEM: i32 = 102;
export const KW_LARGE: i32 = 103;
export const KW_OBJECT: i32 = 104;
export const KW_TEMP: i32 = 105;
export const KW_TEMPORARY: i32 = 106;
export const KW_UNLOGGED: i32 = 107;
export const KW_GLOBAL: i32 = 108;
export const KW_UNIQUE: i32 = 109;
export const KW_TRUSTED: i32 = 110;
export const KW_PROCEDURAL: i32 = 111;
export const KW_CONSTRAINT: i32 = 112;
export const KW_RECURSIVE: i32 = 113;
export const KW_INDEX: i32 = 114;
export const KW_SEQUENCE: i32 = 115;
export const KW_ROUTINE: i32 = 116;
export const KW_AGGREGATE: i32 = 117;
export const KW_TRIGGER: i32 = 118;
export const KW_EVENT: i32 = 119;
export const KW_TYPE: i32 = 120;
export const KW_DOMAIN: i32 = 121;
export const KW_EXTENSION: i32 = 122;
export const KW_TABLESPACE: i32 = 123;
export const KW_RULE: i32 = 124;
export const KW_SERVER: i32 = 125;
export const KW_DATA: i32 = 126;
export const KW_WRAPPER: i32 = 127;
export const KW_PUBLICATION: i32 = 128;
export const KW_SUBSCRIPTION: i32 = 129;
export const KW_COLLATION: i32 = 130;
export const KW_CONVERSION: i32 = 131;
export const KW_OPERATOR: i32 = 132;
export const KW_CLASS: i32 = 133;
export const KW_FAMILY: i32 = 134;
export const KW_CAST: i32 = 135;
export const KW_LANGUAGE: i32 = 136;
export const KW_TEXT: i32 = 137;
export const KW_SEARCH: i32 = 138;
export const KW_CONFIGURATION: i32 = 139;
export const KW_DICTIONARY: i32 = 140;
export const KW_PARSER: i32 = 141;
export const KW_TEMPLATE: i32 = 142;
export const KW_STATISTICS: i32 = 143;
export const KW_ACCESS: i32 = 144;
export const KW_METHOD: i32 = 145;
export const KW_TRANSFORM: i32 = 146;
export const KW_REFERENCES: i32 = 147;
export const KW_TRUE: i32 = 148;
export const KW_FALSE: i32 = 149;
export const KW_ON: i32 = 150;
export const KW_OFF: i32 = 151;
export const KW_UESCAPE: i32 = 152;
export const KW_RETURNING: i32 = 153;
export const KW_COUNT: i32 = 153;

const MAX_KW_LEN: i32 = 24;
const HASH_SLOTS: i32 = 1024; // power of two, > 4x the keyword count: short probe chains
const kwHash = memory.data(HASH_SLOTS * 2, 2); // u16 keyword id per slot, 0 = empty
const kwOff = memory.data((KW_COUNT + 1) * 2, 2); // u16 offset of each word in kwBytes
const kwLen = memory.data(KW_COUNT + 1); // u8 length of each word
const kwBytes = memory.data(2048); // the words, lower-case ASCII, back to back
let initialized = false;

@inline function fold(c: i32): i32 {
  return c >= 65 && c <= 90 ? c | 32 : c;
}

@inline function hashStep(h: u32, c: i32): u32 {
  return h * 31 + <u32>c;
}

function insertKeyword(id: i32, off: i32, len: i32): void {
  let h: u32 = 0;
  for (let i = 0; i < len; i++) h = hashStep(h, <i32>load<u8>(kwBytes + <usize>(off + i)));
  let slot = <i32>(h & <u32>(HASH_SLOTS - 1));
  while (load<u16>(kwHash + <usize>(slot << 1)) != 0) slot = (slot + 1) & (HASH_SLOTS - 1);
  store<u16>(kwHash + <usize>(slot << 1), <u16>id);
}

/** Builds the hash table from KEYWORD_LIST once (static memory only, no heap). */
export function initKeywords(): void {
  if (initialized) return;
  initialized = true;
  const n = KEYWORD_LIST.length;
  let id = 1;
  let out = 0;
  let wordStart = 0;
  for (let i = 0; i <= n; i++) {
    const c: i32 = i < n ? <i32>KEYWORD_LIST.charCodeAt(i) : 32;
    if (c == 32) {
      if (out > wordStart) {
        store<u16>(kwOff + <usize>(id << 1), <u16>wordStart);
        store<u8>(kwLen + <usize>id, <u8>(out - wordStart));
        insertKeyword(id, wordStart, out - wordStart);
        id++;
      }
      wordStart = out;
    } else {
      store<u8>(kwBytes + <usize>out, <u8>c);
      out++;
    }
  }
}

/** Keyword id of the ASCII-case-folded identifier at [ptr, ptr+len), or KW_NONE. */
export function lookupKeyword(ptr: usize, len: i32): i32 {
  if (len <= 0 || len > MAX_KW_LEN) return KW_NONE;
  let h: u32 = 0;
  for (let i = 0; i < len; i++) h = hashStep(h, fold(<i32>load<u8>(ptr + <usize>i)));
  let slot = <i32>(h & <u32>(HASH_SLOTS - 1));
  for (;;) {
    const id = <i32>load<u16>(kwHash + <usize>(slot << 1));
    if (id == 0) return KW_NONE;
    if (<i32>load<u8>(kwLen + <usize>id) == len) {
      const off = <usize>load<u16>(kwOff + <usize>(id << 1));
      let same = true;
      for (let i = 0; i < len; i++) {
        if (fold(<i32>load<u8>(ptr + <usize>i)) != <i32>load<u8>(kwBytes + off + <usize>i)) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
    slot = (slot + 1) & (HASH_SLOTS - 1);
  }
  return KW_NONE;
}
