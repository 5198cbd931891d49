/**
 * Masking configuration: the rule shape the policy embeds (`masking: { rules: [...] }`), its
 * validation, and compilation of custom patterns. Shared by the WASM masker
 * (wasm/loader/mask.ts) and the test-only TypeScript reference (reference.ts). Runtime-neutral.
 */

/** Built-in content detectors, in the priority order they are tried at a position. */
export const DETECTORS = [
  "private_key",
  "password_hash",
  "jwt",
  "github_token",
  "gitlab_token",
  "slack_token",
  "aws_access_key",
  "bearer",
  "aws_secret_key",
  "email",
  "iban",
  "card",
  "ssn",
  "phone",
] as const;
export type DetectorName = (typeof DETECTORS)[number];

export type MaskStyle = "redact" | "partial" | "hash";

export interface MaskingRule {
  /** Audit name; counts are reported per rule name. Unique, [A-Za-z0-9_.-]{1,64}. */
  name: string;
  /** Column globs (`*password*`, `ssn`, `customers.email`): the whole value of a matching column is masked. */
  columns?: string[];
  /** Content detectors run over values of columns no column rule claimed ("all" = every built-in). */
  detectors?: (DetectorName | "all")[];
  /** Custom patterns in the small syntax of docs/MASKING.md (not JS regex). */
  patterns?: string[];
  style: MaskStyle;
  /** partial: how many trailing characters stay visible (default 4, at most 16). */
  keep?: number;
  /**
   * `predicates: refuse`: statements that use masked data in WHERE / JOIN / ORDER BY / GROUP BY /
   * HAVING are refused (closes boolean and ordering oracles). Default `allow`. PostgreSQL worker only.
   */
  mask?: { predicates?: "refuse" | "allow" };
}

export interface MaskingConfig {
  rules: MaskingRule[];
  /** Per-tenant HMAC key for `hash` rules (≥ 16 bytes; a string is UTF-8 encoded). */
  hashKey?: Uint8Array | string;
  /** Table OID → table name ("customers" or "public.customers"), for table-qualified column globs. */
  tables?: ReadonlyMap<number, string> | Record<number, string>;
  /**
   * Rows whose shape is unknown (a DataRow with no matching RowDescription, e.g. a re-executed
   * prepared statement; a COPY whose column names the caller did not pass): "null" replaces every
   * value with NULL, "detect" runs the detectors only (a hit NULLs the value: its type is unknown).
   * Default: "null" when any rule has column globs (fail closed), else "detect".
   */
  unknownShape?: "null" | "detect";
}

/** Options of a `COPY … TO STDOUT` as the worker read them from the SQL. */
export interface CopyFormatOptions {
  /** Single-byte delimiter (default tab for text, "," for CSV). */
  delimiter?: string;
  /** CSV quote (default '"'). */
  quote?: string;
  /** CSV escape (default = quote). */
  escape?: string;
  /** NULL string (default "\\N" for text, "" for CSV). */
  null?: string;
  /** Column names in output order (from `COPY t (a, b)` or the catalog); enables column rules. */
  columns?: string[];
  /** Table name of `COPY t …` (for table-qualified column globs). */
  table?: string;
  /**
   * Per column, a rule index that replaces the one found by name (taint analysis: a value derived
   * from a masked column gets the derived slot); -1 or missing: by name. Worker-only.
   */
  rules?: number[];
  /**
   * The COPY's output starts with a header line (`HEADER` on, text or CSV): the first row of the
   * first CopyData passes unmasked and is not counted. Column names only — never set it unless the
   * statement's own options turn HEADER on (protocols/postgres/codec/copy-options.ts).
   */
  header?: boolean;
}

export class MaskingConfigError extends Error {
  override name = "MaskingConfigError";
}

/** The masked stream could not be produced (malformed or unsupported input): end the session. */
export class MaskingError extends Error {
  override name = "MaskingError";
  constructor(message: string, readonly code: "framing" | "malformed" | "unsupported" | "limit") {
    super(message);
  }
}

export const LIMITS = {
  rules: 32,
  columnPatternsTotal: 256,
  columnPatternBytes: 8192,
  customPatterns: 16,
  patternItems: 32,
  patternLength: 256,
  tables: 1024,
  tableNameBytes: 32768,
  maxColumns: 1664,
} as const;

/** A compiled custom pattern item: a byte set with a repetition range, or a \b assertion. */
export interface PatternItem {
  kind: "set" | "boundary";
  min: number;
  max: number;
  /** 256-bit membership bitmap (bit c of byte c>>3). */
  set: Uint8Array;
}

export interface CompiledRule {
  name: string;
  index: number;
  style: MaskStyle;
  keep: number;
  columns: { table: string | null; column: string }[];
}

export interface CompiledConfig {
  rules: CompiledRule[];
  /** detector index (DETECTORS order) → rule index, -1 when disabled. First rule listing it wins. */
  detectorRule: number[];
  customs: { rule: number; items: PatternItem[]; source: string }[];
  hashKey: Uint8Array;
  unknownNull: boolean;
  tables: Map<number, string>;
}

export const UNKNOWN_SHAPE_COUNT = "(unknown-row-shape)";

const encoder = new TextEncoder();
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function tableMap(t: MaskingConfig["tables"]): Map<number, string> {
  const out = new Map<number, string>();
  if (!t) return out;
  const entries = t instanceof Map ? [...t.entries()] : Object.entries(t).map(([k, v]) => [Number(k), v] as const);
  for (const [oid, name] of entries) {
    if (!Number.isInteger(oid) || oid <= 0 || oid > 0xffffffff) throw new MaskingConfigError(`tables: bad OID ${oid}`);
    if (typeof name !== "string" || name.length === 0 || name.length > 128) throw new MaskingConfigError(`tables: bad name for OID ${oid}`);
    out.set(oid, name);
  }
  if (out.size > LIMITS.tables) throw new MaskingConfigError(`tables: more than ${LIMITS.tables} entries`);
  let bytes = 0;
  for (const name of out.values()) bytes += encoder.encode(name).length;
  if (bytes > LIMITS.tableNameBytes) throw new MaskingConfigError("tables: names too long in total");
  return out;
}

export function validateTables(t: MaskingConfig["tables"]): Map<number, string> {
  return tableMap(t);
}

/** Split "table.column" at the last dot; a glob without a dot has no table part. */
export function splitColumnGlob(glob: string): { table: string | null; column: string } {
  const dot = glob.lastIndexOf(".");
  return dot < 0 ? { table: null, column: glob } : { table: glob.slice(0, dot), column: glob.slice(dot + 1) };
}

export function compileConfig(config: MaskingConfig): CompiledConfig {
  if (!config || !Array.isArray(config.rules)) throw new MaskingConfigError("masking: rules must be an array");
  if (config.rules.length > LIMITS.rules) throw new MaskingConfigError(`masking: at most ${LIMITS.rules} rules`);
  const seen = new Set<string>();
  const rules: CompiledRule[] = [];
  const detectorRule = DETECTORS.map(() => -1);
  const customs: CompiledConfig["customs"] = [];
  let columnPatterns = 0;
  let columnBytes = 0;
  let needsKey = false;
  config.rules.forEach((rule, index) => {
    const where = `masking rule ${index}`;
    if (!rule || typeof rule.name !== "string" || !NAME_RE.test(rule.name)) throw new MaskingConfigError(`${where}: name must match ${NAME_RE}`);
    if (seen.has(rule.name)) throw new MaskingConfigError(`${where}: duplicate name "${rule.name}"`);
    seen.add(rule.name);
    if (rule.style !== "redact" && rule.style !== "partial" && rule.style !== "hash") {
      throw new MaskingConfigError(`${where}: style must be redact, partial or hash`);
    }
    if (rule.style === "hash") needsKey = true;
    if (rule.mask !== undefined) {
      const m = rule.mask as unknown;
      const keys = m && typeof m === "object" && !Array.isArray(m) ? Object.keys(m) : null;
      if (!keys || keys.some((k) => k !== "predicates") || ![undefined, "refuse", "allow"].includes((m as { predicates?: string }).predicates)) {
        throw new MaskingConfigError(`${where}: mask must be { predicates: refuse | allow }`);
      }
    }
    const keep = rule.keep ?? 4;
    if (!Number.isInteger(keep) || keep < 0 || keep > 16) throw new MaskingConfigError(`${where}: keep must be an integer 0..16`);
    // The policy file is YAML: a list may arrive as a map or a scalar (fail with its own message, not a TypeError).
    for (const key of ["columns", "detectors", "patterns"] as const) {
      if (rule[key] !== undefined && !Array.isArray(rule[key])) throw new MaskingConfigError(`${where}: ${key} must be a list`);
    }
    const columns = (rule.columns ?? []).map((g) => {
      if (typeof g !== "string" || g.length === 0 || g.length > 128 || !/^[\x20-\x7e]+$/.test(g)) {
        throw new MaskingConfigError(`${where}: column globs are 1..128 printable ASCII characters`);
      }
      const parts = splitColumnGlob(g);
      if (parts.column.length === 0 || parts.table === "") throw new MaskingConfigError(`${where}: bad column glob "${g}"`);
      columnPatterns++;
      columnBytes += g.length;
      return parts;
    });
    for (const d of rule.detectors ?? []) {
      const list = d === "all" ? DETECTORS : [d];
      for (const name of list) {
        const k = DETECTORS.indexOf(name as DetectorName);
        if (k < 0) throw new MaskingConfigError(`${where}: unknown detector "${String(name)}"`);
        if (detectorRule[k] < 0) detectorRule[k] = index;
      }
    }
    for (const source of rule.patterns ?? []) {
      customs.push({ rule: index, items: compilePattern(source), source });
    }
    if (!rule.columns?.length && !rule.detectors?.length && !rule.patterns?.length) {
      throw new MaskingConfigError(`${where}: needs columns, detectors or patterns`);
    }
    rules.push({ name: rule.name, index, style: rule.style, keep, columns });
  });
  if (columnPatterns > LIMITS.columnPatternsTotal || columnBytes > LIMITS.columnPatternBytes) {
    throw new MaskingConfigError("masking: too many column globs");
  }
  if (customs.length > LIMITS.customPatterns) throw new MaskingConfigError(`masking: at most ${LIMITS.customPatterns} custom patterns`);
  let hashKey: Uint8Array = new Uint8Array(0);
  if (config.hashKey !== undefined) {
    hashKey = typeof config.hashKey === "string" ? encoder.encode(config.hashKey) : new Uint8Array(config.hashKey);
  }
  if (needsKey && hashKey.length < 16) throw new MaskingConfigError("masking: hash rules need a hashKey of at least 16 bytes");
  const unknownShape = config.unknownShape ?? (columnPatterns > 0 ? "null" : "detect");
  if (unknownShape !== "null" && unknownShape !== "detect") throw new MaskingConfigError("masking: unknownShape must be null or detect");
  return { rules, detectorRule, customs, hashKey, unknownNull: unknownShape === "null", tables: tableMap(config.tables) };
}

// ---------------------------------------------------------------- custom patterns
const MAX_REPEAT = 65535;

function bitmap(): Uint8Array {
  return new Uint8Array(32);
}
function addByte(set: Uint8Array, c: number): void {
  set[c >> 3] |= 1 << (c & 7);
}
function addRange(set: Uint8Array, lo: number, hi: number): void {
  for (let c = lo; c <= hi; c++) addByte(set, c);
}
function invert(set: Uint8Array): Uint8Array {
  return set.map((v) => ~v & 0xff);
}
function escapeSet(ch: string): Uint8Array | null {
  const set = bitmap();
  switch (ch) {
    case "d": addRange(set, 48, 57); return set;
    case "w": addRange(set, 48, 57); addRange(set, 65, 90); addRange(set, 97, 122); addByte(set, 95); return set;
    case "s": for (const c of [9, 10, 11, 12, 13, 32]) addByte(set, c); return set;
    case "D": return invert(escapeSet("d")!);
    case "W": return invert(escapeSet("w")!);
    case "S": return invert(escapeSet("s")!);
    default: return null;
  }
}

/**
 * Compile a custom pattern. Syntax (byte-oriented, case-sensitive, anchored at token starts):
 * literals; `\` escapes of punctuation; `\d \w \s \D \W \S`; `.` (any byte but newline);
 * `[...]` / `[^...]` classes of ASCII bytes and ranges; `\b` word boundary; quantifiers
 * `? * + {n} {n,} {n,m}` after an atom. Repetition is possessive (greedy, no backtracking).
 */
export function compilePattern(source: string): PatternItem[] {
  const fail = (why: string): never => {
    throw new MaskingConfigError(`pattern ${JSON.stringify(source)}: ${why}`);
  };
  if (typeof source !== "string" || source.length === 0 || source.length > LIMITS.patternLength) fail("must be 1..256 characters");
  const items: PatternItem[] = [];
  let i = 0;
  const bytes = encoder.encode(source);
  const ch = (k: number) => String.fromCharCode(bytes[k]!);
  while (i < bytes.length) {
    const c = ch(i);
    let item: PatternItem;
    if (c === "\\") {
      if (i + 1 >= bytes.length) fail("trailing backslash");
      const e = ch(i + 1);
      i += 2;
      if (e === "b") {
        items.push({ kind: "boundary", min: 0, max: 0, set: bitmap() });
        continue;
      }
      const set = escapeSet(e);
      if (set) item = { kind: "set", min: 1, max: 1, set };
      else if (/[A-Za-z0-9]/.test(e)) fail(`unknown escape \\${e}`);
      else {
        const s = bitmap();
        addByte(s, e.charCodeAt(0));
        item = { kind: "set", min: 1, max: 1, set: s };
      }
    } else if (c === "[") {
      let k = i + 1;
      let negate = false;
      if (k < bytes.length && ch(k) === "^") {
        negate = true;
        k++;
      }
      const set = bitmap();
      let first = true;
      while (k < bytes.length && (ch(k) !== "]" || first)) {
        first = false;
        let lo: number;
        if (bytes[k]! >= 0x80) fail("classes hold ASCII only");
        if (ch(k) === "\\") {
          if (k + 1 >= bytes.length) fail("unterminated class");
          const esc = escapeSet(ch(k + 1));
          if (esc) {
            for (let b = 0; b < 32; b++) set[b] |= esc[b]!;
            k += 2;
            continue;
          }
          lo = bytes[k + 1]!;
          k += 2;
        } else {
          lo = bytes[k]!;
          k++;
        }
        if (k + 1 < bytes.length && ch(k) === "-" && ch(k + 1) !== "]") {
          let hi = bytes[k + 1]!;
          if (ch(k + 1) === "\\") {
            if (k + 2 >= bytes.length) fail("unterminated class");
            hi = bytes[k + 2]!;
            k++;
          }
          if (hi >= 0x80) fail("classes hold ASCII only");
          if (hi < lo) fail("bad range");
          addRange(set, lo, hi);
          k += 2;
        } else {
          addByte(set, lo);
        }
      }
      if (k >= bytes.length) fail("unterminated class");
      i = k + 1;
      item = { kind: "set", min: 1, max: 1, set: negate ? invert(set) : set };
    } else if (c === ".") {
      const set = invert(bitmap());
      set[10 >> 3] &= ~(1 << (10 & 7));
      item = { kind: "set", min: 1, max: 1, set };
      i++;
    } else if ("?*+{}()|^$]".includes(c)) {
      fail(`unexpected "${c}" (escape it with a backslash)`);
    } else {
      const s = bitmap();
      addByte(s, bytes[i]!);
      item = { kind: "set", min: 1, max: 1, set: s };
      i++;
    }
    // quantifier
    if (i < bytes.length) {
      const q = ch(i);
      if (q === "?") { item!.min = 0; item!.max = 1; i++; }
      else if (q === "*") { item!.min = 0; item!.max = MAX_REPEAT; i++; }
      else if (q === "+") { item!.min = 1; item!.max = MAX_REPEAT; i++; }
      else if (q === "{") {
        const close = bytes.indexOf(0x7d, i);
        const m = close < 0 ? null : /^\{(\d{1,4})(,(\d{0,4}))?\}$/.exec(new TextDecoder().decode(bytes.subarray(i, close + 1)));
        if (!m) fail("bad {n,m} quantifier");
        const min = Number(m![1]);
        const max = m![2] === undefined ? min : m![3] === "" ? MAX_REPEAT : Number(m![3]);
        if (min > 1024 || (max !== MAX_REPEAT && max > 1024) || max < min || max === 0) fail("bad {n,m} bounds");
        item!.min = min;
        item!.max = max;
        i = close + 1;
      }
    }
    items.push(item!);
  }
  if (items.length > LIMITS.patternItems) fail(`more than ${LIMITS.patternItems} items`);
  if (!items.some((it) => it.kind === "set" && it.min > 0)) fail("can match the empty string");
  return items;
}

/** The 40-byte WASM layout of one item (wasm/assembly/mask.ts ITEM_SIZE). */
export function serializeItems(items: PatternItem[]): Uint8Array {
  const out = new Uint8Array(items.length * 40);
  const view = new DataView(out.buffer);
  items.forEach((it, k) => {
    const o = k * 40;
    out[o] = it.kind === "boundary" ? 1 : 0;
    view.setUint16(o + 2, it.min, true);
    view.setUint16(o + 4, it.max, true);
    out.set(it.set, o + 8);
  });
  return out;
}
