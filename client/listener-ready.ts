/**
 * `gatehouse connect --ready-file`: the listener's readiness signal for pipelines. The file appears
 * (atomically: written aside, then renamed) only once the listener accepts connections, so a later
 * step that waits for it never races the listener; it is removed when the listener stops.
 * It holds paths to the local credential files, never the secrets themselves, and is 0600.
 */
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { ConnectListener } from "./listener.ts";

export interface ReadyInfo {
  /** Format version of this file. */
  version: 1;
  gateway: string;
  pid: number;
  resource: string;
  type: string;
  host: string;
  port: number;
  /** Local credential files written for this listener (e.g. pgpass, url, ssh key), by name. */
  files: Record<string, string>;
  /** The lines the banner prints: how to point a tool at the listener. */
  usage: string[];
}

export function describeListener(listener: ConnectListener): Omit<ReadyInfo, "version" | "gateway" | "pid"> {
  return { resource: listener.resource, type: listener.type, host: listener.host, port: listener.port, files: { ...listener.auth.files }, usage: [...listener.usage] };
}

export async function writeReadyFile(file: string, info: Omit<ReadyInfo, "version">): Promise<void> {
  const target = path.resolve(file);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(JSON.stringify({ version: 1, ...info }, null, 2) + "\n");
  } finally {
    await handle.close();
  }
  await rename(temp, target);
}

export async function removeReadyFile(file: string): Promise<void> {
  await rm(path.resolve(file), { force: true });
}
