/** The signed-in person as the layout shows them: label, roles under the current policy, CSRF token. */
import type { Context } from "hono";
import { principalOf } from "../approvals/ci-context.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import type { ConsoleEnv } from "../signin/session.ts";

export async function whoOf(c: Context<ConsoleEnv>): Promise<{ label: string; csrf: string; roles: string[] }> {
  const policy = await currentPolicy(c.env);
  return { label: principalOf(c.var.identity).label, csrf: c.var.consoleSession.csrf, roles: policy.rolesOf(c.var.identity) };
}
