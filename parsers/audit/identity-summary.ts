/**
 * Who is behind an identity, for humans reading a trail: a pipeline (CI claims: repository,
 * ref, workflow, environment) or a person. Knows the GitHub Actions and GitLab CI claim names;
 * anything else with neither is treated as a human (email / preferred_username / sub).
 */
export interface CiClaims {
  repository?: string;
  ref?: string;
  workflow?: string;
  environment?: string;
  run_id?: string;
  actor?: string;
  event?: string;
}

export interface IdentitySummary {
  /** Stable key: issuer + " " + subject. */
  key: string;
  issuer: string;
  subject: string;
  kind: "pipeline" | "human";
  label: string;
  ci?: CiClaims;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

export function ciClaimsOf(claims: Record<string, unknown>): CiClaims | undefined {
  const ci: CiClaims = {
    repository: str(claims.repository) ?? str(claims.project_path),
    ref: str(claims.ref),
    workflow: str(claims.workflow) ?? str(claims.job_workflow_ref) ?? str(claims.ci_config_ref_uri),
    environment: str(claims.environment),
    run_id: str(claims.run_id) ?? str(claims.pipeline_id),
    actor: str(claims.actor) ?? str(claims.user_login),
    event: str(claims.event_name) ?? str(claims.pipeline_source),
  };
  for (const k of Object.keys(ci) as (keyof CiClaims)[]) if (ci[k] === undefined) delete ci[k];
  const isPipeline = ci.repository !== undefined || ci.run_id !== undefined || claims.job_workflow_ref !== undefined;
  return isPipeline ? ci : undefined;
}

export function describeIdentity(issuer: string, subject: string, claims: Record<string, unknown>): IdentitySummary {
  const ci = ciClaimsOf(claims);
  if (ci) {
    let label = ci.repository ?? subject;
    if (ci.ref) label += `@${ci.ref}`;
    if (ci.workflow) label += ` (${ci.workflow})`;
    return { key: `${issuer} ${subject}`, issuer, subject, kind: "pipeline", label, ci };
  }
  const label = str(claims.email) ?? str(claims.preferred_username) ?? str(claims.name) ?? subject;
  return { key: `${issuer} ${subject}`, issuer, subject, kind: "human", label };
}
