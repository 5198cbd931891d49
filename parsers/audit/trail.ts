/**
 * Building a sealed trail in memory: chain events, cut them into chunks, sign each chunk's
 * checkpoint. The worker's SessionRecorder does the same incrementally and durably; this pure
 * version serves tools, tests and anyone re-implementing the format.
 */
import { ChainBuilder } from "./chain.ts";
import { signCheckpoint, type AuditSigner } from "./signing.ts";
import type { AuditEvent, Checkpoint, TrailLine, UnchainedEvent } from "./types.ts";

export interface BuildTrailOptions {
  /** Events per chunk (the recorder also cuts on bytes). Default 100. */
  chunkEvents?: number;
  /** Clock for checkpoint ts (tests). */
  now?: () => number;
}

export interface BuiltTrail {
  /** One array per chunk: its events then its checkpoint. */
  chunks: TrailLine[][];
  lines: TrailLine[];
  events: AuditEvent[];
  checkpoints: Checkpoint[];
}

export async function buildTrail(
  sessionId: string,
  input: readonly UnchainedEvent[],
  signer: AuditSigner,
  options: BuildTrailOptions = {},
): Promise<BuiltTrail> {
  const per = options.chunkEvents ?? 100;
  if (!Number.isInteger(per) || per < 1) throw new RangeError("chunkEvents must be a positive integer");
  const now = options.now ?? Date.now;
  const chain = new ChainBuilder(sessionId);
  const events: AuditEvent[] = [];
  for (const e of input) events.push(await chain.append(e));
  const chunks: TrailLine[][] = [];
  const checkpoints: Checkpoint[] = [];
  for (let start = 0; start < events.length; start += per) {
    const part = events.slice(start, start + per);
    const last = part[part.length - 1];
    const cp = await signCheckpoint(signer, {
      session: sessionId,
      chunk: chunks.length,
      first_seq: part[0].seq,
      last_seq: last.seq,
      last_hash: last.hash,
      final: last.type === "session.end",
      ts: now(),
    });
    checkpoints.push(cp);
    chunks.push([...part, cp]);
  }
  return { chunks, lines: chunks.flat(), events, checkpoints };
}
