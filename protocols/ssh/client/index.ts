/** SSH's CLI part (protocols/registry-client.ts, generated): its local listener engine. */
export { sshEngine as sshClient } from "./listener-engine.ts";
