/** HTTP's CLI part (protocols/registry-client.ts, generated): its local listener engine. */
export { httpEngine as httpClient } from "./engine.ts";
