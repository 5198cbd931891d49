/** Process inspection through /proc (Linux): resident set sizes and the processes we started. */
import { readFileSync, readdirSync } from "node:fs";

/** Resident set size (bytes) of a process; 0 if it has exited. */
export function rss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  } catch {
    return 0;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Every descendant of `root`. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** The standalone workerd of the self-host build runs a config of this name (test/harness/selfhost-worker.ts). */
export const SELFHOST_CONFIG_NAME = "gatehouse.capnp";
/** The benchmark's bare workerd relay (bench/lib/workerd-relay.ts): a workerd of neither runtime, counted by its own path. */
export const BENCH_RELAY_CONFIG_NAME = "workerd-relay.capnp";

/**
 * The workerd processes started under this process (a test file or a benchmark run): all of them,
 * or those of one runtime — wrangler dev's (its worker and its own proxy worker) or the standalone
 * self-host workerd's (one process, no proxy).
 */
export function workerdPids(runtime?: "wrangler" | "selfhost"): number[] {
  return descendants(process.pid).filter((pid) => {
    const c = cmdline(pid);
    if (!c.includes("workerd") || c.includes(BENCH_RELAY_CONFIG_NAME)) return false;
    if (!runtime) return true;
    return c.includes(SELFHOST_CONFIG_NAME) === (runtime === "selfhost");
  });
}

/** The --inspector-port wrangler dev was started with (its DevTools proxy), if any. */
export function wranglerInspectorPort(): number | undefined {
  for (const pid of descendants(process.pid)) {
    const m = /--inspector-port (\d+)/.exec(cmdline(pid));
    if (m && cmdline(pid).includes("wrangler")) return Number(m[1]);
  }
  return undefined;
}

/** CPU time (user + system, seconds) a process has used so far; 0 if it has exited. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] = utime, fields[12] = stime (clock ticks; 100 per second on Linux)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The wrangler dev Node processes (its CLI and its local proxy) we started. */
export function wranglerNodePids(): number[] {
  return descendants(process.pid).filter((pid) => {
    const c = cmdline(pid);
    return c.includes("wrangler") && !c.includes("workerd");
  });
}
