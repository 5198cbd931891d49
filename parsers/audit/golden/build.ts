/**
 * Builds the golden trail from audit-input.json exactly as the recorder does (bound, chain, seal
 * each chunk with a signed checkpoint), so tests can compare it byte-for-byte with
 * audit-trail.jsonl. The expected files were written once and are the contract: never regenerate
 * them to make a test pass (see README.md).
 */
import { boundEvent } from "../bounds.ts";
import { ChainBuilder } from "../chain.ts";
import { serializeLine } from "../jsonl.ts";
import { createSigner, signCheckpoint, type Ed25519PrivateJwk } from "../signing.ts";
import type { UnchainedEvent } from "../types.ts";

export interface GoldenAuditInput {
  session_id: string;
  events: UnchainedEvent[];
  /** Each chunk ends at last_seq and is sealed at ts; the last one is final. */
  chunks: { last_seq: number; ts: number }[];
}

export async function buildGoldenTrail(input: GoldenAuditInput, key: Ed25519PrivateJwk): Promise<string> {
  const signer = await createSigner(key);
  const chain = new ChainBuilder(input.session_id);
  let out = "";
  let first = 0;
  let last = "";
  for (const [chunk, { last_seq, ts }] of input.chunks.entries()) {
    for (let seq = first; seq <= last_seq; seq++) {
      const event = await chain.append(boundEvent(input.events[seq]!));
      last = event.hash;
      out += serializeLine(event);
    }
    const final = chunk === input.chunks.length - 1;
    out += serializeLine(await signCheckpoint(signer, { session: input.session_id, chunk, first_seq: first, last_seq, last_hash: last, final, ts }));
    first = last_seq + 1;
  }
  return out;
}
