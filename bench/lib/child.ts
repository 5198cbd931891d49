/** Child processes of the benchmark: started with a readiness line, never outliving us. */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import path from "node:path";

export const REPO = path.resolve(import.meta.dirname, "../..");

export interface Child {
  pid: number;
  /** The first match of `ready` in the child's stdout/stderr. */
  match: RegExpExecArray;
  /** Last output lines, for error messages. */
  recent(): string;
  stop(): Promise<void>;
}

/**
 * Spawn `node <args>` and wait until its output matches `ready`. The child is SIGKILLed if this
 * process exits first; stdin is a pipe it may watch to exit when we die.
 */
export async function startChild(args: string[], ready: RegExp, opts: SpawnOptions & { timeoutMs?: number; name: string }): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, { ...opts, stdio: ["pipe", "pipe", "pipe"] });
  const killNow = () => child.kill("SIGKILL");
  process.once("exit", killNow);
  const lines: string[] = [];
  let buffered = "";
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${opts.name} not ready after ${(opts.timeoutMs ?? 30_000) / 1000}s:\n${lines.slice(-10).join("\n")}`)), opts.timeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      buffered += d.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (lines.length > 50) lines.shift();
        const m = ready.exec(l);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited (${code}):\n${lines.slice(-10).join("\n")}`));
    });
  });
  return {
    pid: child.pid!,
    match,
    recent: () => lines.join("\n"),
    stop: async () => {
      process.off("exit", killNow);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function runTs(file: string): string[] {
  return [path.join(REPO, "bin/run-ts.mjs"), path.join(REPO, file)];
}
