/**
 * The doc script's shell machinery, with plain shell commands (no stack): terminals keep their own
 * exported variables, placeholders take the newest unused id, background commands run on.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { docScript } from "./doc-script.ts";
import { runnableCommands } from "./runnable-blocks.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs a markdown snippet's runnable commands; returns each one's output. */
async function run(markdown: string): Promise<string[]> {
  const D = mkdtempSync(path.join(tmpdir(), "gh-doc-script-"));
  dirs.push(D);
  const commands = runnableCommands("T.md", markdown);
  // The final `wait` would wait for background commands: end the script at t.end instead.
  writeFileSync(path.join(D, "run.sh"), docScript(commands).replace(/\nwait\n$/, "\n"));
  await new Promise<void>((resolve, reject) => execFile("bash", [path.join(D, "run.sh")], { env: { PATH: process.env.PATH, GH_DOC_OUT: D } }, (err) => (err ? reject(err) : resolve())));
  return commands.map((_, i) => readFileSync(path.join(D, `out.${i}`), "utf8").trim());
}

describe("doc script", () => {
  it("gives each terminal its own exported variables, whatever their names", async () => {
    // D, like any name a doc may use, is the doc's own.
    const out = await run(["```sh runnable", "export WHO=alice D=/nowhere", "```", "```sh runnable terminal=bob", "echo bob sees ${WHO:-nothing}", "export WHO=bob", "```", "```sh runnable", "echo main sees $WHO in $D", "```"].join("\n"));
    expect(out).toEqual(["", "bob sees nothing", "", "main sees alice in /nowhere"]);
  });

  it("replaces apr_… by the newest id no earlier placeholder took, and <id> by the newest session id", async () => {
    const out = await run(
      [
        "```sh runnable",
        "echo held apr_first",
        "echo approve apr_…",
        "echo held apr_second and again apr_second",
        "echo approve apr_… # or deny apr_…",
        "echo session 0b7a1c2e-1111-4222-8333-444455556666",
        "echo show <id>",
        "echo verify <id>",
        "```",
      ].join("\n"),
    );
    expect(out.filter((l) => /^(approve|show|verify)/.test(l))).toEqual(["approve apr_first", "approve apr_second", "show 0b7a1c2e-1111-4222-8333-444455556666", "verify 0b7a1c2e-1111-4222-8333-444455556666"]);
  });

  it("waits for a background command's first line, and lets it run on", async () => {
    const out = await run(["```sh runnable", "(sleep 0.3; echo listening; sleep 2) &", "echo after", "```"].join("\n"));
    expect(out).toEqual(["listening", "after"]);
  });
});
