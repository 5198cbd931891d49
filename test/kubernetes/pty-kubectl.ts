/**
 * The real kubectl under a pseudo-terminal (test/kubernetes/pty-run.py, python3's `pty`): kubectl
 * exec -it puts the terminal in raw mode and sends resize messages only when its stdin is a TTY.
 * The test types on the terminal, resizes it (TIOCSWINSZ: the kernel sends kubectl SIGWINCH) and
 * reads what kubectl wrote to it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { KubectlEnv } from "./kubectl-run.ts";

export interface PtyKubectl {
  type(text: string): void;
  resize(cols: number, rows: number): void;
  /** Everything kubectl wrote to its terminal so far. */
  output(): string;
  /** Resolves with the output once `pattern` appears in it. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** kubectl's exit code. */
  exited: Promise<number | null>;
  kill(): void;
}

const HELPER = join(import.meta.dirname, "pty-run.py");

export function startPtyKubectl(env: KubectlEnv, size: { cols: number; rows: number }, args: string[]): PtyKubectl {
  const argv = [env.bin, "--kubeconfig", env.kubeconfig, "--cache-dir", join(env.home, ".kube/cache"), ...args];
  const child = spawn("python3", [HELPER, String(size.cols), String(size.rows), "--", ...argv], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.home, TERM: "xterm" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let errors = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr.on("data", (d: Buffer) => (errors += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => {
    for (const w of waiters) w();
    resolve(code);
  }));
  return {
    type: (text) => child.stdin.write(`W ${Buffer.from(text).toString("base64")}\n`),
    resize: (cols, rows) => child.stdin.write(`R ${cols} ${rows}\n`),
    output: () => out,
    exited,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            cleanup();
            resolve(out);
          } else if (child.exitCode !== null) {
            cleanup();
            reject(new Error(`kubectl exited before ${pattern}; terminal:\n${out}\nhelper:\n${errors}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; terminal:\n${out}\nhelper:\n${errors}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    kill: () => {
      if (child.exitCode === null) child.kill("SIGTERM");
    },
  };
}
