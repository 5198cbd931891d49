/**
 * The policy as one session sees it: the compiled policy document bound to this session's
 * identity and resource, plus the SQL classifier. Every decision names its rule.
 */
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { ClassifiedStatement, SqlClassifier } from "../../parsers/sql/types.ts";
import type { CompiledPolicy, Decision } from "../../parsers/policy/types.ts";

export interface SqlDecision {
  decision: Decision;
  statements: ClassifiedStatement[];
}

export class SessionPolicy {
  constructor(
    readonly compiled: CompiledPolicy,
    private readonly classifier: SqlClassifier,
    private readonly identity: Identity,
    private readonly resource: ResourceInfo,
    private readonly activeGrants: () => string[] = () => [],
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

  limits(): { maxSessionMs: number | null; statementTimeoutMs: number | null } {
    return this.compiled.sessionLimits(this.identity, this.resource);
  }

  maskingRules(): unknown[] {
    return this.compiled.maskingRulesFor(this.identity, this.resource);
  }

  recordingMode(): "fail-closed" | "best-effort" {
    return this.compiled.recordingMode(this.resource);
  }
}
