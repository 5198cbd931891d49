/**
 * Result masking (shared filter, encode): each answer is masked by the protocol's masker before it
 * reaches the client (and the recording, which sits before this filter in the chain); the values
 * masked per rule are counted for the trail's `masking` event at session end.
 */
import { CONTINUE, replace, type Filter } from "../types.ts";

export interface ResultMaskingOptions<M> {
  /** The masked message and what was masked per rule; null = nothing to mask in it. */
  mask(message: M): { message: M; counts: Record<string, number> } | null;
}

export interface ResultMaskingFilter<M> extends Filter<M> {
  /** Values masked per rule so far. */
  counts(): Record<string, number>;
}

export function resultMaskingFilter<M>(opts: ResultMaskingOptions<M>): ResultMaskingFilter<M> {
  const totals: Record<string, number> = {};
  return {
    name: "result-masking",
    encode(frame) {
      const masked = opts.mask(frame.message);
      if (!masked) return CONTINUE;
      for (const [rule, n] of Object.entries(masked.counts)) totals[rule] = (totals[rule] ?? 0) + n;
      return replace(masked.message);
    },
    counts: () => ({ ...totals }),
  };
}
