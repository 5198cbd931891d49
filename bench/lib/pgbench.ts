/**
 * pgbench -S (select-only) runs with per-transaction logs (-l), so we compute p99 ourselves.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { percentile } from "./stats.ts";

export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

export interface PgbenchResult {
  tps: number;
  meanMs: number;
  p99Ms: number;
  transactions: number;
}

/** The environment minus PG* variables (the developer's settings never leak in). */
export function pgEnv(password?: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  if (password) env.PGPASSWORD = password;
  return env;
}

function connArgs(t: PgTarget): string[] {
  return ["-h", t.host, "-p", String(t.port), "-U", t.user];
}

/** pgbench -i: create and fill the pgbench tables (as the database's owner, directly). */
export async function pgbenchInit(t: PgTarget, scale: number): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    execFile("pgbench", ["-i", "-q", "-s", String(scale), ...connArgs(t), t.database], { env: pgEnv(t.password), timeout: 300_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`pgbench -i failed: ${stderr.slice(-500)}`)) : resolve(),
    ),
  );
}

/** `rate`: pgbench -R (transactions per second, all clients together), e.g. a fast path run at a slower one's rate so their CPU per transaction compares at the same load. */
export async function runPgbench(t: PgTarget, o: { mode: "simple" | "extended"; clients: number; seconds: number; rate?: number }): Promise<PgbenchResult> {
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-bench-pgbench-"));
  try {
    const args = [
      "-n", "-S", "-M", o.mode, "-c", String(o.clients), "-j", String(Math.min(o.clients, 2)), "-T", String(o.seconds),
      ...(o.rate ? ["-R", String(Math.max(1, Math.round(o.rate)))] : []),
      "-l", "--log-prefix", path.join(dir, "tx"), ...connArgs(t), t.database,
    ];
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile("pgbench", args, { env: pgEnv(t.password), timeout: (o.seconds + 60) * 1000, maxBuffer: 16 << 20 }, (err, out, stderr) =>
        err ? reject(new Error(`pgbench failed: ${(stderr || String(err)).split("\n").filter(Boolean).slice(-3).join(" | ")}`)) : resolve(out),
      ),
    );
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    if (failed > 0) throw new Error(`pgbench reported ${failed} failed transactions`);
    // Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us
    const latencies: number[] = [];
    for (const f of await readdir(dir)) {
      const text = await readFile(path.join(dir, f), "utf8");
      for (const line of text.split("\n")) {
        if (!line) continue;
        const us = Number(line.split(" ")[2]);
        if (Number.isFinite(us)) latencies.push(us / 1000);
      }
    }
    const meanMs = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    return { tps, meanMs, p99Ms: percentile(latencies, 99), transactions: latencies.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
