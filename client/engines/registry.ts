/** Resource type → engine. */
import { CliError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { postgresEngine } from "../../protocols/postgres/client/listener-engine.ts";
import { sshEngine } from "../../protocols/ssh/client/listener-engine.ts";
import { kubernetesEngine } from "../../protocols/kubernetes/client/listener-engine.ts";

const engines = new Map<string, Engine>([
  [postgresEngine.type, postgresEngine],
  [sshEngine.type, sshEngine],
  [kubernetesEngine.type, kubernetesEngine],
]);

export function engineFor(type: string): Engine {
  const engine = engines.get(type);
  if (!engine) throw new CliError(`resource type ${JSON.stringify(type)} is not supported by this gatehouse client (supported: ${[...engines.keys()].join(", ")})`);
  return engine;
}

export function supportedTypes(): string[] {
  return [...engines.keys()];
}
