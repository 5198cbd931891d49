/**
 * Result masking (shared filter, encode): answers pass through the protocol's codec-level masker
 * before they reach the client (and the recording, which sits before this filter in the chain, so
 * it records what the client receives). The masker is streaming: it sees the answer stream piece
 * by piece as it arrives and may hold back bytes a later piece completes (PostgreSQL: the WASM
 * masker over byte runs that cross message boundaries — COPY, derived-value taint; SSH: a window
 * per channel stream). This filter owns when it runs and what a failure means: a masker error ends
 * the session (fatal refusal) — an answer that cannot be masked is never sent unmasked.
 */
import { refuse, replace, type ChainFrame, type Filter } from "../types.ts";

export interface StreamMasker<M> {
  /** The masked form of this piece of the answer stream (what may be released now). Throws when it cannot mask. */
  process(piece: M, frame: ChainFrame<M> | null): M;
  /** Values masked so far per rule (for the trail's `masking` event; never the values). */
  counts(): Record<string, number>;
}

export interface ResultMaskingOptions<M> {
  masker: StreamMasker<M>;
}

export interface ResultMaskingFilter<M> extends Filter<M> {
  /**
   * For engines that frame answers themselves (PostgreSQL's runs, SSH's channel streams): the same
   * masking, called where the piece is cut. A masker error is thrown as is (the engine ends the session).
   */
  mask(piece: M, frame?: ChainFrame<M>): M;
  /** Values masked per rule so far. */
  counts(): Record<string, number>;
}

export function resultMaskingFilter<M>(opts: ResultMaskingOptions<M>): ResultMaskingFilter<M> {
  const { masker } = opts;
  return {
    name: "result-masking",
    encode(frame) {
      try {
        return replace(masker.process(frame.message, frame));
      } catch (e) {
        const reason = (e as Error).message.replace(/^gatehouse:\s*/, "");
        return refuse({ kind: "invalid", message: `gatehouse: an answer could not be masked (${reason}); ending the session rather than send it unmasked`, fatal: true });
      }
    },
    mask: (piece, frame) => masker.process(piece, frame ?? null),
    counts: () => masker.counts(),
  };
}
