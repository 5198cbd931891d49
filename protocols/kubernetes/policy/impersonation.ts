/**
 * Impersonation derived from the identity by policy (never from the client: client-sent
 * `Impersonate-*` headers are refused, codec/headers.ts). The connector's credential must be
 * allowed to impersonate (RBAC `impersonate` on users/groups) — the cluster's own second wall:
 * with impersonation the API server authorises each request as the pipeline's identity.
 *
 *   impersonate:
 *     user: "ci:{claims.repository}"          # templates: {sub}, {iss}, {claims.<name>}
 *     groups: ["gatehouse:pipelines", "ci:{claims.repository_owner}"]
 *
 * A template naming a claim the token does not have, or a value that is not a plain string of
 * safe characters, makes the request fail (no silent fallback to the connector's own rights).
 */
import type { Identity } from "../../../parsers/identity.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";

export interface ImpersonationSpec {
  user: string;
  groups: string[];
}

export class ImpersonationError extends Error {}

const TEMPLATE = /\{(sub|iss|claims\.[A-Za-z0-9_.:-]+)\}/g;
const SAFE_VALUE = /^[A-Za-z0-9@._:/+=-]{1,253}$/;

export function compileImpersonation(value: unknown): ImpersonationSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicySyntaxError("impersonate: must be a map with user and optional groups");
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== "user" && k !== "groups") throw new PolicySyntaxError(`impersonate: unknown key '${k}'`);
  if (typeof v.user !== "string" || v.user.trim() === "") throw new PolicySyntaxError("impersonate.user: must be a non-empty string");
  const groups = v.groups === undefined ? [] : Array.isArray(v.groups) ? v.groups : [v.groups];
  for (const g of groups) if (typeof g !== "string" || g.trim() === "") throw new PolicySyntaxError("impersonate.groups: entries must be non-empty strings");
  for (const t of [v.user, ...(groups as string[])]) {
    const rest = t.replace(TEMPLATE, "x");
    if (/[{}]/.test(rest)) throw new PolicySyntaxError(`impersonate: '${t}' has a template other than {sub}, {iss} or {claims.<name>}`);
  }
  return { user: v.user, groups: groups as string[] };
}

function expand(template: string, identity: Identity): string {
  const out = template.replace(TEMPLATE, (_, key: string) => {
    let value: unknown;
    if (key === "sub") value = identity.subject;
    else if (key === "iss") value = identity.issuer;
    else value = identity.claims[key.slice("claims.".length)];
    if (typeof value !== "string" && typeof value !== "number") throw new ImpersonationError(`impersonation template '${template}': the token has no usable ${key}`);
    return String(value);
  });
  if (!SAFE_VALUE.test(out)) throw new ImpersonationError(`impersonation template '${template}' gives ${JSON.stringify(out.slice(0, 80))}, which is not a safe user or group name`);
  return out;
}

/** The headers the engine adds upstream (after removing every client `Impersonate-*`). */
export function impersonationHeaders(spec: ImpersonationSpec, identity: Identity): Array<[string, string]> {
  const headers: Array<[string, string]> = [["Impersonate-User", expand(spec.user, identity)]];
  for (const g of spec.groups) headers.push(["Impersonate-Group", expand(g, identity)]);
  return headers;
}
