/**
 * Approval hold (shared filter): a request whose decision is `approve` stops the chain — later
 * requests of the session queue behind it — until approvers decide (worker/approvals/). The client
 * is told at once and reminded while it waits, in its own protocol (`notify`). Approved → the
 * exact request that was approved goes on; denied, timed out or the approval service failing →
 * refused, and the session stays usable. The final verdict is recorded, naming the approve rule.
 */
import type { HeldStatement } from "../../approvals/session-hold.ts";
import type { HoldForApprovalInput } from "../../engines/engine.ts";
import type { DecisionEvent } from "../../session/session-audit.ts";
import { CONTINUE, refuse, stop, type FilterResult, type Filter } from "../types.ts";

export interface ApprovalHoldOptions {
  hold(input: HoldForApprovalInput): Promise<HeldStatement>;
  /** One line to the client (PostgreSQL NoticeResponse, SSH stderr…): the notice, then reminders. */
  notify(line: string): void;
  record(event: DecisionEvent): Promise<void>;
  /** The client's sentence when the approval request itself failed (default below). */
  failedMessage?(reason: string, error: Error): string;
}

export function approvalHoldFilter<M>(opts: ApprovalHoldOptions): Filter<M> {
  return {
    name: "approval-hold",
    decode(frame) {
      const decision = frame.decision;
      const request = frame.request;
      if (!request || decision?.effect !== "approve") return CONTINUE;
      const held = async (): Promise<FilterResult<M>> => {
        let verdict: Awaited<HeldStatement["verdict"]>;
        try {
          const hold = await opts.hold({
            statement: request.text,
            displayText: frame.display?.text ?? request.text,
            decision,
            ...(request.binding ? { binding: request.binding } : {}),
            ...(frame.display?.parameters ? { parameters: frame.display.parameters } : {}),
          });
          opts.notify(hold.notice);
          const stopReminders = hold.remind((line) => opts.notify(line));
          verdict = await hold.verdict.finally(stopReminders);
        } catch (e) {
          const message = opts.failedMessage?.(decision.reason, e as Error) ?? `gatehouse: request requires approval (${decision.reason}) but the approval request failed: ${(e as Error).message}`;
          await opts.record({ effect: "deny", rule: decision.rule, reason: message });
          return refuse({ kind: "approval", message });
        }
        await opts.record({ effect: verdict.run ? "allow" : "deny", rule: decision.rule, reason: verdict.run ? verdict.reason : verdict.message });
        return verdict.run ? CONTINUE : refuse({ kind: "approval", code: verdict.code, message: verdict.message });
      };
      return stop(held());
    },
  };
}
