/**
 * What the shell command-line parser reports: every command the line could run, wherever it sits
 * (pipelines, lists, subshells, command substitutions, `sh -c` strings, `sudo`/`env`/`xargs`
 * wrappers, `find -exec`…), each with its arguments resolved as far as static analysis allows.
 *
 * Anything the parser cannot resolve becomes a command of kind `unknown` with a reason; policy
 * decides what to do with it (default deny). The parser never executes or expands anything that
 * depends on the host (variables, globs, `~`): such words are marked `dynamic` or `glob`.
 */

export interface ShellWord {
  /** The word after quote removal; dynamic parts (`$X`, `$(…)`, `~`) appear as their source text. */
  value: string;
  /** Contains a parameter/command/arithmetic expansion or a tilde: its real value is only known on the host. */
  dynamic: boolean;
  /** Contains unquoted pathname-expansion characters (`*`, `?`, `[…]`): the host expands it to file names. */
  glob: boolean;
}

export type ShellCommandKind =
  /** A program or builtin with its arguments. */
  | "command"
  /** An output redirection to a file (`> /etc/passwd`): `name` is the operator, `args[0]` the target. */
  | "redirect"
  /** Something the parser cannot resolve statically: `reason` says what. */
  | "unknown";

export interface ShellCommand {
  kind: ShellCommandKind;
  /**
   * The command name used for matching: the last path segment of argv[0] (`/bin/rm` → `rm`).
   * For redirects the operator (`>`, `>>`). Empty for unknown commands.
   */
  name: string;
  /** argv[0] as resolved (`/bin/rm`), or the redirect operator. */
  path: string;
  /** argv[1..] (for redirects: the target). */
  args: ShellWord[];
  /** How it is reached: `["sudo"]`, `["sh -c"]`, `["$(…)"]`, `["find -exec"]`… outermost first. */
  via: string[];
  /** unknown only: why the parser could not resolve it. */
  reason?: string;
  /**
   * The command runs code the gateway cannot see (a script file, `source file`, a program run by a
   * path outside the system directories): deny/approve exec rules treat it like `unknown`, allow
   * rules still match it by its own words.
   */
  hidden?: string;
  /** Files this command (or redirection) writes, for protected-path rules (protocols/ssh/codec/shell/writes.ts). */
  writes?: WriteTarget[];
  /** Variables assigned for this command only (`X=1 cmd`): an allow pattern never covers them. */
  env?: string[];
  /** Where its relative paths may point (canonical directories; unknown after an untracked cd). */
  cwd?: { dirs: string[]; unknown: boolean };
}

/** A file a command writes, in canonical form (protocols/ssh/codec/shell/paths.ts). */
export interface WriteTarget {
  /** `~/…`, `~user/…` or `/…`; for unknown targets the word as written. */
  path: string;
  /** The path is a shell glob (the host expands it). */
  glob: boolean;
  /** Everything below `path` may be written (archive-style or recursive copies into a directory). */
  subtree: boolean;
  /** Set when the gateway cannot tell which file it is: policy treats it as any file. */
  unknown?: string;
}

export interface ParsedCommandLine {
  /** The line as given. */
  source: string;
  /** Every command in source order (wrappers before what they run). */
  commands: ShellCommand[];
  /** True when at least one command is `unknown`. */
  hasUnknown: boolean;
}

/** Bounds: an attacker controls the line, so nothing grows without limit. */
export const SHELL_LIMITS = {
  /** Longest command line analysed (longer lines are one unknown command). */
  maxLength: 64 * 1024,
  /** Nesting of subshells, substitutions, `sh -c`, `eval`, wrappers. */
  maxDepth: 16,
  /** Commands reported for one line. */
  maxCommands: 1024,
  /** Words one brace expansion may produce. */
  maxBraceWords: 256,
} as const;
