/** The Gatehouse policy engine: load a YAML policy, then ask it for decisions. See docs/POLICY.md. */
export { loadPolicy, MAX_POLICY_BYTES, type LoadPolicyOptions } from "./load.ts";
export { DEV_ISSUER_SYMBOL } from "./dev-issuer.ts";
export { formatPolicyError, formatPolicyErrors, type PolicyError } from "./errors.ts";
export { compileGlob, GlobSet, type Glob } from "./glob.ts";
export { parseDuration, formatDuration } from "./duration.ts";
export { policyHash } from "./hash.ts";
export { GITHUB_ISSUER, GITLAB_ISSUER, GITHUB_CLAIMS, GITLAB_CLAIMS, claimValueMatches } from "./subjects.ts";
export { STATEMENT_KINDS, STATEMENT_FLAGS } from "./actions.ts";
export { ACCESS_LEVELS, type AccessLevel } from "./access-level.ts";
export { POLICY_VERSION, MASKING_RULE_KEYS } from "./compile.ts";
export {
  EFFECTS,
  EFFECT_RANK,
  type ApprovalRequirement,
  type CompiledPolicy,
  type ConnectInput,
  type Decision,
  type Effect,
  type LoadResult,
  type MatchedRule,
  type RecordingMode,
  type SessionLimits,
  type SqlInput,
  type StatementDecision,
} from "./types.ts";
