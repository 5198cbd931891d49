/** MySQL/MariaDB's worker part (protocols/registry-worker.ts): the engine (mysql-engine.ts). */
import type { WorkerProtocol } from "../../../worker/engines/engine.ts";
import { mysqlModule } from "../module.ts";
import { MysqlEngine } from "./mysql-engine.ts";

export { MysqlEngine } from "./mysql-engine.ts";

export const mysqlWorker: WorkerProtocol = {
  module: mysqlModule,
  createEngine: (host) => new MysqlEngine(host),
};
