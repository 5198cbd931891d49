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
  /** 1, 5 and 15 min load average when the run started (`loadAtStart`), else when this was called. */
  loadAverage: number[];
  /** The same when this was called (the end of the run), if the start was given. */
  loadAverageAtEnd?: number[];
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

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** The load average now: take it when a run starts and pass it to describeMachine at the end. */
export const loadNow = load;

export function describeMachine(postgresVersion: string, loadAtStart?: number[]): MachineInfo {
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
    loadAverage: loadAtStart ?? load(),
    ...(loadAtStart ? { loadAverageAtEnd: load() } : {}),
    gitCommit: tryRun("git", ["rev-parse", "--short", "HEAD"]),
    tmpdir: `${tmpdir()} (${tryRun("findmnt", ["-n", "-o", "FSTYPE", "--target", tmpdir()])})`,
  };
}
