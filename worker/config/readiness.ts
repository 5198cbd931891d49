/**
 * Readiness: whether this worker's configuration can admit anyone — trusted issuers, connector
 * keys, the policy in force and its masking rules (with the tenant key). `/healthz` reports it, and
 * every client route answers `503 misconfigured` with the same problems while it is not ready, so
 * a broken configuration is loud at start and never surfaces as a 500 (docs/CONFIGURATION.md).
 */
import { compileConfig, MaskingConfigError, type MaskingRule } from "../../parsers/masking/config.ts";
import type { Env } from "../env.ts";
import { ConfigurationError } from "../errors.ts";
import { assertKeySources, parseConnectors, parseIssuers } from "./gateway-config.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { parseExportConfig } from "../export/config.ts";
import { parseSigninConfig, signinIssuerProblems } from "../signin/config.ts";

/** Each problem on its own line; policy errors already carry file:line:col. Empty = ready. */
export async function readinessProblems(env: Env): Promise<string[]> {
  const problems: string[] = [];
  const check = (what: () => void) => {
    try {
      what();
    } catch (e) {
      if (!(e instanceof ConfigurationError)) throw e;
      problems.push(e.message);
    }
  };
  check(() => {
    const issuers = parseIssuers(env.GATEHOUSE_ISSUERS);
    if (issuers.length === 0) throw new ConfigurationError("GATEHOUSE_ISSUERS lists no trusted issuer: no identity can be verified");
    assertKeySources(issuers, "GATEHOUSE_ISSUERS");
  });
  check(() => parseConnectors(env.GATEHOUSE_CONNECTORS));
  check(() => parseExportConfig(env.GATEHOUSE_EXPORT));
  check(() => {
    const problems = signinIssuerProblems(parseSigninConfig(env.GATEHOUSE_SIGNIN), parseIssuers(env.GATEHOUSE_ISSUERS));
    if (problems.length) throw new ConfigurationError(problems.join("\n"));
  });
  try {
    const policy = await currentPolicy(env);
    try {
      compileConfig({ rules: policy.allMaskingRules() as MaskingRule[], hashKey: env.GATEHOUSE_MASKING_KEY });
    } catch (e) {
      if (!(e instanceof MaskingConfigError)) throw e;
      problems.push(`${e.message}${/hashKey/.test(e.message) ? " (set GATEHOUSE_MASKING_KEY)" : ""} — policy ${policy.source}`);
    }
  } catch (e) {
    if (!(e instanceof ConfigurationError)) throw e;
    problems.push(e.message);
  }
  return problems;
}

/** Thrown by the readiness gate in front of client routes; becomes `503 misconfigured`. */
export function notReady(problems: string[]): ConfigurationError {
  return new ConfigurationError(`the gateway is misconfigured and admits nobody:\n${problems.join("\n")}`);
}
