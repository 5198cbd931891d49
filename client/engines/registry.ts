/** Resource type → the listener engine of its protocol module (protocols/registry-client.ts). */
import { CliError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { CLIENT_PROTOCOLS, clientEngine } from "../../protocols/registry-client.ts";

export function engineFor(type: string): Engine {
  const engine = clientEngine(type);
  if (!engine) throw new CliError(`resource type ${JSON.stringify(type)} is not supported by this gatehouse client (supported: ${supportedTypes().join(", ")})`);
  return engine;
}

export function supportedTypes(): string[] {
  return Object.keys(CLIENT_PROTOCOLS);
}
