/**
 * Every protocol Gatehouse speaks, listed once. Each deployable keeps its own part of a protocol
 * in a registry keyed by these names — protocols/registry-worker.ts (engines),
 * protocols/registry-connector.ts (dialers), protocols/registry-client.ts (listener engines) — typed
 * `Record<ProtocolName, …>`, so adding a name here fails the typecheck until each has its line.
 * Runtime-neutral: the connector and CLI bundles import this file, never worker code.
 */
import type { ProtocolModule } from "./types.ts";
import { postgresModule } from "./postgres/module.ts";
import { sshModule } from "./ssh/module.ts";
import { httpModule } from "./http/module.ts";
import { kubernetesModule } from "./kubernetes/module.ts";

export const PROTOCOLS = [postgresModule, sshModule, httpModule, kubernetesModule] as const satisfies readonly ProtocolModule[];

export type ProtocolName = (typeof PROTOCOLS)[number]["name"];

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
