/**
 * Runs the worker locally with `wrangler dev` (workerd), configured through `--var` (spawned
 * without a shell: JSON and YAML values pass through untouched) — except secrets: a command line
 * is world-readable (/proc/<pid>/cmdline, `ps`), so SECRET_VARS go into a 0600 env file in the
 * private persist directory, read by wrangler (`--env-file`) as secret bindings.
 *
 * wrangler starts workerd children; we run it in its own process group and signal the whole
 * group on stop, so Ctrl-C never leaves a workerd behind. A synchronous exit hook does the same
 * if our process dies abruptly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { freePort } from "./ports.ts";
import { makeTreePrivate, writeSecretFile } from "./home.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

export interface WorkerVars {
  GATEHOUSE_ISSUERS: string;
  GATEHOUSE_CONNECTORS: string;
  GATEHOUSE_POLICY: string;
  GATEHOUSE_POLICY_SOURCE: string;
  GATEHOUSE_PUBLIC_URL: string;
  /** Per-tenant HMAC key for hash-style masking rules. */
  GATEHOUSE_MASKING_KEY: string;
  [name: string]: string;
}

/** Worker vars that are secrets: never on a command line. */
const SECRET_VARS = new Set(["GATEHOUSE_MASKING_KEY"]);

/** One `NAME=value` line; only values dotenv (and its `$` expansion) pass through unchanged. */
function envFileLine(name: string, value: string): string {
  if (!/^[A-Za-z0-9_\-.+/=~]*$/.test(value)) throw new Error(`worker secret ${name} has characters an env file cannot carry unchanged`);
  return `${name}=${value}\n`;
}

export interface WranglerOptions {
  port: number;
  persistTo: string;
  vars: WorkerVars;
  /** wrangler.toml to use (default: the repo's). */
  config?: string;
  /** Receives wrangler's output lines (warnings and errors; --log-level warn). */
  log?: (line: string) => void;
  /** How long to wait for GET /healthz (default 60 s). */
  readyTimeoutMs?: number;
  /**
   * A worker whose configuration admits nobody (GET /healthz 503 misconfigured) is stopped and
   * reported (WorkerMisconfiguredError) — the default; false keeps it running (tests of that state).
   */
  requireReady?: boolean;
}

export interface RunningWorker {
  url: string;
  port: number;
  pid: number;
  /** Last output lines, for error messages. */
  recentOutput(): string;
  stop(): Promise<void>;
}

const groups = new Set<number>();
let exitHookInstalled = false;
function killGroupsNow() {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function wranglerBin(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

export async function startWrangler(opts: WranglerOptions): Promise<RunningWorker> {
  const inspectorPort = await freePort();
  const config = opts.config ?? path.join(REPO_ROOT, "wrangler.toml");
  const args = [
    wranglerBin(),
    "dev",
    "--config", config,
    "--ip", "127.0.0.1",
    "--port", String(opts.port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", opts.persistTo,
    "--show-interactive-dev-session=false",
    "--log-level", "warn",
  ];
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(opts.vars)) {
    if (SECRET_VARS.has(name)) secrets.push(envFileLine(name, value));
    else args.push("--var", `${name}:${value}`);
  }

  // Everything wrangler and workerd write (D1, R2, DO storage under persistTo: recordings and the
  // audit signing key) is private to us: a private directory, and umask 077 for the whole tree.
  await mkdir(opts.persistTo, { recursive: true, mode: 0o700 });
  await makeTreePrivate(opts.persistTo);
  // wrangler ignores --env-file when a .dev.vars sits next to the config: the secrets would be missing.
  if (existsSync(path.join(path.dirname(config), ".dev.vars"))) throw new Error(`${path.join(path.dirname(config), ".dev.vars")} exists: wrangler would ignore the worker's secrets file; remove it`);
  const secretsFile = path.join(opts.persistTo, "worker-secrets.env");
  await writeSecretFile(secretsFile, secrets.join(""));
  args.push("--env-file", secretsFile);
  const child: ChildProcess = spawn("/bin/sh", ["-c", 'umask 077 && exec "$0" "$@"', process.execPath, ...args], {
    cwd: REPO_ROOT,
    detached: true, // own process group: we signal wrangler and its workerd children together
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      // No network beyond loopback is needed: skip the Request.cf download, telemetry and update checks.
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_SEND_ERROR_REPORTS: "false",
      WRANGLER_HIDE_BANNER: "true",
      NO_UPDATE_NOTIFIER: "1",
      FORCE_COLOR: "0",
      // Secrets come from our env file only, never from this process's environment.
      CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
      CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
    },
  });
  const pid = child.pid!;
  groups.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", killGroupsNow);
  }

  const recent: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 40) recent.shift();
      opts.log?.(line);
    }
  };
  child.stdout!.on("data", onOutput);
  child.stderr!.on("data", onOutput);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      groups.delete(pid);
      resolve();
    }),
  );

  const stop = async () => {
    if (exited) return;
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    await exitedPromise;
    clearTimeout(timer);
    // workerd children may outlive wrangler by a moment; make sure the group is gone.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  };

  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`wrangler dev exited (code ${exited.code}, signal ${exited.signal}) before the worker was ready:\n${recent.join("\n")}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
      if (res.status === 503 && opts.requireReady === false) break;
      const misconfigured = res.status === 503 ? misconfiguration(await res.text()) : undefined;
      if (misconfigured) {
        await stop();
        throw new WorkerMisconfiguredError(misconfigured);
      }
    } catch (err) {
      if (err instanceof WorkerMisconfiguredError) throw err;
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the worker did not answer GET /healthz within ${(opts.readyTimeoutMs ?? 60_000) / 1000}s:\n${recent.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port: opts.port, pid, recentOutput: () => recent.join("\n"), stop };
}

/** The worker started but its configuration admits nobody (GET /healthz 503 misconfigured). */
export class WorkerMisconfiguredError extends Error {
  override name = "WorkerMisconfiguredError";
  constructor(readonly problems: string[]) {
    super(`the worker's configuration is invalid:\n${problems.map((p) => `  ${p.replace(/\n/g, "\n  ")}`).join("\n")}`);
  }
}

function misconfiguration(body: string): string[] | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; errors?: unknown };
    if (parsed.error !== "misconfigured" || !Array.isArray(parsed.errors)) return undefined;
    return parsed.errors.map(String);
  } catch {
    return undefined;
  }
}
