/** The worker's part of each protocol (protocols/registry.ts): its engine. One line per protocol. */
import type { WorkerProtocol } from "../worker/engines/engine.ts";
import { partFor, type ProtocolName } from "./registry.ts";
import { postgresWorker } from "./postgres/worker/index.ts";
import { sshWorker } from "./ssh/worker/index.ts";
import { httpWorker } from "./http/worker/index.ts";
import { kubernetesWorker } from "./kubernetes/worker/index.ts";

const WORKER_PROTOCOLS: Readonly<Record<ProtocolName, WorkerProtocol>> = {
  postgres: postgresWorker,
  ssh: sshWorker,
  http: httpWorker,
  kubernetes: kubernetesWorker,
};

/** The worker part for a resource type; undefined for a type no protocol module serves (refuse it). */
export function workerProtocol(type: string): WorkerProtocol | undefined {
  return partFor(WORKER_PROTOCOLS, type);
}
