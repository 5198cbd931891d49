import path from "node:path";
import { describe, expect, it } from "vitest";
import { documentationFiles, expectationMatches, runnableCommands, shellBlocks } from "./runnable-blocks.ts";

const DOC = [
  "text",
  "```sh",
  "not runnable",
  "```",
  "```sh runnable",
  "export A=1",
  "psql x -c 'drop table t'   # a comment",
  "# ERROR:  refused … (demo.yaml:81)",
  "long \\",
  "  continued",
  "gatehouse exec h -- rm -rf /   # refused",
  "# exit status 126",
  "gatehouse connect demo-http --port 8090 &   # a listener",
  "a && b",
  "```",
  "```sh runnable background",
  "serve --port 1",
  "```",
  "```bash runnable terminal=bob",
  "whoami",
  "```",
  "```sh",
  "# not run by the doc tests: needs a real Cloudflare account",
  "wrangler deploy",
  "```",
  "```sh",
  "# not run by the doc tests: no",
  "```",
  "```",
  "gatehouse hidden",
  "```",
  "```text",
  "a diagram",
  "```",
].join("\n");

describe("runnable doc blocks", () => {
  it("extracts commands, expectations, exit statuses, continuations, background commands and terminals only from runnable fences", () => {
    const base = { file: "R.md", background: false, terminal: "main", expect: [] };
    expect(runnableCommands("R.md", DOC)).toEqual([
      { ...base, line: 6, command: "export A=1" },
      { ...base, line: 7, command: "psql x -c 'drop table t'   # a comment", expect: ["ERROR:  refused … (demo.yaml:81)"] },
      { ...base, line: 9, command: "long  continued" },
      { ...base, line: 11, command: "gatehouse exec h -- rm -rf /   # refused", status: 126 },
      { ...base, line: 13, command: "gatehouse connect demo-http --port 8090", background: "wait" },
      { ...base, line: 14, command: "a && b" },
      { ...base, line: 17, command: "serve --port 1", background: "wait" },
      { ...base, line: 20, command: "whoami", terminal: "bob" },
    ]);
  });

  it("classifies every shell block: runnable, not run with a reason, unmarked (also: a reason too short to say anything), unlabelled", () => {
    expect(shellBlocks("R.md", DOC).map((b) => [b.line, b.kind, b.reason])).toEqual([
      [2, "unmarked", undefined],
      [5, "runnable", undefined],
      [16, "runnable", undefined],
      [19, "runnable", undefined],
      [22, "not-run", "needs a real Cloudflare account"],
      [26, "unmarked", "no"],
      [29, "unlabelled", undefined],
    ]);
  });

  it("matches expected output with … as a wildcard, everything else literally", () => {
    expect(expectationMatches("ERROR:  refused … (demo.yaml:81)", "psql: ERROR:  refused by rule x (demo.yaml:81) now")).toBe(true);
    expect(expectationMatches("ERROR:  refused … (demo.yaml:81)", "ERROR:  refused by rule x (demo.yaml:65)")).toBe(false);
    expect(expectationMatches("a.b", "axb")).toBe(false);
  });
});

describe("README.md and docs/*.md", () => {
  it("every shell block is executed by the doc runner or marked '# not run by the doc tests: <reason>' (test/docs/README.md)", () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const problems = documentationFiles(root).flatMap(({ file, text }) =>
      shellBlocks(file, text)
        .filter((b) => b.kind === "unmarked" || b.kind === "unlabelled")
        .map((b) =>
          b.kind === "unlabelled"
            ? `${b.file}:${b.line}: a fence without a language — label it (\`\`\`text for diagrams and output, \`\`\`sh runnable for commands)`
            : `${b.file}:${b.line}: a shell block neither runnable (\`\`\`sh runnable) nor marked as not run ("# not run by the doc tests: <reason>" as its first line)`,
        ),
    );
    expect(problems).toEqual([]);
  });
});
