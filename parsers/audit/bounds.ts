/**
 * Bounded event sizes. A producer can hand the recorder arbitrarily large text (a 50 MB COPY
 * statement, a huge error message); the trail must stay bounded yet never lose the fact that
 * something was cut. Every cut is listed in the event's `truncated` field with the path and the
 * original UTF-8 size — inside the hashed content, so it cannot be removed unnoticed.
 */
import { canonicalize, toWellFormed } from "../encoding/jcs.ts";
import { utf8, utf8Length } from "./bytes.ts";
import type { FieldTruncation, UnchainedEvent } from "./types.ts";

export interface EventBounds {
  /** Max UTF-8 bytes of any single string value in `data` (query text, an error message, a cell). Default 64 KiB. */
  maxFieldBytes: number;
  /** Max rows kept in a result's rows_sample. Default 20. */
  maxSampleRows: number;
  /** Max canonical size of a whole event; above it, sampled rows are dropped, then strings cut harder. Default 256 KiB. */
  maxEventBytes: number;
}

export const DEFAULT_EVENT_BOUNDS: EventBounds = {
  maxFieldBytes: 64 * 1024,
  maxSampleRows: 20,
  maxEventBytes: 256 * 1024,
};

/** Cut a string to at most maxBytes of UTF-8 without splitting a code point. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  const bytes = utf8(s);
  let end = maxBytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back off continuation bytes
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/** Returns a bounded copy of the event (the input is not modified). */
export function boundEvent<E extends UnchainedEvent>(event: E, bounds: EventBounds = DEFAULT_EVENT_BOUNDS): E {
  const cuts: FieldTruncation[] = [...(event.truncated ?? [])];
  let data = cutStrings(event.data, "", bounds.maxFieldBytes, cuts) as E["data"];
  const sample = (data as { rows_sample?: unknown[] }).rows_sample;
  if (Array.isArray(sample) && sample.length > bounds.maxSampleRows) {
    cuts.push({ field: "rows_sample", original_bytes: utf8Length(canonicalize(sample)) });
    data = { ...data, rows_sample: sample.slice(0, bounds.maxSampleRows) };
  }
  let out = withCuts(event, data, cuts);
  if (utf8Length(canonicalize(out)) <= bounds.maxEventBytes) return out;

  // Still too big: first give up the sampled rows (the row count stays), then cut every string hard.
  const rows = (data as { rows_sample?: unknown[] }).rows_sample;
  if (Array.isArray(rows) && rows.length > 0) {
    cuts.push({ field: "rows_sample", original_bytes: utf8Length(canonicalize(rows)) });
    data = { ...data, rows_sample: [] };
    out = withCuts(event, data, cuts);
    if (utf8Length(canonicalize(out)) <= bounds.maxEventBytes) return out;
  }
  const hard = Math.max(64, Math.floor(bounds.maxFieldBytes / 64));
  data = cutStrings(data, "", hard, cuts) as E["data"];
  out = withCuts(event, data, cuts);
  if (utf8Length(canonicalize(out)) <= bounds.maxEventBytes) return out;
  // Pathological shapes (thousands of columns…): keep only the scalar fields.
  const scalars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as unknown as Record<string, unknown>)) {
    if (v === null || typeof v !== "object") Object.defineProperty(scalars, k, { value: v, enumerable: true, writable: true, configurable: true });
    else cuts.push({ field: k, original_bytes: utf8Length(canonicalize(v)) });
  }
  return withCuts(event, scalars as unknown as E["data"], cuts);
}

function withCuts<E extends UnchainedEvent>(event: E, data: E["data"], cuts: FieldTruncation[]): E {
  const out = { ...event, data };
  if (cuts.length > 0) out.truncated = dedupe(cuts);
  return out;
}

/**
 * One entry per path (first cut wins: it has the original size); a field removed as a whole
 * absorbs the cuts below it; more than MAX_CUTS_PER_FIELD cuts under one top-level field collapse
 * into a single "<field>.*" entry with the summed size, so the marker list itself stays small.
 */
const MAX_CUTS_PER_FIELD = 4;
function dedupe(cuts: FieldTruncation[]): FieldTruncation[] {
  const seen = new Map<string, FieldTruncation>();
  for (const c of cuts) if (!seen.has(c.field)) seen.set(c.field, c);
  const all = [...seen.values()];
  const whole = new Set(all.filter((c) => !c.field.includes(".")).map((c) => c.field));
  const groups = new Map<string, FieldTruncation[]>();
  for (const c of all) {
    const top = c.field.split(".")[0];
    if (c.field.includes(".") && whole.has(top)) continue;
    const g = groups.get(top) ?? [];
    g.push(c);
    groups.set(top, g);
  }
  const out: FieldTruncation[] = [];
  for (const [top, g] of groups) {
    if (g.length <= MAX_CUTS_PER_FIELD) out.push(...g);
    else out.push({ field: `${top}.*`, original_bytes: g.reduce((n, c) => n + c.original_bytes, 0) });
  }
  return out;
}

/**
 * Also makes every string and member name well-formed Unicode: a lone UTF-16 surrogate (possible
 * in text that came from JSON escapes, e.g. token claims) has no UTF-8 form, so the canonical JSON
 * (RFC 8785) refuses it; it is recorded as U+FFFD instead of failing the recording.
 */
function cutStrings(value: unknown, path: string, maxBytes: number, cuts: FieldTruncation[]): unknown {
  if (typeof value === "string") {
    const text = toWellFormed(value);
    const n = utf8Length(text);
    if (n <= maxBytes) return text;
    cuts.push({ field: path, original_bytes: n });
    return truncateUtf8(text, maxBytes);
  }
  if (Array.isArray(value)) return value.map((v, i) => cutStrings(v, path === "" ? String(i) : `${path}.${i}`, maxBytes, cuts));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = toWellFormed(k);
      // defineProperty: a member named "__proto__" (JSON.parse makes such own members) stays a member.
      Object.defineProperty(out, key, { value: cutStrings(v, path === "" ? key : `${path}.${key}`, maxBytes, cuts), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** An event bounded as boundEvent does, with its data (and truncation list) already in canonical form. */
export interface EncodedEvent<E extends UnchainedEvent = UnchainedEvent> {
  event: E;
  data: string;
  truncated?: string;
  ts: number;
  type: string;
  /** UTF-8 size of canonical(event): what maxEventBytes bounds. */
  bytes: number;
}

/**
 * boundEvent plus the canonical encoding, encoding `data` once. The common case (every string
 * well-formed and under maxFieldBytes, the sample within maxSampleRows, the event under
 * maxEventBytes) does no copy of `data` and one canonicalization; anything else takes
 * boundEvent's path, so the result is always identical to canonicalize(boundEvent(event)).
 */
export function encodeBoundedEvent<E extends UnchainedEvent>(event: E, bounds: EventBounds = DEFAULT_EVENT_BOUNDS): EncodedEvent<E> {
  if (event.truncated === undefined && withinFieldBounds(event.data, bounds.maxFieldBytes, 0)) {
    const sample = (event.data as { rows_sample?: unknown[] }).rows_sample;
    if (!Array.isArray(sample) || sample.length <= bounds.maxSampleRows) {
      let data: string | undefined;
      try {
        data = canonicalize(event.data);
      } catch {
        data = undefined; // a lone surrogate somewhere: boundEvent replaces it
      }
      if (data !== undefined) {
        const encoded = envelope(event, data, undefined);
        if (encoded.bytes <= bounds.maxEventBytes) return encoded;
      }
    }
  }
  const bounded = boundEvent(event, bounds);
  return envelope(bounded, canonicalize(bounded.data), bounded.truncated ? canonicalize(bounded.truncated) : undefined);
}

function envelope<E extends UnchainedEvent>(event: E, data: string, truncated: string | undefined): EncodedEvent<E> {
  // canonical(event) = {"data":D,["truncated":T,]"ts":N,"type":S} — member names are ASCII.
  const ts = canonicalize(event.ts);
  const type = canonicalize(event.type);
  const bytes = 8 + utf8Length(data) + (truncated !== undefined ? 13 + utf8Length(truncated) : 0) + 6 + ts.length + 8 + utf8Length(type) + 1;
  return { event, data, ...(truncated !== undefined ? { truncated } : {}), ts: event.ts, type: event.type, bytes };
}

/** True when no string in `value` can exceed maxBytes of UTF-8 (cheap length test first). */
function withinFieldBounds(value: unknown, maxBytes: number, depth: number): boolean {
  if (typeof value === "string") return value.length * 3 <= maxBytes || utf8Length(value) <= maxBytes;
  if (value === null || typeof value !== "object" || depth > 64) return depth <= 64;
  if (Array.isArray(value)) {
    for (const v of value) if (!withinFieldBounds(v, maxBytes, depth + 1)) return false;
    return true;
  }
  for (const k in value as Record<string, unknown>) {
    if (!withinFieldBounds((value as Record<string, unknown>)[k], maxBytes, depth + 1)) return false;
  }
  return true;
}
