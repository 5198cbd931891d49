/**
 * The command of `kubectl exec … -- <argv>` (the `command=` query parameters) as the SSH policy
 * reads commands: argv is turned into one shell line with every word single-quoted, so the shell
 * parser (parsers/shell) sees exactly those words — `sh -c '<script>'` is then analysed as the
 * script it runs, `env`/`sudo`/`xargs` wrappers are unwrapped, and rules written for SSH commands
 * (`rm -rf /*`, `{ command: rm, flags: [recursive] }`) match exec commands by meaning.
 */
import { parseCommandLine } from "../../ssh/codec/shell/parse.ts";
import type { ParsedCommandLine } from "../../ssh/codec/shell/types.ts";

export class ExecCommandError extends Error {}

/** One POSIX shell word for any string: '…' with each ' written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv → the shell line that runs exactly argv. */
export function execCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new ExecCommandError("exec without a command");
  for (const w of argv) if (w.includes("\u0000")) throw new ExecCommandError("a NUL byte in an exec argument");
  return argv.map(shellQuote).join(" ");
}

/** The commands an exec would run, as the shell parser reads them (unknown ones fail closed in policy). */
export function execCommands(argv: readonly string[]): ParsedCommandLine {
  return parseCommandLine(execCommandLine(argv));
}
