/**
 * A second OS user for "another local user" tests: created once with useradd (the tests run as
 * root, like the sshd account of test/harness/sshd.ts) and kept; every command it runs gets a
 * minimal environment and a throwaway home of its own.
 */
import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const INTRUDER = "gatehouse-intruder";

export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Out> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export interface Intruder {
  home: string;
  /** Run `cmd` as the other user (runuser), with PATH, HOME and `env` only. */
  run(cmd: string, args: string[], env?: Record<string, string>): Promise<Out>;
  cleanup(): void;
}

export async function createIntruder(): Promise<Intruder> {
  if (process.getuid?.() !== 0) throw new Error("another OS user can only be created and used as root");
  if ((await sh("id", ["-u", INTRUDER])).code !== 0) {
    const made = await sh("useradd", ["--system", "--no-create-home", "--shell", "/bin/sh", INTRUDER]);
    if (made.code !== 0 && !/already exists/.test(made.stderr)) throw new Error(made.stderr);
  }
  const uid = Number((await sh("id", ["-u", INTRUDER])).stdout);
  const gid = Number((await sh("id", ["-g", INTRUDER])).stdout);
  const home = mkdtempSync(path.join(tmpdir(), "gatehouse-intruder-home-"));
  chownSync(home, uid, gid);
  return {
    home,
    run: (cmd, args, env = {}) =>
      sh("runuser", ["-u", INTRUDER, "--", "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", `HOME=${home}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      }),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}
