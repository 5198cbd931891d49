/**
 * The Gatehouse worker on the production runtime for the benchmark: the self-host bundle
 * (worker/selfhost/index.ts, built as `wrangler deploy --dry-run` builds it) under standalone
 * workerd with the configuration scripts/selfhost-config.ts generates — the same build the
 * production-bundle test runs. Unlike `wrangler dev` there is no proxy worker in front of it: the
 * client's and the connector's WebSockets reach the worker's own listener, and workerd's CPU
 * figure is the worker's alone. The listener is plain HTTP on loopback, as wrangler dev's is
 * (TLS would sit in front of it in production: Cloudflare's edge or an operator's proxy).
 *
 * Storage differs from Cloudflare's the way a self-hosted deployment does: D1 and R2 are the
 * SelfHostStore stand-ins (Durable Object SQLite on disk, under TMPDIR).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { RunningWorker, WorkerVars } from "../../client/dev/wrangler.ts";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { startSelfhostWorker } from "../../test/harness/selfhost-worker.ts";

export type WorkerRuntime = "selfhost" | "wrangler";
export const RUNTIME_LABEL: Record<WorkerRuntime, string> = {
  selfhost: "standalone workerd (self-host bundle, no proxy worker)",
  wrangler: "wrangler dev (workerd + wrangler's proxy worker)",
};

/** `--runtime=selfhost,wrangler` → the runtimes, first = the primary (unsuffixed path names). */
export function parseRuntimes(arg: string | undefined, fallback: WorkerRuntime[] = ["selfhost"]): WorkerRuntime[] {
  if (!arg) return fallback;
  const list = arg.split(",").map((r) => r.trim()).filter(Boolean);
  for (const r of list) if (r !== "selfhost" && r !== "wrangler") throw new Error(`--runtime: unknown runtime ${r} (selfhost, wrangler)`);
  return [...new Set(list)] as WorkerRuntime[];
}

let bundle: Promise<string> | undefined;
const cleanups = new Set<() => Promise<void>>();

/** Build the self-host bundle once per process (into a temp dir removed at exit). */
function selfhostBundle(): Promise<string> {
  bundle ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-selfhost-bundle-"));
    cleanups.add(() => rm(dir, { recursive: true, force: true }));
    await buildWorkerBundle(dir, "worker/selfhost/index.ts");
    return dir;
  })();
  return bundle;
}

/** A `startWorker` for startTestStack: standalone workerd serving the self-host bundle on `port`. */
export async function startSelfhostRuntime(o: { port: number; vars: WorkerVars }): Promise<RunningWorker> {
  const bundleDir = await selfhostBundle();
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-selfhost-"));
  const worker = await startSelfhostWorker({
    dir,
    bundleDir,
    port: o.port,
    vars: o.vars,
    waitReady: async (url) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const status = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
        if (status === 200) return;
        if (Date.now() > deadline) throw new Error(`standalone workerd did not answer /healthz with 200 within 60 s (last status ${status})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  });
  // SIGKILL on stop (startSelfhostWorker's note: workerd drains until every WebSocket closes).
  const killNow = () => {
    try {
      process.kill(worker.pid(), "SIGKILL");
    } catch {
      // gone
    }
  };
  process.once("exit", killNow);
  const stop = async () => {
    process.off("exit", killNow);
    await worker.stop();
    await rm(dir, { recursive: true, force: true });
    for (const c of cleanups) await c().catch(() => undefined);
    cleanups.clear();
    bundle = undefined;
  };
  return { url: worker.url, port: o.port, pid: worker.pid(), recentOutput: () => worker.log().slice(-4000), stop };
}
