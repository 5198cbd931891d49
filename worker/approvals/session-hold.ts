/**
 * The session side of a held statement, ready for the engine to use (one instance per session):
 *
 *   const holds = new ApprovalHolds({ env, sessionId, audit });
 *   const held = await holds.hold({ resource, identity, statement, displayText, decision });
 *   send NoticeResponse(held.notice) to the client at once; keep the chain stopped;
 *   const verdict = await held.verdict;      // approved and consumed → run it; else refuse with verdict.code/message
 *
 * SessionObject.approvalDecided(id, outcome) forwards to holds.deliver(id, outcome). If that
 * callback never arrives (RPC lost), a safety timer polls the ApprovalsObject shortly after the
 * deadline, and anything still undecided is refused (fail closed). An approval runs only after
 * consumeApproval succeeded: bound to this session and the statement's SHA-256, usable once.
 */
import type { Identity } from "../../parsers/identity.ts";
import type { Decision } from "../../parsers/policy/types.ts";
import type { Env } from "../env.ts";
import { consumeApproval, createApprovalRequest, getApproval, statementSha256, withdrawApprovalRequest } from "./client.ts";
import { ApprovalError, outcomeOf, type ApprovalOutcome } from "./core.ts";
import { DEFAULT_REMINDER_MS, remindUntilDecided } from "./reminders.ts";

/** SQLSTATE of a statement that was denied, timed out or could not use its approval. */
export const APPROVAL_REFUSED_SQLSTATE = "42501";
/** SQLSTATE of a held statement the client cancelled (query_canceled, as PostgreSQL answers a cancel). */
export const QUERY_CANCELED_SQLSTATE = "57014";
/** After the deadline, how long to wait for the callback before asking the ApprovalsObject directly. */
const POLL_GRACE_MS = 10_000;

export type HoldVerdict =
  | { run: true; id: string; reason: string }
  | { run: false; id: string; status: ApprovalOutcome["status"] | "unusable"; code: string; message: string };

export interface HeldStatement {
  id: string;
  url: string;
  expiresAt: number;
  /** One line for a NoticeResponse (PostgreSQL) or the equivalent in the client's protocol. */
  notice: string;
  verdict: Promise<HoldVerdict>;
  /** Periodic reminder lines (with the time left) until the returned stop function is called (worker/approvals/reminders.ts). */
  remind(send: (line: string) => void): () => void;
}

export interface HoldAudit {
  onEvent(type: string, data: Record<string, unknown>): Promise<void>;
}

export interface HoldInput {
  resource: string;
  identity: Identity;
  /** The exact statement text that will run if approved (hashed with SHA-256). */
  statement: string;
  /** What approvers see (masked where the policy says so); defaults to `statement`. */
  displayText?: string;
  /** The exact bytes the approval binds (hashed with SHA-256); default `statement`. */
  binding?: Uint8Array;
  /** Bound parameters as approvers see them, in order (extended protocol). */
  parameters?: string[];
  /** The policy decision (effect "approve"): its rule and approvals. */
  decision: Pick<Decision, "rule" | "approvals" | "reason">;
  timeoutMs?: number | null;
}

interface Waiter {
  sha: string;
  resolve(v: HoldVerdict): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  settled: boolean;
}

export class ApprovalHolds {
  private readonly waiters = new Map<string, Waiter>();
  /** Outcomes that arrived before hold() registered the waiter (a very fast decision). */
  private readonly early = new Map<string, ApprovalOutcome>();
  /** Requests this session already settled: a retried callback is acknowledged, not re-applied. */
  private readonly handled = new Set<string>();
  /** Set by withdrawAll: the session is over, later outcomes find nobody ("session-gone"). */
  private closed = false;

  constructor(private readonly opts: { env: Env; sessionId: string; audit?: HoldAudit; pollGraceMs?: number; reminderMs?: number }) {}

  get pendingCount(): number {
    return this.waiters.size;
  }

  async hold(input: HoldInput): Promise<HeldStatement> {
    const { env, sessionId } = this.opts;
    const approvals = input.decision.approvals ?? [];
    if (!input.decision.rule || approvals.length === 0) throw new ApprovalError("invalid", "hold() needs an approve decision with its approvals");
    const sha = await statementSha256(input.binding ?? input.statement);
    const displayText = input.displayText ?? input.statement;
    const created = await createApprovalRequest(env, {
      sessionId,
      resource: input.resource,
      identity: input.identity,
      statementText: displayText,
      statementSha256: sha,
      ...(input.parameters ? { parameters: input.parameters } : {}),
      rule: input.decision.rule,
      approvals,
      timeoutMs: input.timeoutMs ?? null,
    });
    await this.opts.audit?.onEvent("approval.requested", {
      request_id: created.id,
      text: input.parameters ? `${displayText}\nparameters (${input.parameters.length}):\n${input.parameters.join("\n")}` : displayText,
      reason: `${input.decision.reason}; waiting until ${new Date(created.expiresAt).toISOString()}`,
    });
    let resolve!: (v: HoldVerdict) => void;
    const verdict = new Promise<HoldVerdict>((r) => (resolve = r));
    const waiter: Waiter = { sha, resolve, timer: undefined, settled: false };
    this.waiters.set(created.id, waiter);
    this.armSafetyTimer(created.id, waiter, created.expiresAt);
    const early = this.early.get(created.id);
    if (early) {
      this.early.delete(created.id);
      void this.settle(created.id, early);
    }
    return {
      ...created,
      notice: `gatehouse: statement held for approval ${created.id} — approve with 'gatehouse approvals approve ${created.id}' or at ${created.url}`,
      verdict,
      remind: (send) => remindUntilDecided(created.id, created.expiresAt, this.opts.reminderMs ?? DEFAULT_REMINDER_MS, send),
    };
  }

  /** From SessionObject.approvalDecided. True if this session is waiting for `id` (then it handles the outcome). */
  async deliver(id: string, outcome: ApprovalOutcome): Promise<boolean> {
    if (outcome.sessionId !== this.opts.sessionId || this.closed) return false;
    if (this.handled.has(id)) return true;
    if (this.waiters.has(id)) {
      await this.settle(id, outcome);
      return true;
    }
    // Not registered yet (decided while hold() was still recording): keep it for hold().
    if (outcome.status !== "withdrawn") {
      this.early.set(id, outcome);
      return true;
    }
    return false;
  }

  /** The session ends: withdraw what still waits (recorded by the ApprovalsObject), refuse locally. */
  async withdrawAll(reason: string): Promise<void> {
    this.closed = true;
    this.early.clear();
    const ids = [...this.waiters.keys()];
    await Promise.all(
      ids.map(async (id) => {
        const w = this.waiters.get(id)!;
        this.finish(id, w, { run: false, id, status: "withdrawn", code: APPROVAL_REFUSED_SQLSTATE, message: `gatehouse: statement not run: ${reason} (request ${id})` });
        await withdrawApprovalRequest(this.opts.env, id, this.opts.sessionId, reason).catch(() => {});
      }),
    );
  }

  /**
   * The client cancelled what it is waiting for (PostgreSQL CancelRequest): withdraw every pending
   * request of this session (recorded by the ApprovalsObject, so approvers see it withdrawn) and
   * refuse the statements with `code`. The session goes on.
   */
  async withdrawPending(reason: string, code: string): Promise<void> {
    const ids = [...this.waiters.keys()];
    await Promise.all(
      ids.map(async (id) => {
        const w = this.waiters.get(id)!;
        if (w.settled) return;
        w.settled = true;
        await withdrawApprovalRequest(this.opts.env, id, this.opts.sessionId, reason).catch(() => {});
        this.finish(id, w, { run: false, id, status: "withdrawn", code, message: `gatehouse: statement not run: ${reason} (request ${id})` });
      }),
    );
  }

  private armSafetyTimer(id: string, waiter: Waiter, expiresAt: number): void {
    const delay = Math.max(0, expiresAt - Date.now()) + (this.opts.pollGraceMs ?? POLL_GRACE_MS);
    waiter.timer = setTimeout(() => void this.poll(id), delay);
  }

  /** The callback did not come: ask the ApprovalsObject; refuse whatever is not decided (fail closed). */
  private async poll(id: string): Promise<void> {
    const waiter = this.waiters.get(id);
    if (!waiter || waiter.settled) return;
    let outcome: ApprovalOutcome | null = null;
    try {
      const record = await getApproval(this.opts.env, id);
      outcome = record ? outcomeOf(record) : null;
    } catch {
      outcome = null;
    }
    if (outcome) return this.settle(id, outcome);
    this.finish(id, waiter, { run: false, id, status: "expired", code: APPROVAL_REFUSED_SQLSTATE, message: `gatehouse: statement not run: no decision was received for request ${id} before its deadline` });
  }

  private async settle(id: string, outcome: ApprovalOutcome): Promise<void> {
    const waiter = this.waiters.get(id);
    if (!waiter || waiter.settled) return;
    waiter.settled = true; // one outcome per request, even if the callback is retried
    const votes = outcome.votes.map((v) => ({ approver: v.approver.label, decision: v.decision, reason: v.reason, at: new Date(v.at).toISOString() }));
    if (outcome.status === "approved") {
      try {
        await consumeApproval(this.opts.env, id, this.opts.sessionId, waiter.sha);
      } catch (e) {
        const message = e instanceof ApprovalError ? e.message : "the approvals store could not be reached";
        await this.record("approval.denied", { request_id: id, reason: `approval unusable: ${message}`, votes });
        return this.finish(id, waiter, { run: false, id, status: "unusable", code: APPROVAL_REFUSED_SQLSTATE, message: `gatehouse: statement not run: approval ${id} cannot be used: ${message}` });
      }
      const approvers = outcome.votes.filter((v) => v.decision === "approve").map((v) => v.approver.label);
      if (!(await this.record("approval.granted", { request_id: id, approver: approvers.join(", "), reason: outcome.reason, votes }))) {
        // Nothing runs unrecorded.
        return this.finish(id, waiter, { run: false, id, status: "unusable", code: APPROVAL_REFUSED_SQLSTATE, message: `gatehouse: statement not run: the approval of ${id} could not be recorded` });
      }
      return this.finish(id, waiter, { run: true, id, reason: outcome.reason });
    }
    const denier = outcome.votes.find((v) => v.decision === "deny")?.approver.label;
    if (outcome.status === "denied") await this.record("approval.denied", { request_id: id, ...(denier ? { approver: denier } : {}), reason: outcome.reason, votes });
    else if (outcome.status === "expired") await this.record("approval.expired", { request_id: id, reason: outcome.reason, votes });
    this.finish(id, waiter, { run: false, id, status: outcome.status, code: APPROVAL_REFUSED_SQLSTATE, message: `gatehouse: statement not run: ${outcome.reason} (request ${id})` });
  }

  /** False when the event could not be recorded (the caller refuses rather than run unrecorded). */
  private async record(type: string, data: Record<string, unknown>): Promise<boolean> {
    if (!this.opts.audit) return true;
    try {
      await this.opts.audit.onEvent(type, data);
      return true;
    } catch {
      return false;
    }
  }

  private finish(id: string, waiter: Waiter, verdict: HoldVerdict): void {
    waiter.settled = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    this.waiters.delete(id);
    this.handled.add(id);
    waiter.resolve(verdict);
  }
}
