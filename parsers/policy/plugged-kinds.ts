/** The rule kinds protocol modules plug in (parsers/policy/action-kinds.ts), by action namespace. */
import type { ActionKind } from "./action-kinds.ts";
import { PROTOCOLS } from "../../protocols/registry.ts";

const KINDS: ReadonlyMap<string, ActionKind> = new Map(
  PROTOCOLS.flatMap((p): Array<[string, ActionKind]> => ("policy" in p && p.policy ? [[p.policy.namespace, p.policy]] : [])),
);

export function actionKind(namespace: string): ActionKind | undefined {
  return KINDS.get(namespace);
}

export function pluggedNamespaces(): string[] {
  return [...KINDS.keys()];
}
