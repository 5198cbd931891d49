/**
 * The policy that governs new sessions: the one applied through the admin API when there is
 * one, else the GATEHOUSE_POLICY text from configuration. Compiled once per text per isolate.
 * An invalid or missing policy admits nobody (fail closed) and says why.
 */
import { loadPolicy, formatPolicyErrors, type CompiledPolicy } from "../../parsers/policy/index.ts";
import type { Env } from "../env.ts";
import { ConfigurationError } from "../errors.ts";
import { gatewayConfig } from "../config/gateway-config.ts";

/** What the policy's `issuer: dev` stands for: issuers configured with `dev: true` (none in production). */
export function devIssuerIds(env: Pick<Env, "GATEHOUSE_ISSUERS" | "GATEHOUSE_CONNECTORS">): string[] {
  try {
    return gatewayConfig(env).issuers.filter((i) => i.dev).map((i) => i.issuer);
  } catch (e) {
    // Invalid issuers admit nobody anyway (readiness reports them); the policy is still checked.
    if (e instanceof ConfigurationError) return [];
    throw e;
  }
}

const compiled = new Map<string, Promise<CompiledPolicy>>();

export function compilePolicyText(text: string, source: string, devIssuers: readonly string[] = []): Promise<CompiledPolicy> {
  const key = `${source}\u0000${text}\u0000${devIssuers.join("\u0000")}`;
  let promise = compiled.get(key);
  if (!promise) {
    promise = loadPolicy(text, source, { devIssuers }).then((result) => {
      if (!result.ok) throw new ConfigurationError(`policy ${source} is invalid:\n${formatPolicyErrors(result.errors)}`);
      return result.policy;
    });
    compiled.set(key, promise);
    promise.catch(() => compiled.delete(key));
  }
  return promise;
}

export async function currentPolicy(env: Env): Promise<CompiledPolicy> {
  const applied = await appliedPolicy(env);
  const devIssuers = devIssuerIds(env);
  if (applied) return compilePolicyText(applied.text, applied.source, devIssuers);
  if (!env.GATEHOUSE_POLICY || !env.GATEHOUSE_POLICY.trim()) {
    throw new ConfigurationError("no policy is configured (GATEHOUSE_POLICY is empty and none was applied): every request is refused");
  }
  return compilePolicyText(env.GATEHOUSE_POLICY, env.GATEHOUSE_POLICY_SOURCE || "policy.yaml", devIssuers);
}

/** The policy applied through `gatehouse admin policy apply`, if any (latest version wins). */
async function appliedPolicy(env: Env): Promise<{ text: string; source: string } | null> {
  const { ensureSchema } = await import("../storage/schema.ts");
  await ensureSchema(env.DB);
  const row = await env.DB.prepare("SELECT text, source FROM policy_versions ORDER BY version DESC LIMIT 1").first<{ text: string; source: string }>();
  return row ?? null;
}
