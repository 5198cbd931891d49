/**
 * What an approver needs to know about who is asking: the CI context carried by the requester's
 * OIDC claims (GitHub Actions, GitLab CI), with a link to the run when the claims allow one.
 * Pure: claims in, plain data out. Unknown issuers yield no CI context (a person, or another CI).
 */
import type { Identity } from "../../parsers/identity.ts";

export interface CiContext {
  provider: "github" | "gitlab";
  repository?: string;
  ref?: string;
  sha?: string;
  workflow?: string;
  /** GitHub run_id / GitLab pipeline_id: identifies one pipeline run. */
  runId?: string;
  runAttempt?: string;
  /** Link to the run (GitHub: https://github.com/<repo>/actions/runs/<run_id>; GitLab: <server>/<project>/-/pipelines/<id>). */
  runUrl?: string;
  /** Who triggered the run (GitHub `actor`, GitLab `user_login`). */
  actor?: string;
  /** GitLab: where the pipeline definition came from. */
  configRef?: string;
  environment?: string;
  event?: string;
}

/** The requester (or an approver) as approval records show it. */
export interface Principal {
  issuer: string;
  subject: string;
  /** One human line: "octo/app@refs/heads/main (deploy)" or an e-mail / username / subject. */
  label: string;
  ci?: CiContext;
}

const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
/** Bounded: claims come from tokens we verified, but their size is the issuer's choice. */
const MAX_CLAIM_CHARS = 300;

function str(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string" || v === "") return undefined;
  return v.length > MAX_CLAIM_CHARS ? v.slice(0, MAX_CLAIM_CHARS) : v;
}

const SAFE_PATH = /^[A-Za-z0-9._/-]+$/;
const DIGITS = /^\d{1,20}$/;

function isGitLab(claims: Record<string, unknown>): boolean {
  return typeof claims.project_path === "string" && (typeof claims.pipeline_id === "string" || typeof claims.pipeline_id === "number");
}

function isGitHub(issuer: string, claims: Record<string, unknown>): boolean {
  return issuer === GITHUB_ISSUER || (typeof claims.repository === "string" && (typeof claims.run_id === "string" || typeof claims.run_id === "number"));
}

/** CI context of an identity, or undefined for people and unknown pipelines. */
export function ciContextOf(identity: Identity): CiContext | undefined {
  const c = identity.claims ?? {};
  if (isGitLab(c)) {
    const ctx: CiContext = {
      provider: "gitlab",
      repository: str(c.project_path),
      ref: str(c.ref),
      sha: str(c.sha),
      runId: str(c.pipeline_id),
      actor: str(c.user_login),
      configRef: str(c.ci_config_ref_uri),
      environment: str(c.environment),
      event: str(c.pipeline_source),
    };
    // GitLab tokens are issued by the instance itself: the issuer is the server URL.
    if (ctx.repository && SAFE_PATH.test(ctx.repository) && ctx.runId && DIGITS.test(ctx.runId) && /^https:\/\/[^/]+$/.test(identity.issuer.replace(/\/$/, ""))) {
      ctx.runUrl = `${identity.issuer.replace(/\/$/, "")}/${ctx.repository}/-/pipelines/${ctx.runId}`;
    }
    return clean(ctx);
  }
  if (isGitHub(identity.issuer, c)) {
    const ctx: CiContext = {
      provider: "github",
      repository: str(c.repository),
      ref: str(c.ref),
      sha: str(c.sha),
      workflow: str(c.workflow) ?? str(c.job_workflow_ref),
      runId: str(c.run_id),
      runAttempt: str(c.run_attempt),
      actor: str(c.actor),
      environment: str(c.environment),
      event: str(c.event_name),
    };
    if (ctx.repository && SAFE_PATH.test(ctx.repository) && ctx.runId && DIGITS.test(ctx.runId)) {
      ctx.runUrl = `https://github.com/${ctx.repository}/actions/runs/${ctx.runId}`;
      if (ctx.runAttempt && DIGITS.test(ctx.runAttempt)) ctx.runUrl += `/attempts/${ctx.runAttempt}`;
    }
    return clean(ctx);
  }
  return undefined;
}

function clean(ctx: CiContext): CiContext {
  for (const k of Object.keys(ctx) as (keyof CiContext)[]) if (ctx[k] === undefined) delete ctx[k];
  return ctx;
}

export function principalOf(identity: Identity): Principal {
  const ci = ciContextOf(identity);
  const c = identity.claims ?? {};
  let label: string;
  if (ci) {
    label = ci.repository ?? identity.subject;
    if (ci.ref) label += `@${ci.ref}`;
    if (ci.workflow) label += ` (${ci.workflow})`;
  } else {
    label = str(c.email) ?? str(c.preferred_username) ?? str(c.name) ?? identity.subject;
  }
  const p: Principal = { issuer: identity.issuer, subject: identity.subject, label: label.slice(0, MAX_CLAIM_CHARS) };
  if (ci) p.ci = ci;
  return p;
}

export function principalKey(p: { issuer: string; subject: string }): string {
  return `${p.issuer} ${p.subject}`;
}
