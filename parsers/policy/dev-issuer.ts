/**
 * `issuer: dev` — the development issuer, named symbolically so a demo policy works whatever port
 * the local issuer runs on. It stands for exactly the issuer ids the gateway was configured to
 * treat as development issuers (LoadPolicyOptions.devIssuers: the worker's GATEHOUSE_ISSUERS
 * entries with `dev: true`), compared literally. A gateway without such an issuer — every
 * production configuration — resolves it to nothing, so a policy copied from the demo can never
 * make a production gateway trust a development issuer.
 */
import { isScalar, type Node } from "yaml";
import { compileGlob, GlobSet } from "./glob.ts";
import type { PolicyReader } from "./reader.ts";

export const DEV_ISSUER_SYMBOL = "dev";

export function isDevIssuerSymbol(reader: PolicyReader, node: Node | null): boolean {
  const v = reader.resolve(node);
  return !!v && isScalar(v) && v.value === DEV_ISSUER_SYMBOL;
}

/** Literal matchers for the configured development issuer ids (wildcards escaped). */
export function devIssuerSet(devIssuers: readonly string[]): GlobSet {
  return new GlobSet(devIssuers.filter((id) => id !== "").map((id) => compileGlob(id.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`))));
}
