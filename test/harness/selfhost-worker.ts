/**
 * The self-hosted worker as an operator runs it: the self-host bundle (worker/selfhost/index.ts
 * built by wrangler), a configuration from scripts/selfhost-config.ts, and the standalone
 * `workerd` binary from node_modules — HTTPS listener (or plain HTTP without `tls`: behind a TLS
 * proxy, and the benchmark's loopback paths), outbound TLS trusting the given CA, Durable Object
 * storage (and with it the D1/R2 stand-ins) in a directory on disk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { selfhostConfig, wranglerCompatibility } from "../../scripts/selfhost-config.ts";
import { SELFHOST_CONFIG_NAME } from "./procs.ts";
import { freePort } from "../../client/dev/ports.ts";

const WORKERD = path.resolve(import.meta.dirname, "../../node_modules/workerd/bin/workerd");

export interface SelfhostWorker {
  url: string;
  /** workerd's process id (one process; CPU accounting of the benchmark). */
  pid(): number;
  /** workerd's output so far. */
  log(): string;
  /** Stop workerd (SIGKILL) and wait for it. */
  stop(): Promise<void>;
  /** Kill and start again on the same port and state directory. */
  restart(): Promise<void>;
}

export async function startSelfhostWorker(opts: {
  dir: string;
  bundleDir: string;
  vars: Record<string, string>;
  /** Listener port (default: a free one). */
  port?: number;
  /** Without it the listener is plain HTTP. */
  tls?: { key: string; cert: string };
  trustedCa?: string;
  /** Resolves once the listener answers (the caller's HTTPS client trusts the CA). */
  waitReady: (url: string) => Promise<void>;
}): Promise<SelfhostWorker> {
  mkdirSync(path.join(opts.dir, "state"), { recursive: true });
  if (opts.tls) {
    writeFileSync(path.join(opts.dir, "tls.key"), opts.tls.key, { mode: 0o600 });
    writeFileSync(path.join(opts.dir, "tls.pem"), opts.tls.cert);
  }
  if (opts.trustedCa) writeFileSync(path.join(opts.dir, "ca.pem"), opts.trustedCa);
  const port = opts.port || (await freePort());
  const configFile = path.join(opts.dir, SELFHOST_CONFIG_NAME);
  writeFileSync(
    configFile,
    selfhostConfig({
      bundleDir: opts.bundleDir,
      stateDir: path.join(opts.dir, "state"),
      listen: `127.0.0.1:${port}`,
      tls: opts.tls ? { keyFile: path.join(opts.dir, "tls.key"), certFile: path.join(opts.dir, "tls.pem") } : undefined,
      trustFiles: opts.trustedCa ? [path.join(opts.dir, "ca.pem")] : undefined,
      vars: opts.vars,
      configDir: opts.dir,
      ...wranglerCompatibility(),
    }),
    { mode: 0o600 },
  );
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  let output = "";
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(WORKERD, ["serve", configFile, "--experimental"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    if (process.env.GATEHOUSE_TEST_VERBOSE) child.stderr!.on("data", (d: Buffer) => process.stderr.write(`[workerd] ${d.toString().split("\n").filter((l) => !l.startsWith("stack:")).join("\n")}`));
    await opts.waitReady(url);
  };
  /**
   * SIGKILL: workerd drains on SIGTERM until every connection closes (the connector's WebSocket
   * never does by itself). A kill is also the harsher restart: what a response confirmed must
   * already be on disk.
   */
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url,
    pid: () => child?.pid ?? 0,
    log: () => output,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
