/** Small helpers for end-to-end tests: run the real psql against a gateway listener. */
import { execFile, spawn, type ChildProcess } from "node:child_process";

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real psql binary; never throws on a non-zero exit. */
export function psql(url: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<PsqlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "psql",
      [url, "-X", "-v", "ON_ERROR_STOP=1", ...args],
      { env: { ...process.env, PGCONNECT_TIMEOUT: "20", ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export function spawnPsql(url: string, args: string[]): ChildProcess {
  return spawn("psql", [url, "-X", ...args], { env: { ...process.env, PGCONNECT_TIMEOUT: "20" }, stdio: ["pipe", "pipe", "pipe"] });
}

/** Polls `check` until it returns a truthy value (bounded), for waiting on server-side state. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, attempts = 200, intervalMs = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs the real `gatehouse` CLI (bin/gatehouse.mjs) with extra environment; never throws. */
export function gatehouse(args: string[], env: Record<string, string> = {}): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/gatehouse.mjs", ...args], { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
