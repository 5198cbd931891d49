/** PostgreSQL's worker part (protocols/registry-worker.ts, generated): the engine and the cancel keys it owns. */
import type { WorkerProtocol } from "../../../worker/engines/engine.ts";
import { pgFramerModule } from "../../../worker/wasm-modules.ts";
import { createSessionMasker } from "../../../worker/masking/session-masker.ts";
import { postgresModule } from "../module.ts";
import { PostgresEngine } from "./postgres-engine.ts";
import { forgetCancelKeys, registerCancelKey } from "./cancel-keys.ts";

export const postgresWorker: WorkerProtocol = {
  module: postgresModule,
  createEngine: (host, { env, sessionId }) =>
    new PostgresEngine(host, {
      framerModule: pgFramerModule,
      masker: createSessionMasker(host),
      registerCancelKey: (pid, secret) => registerCancelKey(env, sessionId, host.identity, pid, secret),
    }),
  onSessionEnded: ({ env, sessionId }) => forgetCancelKeys(env, sessionId),
};
