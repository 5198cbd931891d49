/** Resource type → the listener engine of its protocol module (protocols/registry-client.ts). */
import { CliError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { CLIENT_PROTOCOLS, clientEngine } from "../../protocols/registry-client.ts";
import { kubernetesEngine } from "../../protocols/kubernetes/client/listener-engine.ts";

/**
 * Listener engines of protocol modules that are not in protocols/modules.ts yet (their worker
 * and connector parts are still being built: docs/KUBERNETES.md § What remains). They move into
 * the generated CLIENT_PROTOCOLS with their line in protocols/modules.ts.
 */
const PENDING_MODULES: Readonly<Record<string, Engine>> = { kubernetes: kubernetesEngine };

export function engineFor(type: string): Engine {
  const engine = clientEngine(type) ?? (Object.hasOwn(PENDING_MODULES, type) ? PENDING_MODULES[type] : undefined);
  if (!engine) throw new CliError(`resource type ${JSON.stringify(type)} is not supported by this gatehouse client (supported: ${supportedTypes().join(", ")})`);
  return engine;
}

export function supportedTypes(): string[] {
  return [...Object.keys(CLIENT_PROTOCOLS), ...Object.keys(PENDING_MODULES)];
}
