/** MySQL's CLI part (protocols/registry-client.ts, generated): its local listener engine. */
export { mysqlEngine as mysqlClient } from "./engine.ts";
