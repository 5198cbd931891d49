/**
 * The docs cannot go stale: every fenced shell block marked runnable in README.md and docs/*.md
 * (conventions: test/docs/README.md) is executed against ONE local stack — the real `npm start`,
 * with the shipped demo policy, on free ports and a temporary GATEHOUSE_HOME, as a newcomer on
 * other ports would run it. Each file's commands run in their own bash, in a sandbox directory
 * that looks like this checkout (its top-level entries linked) with its own HOME, so files they
 * write (keys, exports, configs) never land in the checkout.
 *
 * The environment is what npm start's banner says to export (GATEHOUSE_HOME, GATEHOUSE_URL) with
 * this checkout's bin/ first on PATH, then the tests' kubectl v1.35 (test/kubernetes/kubectl-binaries.ts). The
 * commands run as written, with these substitutions only:
 *   listener ports (`--port N` in the file, and every other N of that file) → free ports;
 *   http://127.0.0.1:8787 (npm start's default gateway) → the stack's;  /etc/gatehouse → $HOME/etc/gatehouse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePortBelowEphemeralRange } from "../../client/dev/ports.ts";
import { demoServersDir } from "../../client/dev/home.ts";
import { cleanPgEnv } from "../harness/stack.ts";
import { exportedVariables, npmStart, type NpmStart } from "../e2e/support/npm-start.ts";
import { documentationFiles, expectationMatches, runnableCommands, type RunnableCommand } from "./runnable-blocks.ts";
import { docScript } from "./doc-script.ts";
import { kubectlPath } from "../kubernetes/kubectl-binaries.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const docs = documentationFiles(ROOT)
  .map(({ file, text }) => ({ file, commands: runnableCommands(file, text) }))
  .filter((d) => d.commands.length > 0);
/** Checkout entries a sandbox does not link: state and build output the commands may create. */
const NOT_LINKED = new Set([".git", ".gatehouse", "release", "dist"]);

const work = mkdtempSync(path.join(tmpdir(), "gh-docs-"));
const home = path.join(work, "gatehouse-home");
let stack: NpmStart;
let gatewayEnv: Record<string, string> = {};

beforeAll(async () => {
  stack = npmStart({
    GATEHOUSE_HOME: home,
    GATEHOUSE_PORT: String(await freePortBelowEphemeralRange()),
    GATEHOUSE_ISSUER_PORT: String(await freePortBelowEphemeralRange()),
    GATEHOUSE_DEMO_PG_PORT: String(await freePortBelowEphemeralRange()),
  });
  const vars = exportedVariables(await stack.ready);
  gatewayEnv = { GATEHOUSE_HOME: vars.GATEHOUSE_HOME!, GATEHOUSE_URL: vars.GATEHOUSE_URL! };
}, 300_000);

afterAll(async () => {
  if (stack?.child.pid && stack.child.exitCode === null) {
    const exited = new Promise((resolve) => stack.child.once("exit", resolve));
    process.kill(-stack.child.pid, "SIGTERM");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
  const servers = demoServersDir(home);
  if (servers) rmSync(servers, { recursive: true, force: true });
}, 60_000);

/** A directory that looks like this checkout to the commands, where what they write stays. */
function sandbox(name: string): { dir: string; home: string } {
  const dir = mkdtempSync(path.join(work, `${name}-`));
  for (const entry of readdirSync(ROOT)) if (!NOT_LINKED.has(entry)) symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  const userHome = path.join(dir, ".home");
  mkdirSync(userHome, { mode: 0o700 });
  return { dir, home: userHome };
}

async function substitutions(commands: RunnableCommand[], userHome: string): Promise<(command: string) => string> {
  const ports = new Map<string, number>();
  for (const c of commands) for (const m of c.command.matchAll(/--port (\d{2,5})\b/g)) if (m[1] !== "0" && !ports.has(m[1]!)) ports.set(m[1]!, await freePortBelowEphemeralRange());
  return (command) => {
    let out = command;
    for (const [from, to] of ports) out = out.replace(new RegExp(`\\b${from}\\b`, "g"), String(to));
    return out.replace(/http:\/\/127\.0\.0\.1:8787\b/g, gatewayEnv.GATEHOUSE_URL!).replace(/\/etc\/gatehouse\b/g, `${userHome}/etc/gatehouse`);
  };
}

/** Runs a file's commands (one bash, in a sandbox); returns each command's output and status. */
async function runAll(file: string, box: { dir: string; home: string }, commands: RunnableCommand[]): Promise<Array<{ output: string; status: number | undefined }>> {
  const D = path.join(box.dir, ".doc-run");
  mkdirSync(D);
  writeFileSync(path.join(D, "run.sh"), docScript(commands));
  const env: NodeJS.ProcessEnv = { ...cleanPgEnv(), ...gatewayEnv, HOME: box.home, PATH: `${path.join(ROOT, "bin")}:${path.dirname(kubectlPath())}:${process.env.PATH}`, GH_DOC_OUT: D, NO_COLOR: "1" };
  for (const k of ["GATEHOUSE_TOKEN", "GATEHOUSE_STATE_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "KUBECONFIG"]) delete env[k];
  // Its own process group: whatever the commands left running (listeners) is ended with it.
  const child = spawn("bash", [path.join(D, "run.sh")], { cwd: box.dir, env, detached: true, stdio: "ignore" });
  const endGroup = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // nothing left running
    }
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const read = (f: string) => {
    try {
      return readFileSync(path.join(D, f), "utf8");
    } catch {
      return "";
    }
  };
  // After the last command, background commands with expectations (held requests) get up to a
  // minute to print what is expected of them or to exit; listeners are ended with the script.
  const settled = () =>
    commands.every((c, i) => !c.background || (c.expect.length === 0 && c.status === undefined) || read(`rc.${i}`) !== "" || c.expect.every((e) => expectationMatches(e, read(`out.${i}`))));
  const started = Date.now();
  let endedAt: number | undefined;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone && Date.now() - started < 240_000) {
    if (read("t.end") !== "") {
      endedAt ??= Date.now();
      if (settled() || Date.now() - endedAt > 60_000) break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  endGroup();
  await exited;
  if (process.env.DOCS_TIMING) {
    // How long each command took (placeholder waits count towards the previous one): where the time goes.
    const t = commands.map((_, i) => Number(read(`t.${i}`))).concat(Number(read("t.end")));
    const rows = commands.map((c, i) => ({ s: t[i + 1]! - t[i]!, where: `${c.file}:${c.line} ${c.command.slice(0, 70)}` }));
    process.stderr.write(`${file}: ${(t.at(-1)! - t[0]!).toFixed(1)} s\n${rows.map((r) => `  ${r.s.toFixed(1).padStart(5)} s  ${r.where}`).join("\n")}\n`);
  }
  return commands.map((_, i) => ({ output: read(`out.${i}`), status: read(`rc.${i}`) === "" ? undefined : Number(read(`rc.${i}`).trim()) }));
}

describe("runnable documentation", () => {
  it("the walkthrough is marked runnable", () => {
    const readme = docs.find((d) => d.file === "README.md");
    expect(readme?.commands.map((c) => c.command).join("\n")).toMatch(/gatehouse connect demo-pg[\s\S]*psql[\s\S]*drop table/);
  });

  for (const { file, commands: written } of docs) {
    it(`${file}: every runnable command works as documented`, async () => {
      const box = sandbox(path.basename(file, ".md"));
      const substitute = await substitutions(written, box.home);
      // Expected output names the ports too (`listening on 127.0.0.1:2222`).
      const commands = written.map((c) => ({ ...c, command: substitute(c.command), expect: c.expect.map(substitute) }));
      const results = await runAll(file, box, commands);
      const failures = commands.flatMap((c, i) => {
        const { output, status } = results[i]!;
        const where = `${c.file}:${c.line}: ${c.command}`;
        const wrong = c.expect.filter((e) => !expectationMatches(e, output)).map((e) => `${where}\n  expected output: ${e}\n  got: ${output.trim()}`);
        const listener = c.background && c.expect.length === 0 && c.status === undefined;
        // A listener runs until the file is done: it fails only by ending with an error.
        const wantStatus = listener ? (status === undefined ? undefined : 0) : (c.status ?? (c.expect.length > 0 ? undefined : 0));
        if (wantStatus !== undefined && status !== wantStatus) wrong.push(`${where}\n  exit status ${status ?? "(still running)"}, expected ${wantStatus}: ${output.trim()}`);
        return wrong;
      });
      expect(failures).toEqual([]);
    }, 300_000);
  }
});
