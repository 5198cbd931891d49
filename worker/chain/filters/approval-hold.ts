/**
 * Approval hold (shared filter): a request whose decision is `approve` stops the chain — later
 * requests of the session queue behind it — until approvers decide (worker/approvals/). The client
 * is told at once and reminded while it waits, in its own protocol (`notify`). Approved → the
 * exact request that was approved goes on; denied, timed out or the approval service failing →
 * refused, and the session stays usable. The final verdict is recorded, naming the approve rule.
 * Every callback also gets the frame, for what the protocol knows about the message (its channel…).
 */
import type { HeldStatement } from "../../approvals/session-hold.ts";
import type { HoldForApprovalInput } from "../../engines/engine.ts";
import type { DecisionEvent } from "../../session/session-audit.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import { visibleRequestText } from "../../approvals/display.ts";
import { CONTINUE, refuse, stop, type ChainFrame, type FilterResult, type Filter } from "../types.ts";

export interface ApprovalHoldOptions<M> {
  hold(input: HoldForApprovalInput, frame: ChainFrame<M>): Promise<HeldStatement>;
  /** One line to the client (PostgreSQL NoticeResponse, SSH stderr…): the notice, then reminders. */
  notify(line: string, frame: ChainFrame<M>): void;
  record(event: DecisionEvent, frame: ChainFrame<M>): Promise<void>;
  /**
   * When the approval request itself failed: what the trail records and what the client is told
   * (default: both "gatehouse: request requires approval (<reason>) but the approval request failed: <error>").
   */
  failed?(decision: Decision, error: Error, frame: ChainFrame<M>): { recorded: string; message: string };
  /** The client's sentence when the verdict is not "run" (default: the verdict's own message). */
  notRun?(verdictMessage: string, frame: ChainFrame<M>): string;
}

export function approvalHoldFilter<M>(opts: ApprovalHoldOptions<M>): Filter<M> {
  return {
    name: "approval-hold",
    decode(frame) {
      const decision = frame.decision;
      const request = frame.request;
      if (!request || decision?.effect !== "approve") return CONTINUE;
      const held = async (): Promise<FilterResult<M>> => {
        let verdict: Awaited<HeldStatement["verdict"]>;
        try {
          const hold = await opts.hold(
            {
              statement: request.text,
              // Whatever the protocol's display did, nothing invisible or reordering reaches approvers
              // (bidirectional overrides, zero-width and control characters, a lone carriage return).
              displayText: visibleRequestText(frame.display?.text ?? request.text),
              decision,
              ...(request.binding ? { binding: request.binding } : {}),
              ...(frame.display?.parameters ? { parameters: frame.display.parameters } : {}),
            },
            frame,
          );
          opts.notify(hold.notice, frame);
          const stopReminders = hold.remind((line) => opts.notify(line, frame));
          verdict = await hold.verdict.finally(stopReminders);
        } catch (e) {
          const fallback = `gatehouse: request requires approval (${decision.reason}) but the approval request failed: ${(e as Error).message}`;
          const { recorded, message } = opts.failed?.(decision, e as Error, frame) ?? { recorded: fallback, message: fallback };
          await opts.record({ effect: "deny", rule: decision.rule, reason: recorded }, frame);
          return refuse({ kind: "approval", message });
        }
        await opts.record({ effect: verdict.run ? "allow" : "deny", rule: decision.rule, reason: verdict.run ? verdict.reason : verdict.message }, frame);
        return verdict.run ? CONTINUE : refuse({ kind: "approval", code: verdict.code, message: opts.notRun?.(verdict.message, frame) ?? verdict.message });
      };
      return stop(held());
    },
  };
}
