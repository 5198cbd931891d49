/**
 * Subject matchers: who a rule, role, approver list or masking rule applies to. Matched against the
 * verified identity only (issuer, subject, token claims) — never against anything the client says.
 */
import type { Identity } from "../identity.ts";
import type { GlobSet } from "./glob.ts";

export interface ClaimCondition {
  claim: string;
  patterns: GlobSet;
}

/** All present conditions must hold (AND). */
export interface SubjectMatcher {
  issuer: GlobSet | null;
  subject: GlobSet | null;
  claims: ClaimCondition[];
  /** The identity must hold at least one of these roles. */
  roles: string[] | null;
}

/** `any`, or a list of matchers of which at least one must match (OR). */
export type SubjectSet = { any: true } | { any: false; matchers: SubjectMatcher[] };

export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
export const GITLAB_ISSUER = "https://gitlab.com";

/**
 * Claims the `github:` matcher accepts (names as GitHub puts them in its Actions OIDC token).
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 */
export const GITHUB_CLAIMS = [
  "repository",
  "repository_id",
  "repository_owner",
  "repository_owner_id",
  "repository_visibility",
  "ref",
  "ref_type",
  "ref_protected",
  "environment",
  "workflow",
  "workflow_ref",
  "job_workflow_ref",
  "event_name",
  "actor",
  "actor_id",
  "head_ref",
  "base_ref",
  "runner_environment",
] as const;
/** A github matcher must pin one of these, or it would match workflows of every repository on GitHub. */
export const GITHUB_PINNING_CLAIMS = ["repository", "repository_id", "repository_owner", "repository_owner_id"] as const;

/** Claims the `gitlab:` matcher accepts (GitLab CI `id_tokens`). https://docs.gitlab.com/ci/secrets/id_token_authentication/ */
export const GITLAB_CLAIMS = [
  "project_path",
  "project_id",
  "namespace_path",
  "namespace_id",
  "ref",
  "ref_type",
  "ref_protected",
  "ref_path",
  "environment",
  "environment_protected",
  "deployment_tier",
  "pipeline_source",
  "pipeline_id",
  "user_login",
  "user_id",
  "ci_config_ref_uri",
  "ci_config_sha",
  "job_id",
  "runner_environment",
] as const;
export const GITLAB_PINNING_CLAIMS = ["project_path", "project_id", "namespace_path", "namespace_id"] as const;

/**
 * The string a claim value is compared as. Strings as they are; booleans and numbers as their JSON
 * text ("true", "42") — GitLab sends `ref_protected: "true"` as a string while other issuers send
 * booleans, and policies should not have to care. Anything else (null, objects) has no string form
 * and never matches.
 */
function scalarText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** A claim matches when its value matches; an array claim matches when any scalar element matches; a missing claim never matches. */
export function claimValueMatches(value: unknown, patterns: GlobSet): boolean {
  if (Array.isArray(value)) {
    for (const element of value) {
      const text = scalarText(element);
      if (text !== null && patterns.matches(text)) return true;
    }
    return false;
  }
  const text = scalarText(value);
  return text !== null && patterns.matches(text);
}

function hasOwn(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

export function subjectMatcherMatches(m: SubjectMatcher, identity: Identity, roles: () => ReadonlySet<string>): boolean {
  if (m.issuer && !m.issuer.matches(identity.issuer)) return false;
  if (m.subject && !m.subject.matches(identity.subject)) return false;
  const claims = identity.claims;
  if (m.claims.length > 0 && (claims === null || typeof claims !== "object")) return false;
  for (const c of m.claims) {
    // Own properties only: a claim named "constructor" or "__proto__" must not match inherited junk.
    if (!hasOwn(claims, c.claim)) return false;
    if (!claimValueMatches(claims[c.claim], c.patterns)) return false;
  }
  if (m.roles) {
    const held = roles();
    if (!m.roles.some((r) => held.has(r))) return false;
  }
  return true;
}

export function subjectSetMatches(set: SubjectSet, identity: Identity, roles: () => ReadonlySet<string>): boolean {
  if (set.any) return true;
  return set.matchers.some((m) => subjectMatcherMatches(m, identity, roles));
}
