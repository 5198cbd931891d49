/** Running the real OpenSSH tools in the SSH tests: a child process with its output and exit status. */
import { spawn } from "node:child_process";
import { TEST_SSH_KEY_FILE } from "../harness/listener-auth.ts";

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    p.stdin.on("error", () => {});
    p.stdin.end(opts.input ?? "");
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * The local listener's host key is generated per run: no known_hosts, no prompts, errors only.
 * The listener accepts only its key: the harness's (test/harness/listener-auth.ts), and only it.
 */
export const SSH_OPTS = [
  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
  "-i", TEST_SSH_KEY_FILE, "-o", "IdentitiesOnly=yes",
];
