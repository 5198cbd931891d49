/**
 * The policy as one session sees it: the compiled policy document bound to this session's
 * identity and resource, plus the SQL classifier. Every decision names its rule.
 */
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { ClassifiedStatement, SqlClassifier } from "../../parsers/sql/types.ts";
import type { CompiledPolicy, Decision, SessionCaps } from "../../parsers/policy/types.ts";
import type { MaskingRule } from "../../parsers/masking/config.ts";
import type { SshRequest } from "../../protocols/ssh/policy/ssh.ts";
import type { AccessLevel } from "../../parsers/policy/access-level.ts";

export interface SqlDecision {
  decision: Decision;
  statements: ClassifiedStatement[];
}

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

  decideSql(sql: string, options: { standardConformingStrings: boolean }): SqlDecision {
    const statements = this.classifier.classify(sql, { standardConformingStrings: options.standardConformingStrings });
    const decision = this.compiled.decideSql({ identity: this.identity, resource: this.resource, statements, activeGrants: this.activeGrants() });
    return { decision, statements };
  }

  /** The database access level the connector logs in with (grants active now included): parsers/policy/access-level.ts. */
  sqlAccessLevel(): AccessLevel {
    return this.compiled.sqlAccessLevel({ identity: this.identity, resource: this.resource, activeGrants: this.activeGrants() });
  }

  /** SSH channel requests (exec lines, shells, SFTP operations, forwarding) — grants included. */
  decideSsh(request: SshRequest): Decision {
    return this.compiled.decideSsh({ identity: this.identity, resource: this.resource, request, activeGrants: this.activeGrants() });
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
