/** Role gate for console pages: the same roles (policy `roles:`) the REST API checks, server-side, on every route. */
import { createMiddleware } from "hono/factory";
import { ForbiddenError } from "../errors.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import type { ConsoleEnv } from "../signin/session.ts";

export function consoleRole(role: string) {
  return createMiddleware<ConsoleEnv>(async function consoleRoleMiddleware(c, next) {
    const policy = await currentPolicy(c.env);
    if (!policy.rolesOf(c.var.identity).includes(role)) throw new ForbiddenError(`this page needs the ${role} role; you (${c.var.identity.subject}) do not hold it`);
    await next();
  });
}
