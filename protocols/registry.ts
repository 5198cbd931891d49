/**
 * Every protocol Gatehouse speaks, from the one hand-written list, protocols/modules.ts (one line
 * per protocol). Each deployable finds its own part of a protocol in a registry generated from
 * that list (`npm run gen:protocols`): protocols/registry-worker.ts (engines),
 * protocols/registry-connector.ts (dialers), protocols/registry-client.ts (listener engines),
 * typed `Record<ProtocolName, …>`. Runtime-neutral: the connector and CLI bundles import this
 * file, never worker code.
 */
import type { ProtocolModule } from "./types.ts";
import * as MODULES from "./modules.ts";

type ListedModule = (typeof MODULES)[keyof typeof MODULES];

/** The protocol modules, in name order (module namespace objects list their exports sorted). */
export const PROTOCOLS: readonly ListedModule[] = Object.values(MODULES) satisfies readonly ProtocolModule[];

export type ProtocolName = ListedModule["name"];

/** The module serving this resource type; undefined for a type no module serves (refuse it). */
export function protocolModule(type: string): ProtocolModule | undefined {
  return PROTOCOLS.find((p) => p.name === type);
}

export function protocolNames(): ProtocolName[] {
  return PROTOCOLS.map((p) => p.name);
}

/** Lookup in a deployable's part registry that cannot be fooled by Object.prototype keys ("constructor"…). */
export function partFor<T>(parts: Readonly<Record<ProtocolName, T>>, type: string): T | undefined {
  return Object.hasOwn(parts, type) ? parts[type as ProtocolName] : undefined;
}
