/**
 * Decisions over a compiled policy.
 *
 * Precedence: every rule is evaluated (not first-match). Among the rules that match, deny beats
 * approve beats allow; when none matches the answer is deny (default deny). For a query with
 * several statements each statement is decided on its own and the query gets the most restrictive
 * verdict, naming the statement and the rule that produced it (the earliest statement on ties; the
 * first rule in policy order among rules with the winning effect).
 */
import type { Identity, ResourceInfo } from "../identity.ts";
import type { ClassifiedStatement, StatementPart } from "../sql/types.ts";
import { actionMatchesStatement } from "./actions.ts";
import type { ProtocolDecisionInput } from "./action-kinds.ts";
import { actionKind } from "./plugged-kinds.ts";
import { accessLevelFor, type AccessLevel } from "./access-level.ts";
import type { CompiledRule, PolicyModel } from "./compile.ts";
import { resourceSetMatches } from "./resources.ts";
import { subjectSetMatches } from "./subjects.ts";
import {
  EFFECT_RANK,
  type ApprovalRequirement,
  type CompiledPolicy,
  type ConnectInput,
  type Decision,
  type Effect,
  type MatchedRule,
  type RecordingMode,
  type SessionLimits,
  type SessionCaps,
  type SqlInput,
  type StatementDecision,
} from "./types.ts";

const VERB: Record<Effect, string> = { allow: "allows", deny: "denies", approve: "requires approval for" };

export class PolicyEngine implements CompiledPolicy {
  readonly ruleNames: readonly string[];
  readonly roleNames: readonly string[];
  private readonly byName: Map<string, CompiledRule>;
  private readonly applicableCache = new WeakMap<Identity, WeakMap<ResourceInfo, { plain?: Applicable; granted?: Applicable }>>();

  constructor(
    readonly hash: string,
    readonly source: string,
    readonly text: string,
    private readonly model: PolicyModel,
  ) {
    this.ruleNames = Object.freeze(model.rules.map((r) => r.name));
    this.roleNames = Object.freeze(model.roles.map((r) => r.name));
    this.byName = new Map(model.rules.map((r) => [r.name, r]));
  }

  rolesOf(identity: Identity): string[] {
    // Role definitions cannot refer to roles, so the role lookup they are given is never consulted.
    const none = () => EMPTY_ROLES;
    return this.model.roles.filter((r) => subjectSetMatches(r.subjects, identity, none)).map((r) => r.name);
  }

  decideConnect(input: ConnectInput): Decision {
    const { identity, resource } = input;
    const applicable = this.applicableRules(input);
    const matched = applicable.rules.filter((r) => r.hasConnect);
    const winner = strictest(matched);
    const matchedList: MatchedRule[] = matched.map((r) => ({ rule: r.name, effect: r.effect }));
    if (!winner) {
      const gated = applicable.gated.filter((r) => r.hasConnect && r.effect === "allow");
      return {
        effect: "deny",
        rule: null,
        reason: `no rule allows connect to ${resource.name} for ${who(identity)}; default deny${grantHint(gated, resource)}`,
        matched: matchedList,
      };
    }
    const verb = winner.effect === "approve" ? "requires approval to connect to" : `${VERB[winner.effect]} connect to`;
    const decision: Decision = {
      effect: winner.effect,
      rule: winner.name,
      reason: `${this.ruleRef(winner)} ${verb} ${resource.name}`,
      matched: matchedList,
    };
    if (winner.effect === "approve") decision.approvals = [approvalOf(winner)];
    return decision;
  }

  sqlAccessLevel(input: ConnectInput): AccessLevel {
    return accessLevelFor(this.applicableRules(input).rules);
  }

  decideRequest(namespace: string, input: ProtocolDecisionInput): Decision {
    const kind = actionKind(namespace);
    if (!kind) throw new Error(`no protocol module plugs in policy actions '${namespace}.*'`);
    return kind.decide(input, this.applicableRules(input), (r) => this.ruleRef(r), who(input.identity));
  }

  decideSsh(input: ProtocolDecisionInput): Decision {
    return this.decideRequest("ssh", input);
  }

  decideSql(input: SqlInput): Decision {
    const { identity, resource, statements } = input;
    if (statements.length === 0) return { effect: "allow", rule: null, reason: "empty query", matched: [], statements: [] };
    const applicable: Applicable = this.applicableRules(input);
    const sql = (applicable.sql ??= { rules: applicable.rules.filter((r) => r.hasSql), gated: applicable.gated.filter((r) => r.hasSql && r.effect === "allow") });
    const sqlRules = sql.rules;
    const gatedSql = sql.gated;
    const total = statements.length;

    const decidePart = (stmt: ClassifiedStatement | StatementPart, index: number): StatementDecision => {
      const matched = sqlRules.filter((r) => r.actions.some((a) => actionMatchesStatement(a, stmt, r.effect)));
      const winner = strictest(matched);
      const where = `(statement ${index + 1} of ${total}: ${stmt.command})`;
      const what = describeStatement(stmt);
      const base = { index, kind: stmt.kind, command: stmt.command, flags: [...stmt.flags], matched: matched.map((r) => ({ rule: r.name, effect: r.effect, statementIndex: index })) };
      if (!winner) {
        const gated = gatedSql.filter((r) => r.actions.some((a) => actionMatchesStatement(a, stmt, "allow")));
        return {
          ...base,
          effect: "deny",
          rule: null,
          reason: `no rule allows ${what} on ${resource.name} for ${who(identity)} ${where}; default deny${grantHint(gated, resource)}`,
        };
      }
      return { ...base, effect: winner.effect, rule: winner.name, reason: `${this.ruleRef(winner)} ${VERB[winner.effect]} ${what} on ${resource.name} ${where}` };
    };
    // A statement is decided with its parts (what its function calls do, the SQL they execute):
    // the strictest of them is the statement's verdict, and every part's matches count.
    // On ties a decision naming a rule wins over default deny, then a part's reason over the
    // statement's own: it names what the statement's functions do.
    const perStatement: StatementDecision[] = statements.map((stmt, index) => {
      // A possible call (a name in attribute notation that may be a column, parsers/sql/types.ts)
      // counts only where a rule decided it: a deny or approve rule naming the function.
      const parts = (stmt.parts ?? []).map((part) => ({ part, d: decidePart(part, index) })).filter(({ part, d }) => !part.possible || d.rule !== null);
      const decided = [...parts.map(({ d }) => d), decidePart(stmt, index)];
      let verdict = decided[0]!;
      for (const d of decided) {
        if (EFFECT_RANK[d.effect] > EFFECT_RANK[verdict.effect] || (d.effect === verdict.effect && verdict.rule === null && d.rule !== null)) verdict = d;
      }
      return { ...verdict, kind: stmt.kind, command: stmt.command, flags: [...stmt.flags], matched: decided.flatMap((d) => d.matched) };
    });

    let deciding = perStatement[0]!;
    for (const s of perStatement) if (EFFECT_RANK[s.effect] > EFFECT_RANK[deciding.effect]) deciding = s;

    const decision: Decision = {
      effect: deciding.effect,
      rule: deciding.rule,
      reason: deciding.effect === "allow" && total > 1 ? `all ${total} statements allowed; ${deciding.reason}` : deciding.reason,
      statementIndex: deciding.index,
      matched: perStatement.flatMap((s) => s.matched),
      statements: perStatement,
    };
    if (deciding.effect === "approve") {
      // Every statement held for approval must be approved: one requirement per distinct rule.
      const seen = new Set<string>();
      decision.approvals = [];
      // Every approve rule that matched a held statement adds its requirement (not only the first):
      // a rule demanding two approvers is not weakened by another rule that asks for one.
      for (const s of perStatement) {
        if (s.effect !== "approve") continue;
        for (const m of s.matched) {
          if (m.effect !== "approve" || seen.has(m.rule)) continue;
          seen.add(m.rule);
          decision.approvals.push(approvalOf(this.byName.get(m.rule)!));
        }
      }
    }
    return decision;
  }

  sessionLimits(identity: Identity, resource: ResourceInfo): SessionLimits {
    // Limits of every rule that applies to this identity on this resource, whatever its actions,
    // effect or grant requirement: the most restrictive wins; the policy defaults fill the gaps.
    let maxSessionMs: number | null = null;
    let statementTimeoutMs: number | null = null;
    const roles = this.lazyRoles(identity);
    for (const r of this.model.rules) {
      if (!resourceSetMatches(r.resources, resource) || !subjectSetMatches(r.subjects, identity, roles)) continue;
      if (r.limits.maxSessionMs !== null) maxSessionMs = maxSessionMs === null ? r.limits.maxSessionMs : Math.min(maxSessionMs, r.limits.maxSessionMs);
      if (r.limits.statementTimeoutMs !== null)
        statementTimeoutMs = statementTimeoutMs === null ? r.limits.statementTimeoutMs : Math.min(statementTimeoutMs, r.limits.statementTimeoutMs);
    }
    return {
      maxSessionMs: maxSessionMs ?? this.model.limits.maxSessionMs,
      statementTimeoutMs: statementTimeoutMs ?? this.model.limits.statementTimeoutMs,
    };
  }

  sessionCaps(identity: Identity, resource: ResourceInfo): SessionCaps {
    // As for sessionLimits: every rule that applies to this identity on this resource; the
    // smallest cap wins; the policy-wide caps fill the gaps.
    let perIdentity: number | null = null;
    let perResource: number | null = null;
    const min = (a: number | null, b: number | null) => (b === null ? a : a === null ? b : Math.min(a, b));
    const roles = this.lazyRoles(identity);
    for (const r of this.model.rules) {
      if (!resourceSetMatches(r.resources, resource) || !subjectSetMatches(r.subjects, identity, roles)) continue;
      perIdentity = min(perIdentity, r.limits.maxSessionsPerIdentity);
      perResource = min(perResource, r.limits.maxSessionsPerResource);
    }
    return {
      maxSessionsPerIdentity: perIdentity ?? this.model.limits.maxSessionsPerIdentity,
      maxSessionsPerResource: perResource ?? this.model.limits.maxSessionsPerResource,
    };
  }

  knowsIdentity(identity: Identity): boolean {
    const roles = this.lazyRoles(identity);
    if (roles().size > 0) return true;
    return this.model.rules.some((r) => subjectSetMatches(r.subjects, identity, roles) || (r.approvers !== undefined && r.approvers !== null && subjectSetMatches(r.approvers, identity, roles)));
  }

  canApprove(ruleName: string, approver: Identity): boolean {
    const rule = this.byName.get(ruleName);
    if (!rule || rule.effect !== "approve") return false;
    if (rule.approvers) return subjectSetMatches(rule.approvers, approver, this.lazyRoles(approver));
    return this.rolesOf(approver).includes("approver");
  }

  /** Every masking rule, whoever it applies to (readiness checks them against the tenant key). */
  allMaskingRules(): unknown[] {
    return this.model.masking.map((m) => m.raw);
  }

  maskingRulesFor(identity: Identity, resource: ResourceInfo): unknown[] {
    const roles = this.lazyRoles(identity);
    return this.model.masking.filter((m) => resourceSetMatches(m.resources, resource) && subjectSetMatches(m.subjects, identity, roles)).map((m) => m.raw);
  }

  recordingMode(resource: ResourceInfo): RecordingMode {
    const matching = this.model.recording.overrides.filter((o) => resourceSetMatches(o.resources, resource));
    if (matching.length === 0) return this.model.recording.mode;
    // Overlapping overrides: fail-closed wins.
    return matching.some((o) => o.mode === "fail-closed") ? "fail-closed" : "best-effort";
  }

  /**
   * Rules whose subjects and resources match; `gated` = those that only lack an active grant.
   * Resolved once per (identity, resource, grant active) and kept while those objects live: a
   * session asks for every statement with the same ones (a renewed token is a new identity object).
   * The compiled policy never changes, and identities and resources are never changed in place.
   */
  private applicableRules(input: ConnectInput): Applicable {
    const { identity, resource } = input;
    const grantActive = (input.activeGrants ?? []).includes(resource.name);
    let byResource = this.applicableCache.get(identity);
    if (!byResource) this.applicableCache.set(identity, (byResource = new WeakMap()));
    let entry = byResource.get(resource);
    if (!entry) byResource.set(resource, (entry = {}));
    const slot = grantActive ? "granted" : "plain";
    return (entry[slot] ??= this.resolveApplicable(identity, resource, grantActive));
  }

  private resolveApplicable(identity: Identity, resource: ResourceInfo, grantActive: boolean): Applicable {
    const roles = this.lazyRoles(identity);
    const rules: CompiledRule[] = [];
    const gated: CompiledRule[] = [];
    for (const r of this.model.rules) {
      if (!resourceSetMatches(r.resources, resource) || !subjectSetMatches(r.subjects, identity, roles)) continue;
      if (r.requiresGrant && !grantActive) gated.push(r);
      else rules.push(r);
    }
    return { rules, gated };
  }

  private lazyRoles(identity: Identity): () => ReadonlySet<string> {
    let cached: ReadonlySet<string> | null = null;
    return () => (cached ??= new Set(this.rolesOf(identity)));
  }

  private ruleRef(rule: CompiledRule): string {
    return `rule '${rule.name}' (${this.source}:${rule.line})`;
  }
}

const EMPTY_ROLES: ReadonlySet<string> = new Set();

interface Applicable {
  rules: CompiledRule[];
  gated: CompiledRule[];
  /** decideSql's subsets, computed on first use. */
  sql?: { rules: CompiledRule[]; gated: CompiledRule[] };
}

/** The first rule (policy order) with the most restrictive effect, or null. */
function strictest(rules: readonly CompiledRule[]): CompiledRule | null {
  let best: CompiledRule | null = null;
  for (const r of rules) if (!best || EFFECT_RANK[r.effect] > EFFECT_RANK[best.effect]) best = r;
  return best;
}

function approvalOf(rule: CompiledRule): ApprovalRequirement {
  return { rule: rule.name, approvers: rule.approversRaw, timeoutMs: rule.approvalTimeoutMs, required: rule.requiredApprovals };
}

function describeStatement(stmt: ClassifiedStatement | StatementPart): string {
  const what = stmt.flags.length > 0 ? `${stmt.kind} [${stmt.flags.join(", ")}]` : stmt.kind;
  // A function part names its functions: "admin (pg_terminate_backend)".
  return "start" in stmt || stmt.functions.length === 0 ? what : `${what} (${stmt.functions.join(", ")})`;
}

function who(identity: Identity): string {
  return `'${identity.subject}' (${identity.issuer})`;
}

function grantHint(gated: readonly CompiledRule[], resource: ResourceInfo): string {
  if (gated.length === 0) return "";
  return ` (rule '${gated[0]!.name}' would allow it with an active grant for ${resource.name})`;
}
