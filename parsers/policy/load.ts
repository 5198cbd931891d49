/**
 * loadPolicy: YAML text in, compiled policy or every error out. Runtime-neutral (WebCrypto only).
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
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
  const keyErrors = ambiguousKeys(doc, reader, sourceName);
  if (keyErrors.length > 0) return { ok: false, errors: sortErrors(keyErrors) };

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

/**
 * Keys that would change meaning when the policy becomes plain data. Parts of a policy are read as
 * JS values (masking rules, notifications, approvers, protocol-plugged kinds) and the whole
 * document is hashed as JS: there a list or mapping used as a key is stringified ("[ a ]") and
 * two keys that differ only in type (`1:` and `"1":`, `true:` and `"true":`) collapse into one,
 * the later silently replacing the earlier. YAML's own uniqueness check compares values, not their
 * string form, so it lets both through. Refused here, wherever they are, before anything reads them.
 */
function ambiguousKeys(doc: Document, reader: PolicyReader, file: string): PolicyError[] {
  const errors: PolicyError[] = [];
  const at = (node: Node | null | undefined, message: string) => {
    const { line, column } = reader.nodePosition(node ?? null);
    errors.push({ file, line, column, message });
  };
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key as Node | null;
        if (key !== null && isNode(key) && !isScalar(key)) {
          at(key, `policy: a ${isMap(key) ? "mapping" : "list or alias"} cannot be a key (keys must be plain strings)`);
          continue;
        }
        const name = isScalar(key) ? String(key.value) : String(key);
        if (seen.has(name)) at(key, `policy: key '${name}' is written twice in this mapping (as different YAML types)`);
        seen.add(name);
      }
    },
  });
  return errors;
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
