/**
 * The export format: JSON Lines, one event or checkpoint per line, in trail order, each line the
 * canonical JSON of the object (so the file is byte-identical to what was hashed and signed) and
 * terminated by "\n". An export is the concatenation of the session's chunks in chunk order.
 */
import { canonicalize } from "../encoding/jcs.ts";
import { isCheckpoint, type AuditEvent, type TrailLine } from "./types.ts";

export function serializeLine(line: TrailLine): string {
  return canonicalize(line) + "\n";
}

export function serializeTrail(lines: readonly TrailLine[]): string {
  let out = "";
  for (const l of lines) out += serializeLine(l);
  return out;
}

export interface ParsedLine {
  /** 1-based line number in the input. */
  line: number;
  value: TrailLine;
  /** The line as read (without surrounding whitespace): the verifier requires it to be canonical. */
  raw?: string;
}

export class TrailParseError extends Error {
  override name = "TrailParseError";
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses and shape-checks every line; blank lines are skipped. Throws TrailParseError on the first bad line. */
export function parseTrail(text: string): ParsedLine[] {
  const out: ParsedLine[] = [];
  const rows = text.split("\n");
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i].trim();
    if (raw === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new TrailParseError(i + 1, "not valid JSON");
    }
    const problem = shapeProblem(value);
    if (problem) throw new TrailParseError(i + 1, problem);
    out.push({ line: i + 1, value: value as TrailLine, raw });
  }
  return out;
}

function shapeProblem(v: unknown): string | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return "not a JSON object";
  const o = v as Record<string, unknown>;
  if (typeof o.type !== "string") return "missing type";
  if (o.v !== 1) return `unsupported format version ${String(o.v)}`;
  if (o.type === "checkpoint") {
    for (const k of ["chunk", "first_seq", "last_seq", "ts"]) if (!Number.isInteger(o[k])) return `checkpoint ${k} must be an integer`;
    for (const k of ["session", "kid", "sig"]) if (typeof o[k] !== "string") return `checkpoint ${k} must be a string`;
    if (typeof o.last_hash !== "string" || !HEX64.test(o.last_hash)) return "checkpoint last_hash must be 64 hex digits";
    if (typeof o.final !== "boolean") return "checkpoint final must be a boolean";
    return undefined;
  }
  if (!Number.isInteger(o.seq) || (o.seq as number) < 0) return "event seq must be a non-negative integer";
  if (typeof o.ts !== "number") return "event ts must be a number";
  if (typeof o.prev !== "string" || !HEX64.test(o.prev)) return "event prev must be 64 hex digits";
  if (typeof o.hash !== "string" || !HEX64.test(o.hash)) return "event hash must be 64 hex digits";
  if (!o.data || typeof o.data !== "object" || Array.isArray(o.data)) return "event data must be an object";
  return undefined;
}

/**
 * The events of a trail text, checkpoints left out; empty when the text does not parse (callers
 * verify the trail separately, and the verification result says why).
 */
export function trailEvents(text: string): AuditEvent[] {
  try {
    return parseTrail(text)
      .map((l) => l.value)
      .filter((l): l is AuditEvent => !isCheckpoint(l));
  } catch {
    return [];
  }
}
