/**
 * JS side of the WASM masker (wasm/assembly/mask.ts). Runtime-neutral: the caller passes the
 * compiled WebAssembly.Module (the worker imports mask.wasm; Node uses loadWasmModule("mask")).
 *
 * Arena layout above arenaBase(): [scratch 64 KiB | input batch | output region → end of memory].
 * process() copies the batch in once; WASM walks and rewrites it; an untouched batch is returned
 * as the very same Uint8Array. One masker per session (it keeps RowDescription / COPY state).
 */
import {
  compileConfig,
  serializeItems,
  validateTables,
  DETECTORS,
  MaskingConfigError,
  MaskingError,
  UNKNOWN_SHAPE_COUNT,
  splitColumnGlob,
  type CopyFormatOptions,
  type MaskingConfig,
} from "../../parsers/masking/config.ts";

export { MaskingError, MaskingConfigError, UNKNOWN_SHAPE_COUNT };
export type { MaskingConfig, MaskingRule, CopyFormatOptions, DetectorName, MaskStyle } from "../../parsers/masking/config.ts";

export interface PgMasker {
  /** Feed complete backend messages (server→client); returns the bytes to send on (the same array if nothing changed). */
  process(messages: Uint8Array): Uint8Array;
  /**
   * The next CopyOutResponse belongs to a COPY with these options (default: text, tab, "\N").
   * `header: true` lets the first row of its first CopyData through unmasked and uncounted — pass
   * it only when the COPY … TO STDOUT statement itself turns HEADER on.
   */
  setCopyFormat(format: "text" | "csv", options?: CopyFormatOptions): void;
  /** Replace the table OID → name map used by table-qualified column globs (applies from the next RowDescription). */
  setTables(tables: ReadonlyMap<number, string> | Record<number, string>): void;
  /**
   * Run the content detectors (rules' `detectors` and `patterns`; column rules cannot apply) over
   * plain UTF-8 text such as SSH output. Returns the same array when nothing matched. Counts add
   * up with process()'s. Independent of the PostgreSQL state.
   */
  maskText(text: Uint8Array): Uint8Array;
  /** Values masked so far per rule name (plus UNKNOWN_SHAPE_COUNT, DERIVED_COUNT) — never the values. */
  counts(): Record<string, number>;
  /** The rule (index in config order) a column glob gives this column name/table, or -1. */
  ruleFor(column: string, table?: string): number;
  /**
   * Taint verdicts for the plan of the RowDescription just processed: per column, a rule index,
   * DERIVED_RULE (computed from a masked column: redacted, NULL where the type cannot hold it) or
   * -1 (no column rule; detectors still run). Call right after the RowDescription, before its rows.
   */
  overridePlan(rules: readonly number[]): void;
}

/** The masker with match positions (SSH streams and SFTP file contents). */
export interface TextScanningMasker extends PgMasker {
  /**
   * maskText() that also says where each match is (for streams that must cut between matches, and
   * for same-length masking). Counts nothing: call count() for the spans actually released.
   */
  scanText(text: Uint8Array): TextScan;
  /** Count released matches (by their `rule`) into counts(). */
  count(spans: readonly TextSpan[]): void;
}

/** The masker createMasker() returns: with a borrowed-output variant of process(). */
export interface BorrowingMasker extends TextScanningMasker {
  /**
   * process() without handing the output over as a new array: when something changed, a view of
   * the masker's own memory, valid only until the next call on this masker (any method). For a
   * caller that copies the bytes on at once (into a frame); a fresh array per batch costs page
   * faults that, for big batches, can take as long as the scan (docs/MASKING.md, Performance).
   */
  processView(messages: Uint8Array): Uint8Array;
  /**
   * maskText() for a JS string, as `decode(maskText(encode(text)))` with TextEncoder and
   * TextDecoder gives it, without either array: the text is encoded straight into the masker's
   * memory, and when nothing matched the very same string comes back (request text for the
   * trail: one call per statement).
   */
  maskString(text: string): string;
}

/** One match of scanText(): input bytes [start, end) became output bytes [outStart, outEnd). */
export interface TextSpan {
  rule: number;
  start: number;
  end: number;
  outStart: number;
  outEnd: number;
}

export interface TextScan {
  /** The masked text (the input array itself when nothing matched). */
  output: Uint8Array;
  /** Matches in input order, never overlapping. */
  spans: TextSpan[];
}
/** Rule slot for values derived from masked columns (always redacted / NULL). */
export const DERIVED_RULE = 33;
/** Count name of values masked because they derive from a masked column. */
export const DERIVED_COUNT = "(derived-from-masked)";

/** The slice of the WebAssembly JS API used here (the repo's node-side lib has no WebAssembly values). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: unknown;
}
const WasmInstanceCtor = (globalThis as unknown as {
  WebAssembly: { Instance: new (module: WebAssembly.Module, imports: object) => WasmInstance };
}).WebAssembly.Instance;

interface MaskExports {
  memory: WasmMemory;
  arenaBase(): number;
  cfgReset(): void;
  cfgRule(rule: number, style: number, keep: number): void;
  cfgColumn(rule: number, tPtr: number, tLen: number, cPtr: number, cLen: number): number;
  cfgDetector(det: number, rule: number): void;
  cfgCustom(rule: number, items: number, n: number): number;
  cfgHmacKey(ptr: number, len: number): void;
  cfgUnknownNull(on: number): void;
  cfgFinish(): void;
  tablesReset(): void;
  tableAdd(oid: number, ptr: number, len: number): number;
  ruleForColumn(nPtr: number, nLen: number, tPtr: number, tLen: number): number;
  setCopyPending(kind: number, delim: number, quote: number, escape: number, nullPtr: number, nullLen: number, planN: number, header: number): void;
  setCopyPlanColumn(k: number, rule: number): void;
  planOverride(k: number, rule: number): void;
  countsPtr(): number;
  process(inPtr: number, inLen: number, outPtr: number, outCap: number): number;
  maskText(inPtr: number, len: number, outPtr: number, outCap: number): number;
  maskTextSpans(inPtr: number, len: number, outPtr: number, outCap: number, spansPtr: number, spansCap: number): number;
  spanCount(): number;
  resume(outCap: number): number;
  changed(): number;
  outputLength(): number;
}

const PAGE = 65536;
const SCRATCH = 65536;
const STYLE_CODE = { redact: 0, partial: 1, hash: 2 } as const;
const UNKNOWN_SLOT = 32;
/** scanText(): one match = 5 u32 (rule, input start/end, output start/end). */
const SPAN_BYTES = 20;
const COUNT_SLOTS = 34;
/** Largest batch accepted by one process() call (the tunnel's frames are ≤ 1 MiB). */
const MAX_BATCH = 64 * 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whether `decode(encode(text))` is `text` itself: a well-formed string (a lone surrogate
 * becomes U+FFFD) that does not start with U+FEFF (TextDecoder drops a leading byte order mark).
 */
function roundTrips(text: string): boolean {
  if (text.charCodeAt(0) === 0xfeff) return false;
  const wellFormed = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return wellFormed ? wellFormed.call(text) : false;
}

export function createMasker(module: WebAssembly.Module, config: MaskingConfig): BorrowingMasker {
  const compiled = compileConfig(config);
  const instance = new WasmInstanceCtor(module, {
    env: {
      abort: () => {
        throw new MaskingError("wasm abort", "malformed");
      },
    },
  });
  const x = instance.exports as unknown as MaskExports;
  const scratch = x.arenaBase();
  const dataBase = scratch + SCRATCH;
  const ruleNames = compiled.rules.map((r) => r.name);
  const totals = new Array<number>(COUNT_SLOTS).fill(0);

  function ensureMemory(end: number): void {
    const have = x.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      x.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw new MaskingError("cannot grow WASM memory for masking", "limit");
    }
  }

  /** Masked output is at most ~20× its input (an 18-byte hash for a 1-byte custom match, or a
   * JSON-quoted replacement for an empty value behind its 4-byte length): beyond that, a bug. */
  const maxOutput = (inputLength: number) => 20 * inputLength + 65536;
  ensureMemory(dataBase + PAGE);

  /** Write bytes into the scratch area at offset `at`; returns the pointer. */
  function put(bytes: Uint8Array, at: number): number {
    if (at + bytes.length > SCRATCH) throw new MaskingConfigError("masking: configuration item too large");
    new Uint8Array(x.memory.buffer).set(bytes, scratch + at);
    return scratch + at;
  }

  let scratchView = new Uint8Array(0);
  /** UTF-8 of `text` written at scratch offset `at` (room up to the next 1 KiB slot's end); returns its length. */
  function encodeScratch(text: string, at: number): number {
    if (scratchView.buffer !== x.memory.buffer) scratchView = new Uint8Array(x.memory.buffer, scratch, SCRATCH);
    const room = at === 1024 ? 4096 - 1024 : SCRATCH - at;
    const { read, written } = encoder.encodeInto(text, scratchView.subarray(at, at + room));
    if (read !== text.length) throw new MaskingConfigError("masking: configuration item too large");
    return written;
  }

  function loadTables(tables: Map<number, string>): void {
    x.tablesReset();
    for (const [oid, name] of tables) {
      const bytes = encoder.encode(name);
      if (x.tableAdd(oid >>> 0, put(bytes, 0), bytes.length) < 0) throw new MaskingConfigError("masking: table map too large");
    }
  }

  x.cfgReset();
  for (const rule of compiled.rules) {
    x.cfgRule(rule.index, STYLE_CODE[rule.style], rule.keep);
    for (const { table, column } of rule.columns) {
      const c = encoder.encode(column);
      const t = table === null ? null : encoder.encode(table);
      const cPtr = put(c, 0);
      const tPtr = t ? put(t, 256) : 0;
      if (x.cfgColumn(rule.index, tPtr, t ? t.length : -1, cPtr, c.length) < 0) throw new MaskingConfigError("masking: too many column globs");
    }
  }
  compiled.detectorRule.forEach((rule, det) => x.cfgDetector(det, rule));
  for (const custom of compiled.customs) {
    const items = serializeItems(custom.items);
    if (x.cfgCustom(custom.rule, put(items, 0), custom.items.length) < 0) throw new MaskingConfigError("masking: too many custom patterns");
  }
  x.cfgHmacKey(put(compiled.hashKey, 0), compiled.hashKey.length);
  x.cfgUnknownNull(compiled.unknownNull ? 1 : 0);
  x.cfgFinish();
  loadTables(compiled.tables);
  if (DETECTORS.length !== 14) throw new MaskingConfigError("detector table out of sync with WASM");

  function collectCounts(): void {
    const view = new Uint32Array(x.memory.buffer, x.countsPtr(), COUNT_SLOTS);
    for (let r = 0; r < COUNT_SLOTS; r++) {
      if (view[r] !== 0) {
        totals[r] += view[r]!;
        view[r] = 0;
      }
    }
  }

  function fail(code: number): never {
    if (code === -1) throw new MaskingError("incomplete or badly framed backend message", "framing");
    if (code === -3) throw new MaskingError("backend message that cannot be masked (e.g. CopyBothResponse)", "unsupported");
    throw new MaskingError("malformed backend message", "malformed");
  }

  /** Mask one batch; null when nothing changed, else a view of the output in WASM memory (valid until the next call). */
  function run(messages: Uint8Array): Uint8Array | null {
    if (messages.length === 0) return null;
    if (messages.length > MAX_BATCH) throw new MaskingError("batch too large", "limit");
    const inPtr = dataBase;
    // 32 bytes of slack: the SIMD paths read whole chunks, up to 31 bytes past the last value
    const outPtr = inPtr + ((messages.length + 15) & ~15) + 32;
    let outCap = messages.length + (messages.length >> 2) + 4096;
    ensureMemory(outPtr + outCap);
    new Uint8Array(x.memory.buffer).set(messages, inPtr);
    let status = x.process(inPtr, messages.length, outPtr, outCap);
    while (status === 1) {
      if (outCap >= maxOutput(messages.length)) throw new MaskingError("masked output too large", "limit");
      outCap = Math.min(outCap * 2, maxOutput(messages.length));
      ensureMemory(outPtr + outCap);
      status = x.resume(outCap);
    }
    collectCounts();
    if (status < 0) fail(status);
    if (!x.changed()) return null;
    return new Uint8Array(x.memory.buffer, outPtr, x.outputLength());
  }

  /** Detector pass over the `length` bytes already at dataBase; null when nothing matched, else a view of the output (valid until the next call). */
  function maskTextAt(length: number): Uint8Array | null {
    const inPtr = dataBase;
    const outPtr = inPtr + ((length + 15) & ~15) + 32;
    let outCap = length + (length >> 2) + 4096;
    ensureMemory(outPtr + outCap);
    while (x.maskText(inPtr, length, outPtr, outCap) === 1) {
      if (outCap >= maxOutput(length)) throw new MaskingError("masked output too large", "limit");
      outCap = Math.min(outCap * 2, maxOutput(length));
      ensureMemory(outPtr + outCap);
    }
    collectCounts();
    if (!x.changed()) return null;
    return new Uint8Array(x.memory.buffer, outPtr, x.outputLength());
  }

  return {
    process(messages: Uint8Array): Uint8Array {
      const out = run(messages);
      return out === null ? messages : out.slice();
    },

    processView(messages: Uint8Array): Uint8Array {
      return run(messages) ?? messages;
    },

    maskText(text: Uint8Array): Uint8Array {
      if (text.length === 0) return text;
      if (text.length > MAX_BATCH) throw new MaskingError("text too large", "limit");
      ensureMemory(dataBase + text.length);
      new Uint8Array(x.memory.buffer).set(text, dataBase);
      const out = maskTextAt(text.length);
      return out === null ? text : out.slice();
    },

    maskString(text: string): string {
      if (text.length === 0) return text;
      // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
      const room = text.length * 3;
      if (room > MAX_BATCH) return decoder.decode(this.maskText(encoder.encode(text)));
      ensureMemory(dataBase + room);
      const { written } = encoder.encodeInto(text, new Uint8Array(x.memory.buffer, dataBase, room));
      const out = maskTextAt(written);
      if (out !== null) return decoder.decode(out);
      return roundTrips(text) ? text : decoder.decode(new Uint8Array(x.memory.buffer, dataBase, written));
    },

    scanText(text: Uint8Array): TextScan {
      if (text.length === 0) return { output: text, spans: [] };
      if (text.length > MAX_BATCH) throw new MaskingError("text too large", "limit");
      const inPtr = dataBase;
      const outPtr = inPtr + ((text.length + 15) & ~15) + 32;
      let outCap = text.length + (text.length >> 2) + 4096;
      let spanCap = 256;
      for (;;) {
        const spansPtr = outPtr + ((outCap + 15) & ~15);
        ensureMemory(spansPtr + spanCap * SPAN_BYTES);
        new Uint8Array(x.memory.buffer).set(text, inPtr);
        const status = x.maskTextSpans(inPtr, text.length, outPtr, outCap, spansPtr, spanCap);
        // This call's counts are discarded: the caller counts what it releases (count()).
        new Uint32Array(x.memory.buffer, x.countsPtr(), UNKNOWN_SLOT + 1).fill(0);
        if (status === 1) {
          if (outCap >= maxOutput(text.length)) throw new MaskingError("masked output too large", "limit");
          outCap = Math.min(outCap * 2, maxOutput(text.length));
          continue;
        }
        const n = x.spanCount();
        if (n > spanCap) {
          spanCap = n;
          continue;
        }
        if (!x.changed()) return { output: text, spans: [] };
        const words = new Uint32Array(x.memory.buffer, spansPtr, n * 5);
        const spans: TextSpan[] = [];
        for (let k = 0; k < n; k++) {
          spans.push({ rule: words[k * 5]!, start: words[k * 5 + 1]!, end: words[k * 5 + 2]!, outStart: words[k * 5 + 3]!, outEnd: words[k * 5 + 4]! });
        }
        return { output: new Uint8Array(x.memory.buffer, outPtr, x.outputLength()).slice(), spans };
      }
    },

    count(spans: readonly TextSpan[]): void {
      for (const s of spans) if (s.rule >= 0 && s.rule < UNKNOWN_SLOT) totals[s.rule] = totals[s.rule]! + 1;
    },

    setCopyFormat(format: "text" | "csv", options: CopyFormatOptions = {}): void {
      const csv = format === "csv";
      if (format !== "text" && format !== "csv") throw new MaskingConfigError("copy format must be text or csv");
      const byte = (s: string | undefined, dflt: number, what: string): number => {
        if (s === undefined) return dflt;
        const b = encoder.encode(s);
        if (b.length !== 1 || b[0]! >= 0x80) throw new MaskingConfigError(`copy ${what} must be one ASCII character`);
        return b[0]!;
      };
      const delim = byte(options.delimiter, csv ? 44 : 9, "delimiter");
      const quote = byte(options.quote, 34, "quote");
      const escape = byte(options.escape, quote, "escape");
      const nul = encoder.encode(options.null ?? (csv ? "" : "\\N"));
      if (nul.length > 64) throw new MaskingConfigError("copy null string too long");
      const cols = options.columns;
      if (cols && cols.length > 1664) throw new MaskingConfigError("too many copy columns");
      x.setCopyPending(csv ? 1 : 0, delim, quote, escape, put(nul, 0), nul.length, cols ? cols.length : -1, options.header === true ? 1 : 0);
      if (cols) {
        const t = options.table ? encoder.encode(options.table) : new Uint8Array(0);
        const tPtr = put(t, 1024);
        cols.forEach((name, k) => {
          const n = encoder.encode(name);
          const forced = options.rules?.[k];
          x.setCopyPlanColumn(k, forced !== undefined && forced >= 0 ? forced : x.ruleForColumn(put(n, 4096), n.length, tPtr, t.length));
        });
      }
    },

    setTables(tables): void {
      loadTables(validateTables(tables));
    },

    counts(): Record<string, number> {
      const out: Record<string, number> = {};
      ruleNames.forEach((name, r) => {
        out[name] = totals[r]!;
      });
      if (totals[UNKNOWN_SLOT]! > 0) out[UNKNOWN_SHAPE_COUNT] = totals[UNKNOWN_SLOT]!;
      if (totals[DERIVED_RULE]! > 0) out[DERIVED_COUNT] = totals[DERIVED_RULE]!;
      return out;
    },

    ruleFor(column: string, table?: string): number {
      // Called once per catalogue column when a session starts (thousands of times): encode
      // straight into the scratch area, no intermediate arrays.
      const n = encodeScratch(column, 4096);
      const t = encodeScratch(table ?? "", 1024);
      return x.ruleForColumn(scratch + 4096, n, scratch + 1024, t);
    },

    overridePlan(rules: readonly number[]): void {
      rules.forEach((rule, k) => x.planOverride(k, rule));
    },
  };
}

/** Exposed for tests: the column-glob split used by both implementations. */
export { splitColumnGlob };
