/**
 * The semantic audit interface every protocol engine reports to (Teleport-style):
 * session start, each request as decoded, each decision, each response as sent, session end.
 * Implemented over the tamper-evident recorder (worker/audit/). A call resolves once the event is
 * chained and buffered (an implementation without commit(): once it is durable); a rejection means
 * "not recorded" and, in fail-closed mode, ends the session.
 */
export interface QueryEvent {
  protocol: "postgres" | "ssh" | "http" | "mysql" | "kubernetes";
  /** simple | parse | bind | function-call … */
  message: string;
  text: string;
  params?: Array<string | null | { binary: number }>;
  statements?: Array<{ kind: string; command: string; flags: string[] }>;
  /**
   * The request only reads (every statement a plain `read`, no flags): it may reach the target
   * before its event is durable (the event is durable before any answer reaches the client).
   * Anything else — writes, DDL, SSH commands, unclassified — is durable before it is forwarded.
   */
  readOnly?: boolean;
}

export interface DecisionEvent {
  effect: "allow" | "deny" | "approve";
  rule: string | null;
  reason: string;
  statementIndex?: number;
}

export interface ResultEvent {
  columns?: string[];
  rowsSample?: Array<Array<string | null>>;
  rows: number;
  commandTag?: string;
  error?: { code: string; message: string; detail?: string };
  durationMs?: number;
}

export interface SessionAudit {
  onQuery(event: QueryEvent): Promise<void>;
  onDecision(event: DecisionEvent): Promise<void>;
  onResult(event: ResultEvent): Promise<void>;
  onNotice(event: { severity: string; code: string; message: string }): Promise<void>;
  onMasking(counts: Record<string, number>): Promise<void>;
  /** Other semantic events (approvals, terminal output, …) keyed by type. */
  onEvent(type: string, data: Record<string, unknown>): Promise<void>;
  /**
   * Write the events buffered since the last commit, synchronously (one storage write per round
   * trip). The session calls it right before it sends anything to the client, so the output gate
   * holds those bytes until the events that describe them are durable. A returned error means
   * "not recorded" (fail-closed): the bytes must not be sent and the session ends.
   */
  commit?(): Error | undefined;
  /** commit(), but only when a buffered request is not read-only; the session calls it before it forwards to the target. */
  commitBeforeForward?(): Error | undefined;
  /**
   * The events buffered so far describe what is about to reach the target (typed input, a
   * port-forward stream opened): the next commitBeforeForward writes them, like a request that is
   * not read-only, so they are durable before those bytes are relayed.
   */
  holdForwardUntilCommitted?(): void;
}
