/**
 * For engines that decide inside their own protocol filter (PostgreSQL's session pinning and
 * extended protocol, SSH's per-channel decisions): a message that carries its decision, lifted onto
 * the frame so the shared filters after it (approval hold…) act on it as on a policy-filter decision.
 */
import type { Decision } from "../../../parsers/policy/types.ts";
import { CONTINUE, type Filter } from "../types.ts";

export interface Decided {
  readonly decision: Decision;
}

export function decidedFilter<M extends Decided>(): Filter<M> {
  return {
    name: "decided",
    decode(frame) {
      frame.decision = frame.message.decision;
      return CONTINUE;
    },
  };
}
