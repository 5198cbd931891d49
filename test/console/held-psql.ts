/** psql with a statement the gateway holds for approval: resolves the approval id from the hold NOTICE. */
import { spawn } from "node:child_process";
import { cleanPgEnv } from "../harness/stack.ts";

export function heldPsql(url: string, sql: string) {
  const child = spawn("psql", [url, "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: ["ignore", "pipe", "pipe"], env: cleanPgEnv() });
  let stdout = "";
  let stderr = "";
  let exited = false;
  child.stdout.on("data", (d) => (stdout += d));
  let foundId: (id: string) => void;
  const id = new Promise<string>((r) => (foundId = r));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /held for approval (\S+)/.exec(stderr);
    if (m) foundId(m[1]!);
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => {
      exited = true;
      resolve({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { id, done, waiting: () => !exited, kill: () => child.kill("SIGKILL") };
}
