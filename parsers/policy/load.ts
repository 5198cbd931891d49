/**
 * loadPolicy: YAML text in, compiled policy or every error out. Runtime-neutral (WebCrypto only).
 */
import { isNode, LineCounter, parseDocument, type Node } from "yaml";
import { JcsError } from "../encoding/jcs.ts";
import { compilePolicy } from "./compile.ts";
import { PolicyEngine } from "./engine.ts";
import type { PolicyError } from "./errors.ts";
import { policyHash } from "./hash.ts";
import { PolicyReader, PolicyTooLargeError } from "./reader.ts";
import type { LoadResult } from "./types.ts";

/** A policy is configuration written by people: 1 MiB is far beyond any real one. */
export const MAX_POLICY_BYTES = 1024 * 1024;

export interface LoadPolicyOptions {
  /**
   * What `issuer: dev` stands for: the issuer ids the gateway is configured to treat as
   * development issuers (worker: GATEHOUSE_ISSUERS entries with `dev: true`). Empty (the default,
   * and every production configuration): `issuer: dev` matches no identity at all.
   */
  devIssuers?: readonly string[];
}

export async function loadPolicy(yamlText: string, sourceName: string, options: LoadPolicyOptions = {}): Promise<LoadResult> {
  const fail = (line: number, column: number, message: string): LoadResult => ({ ok: false, errors: [{ file: sourceName, line, column, message }] });
  if (typeof yamlText !== "string") return fail(1, 1, "policy text must be a string");
  if (yamlText.length > MAX_POLICY_BYTES) return fail(1, 1, `policy is larger than ${MAX_POLICY_BYTES} bytes`);

  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, merge: false });
  const reader = new PolicyReader(sourceName, lineCounter, doc, options.devIssuers ?? []);

  // YAML syntax errors and warnings (unknown tags…) are all fatal: a policy is applied whole or not at all.
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    const errors: PolicyError[] = yamlProblems.map((e) => {
      const { line, column } = reader.positionOf(e.pos[0]);
      return { file: sourceName, line, column, message: `YAML: ${firstLine(e.message)}` };
    });
    return { ok: false, errors: sortErrors(errors) };
  }
  if (doc.contents === null || doc.contents === undefined) return fail(1, 1, "the policy document is empty");

  try {
    const model = compilePolicy(reader, doc.contents as Node);
    if (reader.errors.length > 0 || !model) return { ok: false, errors: sortErrors(reader.errors) };
    deepFreeze(model);
    const hash = await policyHash(doc.toJS({ maxAliasCount: 1000 }));
    return { ok: true, policy: new PolicyEngine(hash, sourceName, yamlText, model) };
  } catch (e) {
    if (e instanceof JcsError) {
      // The policy hash has no input for it (e.g. a lone surrogate escape "\uD800"): refuse the policy where the value is.
      const node = doc.getIn(e.path, true) as Node | undefined;
      const { line, column } = reader.nodePosition(isNode(node) ? node : null);
      return fail(line, column, `policy: ${e.message}: not JSON data, so it has no policy hash`);
    }
    if (e instanceof PolicyTooLargeError) return fail(1, 1, e.message);
    if (e instanceof Error && /alias/i.test(e.message)) return fail(1, 1, `YAML: ${firstLine(e.message)}`);
    throw e;
  }
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

function sortErrors(errors: PolicyError[]): PolicyError[] {
  return [...errors].sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The compiled model (including masking rules handed out as-is) must not be mutable by consumers. */
function deepFreeze(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Set || value instanceof Map) {
    for (const v of value.values()) deepFreeze(v, seen);
    return; // Set/Map contents are not reachable through the public API.
  }
  Object.freeze(value);
  for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v, seen);
}
