/**
 * The platform floor of the middle hop (issue 18): bench/workerd-relay/worker.ts — a Durable Object
 * that pairs the client's WebSocket with the forwarder's stream and passes binary messages through —
 * under the same standalone workerd binary, compatibility date and flags as the self-host bundle the
 * bench measures for gatehouse* (test/harness/selfhost-worker.ts), with its Durable Object storage
 * (SQLite) on disk under TMPDIR like the product's. The Node hops are the bare relay's
 * (relay-node.ts): so `workerd-relay` differs from `relay` by the middle hop alone.
 *
 * Paths: `workerd-relay` (pure pass-through) and `workerd-relay+write` (plus one durable write per
 * round trip, held behind the output gate like the product's recording commit): two listeners, one
 * forwarder, one workerd process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { wranglerCompatibility } from "../../scripts/selfhost-config.ts";
import { BENCH_RELAY_CONFIG_NAME } from "../../test/harness/procs.ts";
import { REPO, runTs, startChild, type Child } from "./child.ts";
import { freePort } from "../../client/dev/ports.ts";

const WORKERD = path.join(REPO, "node_modules/workerd/bin/workerd");

export interface RunningWorkerdRelay {
  /** Local ports of the two listeners. */
  port: number;
  writePort: number;
  pids: { workerd: number; forwarder: number; listener: number; writeListener: number };
  stop(): Promise<void>;
}

function config(port: number, stateDir: string, compat: { compatibilityDate: string; compatibilityFlags: string[] }): string {
  const str = (s: string) => JSON.stringify(s);
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "relay", worker = .relay),
    (name = "state", disk = (path = ${str(stateDir)}, writable = true)),
  ],
  sockets = [(name = "http", address = ${str(`127.0.0.1:${port}`)}, http = (), service = "relay")],
);

const relay :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = ${str(compat.compatibilityDate)},
  compatibilityFlags = [${compat.compatibilityFlags.map(str).join(", ")}],
  bindings = [
    (name = "SESSIONS", durableObjectNamespace = "RelaySession"),
    (name = "HUB", durableObjectNamespace = "RelayHub"),
  ],
  durableObjectNamespaces = [
    (className = "RelaySession", uniqueKey = "bench-relay-session", enableSql = true),
    (className = "RelayHub", uniqueKey = "bench-relay-hub", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "state"),
);
`;
}

export async function startWorkerdRelay(target: { host: string; port: number }, log: (l: string) => void = () => undefined): Promise<RunningWorkerdRelay> {
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-workerd-relay-"));
  const children: Child[] = [];
  let workerd: ChildProcess | undefined;
  const killNow = () => workerd?.kill("SIGKILL");
  process.once("exit", killNow);
  const stop = async () => {
    for (const c of children.reverse()) await c.stop();
    process.off("exit", killNow);
    const w = workerd;
    if (w && w.exitCode === null && w.signalCode === null) {
      const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
      w.kill("SIGKILL"); // workerd drains on SIGTERM until every WebSocket closes
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await build({ entryPoints: [path.join(REPO, "bench/workerd-relay/worker.ts")], bundle: true, format: "esm", target: "es2022", external: ["cloudflare:workers"], outfile: path.join(dir, "worker.js"), logLevel: "error" });
    await mkdir(path.join(dir, "state"));
    const port = await freePort();
    const configFile = path.join(dir, BENCH_RELAY_CONFIG_NAME);
    await writeFile(configFile, config(port, path.join(dir, "state"), wranglerCompatibility()));
    let output = "";
    workerd = spawn(WORKERD, ["serve", configFile, "--experimental"], { stdio: ["ignore", "pipe", "pipe"] });
    workerd.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    workerd.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 426) break;
      if (workerd.exitCode !== null || Date.now() > deadline) throw new Error(`workerd-relay did not start (last status ${status}):\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`workerd-relay: standalone workerd on port ${port} (pid ${workerd.pid})`);
    const forwarder = await startChild([...runTs("bench/lib/relay-node.ts"), "forwarder", String(port), target.host, String(target.port)], /^ready$/, { name: "workerd-relay forwarder" });
    children.push(forwarder);
    const listener = await startChild([...runTs("bench/lib/relay-node.ts"), "listener", String(port), "/client"], /^port (\d+)$/, { name: "workerd-relay listener" });
    children.push(listener);
    const writeListener = await startChild([...runTs("bench/lib/relay-node.ts"), "listener", String(port), "/client-write"], /^port (\d+)$/, { name: "workerd-relay+write listener" });
    children.push(writeListener);
    return {
      port: Number(listener.match[1]),
      writePort: Number(writeListener.match[1]),
      pids: { workerd: workerd.pid!, forwarder: forwarder.pid, listener: listener.pid, writeListener: writeListener.pid },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
