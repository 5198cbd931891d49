/**
 * Fenced shell blocks of README.md and docs/*.md marked runnable, as commands to execute:
 *
 *   ```sh runnable              each command runs in one shell per file (exports carry over);
 *   cmd arg                     it must exit 0, unless `# ` lines follow it: then its output
 *   # expected output …         (stdout + stderr) must contain each such line, `…` matching anything
 *   ```
 *   ```sh runnable background   each command is started in the background (a listener); the
 *   cmd                         runner waits for its first line of output before going on
 *   ```
 *
 * A trailing `# comment` on a command line is shell syntax and is kept. `\` continues a line.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

export interface RunnableCommand {
  file: string;
  /** 1-based line of the command in the file. */
  line: number;
  command: string;
  background: boolean;
  /** Lines the output must contain (from `# ` lines after the command). */
  expect: string[];
}

export function runnableCommands(file: string, text: string): RunnableCommand[] {
  const lines = text.split("\n");
  const out: RunnableCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(sh|bash)\s+runnable(\s+background)?\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const background = !!fence[2];
    let current: RunnableCommand | undefined;
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) {
      const l = lines[i]!;
      if (/^#\s?/.test(l)) {
        if (current) current.expect.push(l.replace(/^#\s?/, "").trim());
        continue;
      }
      if (!l.trim()) continue;
      if (current && current.command.endsWith("\\")) {
        current.command = `${current.command.slice(0, -1)} ${l.trim()}`;
        continue;
      }
      current = { file, line: i + 1, command: l.trim(), background, expect: [] };
      out.push(current);
    }
  }
  return out;
}

/** `…` in an expected line matches any text; everything else literally. */
export function expectationMatches(expected: string, output: string): boolean {
  const pattern = expected
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+"))
    .join("[\\s\\S]*?");
  return new RegExp(pattern).test(output);
}

/** README.md and docs/*.md of the repository. */
export function documentationFiles(root: string): Array<{ file: string; text: string }> {
  const files = ["README.md", ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  return files.map((file) => ({ file, text: readFileSync(path.join(root, file), "utf8") }));
}
