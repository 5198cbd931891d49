/**
 * Hono glue around the pure OIDC verifier: `bearerIdentity()` admits a request carrying a valid
 * `Authorization: Bearer <JWT>` and sets `c.var.identity`; anything else is a 401 with one line
 * of reason, before any Durable Object is touched.
 */
import { createMiddleware } from "hono/factory";
import type { Identity } from "../../parsers/identity.ts";
import type { Env } from "../env.ts";
import { gatewayConfig } from "../config/gateway-config.ts";
import { UnauthorizedError, ForbiddenError } from "../errors.ts";
import { TokenRejected, verifyOidcToken } from "./verify-oidc-token.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { chargeAuthenticatedCall } from "../limits/api-rate.ts";

export type IdentityVariables = { identity: Identity };
export type AppEnv = { Bindings: Env; Variables: IdentityVariables };

export function bearerToken(header: string | undefined): string {
  if (!header) throw new UnauthorizedError("missing Authorization: Bearer token");
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new UnauthorizedError("Authorization header must be 'Bearer <token>'");
  return match[1]!;
}

/**
 * `api: false` for the route that starts sessions (the tunnel upgrade): it is bounded by the
 * session limits. Every other route counts one call of the tenant's API (hosted
 * mode, worker/limits/api-rate.ts), charged once the token has passed the tenant's issuers and
 * before anything else is asked: a caller without a valid token never spends the tenant's budget,
 * and one the tenant's policy does not name spends a bucket of its own (chargeAuthenticatedCall).
 */
export function bearerIdentity(options: { api?: boolean } = {}) {
  const api = options.api ?? true;
  return createMiddleware<AppEnv>(async function bearerIdentityMiddleware(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    try {
      const identity = await verifyOidcToken(token, { issuers: gatewayConfig(c.env).issuers });
      c.set("identity", { issuer: identity.issuer, subject: identity.subject, claims: identity.claims });
    } catch (e) {
      if (e instanceof TokenRejected) throw new UnauthorizedError(e.message);
      throw e;
    }
    if (api) {
      const refused = await chargeAuthenticatedCall(c.env, c.var.identity, c.req.method, c.req.path);
      if (refused) return refused;
    }
    await next();
  });
}

/** Admits only identities holding `role` under the current policy (roles: section). */
export function requireRole(role: string) {
  const verify = bearerIdentity();
  return createMiddleware<AppEnv>(async function requireRoleMiddleware(c, next) {
    // A refusal by the tenant's API rate is the answer (verify returns it without going on).
    return verify(c, async () => {
      const policy = await currentPolicy(c.env);
      if (!policy.rolesOf(c.var.identity).includes(role)) {
        throw new ForbiddenError(`identity ${c.var.identity.subject} does not hold the ${role} role`);
      }
      await next();
    });
  });
}
