/**
 * Shared fixtures for the policy tests: realistic token claim sets (shapes copied from GitHub's and
 * GitLab's documentation) and small builders. Imported by tests only.
 */
import type { Identity, ResourceInfo } from "../identity.ts";
import type { ClassifiedStatement, StatementFlag, StatementKind } from "../sql/types.ts";
import { loadPolicy, type LoadPolicyOptions } from "./load.ts";
import { formatPolicyErrors } from "./errors.ts";
import type { CompiledPolicy } from "./types.ts";

export function identityOf(claims: Record<string, unknown>): Identity {
  return { issuer: String(claims.iss), subject: String(claims.sub), claims };
}

/** A GitHub Actions job token: push to main of acme/api, deploying to environment production. */
export function githubClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    jti: "example-id",
    sub: "repo:acme/api:environment:production",
    environment: "production",
    aud: "gatehouse",
    ref: "refs/heads/main",
    sha: "example-sha",
    repository: "acme/api",
    repository_owner: "acme",
    actor_id: "12",
    repository_visibility: "private",
    repository_id: "74",
    repository_owner_id: "1342004",
    run_id: "example-run-id",
    run_number: "10",
    run_attempt: "2",
    runner_environment: "github-hosted",
    actor: "octocat",
    workflow: "deploy",
    head_ref: "",
    base_ref: "",
    event_name: "push",
    ref_type: "branch",
    ref_protected: "true",
    workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/heads/main",
    job_workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/heads/main",
    iss: "https://token.actions.githubusercontent.com",
    nbf: 1632492967,
    exp: 1632493867,
    iat: 1632493567,
    ...overrides,
  };
}

/** A GitHub Actions token of a pull_request workflow of acme/api (no environment). */
export function githubPullRequestClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims = githubClaims({
    sub: "repo:acme/api:pull_request",
    ref: "refs/pull/42/merge",
    event_name: "pull_request",
    head_ref: "feature/x",
    base_ref: "main",
    ref_protected: "false",
    workflow: "ci",
    workflow_ref: "acme/api/.github/workflows/ci.yml@refs/pull/42/merge",
    job_workflow_ref: "acme/api/.github/workflows/ci.yml@refs/pull/42/merge",
    ...overrides,
  });
  delete claims.environment;
  return claims;
}

/** A GitLab CI id_token: protected branch main of acme/api on gitlab.com, environment production. */
export function gitlabClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    namespace_id: "72",
    namespace_path: "acme",
    project_id: "20",
    project_path: "acme/api",
    user_id: "5",
    user_login: "alice",
    user_email: "alice@example.com",
    user_access_level: "maintainer",
    pipeline_id: "574",
    pipeline_source: "push",
    job_id: "302",
    ref: "main",
    ref_type: "branch",
    ref_path: "refs/heads/main",
    ref_protected: "true",
    environment: "production",
    environment_protected: "true",
    deployment_tier: "production",
    runner_id: 1,
    runner_environment: "gitlab-hosted",
    sha: "714a629c0b401fdce83e847fc9589983fc6f46bc",
    project_visibility: "private",
    ci_config_ref_uri: "gitlab.com/acme/api//.gitlab-ci.yml@refs/heads/main",
    ci_config_sha: "714a629c0b401fdce83e847fc9589983fc6f46bc",
    jti: "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
    iss: "https://gitlab.com",
    iat: 1681395193,
    nbf: 1681395188,
    exp: 1681398793,
    sub: "project_path:acme/api:ref_type:branch:ref:main",
    aud: "gatehouse",
    ...overrides,
  };
}

/** A token from the development issuer used by `npm start`. */
export function devClaims(sub = "alice", groups: string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: "http://127.0.0.1:8788", sub, aud: "gatehouse", groups, iat: 1, exp: 2, ...extra };
}

export function resource(name: string, labels: Record<string, string> = {}, type = "postgres"): ResourceInfo {
  return { name, type, labels };
}

export function stmt(kind: StatementKind, command: string, flags: StatementFlag[] = [], functions: string[] = []): ClassifiedStatement {
  return { kind, command, start: 0, end: 0, flags, functions };
}

/** Loads a policy that must be valid (fails the test with the formatted errors otherwise). */
export async function mustLoad(text: string, source = "policy.yaml", options: LoadPolicyOptions = {}): Promise<CompiledPolicy> {
  const result = await loadPolicy(text, source, options);
  if (!result.ok) throw new Error(`policy did not load:\n${formatPolicyErrors(result.errors)}`);
  return result.policy;
}

/** Loads a policy that must be invalid; returns "line:col: message" strings. */
export async function mustFail(text: string, source = "policy.yaml"): Promise<string[]> {
  const result = await loadPolicy(text, source);
  if (result.ok) throw new Error("policy loaded but was expected to be invalid");
  return result.errors.map((e) => `${e.line}:${e.column}: ${e.message}`);
}
