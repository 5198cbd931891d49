/**
 * The policy that governs new sessions: the one applied through the admin API when there is
 * one, else the GATEHOUSE_POLICY text from configuration. Compiled once per text per isolate.
 * An invalid or missing policy admits nobody (fail closed) and says why.
 */
import { loadPolicy, formatPolicyErrors, type CompiledPolicy } from "../../parsers/policy/index.ts";
import type { Env } from "../env.ts";
import { ConfigurationError } from "../errors.ts";

const compiled = new Map<string, Promise<CompiledPolicy>>();

export function compilePolicyText(text: string, source: string): Promise<CompiledPolicy> {
  const key = `${source}\u0000${text}`;
  let promise = compiled.get(key);
  if (!promise) {
    promise = loadPolicy(text, source).then((result) => {
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
  if (applied) return compilePolicyText(applied.text, applied.source);
  if (!env.GATEHOUSE_POLICY || !env.GATEHOUSE_POLICY.trim()) {
    throw new ConfigurationError("no policy is configured (GATEHOUSE_POLICY is empty and none was applied): every request is refused");
  }
  return compilePolicyText(env.GATEHOUSE_POLICY, env.GATEHOUSE_POLICY_SOURCE || "policy.yaml");
}

/** The policy applied through `gatehouse admin policy apply`, if any (latest version wins). */
async function appliedPolicy(env: Env): Promise<{ text: string; source: string } | null> {
  const { ensureSchema } = await import("../storage/schema.ts");
  await ensureSchema(env.DB);
  const row = await env.DB.prepare("SELECT text, source FROM policy_versions ORDER BY version DESC LIMIT 1").first<{ text: string; source: string }>();
  return row ?? null;
}
