/** Runs the real `npm start` (scripts/start.ts) in a test and finds every process it started. */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parentOf } from "../../../client/dev/parent-watch.ts";

export const REPO = path.resolve(import.meta.dirname, "../../..");

export interface NpmStart {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with stdout once the banner's "Press Ctrl-C to stop." is printed; rejects if npm exits first. */
  ready: Promise<string>;
}

export function npmStart(env: Record<string, string>): NpmStart {
  // Own process group, so the test's signals reach only what it means to signal.
  const child = spawn("npm", ["start", "--silent"], { cwd: REPO, env: { ...process.env, NO_COLOR: "1", ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Press Ctrl-C to stop.")) resolve(out);
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code, signal) => reject(new Error(`npm start exited (${code ?? signal}) before it was ready:\n${err.slice(-4000)}`)));
  });
  return { child, ready, stdout: () => out, stderr: () => err };
}

/** Every live descendant of `root` (by parent pid, Linux /proc). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Pids of `pids` still running (zombies count as gone: they hold nothing but an exit status). */
export function stillRunning(pids: number[]): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim() });
    } catch {
      // gone
    }
  }
  return out;
}

/** `export K=V` lines of a banner, unquoted (the printed next steps use POSIX single quotes only). */
export function exportedVariables(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*export ([A-Z_]+)=(.*)$/gm)) {
    const raw = m[2]!.trim();
    if (raw.startsWith("$(")) continue;
    vars[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return vars;
}
