/** MySQL/MariaDB's worker part (protocols/registry-worker.ts): the engine (mysql-engine.ts). */
import type { WorkerProtocol } from "../../../worker/engines/engine.ts";
import { mysqlModule } from "../module.ts";
import { MysqlEngine } from "./mysql-engine.ts";
import { mysqlThreads } from "./threads.ts";
import { forgetCancelKeys } from "../../postgres/worker/cancel-keys.ts";

export { MysqlEngine } from "./mysql-engine.ts";

export const mysqlWorker: WorkerProtocol = {
  module: mysqlModule,
  createEngine: (host, { env, sessionId }) => new MysqlEngine(host, { threads: mysqlThreads(env, sessionId, host.identity) }),
  onSessionEnded: ({ env, sessionId }) => forgetCancelKeys(env, sessionId),
};
