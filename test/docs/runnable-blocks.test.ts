import { describe, expect, it } from "vitest";
import { expectationMatches, runnableCommands } from "./runnable-blocks.ts";

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
  "```",
  "```sh runnable background",
  "serve --port 1",
  "```",
].join("\n");

describe("runnable doc blocks", () => {
  it("extracts commands, expectations, continuations and background blocks only from marked fences", () => {
    expect(runnableCommands("R.md", DOC)).toEqual([
      { file: "R.md", line: 6, command: "export A=1", background: false, expect: [] },
      { file: "R.md", line: 7, command: "psql x -c 'drop table t'   # a comment", background: false, expect: ["ERROR:  refused … (demo.yaml:81)"] },
      { file: "R.md", line: 9, command: "long  continued", background: false, expect: [] },
      { file: "R.md", line: 13, command: "serve --port 1", background: true, expect: [] },
    ]);
  });

  it("matches expected output with … as a wildcard, everything else literally", () => {
    expect(expectationMatches("ERROR:  refused … (demo.yaml:81)", "psql: ERROR:  refused by rule x (demo.yaml:81) now")).toBe(true);
    expect(expectationMatches("ERROR:  refused … (demo.yaml:81)", "ERROR:  refused by rule x (demo.yaml:65)")).toBe(false);
    expect(expectationMatches("a.b", "axb")).toBe(false);
  });
});
