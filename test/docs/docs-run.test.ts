/**
 * The docs cannot go stale: every fenced shell block marked runnable in README.md and docs/*.md
 * (test/docs/runnable-blocks.ts) is executed against a local test stack running the shipped demo
 * policy, with its issuer on an ephemeral port (as npm start on other ports). The commands run as
 * written, with these substitutions only, so they work on a shared machine and offline:
 *   listener ports 5433/2222 → free ports;
 *   `~/.local/state/gatehouse` → the test's GATEHOUSE_STATE_DIR; GATEHOUSE_HOME and GATEHOUSE_URL
 *   are the test stack's, and this checkout's bin/ leads PATH (what npm start's banner would export).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../client/dev/ports.ts";
import { cleanPgEnv, startTestStack, type TestStack } from "../harness/stack.ts";
import { documentationFiles, expectationMatches, runnableCommands, type RunnableCommand } from "./runnable-blocks.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const docs = documentationFiles(ROOT)
  .map(({ file, text }) => ({ file, commands: runnableCommands(file, text) }))
  .filter((d) => d.commands.length > 0);

let stack: TestStack;
const work = mkdtempSync(path.join(tmpdir(), "gh-docs-"));

beforeAll(async () => {
  stack = await startTestStack({ issuerId: null });
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

function substitute(command: string, ports: { pg: number; ssh: number }, stateDir: string): string {
  return command
    .replace(/\b5433\b/g, String(ports.pg))
    .replace(/\b2222\b/g, String(ports.ssh))
    .replace(/~\/\.local\/state\/gatehouse/g, stateDir);
}

/** Runs a file's commands in one bash (exports carry over); returns each command's output and status. */
async function runAll(file: string, commands: RunnableCommand[]): Promise<Array<{ output: string; status: number }>> {
  const dir = mkdtempSync(path.join(work, `${path.basename(file)}-`));
  const stateDir = path.join(dir, "state");
  const ports = { pg: await freePort(), ssh: await freePort() };
  const script = ["cd \"$REPO\""];
  commands.forEach((c, i) => {
    const cmd = substitute(c.command, ports, stateDir);
    if (c.background) {
      script.push(`${cmd} > "$D/out.${i}" 2>&1 &`, `echo 0 > "$D/rc.${i}"`, `for _ in $(seq 600); do [ -s "$D/out.${i}" ] && break; sleep 0.1; done`);
    } else {
      script.push(`{ ${cmd}\n} > "$D/out.${i}" 2>&1 < /dev/null; echo $? > "$D/rc.${i}"`);
    }
  });
  script.push('jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null; exit 0');
  writeFileSync(path.join(dir, "run.sh"), script.join("\n"));
  const env = { ...cleanPgEnv(), PATH: `${path.join(ROOT, "bin")}:${process.env.PATH}`, REPO: ROOT, D: dir, GATEHOUSE_HOME: stack.home, GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_STATE_DIR: stateDir, NO_COLOR: "1" };
  delete (env as Record<string, string | undefined>).GATEHOUSE_TOKEN;
  await new Promise<void>((resolve, reject) => execFile("bash", [path.join(dir, "run.sh")], { env, timeout: 180_000 }, (err) => (err ? reject(err) : resolve())));
  return commands.map((_, i) => ({ output: readFileSync(path.join(dir, `out.${i}`), "utf8"), status: Number(readFileSync(path.join(dir, `rc.${i}`), "utf8").trim()) }));
}

describe("runnable documentation", () => {
  it("the walkthrough is marked runnable", () => {
    const readme = docs.find((d) => d.file === "README.md");
    expect(readme?.commands.map((c) => c.command).join("\n")).toMatch(/gatehouse connect demo-pg[\s\S]*psql[\s\S]*drop table/);
  });

  for (const { file, commands } of docs) {
    it(`${file}: every runnable command works as documented`, async () => {
      const results = await runAll(file, commands);
      const failures = commands.flatMap((c, i) => {
        const { output, status } = results[i]!;
        const where = `${c.file}:${c.line}: ${c.command}`;
        if (c.expect.length > 0) return c.expect.filter((e) => !expectationMatches(e, output)).map((e) => `${where}\n  expected output: ${e}\n  got: ${output.trim()}`);
        return status === 0 ? [] : [`${where}\n  exit status ${status}: ${output.trim()}`];
      });
      expect(failures).toEqual([]);
    }, 240_000);
  }
});
