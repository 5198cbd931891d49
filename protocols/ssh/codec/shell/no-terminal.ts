/**
 * A command line run without a terminal (an SSH exec without a pty): a program that takes keyboard
 * commands then reads them from the client's input, which the gateway neither decides nor sees in
 * the command line. A visual editor (`vim f` with `:!rm -rf /x` sent on stdin) is then a command
 * interpreter fed by the client, like `bash` reading stdin: each one gets an `unknown` command
 * right after it, so every deny and approve exec rule refuses (or holds) the line. With a terminal
 * the editor is decided as written (docs/SSH.md: programs that take keyboard commands).
 */
import { programSpec } from "./programs.ts";
import type { ParsedCommandLine, ShellCommand } from "./types.ts";

export function withoutTerminal(line: ParsedCommandLine): ParsedCommandLine {
  let added = false;
  const commands = line.commands.flatMap((c): ShellCommand[] => {
    if (c.kind !== "command" || programSpec(c.name)?.code !== "editor") return [c];
    added = true;
    return [c, { kind: "unknown", name: "", path: "", args: [], via: [...c.via], reason: `${c.name} without a terminal reads its commands from the client's input (\`:!cmd\` runs a shell)` }];
  });
  return added ? { ...line, commands, hasUnknown: true } : line;
}
