/**
 * THE protocol registry: one line per protocol module, and the only file to edit when adding one
 * (docs/ADDING-A-PROTOCOL.md). Each line re-exports `<name>Module` from protocols/<name>/module.ts;
 * the deployables' registries (registry-worker.ts, registry-connector.ts, registry-client.ts) are
 * generated from these lines by `npm run gen:protocols`, by convention from
 * protocols/<name>/{worker,connector,client}/index.ts, and test/protocol-registries.test.ts fails
 * when they are stale. Runtime-neutral: the connector and CLI bundles import this file.
 * Keep the lines sorted by name (parallel branches adding protocols then merge line by line).
 */
export { httpModule } from "./http/module.ts";
export { kubernetesModule } from "./kubernetes/module.ts";
export { mysqlModule } from "./mysql/module.ts";
export { postgresModule } from "./postgres/module.ts";
export { sshModule } from "./ssh/module.ts";
