/**
 * Recording (shared filter): the request as asked (before the decision, with the display text:
 * masked literals) and each answer exactly as the client receives it — encode runs in reverse, so
 * placed before result masking in the chain, it records the masked answer.
 */
import { CONTINUE, type ChainFrame, type Filter } from "../types.ts";

export interface RecordingOptions<M> {
  onRequest?(frame: ChainFrame<M>): Promise<void>;
  onAnswer?(frame: ChainFrame<M>): Promise<void>;
}

export function recordingFilter<M>(opts: RecordingOptions<M>): Filter<M> {
  return {
    name: "recording",
    async decode(frame) {
      if (frame.request && opts.onRequest) await opts.onRequest(frame);
      return CONTINUE;
    },
    async encode(frame) {
      if (opts.onAnswer) await opts.onAnswer(frame);
      return CONTINUE;
    },
  };
}
