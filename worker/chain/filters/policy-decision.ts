/**
 * Policy decision (shared filter): every request is decided by the one `decide` entry point
 * (worker/session/session-policy.ts), the decision — naming its rule — is recorded and put on the
 * frame; a deny refuses the request, an approve goes on to the approval hold. Frames that ask
 * nothing (request null) pass.
 */
import type { Decision } from "../../../parsers/policy/types.ts";
import type { DecisionEvent } from "../../session/session-audit.ts";
import { CONTINUE, refuse, type Filter } from "../types.ts";
import type { RequestDescription } from "../types.ts";

export interface PolicyDecisionOptions {
  decide(request: RequestDescription): Decision;
  record(event: DecisionEvent): Promise<void>;
  /** The client's sentence for a denial (default "gatehouse: request refused: <reason>"). */
  deniedMessage?(decision: Decision, request: RequestDescription): string;
}

export function decisionEvent(decision: Decision): DecisionEvent {
  const event: DecisionEvent = { effect: decision.effect, rule: decision.rule, reason: decision.reason };
  if (decision.statementIndex !== undefined) event.statementIndex = decision.statementIndex;
  return event;
}

export function policyDecisionFilter<M>(opts: PolicyDecisionOptions): Filter<M> {
  return {
    name: "policy",
    async decode(frame) {
      const request = frame.request;
      if (!request) return CONTINUE;
      const decision = opts.decide(request);
      frame.decision = decision;
      await opts.record(decisionEvent(decision));
      if (decision.effect !== "deny") return CONTINUE;
      const message = opts.deniedMessage?.(decision, request) ?? `gatehouse: request refused: ${decision.reason}`;
      return refuse({ kind: "denied", message });
    },
  };
}
