import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./parse.ts";
import { withoutTerminal } from "./no-terminal.ts";

const reasons = (line: string, terminal: boolean) => {
  const parsed = parseCommandLine(line);
  return (terminal ? parsed : withoutTerminal(parsed)).commands.map((c) => (c.kind === "unknown" ? `?${c.reason}` : c.name));
};

describe("editors read commands from standard input", () => {
  it("line editors are unknown with or without a terminal (`!cmd` runs a shell, `w FILE` writes any file)", () => {
    for (const line of ["ed f", "ed -- f", "/bin/ed f", "red f", "ex f", "vim -e f", "vi -Es f", "vim -es f", "nvim --headless f", "busybox ed f", "printf '!rm -rf /x\\n' | ed f", "sudo ed f"]) {
      for (const terminal of [true, false]) expect(reasons(line, terminal).some((r) => /reads editor commands from its standard input/.test(r)), `${line} (terminal: ${terminal})`).toBe(true);
    }
  });

  it("visual editors are unknown only without a terminal, right after the editor", () => {
    expect(reasons("vim f", true)).toEqual(["vim"]);
    expect(reasons("vim f", false)).toEqual(["vim", "?vim without a terminal reads its commands from the client's input (`:!cmd` runs a shell)"]);
    expect(reasons("ls; sh -c 'view f'; id", false)).toEqual(["ls", "sh", "view", "?view without a terminal reads its commands from the client's input (`:!cmd` runs a shell)", "id"]);
    expect(reasons("ls -l; cat f", false)).toEqual(["ls", "cat"]);
  });
});
