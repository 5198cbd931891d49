/** The CLI's part of each protocol (protocols/registry.ts): its local listener engine. One line per protocol. Node only, no worker code. */
import type { Engine } from "../client/engines/engine.ts";
import { partFor, type ProtocolName } from "./registry.ts";
import { postgresEngine } from "./postgres/client/listener-engine.ts";
import { sshEngine } from "./ssh/client/listener-engine.ts";
import { httpEngine } from "./http/client/engine.ts";
import { kubernetesEngine } from "./kubernetes/client/listener-engine.ts";

export const CLIENT_PROTOCOLS: Readonly<Record<ProtocolName, Engine>> = {
  postgres: postgresEngine,
  ssh: sshEngine,
  http: httpEngine,
  kubernetes: kubernetesEngine,
};

export function clientEngine(type: string): Engine | undefined {
  return partFor(CLIENT_PROTOCOLS, type);
}
