/**
 * Verification of a trail (an export, or the chunks read back from storage): the chain, the
 * checkpoints' signatures, and completeness. Reports the FIRST problem with the seq it concerns.
 * The procedure is specified in docs/AUDIT.md ("Verification") so a third party can re-implement it.
 */
import { canonicalize, JcsError } from "../encoding/jcs.ts";
import { computeEventHash, genesisHash } from "./chain.ts";
import { parseTrail, TrailParseError, type ParsedLine } from "./jsonl.ts";
import { CheckpointVerifier } from "./signing.ts";
import { isCheckpoint, type AuditEvent, type AuditPublicKey, type Checkpoint, type TrailLine } from "./types.ts";

export type VerifyErrorKind = "altered" | "removed" | "inserted" | "reordered" | "bad-signature" | "unknown-key" | "truncated";

export interface VerifyError {
  /** The event sequence number the problem is about (for a missing event: the first missing seq). */
  seq: number;
  kind: VerifyErrorKind;
  message: string;
  /** 1-based line of the trail where it was detected, when there is one. */
  line?: number;
  chunk?: number;
}

export interface VerifyResult {
  ok: boolean;
  session?: string;
  /** Events accepted as part of a valid chain (up to the error, if any). */
  events: number;
  /** Signed checkpoints accepted. */
  chunks: number;
  /** Ends with session.end sealed by a valid final checkpoint. */
  complete: boolean;
  /** Events after the last checkpoint (only allowed with requireComplete: false). */
  unsealed: number;
  last_hash?: string;
  kids: string[];
  error?: VerifyError;
}

export interface VerifyOptions {
  /** Public keys (the /.well-known/gatehouse-audit-keys document's `keys`). */
  keys: readonly AuditPublicKey[];
  /** The session the trail must belong to; defaults to the first checkpoint's (signed) session. */
  sessionId?: string;
  /**
   * Default true: the trail must end with session.end sealed by a final checkpoint. Set false only
   * for a session that is still running (its unsealed tail is then reported, not trusted).
   */
  requireComplete?: boolean;
  /** Number of chunks the session index says exist (online verification). */
  expectedChunks?: number;
}

export async function verifyTrailText(text: string, options: VerifyOptions): Promise<VerifyResult> {
  let lines: ParsedLine[];
  try {
    lines = parseTrail(text);
  } catch (e) {
    if (e instanceof TrailParseError) {
      return { ok: false, events: 0, chunks: 0, complete: false, unsealed: 0, kids: [], error: { seq: -1, kind: "altered", message: e.message, line: e.line } };
    }
    throw e;
  }
  const odd = lines.find((l) => !isCanonicalLine(l.raw!, l.value));
  if (odd) {
    const seq = isCheckpoint(odd.value) ? odd.value.last_seq : odd.value.seq;
    const message = `line ${odd.line} is not the canonical JSON (RFC 8785) of its content: it was rewritten (duplicate keys, other spellings or values with no canonical form)`;
    return { ok: false, events: 0, chunks: 0, complete: false, unsealed: 0, kids: [], error: { seq, kind: "altered", message, line: odd.line } };
  }
  return verifyTrail(lines, options);
}

/**
 * Every line of an export is the canonical JSON of its object. A line that only parses to the
 * signed content — a duplicated key whose first value other tools would show, escapes or number
 * spellings — is refused: what verifies must be exactly what was signed.
 */
function isCanonicalLine(raw: string, value: TrailLine): boolean {
  try {
    return canonicalize(value) === raw;
  } catch (err) {
    if (err instanceof JcsError) return false;
    throw err;
  }
}

export async function verifyTrail(input: readonly ParsedLine[] | readonly TrailLine[], options: VerifyOptions): Promise<VerifyResult> {
  const lines: ParsedLine[] = input.map((l, i) => ("value" in l && "line" in l ? (l as ParsedLine) : { line: i + 1, value: l as TrailLine }));
  const requireComplete = options.requireComplete ?? true;
  const verifier = new CheckpointVerifier(options.keys);

  const firstCp = lines.find((l) => isCheckpoint(l.value))?.value as Checkpoint | undefined;
  const firstStart = lines.find((l) => !isCheckpoint(l.value) && l.value.type === "session.start")?.value as AuditEvent<"session.start"> | undefined;
  const sessionId = options.sessionId ?? firstCp?.session ?? firstStart?.data?.session_id;
  const result: VerifyResult = { ok: false, session: sessionId, events: 0, chunks: 0, complete: false, unsealed: 0, kids: [] };
  const fail = (error: VerifyError): VerifyResult => ({ ...result, ok: false, error });

  if (lines.length === 0 || typeof sessionId !== "string") {
    return fail({ seq: 0, kind: "truncated", message: "the trail is empty (no session.start, no checkpoint)" });
  }

  // Index the events once: which seqs occur where, and each event's recomputed hash.
  const events: { pos: number; line: number; e: AuditEvent; computed: string }[] = [];
  for (let pos = 0; pos < lines.length; pos++) {
    const v = lines[pos].value;
    if (!isCheckpoint(v)) events.push({ pos, line: lines[pos].line, e: v, computed: await hashOrNothing(v) });
  }
  const computedAt = new Map<number, string>(events.map((x) => [x.pos, x.computed]));
  const bySeq = new Map<number, typeof events>();
  for (const ev of events) {
    const list = bySeq.get(ev.e.seq) ?? [];
    list.push(ev);
    bySeq.set(ev.e.seq, list);
  }
  const laterHasSeq = (seq: number, pos: number) => (bySeq.get(seq) ?? []).some((x) => x.pos > pos);
  const genesis = await genesisHash(sessionId);
  const hashesOf = (seq: number) => (seq < 0 ? [genesis] : (bySeq.get(seq) ?? []).map((x) => x.computed));

  let expectedSeq = 0;
  let prev = genesis;
  let chunk = 0;
  let chunkFirst = 0;
  let lastType: string | undefined;
  let finalSeen = false;
  let sawEnd = false;
  const kids = new Set<string>();

  for (let pos = 0; pos < lines.length; pos++) {
    const { line, value } = lines[pos];
    if (finalSeen) {
      const seq = isCheckpoint(value) ? value.last_seq : value.seq;
      return fail({ seq, kind: "inserted", line, message: `line ${line} follows the final checkpoint of the session` });
    }

    if (isCheckpoint(value)) {
      const cp = value;
      if (cp.session !== sessionId) {
        return fail({ seq: cp.last_seq, kind: "inserted", line, chunk: cp.chunk, message: `checkpoint belongs to session ${cp.session}, not ${sessionId}` });
      }
      const sig = await verifier.verify(cp);
      if (sig === "unknown-key") {
        return fail({ seq: cp.last_seq, kind: "unknown-key", line, chunk: cp.chunk, message: `checkpoint of chunk ${cp.chunk} is signed with unknown key "${cp.kid}"` });
      }
      if (sig === "bad-signature") {
        return fail({ seq: cp.last_seq, kind: "bad-signature", line, chunk: cp.chunk, message: `checkpoint of chunk ${cp.chunk} has an invalid signature (key "${cp.kid}")` });
      }
      if (cp.chunk !== chunk) {
        const kind = cp.chunk > chunk ? "removed" : lines.slice(pos + 1).some((l) => isCheckpoint(l.value) && l.value.chunk === chunk) ? "reordered" : "inserted";
        return fail({ seq: chunkFirst, kind, line, chunk: cp.chunk, message: `checkpoint of chunk ${cp.chunk} found where chunk ${chunk} was expected` });
      }
      const lastAccepted = expectedSeq - 1;
      if (cp.first_seq !== chunkFirst || lastAccepted < cp.last_seq) {
        const missing = Math.min(Math.max(lastAccepted + 1, chunkFirst), cp.last_seq);
        if (cp.first_seq !== chunkFirst && cp.first_seq > chunkFirst) {
          return fail({ seq: chunkFirst, kind: "inserted", line, chunk: cp.chunk, message: `chunk ${cp.chunk} is signed for seq ${cp.first_seq}..${cp.last_seq} but contains events from seq ${chunkFirst}` });
        }
        return fail({ seq: missing, kind: "removed", line, chunk: cp.chunk, message: `event ${missing} is missing: chunk ${cp.chunk} is signed up to seq ${cp.last_seq} but the trail has events only up to seq ${lastAccepted}` });
      }
      if (lastAccepted > cp.last_seq) {
        return fail({ seq: cp.last_seq + 1, kind: "inserted", line, chunk: cp.chunk, message: `event ${cp.last_seq + 1} is not covered by chunk ${cp.chunk}, which is signed for seq ${cp.first_seq}..${cp.last_seq}` });
      }
      if (prev !== cp.last_hash) {
        return fail({ seq: cp.last_seq, kind: "altered", line, chunk: cp.chunk, message: `chunk ${cp.chunk} (seq ${cp.first_seq}..${cp.last_seq}) was rewritten: its events chain to ${prev.slice(0, 12)}… but the signed checkpoint says ${cp.last_hash.slice(0, 12)}…` });
      }
      if (cp.final !== (lastType === "session.end")) {
        return fail({ seq: cp.last_seq, kind: "altered", line, chunk: cp.chunk, message: cp.final ? "final checkpoint does not follow session.end" : "session.end is sealed by a non-final checkpoint" });
      }
      kids.add(cp.kid);
      chunk++;
      chunkFirst = expectedSeq;
      finalSeen = cp.final;
      result.chunks = chunk;
      result.last_hash = cp.last_hash;
      continue;
    }

    const e = value;
    const here = { line, chunk };
    const computed = computedAt.get(pos)!;
    if (e.seq !== expectedSeq) {
      if (e.seq < expectedSeq) {
        return fail({ seq: e.seq, kind: "inserted", ...here, message: `event ${e.seq} appears again at line ${line} (an event was inserted or replayed)` });
      }
      const duplicated = (bySeq.get(e.seq)?.length ?? 0) > 1;
      const linksToRealPredecessor = hashesOf(e.seq - 1).includes(e.prev);
      if (laterHasSeq(expectedSeq, pos)) {
        if (!duplicated && linksToRealPredecessor && e.hash === computed) {
          return fail({ seq: expectedSeq, kind: "reordered", ...here, message: `event ${e.seq} appears before event ${expectedSeq} (line ${line}): events are out of order` });
        }
        return fail({ seq: e.seq, kind: "inserted", ...here, message: `event ${e.seq} at line ${line} does not belong to the chain here` });
      }
      return fail({ seq: expectedSeq, kind: "removed", ...here, message: expectedSeq === e.seq - 1 ? `event ${expectedSeq} is missing (line ${line} jumps to event ${e.seq})` : `events ${expectedSeq}..${e.seq - 1} are missing (line ${line} jumps to event ${e.seq})` });
    }
    if (computed !== e.hash) {
      return fail({ seq: e.seq, kind: "altered", ...here, message: `event ${e.seq} (line ${line}, ${e.type}) does not match its hash: its content was altered` });
    }
    if (sawEnd) {
      return fail({ seq: e.seq, kind: "inserted", ...here, message: `event ${e.seq} follows session.end` });
    }
    const copies = bySeq.get(e.seq)!;
    if (copies.length > 1) {
      // Two events claim this seq. The genuine one is the one its successor commits to.
      const successor = (bySeq.get(e.seq + 1) ?? [])[0];
      const genuine = successor ? copies.find((c) => c.computed === successor.e.prev) : undefined;
      if (!genuine || genuine.pos !== pos) {
        return fail({ seq: e.seq, kind: "inserted", ...here, message: `event ${e.seq} at line ${line} was inserted: another event claims seq ${e.seq}${genuine ? ` (line ${genuine.line}) and the chain continues from that one` : ""}` });
      }
    }
    if (e.prev !== prev) {
      if (expectedSeq === 0) {
        return fail({ seq: 0, kind: "altered", ...here, message: `event 0 does not start the chain of session ${sessionId}` });
      }
      return fail({ seq: expectedSeq - 1, kind: "altered", ...here, message: `event ${expectedSeq - 1} was altered: event ${e.seq} (line ${line}) commits to a different hash for it` });
    }
    if (e.seq === 0 && (e.type !== "session.start" || (e as AuditEvent<"session.start">).data.session_id !== sessionId)) {
      return fail({ seq: 0, kind: "altered", ...here, message: `event 0 must be the session.start of session ${sessionId}` });
    }
    prev = e.hash;
    lastType = e.type;
    if (e.type === "session.end") sawEnd = true;
    expectedSeq++;
    result.events = expectedSeq;
  }

  result.kids = [...kids];
  result.unsealed = expectedSeq - chunkFirst;
  result.complete = finalSeen;
  if (options.expectedChunks !== undefined && options.expectedChunks !== chunk) {
    if (chunk < options.expectedChunks) {
      return fail({ seq: expectedSeq, kind: "truncated", chunk, message: `the session index lists ${options.expectedChunks} chunks but the trail holds ${chunk}: chunk ${chunk} onwards is missing` });
    }
    return fail({ seq: chunkFirst, kind: "inserted", chunk, message: `the session index lists ${options.expectedChunks} chunks but the trail holds ${chunk}` });
  }
  if (requireComplete && !finalSeen) {
    if (result.unsealed > 0) {
      return fail({ seq: chunkFirst, kind: "truncated", chunk, message: `events ${chunkFirst}..${expectedSeq - 1} are not sealed by a signed checkpoint and the trail has no final checkpoint` });
    }
    return fail({ seq: expectedSeq, kind: "truncated", chunk, message: `the trail ends after event ${expectedSeq - 1} (chunk ${chunk - 1}) without session.end and a final signed checkpoint: later events or chunks were removed` });
  }
  result.ok = true;
  return result;
}

/** A line with no canonical form (NaN from 1e400, a lone surrogate escape) cannot match any hash: it was altered. */
async function hashOrNothing(e: AuditEvent): Promise<string> {
  try {
    return await computeEventHash(e);
  } catch (err) {
    if (err instanceof JcsError) return "";
    throw err;
  }
}
