/** PostgreSQL's CLI part (protocols/registry-client.ts, generated): its local listener engine. */
export { postgresEngine as postgresClient } from "./listener-engine.ts";
