/** The machine a benchmark ran on: the table is meaningless without it. */
import { execFileSync } from "node:child_process";
import { cpus, totalmem, loadavg, tmpdir } from "node:os";

export interface MachineInfo {
  date: string;
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  node: string;
  postgres: string;
  pgbench: string;
  pgbouncer: string;
  kernel: string;
  loadAverage: number[];
  gitCommit: string;
  /** Where temp dirs (and wrangler's local Durable Object storage) live: disk or tmpfs matters for recording. */
  tmpdir: string;
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim();
  } catch {
    return "n/a";
  }
}

export function describeMachine(postgresVersion: string): MachineInfo {
  return {
    date: new Date().toISOString(),
    nproc: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    postgres: postgresVersion,
    pgbench: tryRun("pgbench", ["--version"]),
    pgbouncer: tryRun("pgbouncer", ["--version"]).split("\n")[0] ?? "n/a",
    kernel: tryRun("uname", ["-sr"]),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    gitCommit: tryRun("git", ["rev-parse", "--short", "HEAD"]),
    tmpdir: `${tmpdir()} (${tryRun("findmnt", ["-n", "-o", "FSTYPE", "--target", tmpdir()])})`,
  };
}
