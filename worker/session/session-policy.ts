/**
 * The policy as one session sees it: the compiled policy document bound to this session's
 * identity and resource, plus the SQL classifier. Every decision names its rule.
 */
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { ClassifiedStatement, SqlClassifier } from "../../parsers/sql/types.ts";
import type { CompiledPolicy, Decision, SessionCaps } from "../../parsers/policy/types.ts";
import type { MaskingRule } from "../../parsers/masking/config.ts";
import type { RequestDescription } from "../../protocols/types.ts";
import { protocolModule } from "../../protocols/registry.ts";
import type { AccessLevel } from "../../parsers/policy/access-level.ts";

/** The answer to one request: the decision (naming its rule) and, for SQL, the classified statements. */
export interface SessionDecision {
  decision: Decision;
  /** SQL: the statements as classified for the decision (empty for other protocols). */
  statements: ClassifiedStatement[];
}

/** @deprecated name: SessionDecision. */
export type SqlDecision = SessionDecision;

export class SessionPolicy {
  private resolvedLimits?: { maxSessionMs: number | null; statementTimeoutMs: number | null };
  constructor(
    readonly compiled: CompiledPolicy,
    private readonly classifier: SqlClassifier,
    /** Replaced when the client renews its token (token-lifetime.ts): decisions use the current claims. */
    private identity: Identity,
    private readonly resource: ResourceInfo,
    private readonly activeGrants: () => string[] = () => [],
    /** Per-tenant HMAC key for `hash` masking rules (GATEHOUSE_MASKING_KEY). */
    private readonly maskingKey?: string,
  ) {}

  get hash(): string {
    return this.compiled.hash;
  }

  decideConnect(): Decision {
    return this.compiled.decideConnect({ identity: this.identity, resource: this.resource, activeGrants: this.activeGrants() });
  }

  /**
   * The one decision entry point: a request as the protocol described it (worker/chain/), decided
   * by its protocol's policy part — SQL (built in: classified with the session's
   * standard_conforming_strings, `attributes.standardConformingStrings`) or the rule kind the
   * protocol module plugs in (`ProtocolModule.policy`, its request in `attributes.request`).
   * An unknown protocol or a protocol without rules is denied (fail closed).
   */
  decide(request: RequestDescription): SessionDecision {
    const module = protocolModule(request.protocol);
    const facts = { identity: this.identity, resource: this.resource, activeGrants: this.activeGrants() };
    if (module?.actionNamespace === "sql" && module.ownSqlDialect) {
      // The protocol's own dialect classifier ran in its engine (e.g. MySQL's lexer and pinned sql_mode).
      const statements = request.attributes?.statements;
      if (!Array.isArray(statements)) {
        const reason = `gatehouse: ${request.protocol} request without classified statements; default deny`;
        return { decision: { effect: "deny", rule: null, reason, matched: [] }, statements: [] };
      }
      return { decision: this.compiled.decideSql({ ...facts, statements: statements as ClassifiedStatement[] }), statements: statements as ClassifiedStatement[] };
    }
    if (module?.actionNamespace === "sql") {
      const standardConformingStrings = request.attributes?.standardConformingStrings !== false;
      const known = request.attributes?.userFunctions;
      const userFunctions = known instanceof Set ? (known as ReadonlySet<string>) : undefined;
      const statements = this.classifier.classify(request.text, { standardConformingStrings, userFunctions });
      return { decision: this.compiled.decideSql({ ...facts, statements }), statements };
    }
    if (module?.policy) return { decision: this.compiled.decideRequest(module.policy.namespace, { ...facts, request: request.attributes?.request }), statements: [] };
    const reason = `gatehouse: no policy rules exist for protocol ${JSON.stringify(request.protocol)}; default deny`;
    return { decision: { effect: "deny", rule: null, reason, matched: [] }, statements: [] };
  }

  /** The database access level the connector logs in with (grants active now included): parsers/policy/access-level.ts. */
  sqlAccessLevel(): AccessLevel {
    return this.compiled.sqlAccessLevel({ identity: this.identity, resource: this.resource, activeGrants: this.activeGrants() });
  }

  /** Whether this identity (a renewed token's) may still connect to the resource. */
  admits(identity: Identity): { ok: boolean; reason: string } {
    const d = this.compiled.decideConnect({ identity, resource: this.resource, activeGrants: this.activeGrants() });
    return { ok: d.effect === "allow", reason: d.reason };
  }

  adopt(identity: Identity): void {
    this.identity = identity;
  }

  /** The session's limits: resolved once, for the identity the session started with. */
  limits(): { maxSessionMs: number | null; statementTimeoutMs: number | null } {
    this.resolvedLimits ??= this.compiled.sessionLimits(this.identity, this.resource);
    return this.resolvedLimits;
  }

  /** Concurrency caps for this identity on this resource (worker/limits/). */
  caps(): SessionCaps {
    return this.compiled.sessionCaps(this.identity, this.resource);
  }

  /** The masking rules for this identity on this resource (none → no masking pass) and the tenant key. */
  maskingConfig(): { rules: MaskingRule[]; hashKey?: string } {
    const rules = this.compiled.maskingRulesFor(this.identity, this.resource) as MaskingRule[];
    return this.maskingKey ? { rules, hashKey: this.maskingKey } : { rules };
  }

  recordingMode(): "fail-closed" | "best-effort" {
    return this.compiled.recordingMode(this.resource);
  }
}
