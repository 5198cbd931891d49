/**
 * Usage synopses in the docs (```sh synopsis blocks, test/docs/README.md) match the CLI: every
 * command they show has a `--help`, and its help names every flag they show. Run in-process: the
 * CLI's main() with its output captured, no stack needed.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../client/cli.ts";
import { documentationFiles, synopsisLines } from "./runnable-blocks.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const lines = documentationFiles(ROOT).flatMap(({ file, text }) => synopsisLines(file, text));

async function help(command: string[]): Promise<{ code: number; text: string }> {
  let text = "";
  const capture = (t: string) => {
    text += t;
  };
  const code = await main([...command, "--help"], { stdout: capture, stderr: capture, env: { NO_COLOR: "1" } });
  return { code, text };
}

describe("documented usage synopses", () => {
  it("there are some (APPROVALS.md, AUDIT.md, CONSOLE.md, POLICY.md)", () => {
    expect(new Set(lines.map((l) => l.file)).size).toBeGreaterThanOrEqual(4);
  });

  it("every command shown has --help, which names every flag shown", async () => {
    const problems: string[] = [];
    for (const l of lines) {
      const { code, text } = await help(l.command);
      const where = `${l.file}:${l.line}: gatehouse ${l.command.join(" ")}`;
      if (code !== 0) problems.push(`${where} --help exits ${code}: ${text.trim()}`);
      for (const flag of l.flags) if (flag !== "--help" && !new RegExp(`${flag}\\b`).test(text)) problems.push(`${where}: its --help does not mention ${flag}`);
    }
    expect(problems).toEqual([]);
  });
});
