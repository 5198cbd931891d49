/**
 * SSH command rules by meaning (docs/POLICY.md § SSH actions):
 *
 *   { ssh: { command: rm, flags: [recursive, force], args: ["/srv/**"] } }
 *   { ssh: { writes: [protected, "/srv/app/**"] } }
 *
 * Options are read with the program's own option table (protocols/ssh/codec/shell/programs.ts, getopt_long
 * rules in protocols/ssh/codec/shell/options.ts), so `flags: [recursive, force]` matches `-rf`, `-Rf`, `-r -f`,
 * `--rec --forc`, `-f x -r`… For a program without a table, flags are its option spellings
 * (`-x` letters and exact `--long` words).
 *
 * deny/approve (touch): the command sets every listed flag (or a word the gateway cannot read
 *   stands where an option could be), and every `args` pattern is met by some operand.
 * allow (cover): the command sets no flag outside `flags`, has no option the table does not know
 *   and no unreadable word in option position, and every operand is covered by an `args`
 *   pattern (no `args` = any operands).
 */
import { parseOptions, type ParsedOptions } from "../codec/shell/options.ts";
import { knownFlags, optionTable } from "../codec/shell/programs.ts";
import type { ShellCommand, ShellWord, WriteTarget } from "../codec/shell/types.ts";
import { compileGlob, GlobSet } from "../../../parsers/policy/glob.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import { PROTECTED_HOME_ENTRIES, PROTECTED_PATH_GLOBS, isHomeLike, protectedPathGlobs } from "./protected-paths.ts";
import { joinPath } from "../codec/shell/paths.ts";

export interface SemanticOptions {
  /** Semantic flags (table programs) required (deny) or permitted (allow). */
  flags: Set<string>;
  /** Option spellings for programs without a table (`-x`, `--long`). */
  raw: Set<string>;
}

const lit = (value: string): ShellWord => ({ value, dynamic: false, glob: false });

/** Programs that never run another program: a denied command's name among their arguments is just a word. */
const NEVER_RUN_PROGRAMS = new Set([
  "echo", "printf", "cat", "ls", "grep", "egrep", "fgrep", "rg", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "stat", "du", "df", "id", "whoami", "hostname", "date",
  "uname", "pwd", "test", "[", "true", "false", "mkdir", "basename", "dirname", "readlink", "realpath", "sleep", "journalctl", "ps", "pgrep", "free", "uptime", "which",
  "type", "file", "md5sum", "sha1sum", "sha256sum", "sha512sum", "diff", "cmp", "comm", "join", "paste", "tac", "rev", "nl", "od", "xxd", "hexdump", "base64", "jq",
  "yq", "seq", "tty", "whereis", "getent", "man", "apropos", "whatis", "logger", "systemd-cat", "command", "hash",
]);

/** Raw option spellings of a command for programs without a table: `-rf` → -r, -f; `--force=x` → --force. */
function rawSpellings(parsed: ParsedOptions): Set<string> {
  return new Set(parsed.unrecognised.map((u) => (u.startsWith("--") ? u.replace(/=.*$/, "") : u)));
}

const cache = new WeakMap<ShellCommand, ParsedOptions>();
export function commandOptions(cmd: ShellCommand): ParsedOptions {
  let p = cache.get(cmd);
  if (!p) {
    p = cmd.kind === "redirect" ? { flags: new Set(), values: new Map(), operands: cmd.args, unrecognised: [], anyOption: false, operandStart: 0 } : parseOptions(optionTable(cmd.name), cmd.args);
    cache.set(cmd, p);
  }
  return p;
}

/** Read option words of a pattern (`-rf`, `--force`) with the program's table. */
export function semanticOptionsOf(programName: string, words: string[]): { options: SemanticOptions; operands: string[] } {
  const parsed = parseOptions(optionTable(programName), words.map(lit));
  return { options: { flags: parsed.flags, raw: rawSpellings(parsed) }, operands: parsed.operands.map((w) => w.value) };
}

/** Structured `flags:` entries: semantic names of the program's table, or option spellings. */
export function compileFlags(programName: string, entries: string[], source: string): SemanticOptions {
  const known = knownFlags(programName);
  const options: SemanticOptions = { flags: new Set(), raw: new Set() };
  for (const e of entries) {
    if (e.startsWith("-")) {
      const r = semanticOptionsOf(programName, [e]);
      if (r.operands.length > 0) throw new PolicySyntaxError(`command '${source}': flag '${e}' is not an option`);
      for (const f of r.options.flags) options.flags.add(f);
      for (const f of r.options.raw) options.raw.add(f);
      continue;
    }
    if (!known) throw new PolicySyntaxError(`command '${source}': the gateway has no option table for '${programName}'; write its flags as options ('-r', '--force')`);
    if (!known.has(e)) throw new PolicySyntaxError(`command '${source}': unknown flag '${e}' for ${programName}; expected one of ${[...known].join(", ")} or an option spelling ('-r')`);
    options.flags.add(e);
  }
  return options;
}

/** deny/approve: does the command set every required flag (in any spelling)? */
export function setsAllFlags(cmd: ShellCommand, required: SemanticOptions): boolean {
  const p = commandOptions(cmd);
  if (p.anyOption) return true;
  const raw = rawSpellings(p);
  for (const f of required.flags) if (!p.flags.has(f)) return false;
  for (const r of required.raw) if (!raw.has(r)) return false;
  return true;
}

/** allow: does the command set only permitted flags, all of them readable? */
export function setsOnlyFlags(cmd: ShellCommand, permitted: SemanticOptions): boolean {
  const p = commandOptions(cmd);
  if (p.anyOption) return false;
  for (const f of p.flags) if (!permitted.flags.has(f)) return false;
  for (const r of rawSpellings(p)) if (!permitted.raw.has(r)) return false;
  return true;
}

/**
 * Unknown wrapper programs: `mywrapper rm -rf /x`. When a deny/approve name pattern is not the
 * command itself but one of its literal arguments (by basename), what follows is read as that
 * command too, unless the program is known never to run another one (NEVER_RUN_PROGRAMS).
 */
export function embeddedCommands(cmd: ShellCommand, nameMatches: (name: string, path: string) => boolean): ShellCommand[] {
  if (cmd.kind !== "command" || NEVER_RUN_PROGRAMS.has(cmd.name)) return [];
  const out: ShellCommand[] = [];
  cmd.args.forEach((a, i) => {
    if (a.dynamic || a.glob) return;
    const name = a.value.slice(a.value.lastIndexOf("/") + 1);
    if (name !== "" && nameMatches(name, a.value)) out.push({ kind: "command", name, path: a.value, args: cmd.args.slice(i + 1), via: [...cmd.via, cmd.name] });
  });
  return out;
}

// ------------------------------------------------------------------ writes

export interface WriteMatcher {
  /** The built-in class (protected-paths.ts). */
  protectedClass: boolean;
  /** Paths as Gatehouse globs on canonical paths (`~/…`, `/…`). */
  paths: GlobSet | null;
}

export function compileWrites(entries: string[]): WriteMatcher {
  let protectedClass = false;
  const globs = [];
  for (const e of entries) {
    if (e === "protected") {
      protectedClass = true;
      continue;
    }
    if (!e.startsWith("/") && !e.startsWith("~") && !e.startsWith("**")) throw new PolicySyntaxError(`ssh.writes: '${e}' must be 'protected' or a path pattern starting with '/', '~/' or '**/'`);
    globs.push(compileGlob(e));
  }
  return { protectedClass, paths: globs.length > 0 ? new GlobSet(globs) : null };
}

/** Does a write target touch the matcher? Unknown targets touch everything (fail closed). */
export function writeTouched(m: WriteMatcher, t: WriteTarget, intersects: (pattern: string, value: string, shellGlob: boolean) => boolean): boolean {
  if (t.unknown) return true;
  const globs: Array<{ source: string; matches(v: string): boolean }> = [];
  if (m.protectedClass) globs.push(...protectedPathGlobs());
  if (m.paths) globs.push(...m.paths.globs);
  if (t.subtree) {
    if (t.glob || (m.protectedClass && (isHomeLike(t.path) || reachesHomeEntry(t.path)))) return true;
    const under = `${t.path === "/" ? "" : t.path.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`)}/**`;
    return globs.some((g) => {
      if (g.matches(t.path)) return true;
      // Home entries (`**/x`) would meet every directory's subtree: only a home-like directory counts for them.
      if (m.protectedClass && PROTECTED_PATH_GLOBS.includes(g.source) && g.source.startsWith("**/")) return g.matches(`${t.path}/x`);
      return intersects(g.source, under, false);
    });
  }
  if (t.glob) return globs.some((g) => intersects(g.source, t.path, true));
  return globs.some((g) => g.matches(t.path));
}

/**
 * A directory tree written at `path` can create a protected home entry when `path` ends with the
 * first segments of one (`~/.config` + `systemd/user/x.service`, `/srv/x/.git` + `hooks/…`).
 */
function reachesHomeEntry(path: string): boolean {
  const segs = path.split("/");
  return PROTECTED_HOME_ENTRIES.some((entry) => {
    const parts = entry.replace(/\/$/, "").split("/");
    for (let k = 1; k < parts.length; k++) if (segs.slice(-k).join("/") === parts.slice(0, k).join("/")) return true;
    return false;
  });
}

/**
 * Canonical form of an SFTP path (relative paths are relative to the login directory, the home);
 * null when it climbs out of the home (`../../etc/x`: where that is depends on the unknown home).
 */
export function canonicalSftpPath(path: string): string | null {
  if (path.startsWith("/")) return /^\/proc(\/|$)/.test(path) ? null : path;
  return joinPath("~", path);
}

