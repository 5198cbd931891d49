/**
 * Public types of the policy engine. Runtime-neutral: used by the worker (per-session decisions),
 * the CLI (`gatehouse policy test`) and tests.
 */
import type { Identity, ResourceInfo } from "../identity.ts";
import type { ClassifiedStatement, StatementKind } from "../sql/types.ts";
import type { PolicyError } from "./errors.ts";

export type Effect = "allow" | "deny" | "approve";

/** The database access level the connector logs in with (parsers/policy/access-level.ts). */
export type AccessLevel = "read" | "write" | "admin";
export const EFFECTS: readonly Effect[] = ["allow", "deny", "approve"];

/** Restrictiveness order: deny beats approve beats allow. */
export const EFFECT_RANK: Record<Effect, number> = { allow: 0, approve: 1, deny: 2 };

export type RecordingMode = "fail-closed" | "best-effort";

export interface MatchedRule {
  rule: string;
  effect: Effect;
  /** 0-based index of the statement this rule matched (SQL decisions only). */
  statementIndex?: number;
}

/** What an `approve` decision waits for. Every listed requirement must be satisfied. */
export interface ApprovalRequirement {
  /** The approve rule. */
  rule: string;
  /** Who may approve, as written in the policy (the rule's `approvers`, or the role it falls back to). */
  approvers: unknown;
  /** The rule's `timeout` in milliseconds; null when the rule sets none (the approval workflow's default applies). */
  timeoutMs: number | null;
  /** Distinct approvals needed (`required_approvals`, default 1). */
  required: number;
}

/** The verdict for one SQL statement. */
export interface StatementDecision {
  /** 0-based. */
  index: number;
  kind: StatementKind;
  command: string;
  flags: string[];
  effect: Effect;
  /** Deciding rule; null = default deny. */
  rule: string | null;
  reason: string;
  matched: MatchedRule[];
}

export interface Decision {
  effect: Effect;
  /** The rule that decided; null when nothing matched (default deny) or for an empty query. */
  rule: string | null;
  /** One human sentence, e.g. "rule 'no-ddl-in-prod' (examples/policies/x.yaml:12) denies ddl on pg-prod (statement 2 of 2: DROP TABLE)". */
  reason: string;
  /** SQL only: 0-based index of the statement that decided (the most restrictive; the first on ties). */
  statementIndex?: number;
  /** Every rule that matched, in policy order (per statement for SQL). */
  matched: MatchedRule[];
  /** SQL only: the verdict for each statement. */
  statements?: StatementDecision[];
  /** Present iff effect is "approve": one entry per distinct approve rule that decided a statement (or the connect). */
  approvals?: ApprovalRequirement[];
}

export interface SessionLimits {
  maxSessionMs: number | null;
  statementTimeoutMs: number | null;
}

/** Concurrency caps for a session of this identity on this resource (null: no cap). */
export interface SessionCaps {
  maxSessionsPerIdentity: number | null;
  maxSessionsPerResource: number | null;
}

export interface ConnectInput {
  identity: Identity;
  resource: ResourceInfo;
  /** Resource names for which a just-in-time grant is active (rules with `requires: grant`). */
  activeGrants?: readonly string[];
}

export interface SqlInput extends ConnectInput {
  statements: readonly ClassifiedStatement[];
}

export interface CompiledPolicy {
  /** SHA-256 (hex) of the canonical form of the policy document — see docs/POLICY.md "Policy hash". */
  readonly hash: string;
  /** The source name given to loadPolicy (used in reasons: "file:line"). */
  readonly source: string;
  /** The YAML text as loaded. */
  readonly text: string;
  /** Rule names in policy order. */
  readonly ruleNames: readonly string[];
  /** Role names in policy order. */
  readonly roleNames: readonly string[];
  decideConnect(input: ConnectInput): Decision;
  decideSql(input: SqlInput): Decision;
  /** The database access level (read < write < admin) the connector logs in with: parsers/policy/access-level.ts. */
  sqlAccessLevel(input: ConnectInput): AccessLevel;
  /**
   * A request of a plugged-in protocol rule kind (parsers/policy/action-kinds.ts), by its action
   * namespace: SSH exec lines per command, shells, SFTP operations, forwarding (protocols/ssh/policy/)…
   * Throws for a namespace no protocol module plugs in.
   */
  decideRequest(namespace: string, input: ConnectInput & { request: unknown }): Decision;
  /** `decideRequest("ssh", input)`: SSH requests (protocols/ssh/policy/ssh.ts `SshRequest`). */
  decideSsh(input: ConnectInput & { request: unknown }): Decision;
  sessionLimits(identity: Identity, resource: ResourceInfo): SessionLimits;
  sessionCaps(identity: Identity, resource: ResourceInfo): SessionCaps;
  rolesOf(identity: Identity): string[];
  /**
   * Does the policy name this identity anywhere — a role, a rule's subjects or an approve rule's
   * approvers (resources and grants aside)? The API rate limit keeps identities it does not in a
   * bucket of their own (worker/limits/api-rate.ts), so a token anyone can mint for the tenant's
   * audience cannot spend its people's budget.
   */
  knowsIdentity(identity: Identity): boolean;
  /**
   * May `approver` approve a request held by approve rule `ruleName`? Uses the rule's `approvers`,
   * or role `approver` when the rule has none. False for unknown rules and non-approve rules.
   * (Whether the requester may approve their own request is the approval workflow's decision.)
   */
  canApprove(ruleName: string, approver: Identity): boolean;
  /** The `masking.rules` entries (as written) that apply to this identity on this resource, in policy order. */
  /** Every masking rule, whoever it applies to. */
  allMaskingRules(): unknown[];
  maskingRulesFor(identity: Identity, resource: ResourceInfo): unknown[];
  recordingMode(resource: ResourceInfo): RecordingMode;
}

export type LoadResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: PolicyError[] };
