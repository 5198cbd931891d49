/**
 * What one program invocation writes and whether it runs code the gateway cannot read, from the
 * program table (programs.ts). Used by the parser for every resolved command.
 */
import { parseOptions, type ParsedOptions } from "./options.ts";
import { writeTargetsOf, type CwdState } from "./paths.ts";
import { optionTable, programSpec, type ProgramSpec } from "./programs.ts";
import { keygenWrites, optionWrites } from "./write-options.ts";
import type { ShellWord, WriteTarget } from "./types.ts";

export interface ProgramFindings {
  writes: WriteTarget[];
  /** Set when the invocation runs code the gateway cannot see: the command becomes `unknown`. */
  unknown?: string;
  /** Set when it runs a script file: reported as the command, treated as unknown by deny rules. */
  hidden?: string;
  /** Other commands this one amounts to (`systemctl reboot` → `reboot`). */
  alsoRuns?: { name: string; args: ShellWord[] }[];
}

const lit = (value: string): ShellWord => ({ value, dynamic: false, glob: false });
const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);

export function inspectProgram(name: string, args: ShellWord[], cwd: CwdState): ProgramFindings {
  const spec = programSpec(name);
  const found: ProgramFindings = { writes: [] };
  // Own keys only: a command named `__proto__` or `constructor` must not find Object.prototype's members.
  const fixed = Object.hasOwn(ACCOUNT_FILE_WRITERS, name) ? ACCOUNT_FILE_WRITERS[name] : undefined;
  if (fixed) for (const f of fixed) found.writes.push(...writeTargetsOf(lit(f), cwd));
  // mkfifo/mknod create the file they name (a FIFO as ~/.bashrc feeds every login what is written to it).
  if (name === "mkfifo" || name === "mknod") for (const a of args.filter((x) => x.dynamic || !x.value.startsWith("-")).slice(0, 1)) found.writes.push(...writeTargetsOf(a, cwd));
  const extracts = name === "dpkg" ? args.some((a) => a.dynamic || /^(-x|-X|--extract|--vextract|-R|--raw-extract)$/.test(a.value)) : name === "ar" ? !args[0] || args[0].dynamic || /x/.test(args[0].value) : true;
  if (UNSEEN_WRITERS.has(name) && extracts) {
    found.writes.push({ path: name, glob: false, subtree: false, unknown: `${name} writes files (archive members, server-chosen names, its configuration's) the gateway cannot see` });
  }
  const byOption = name === "ssh-keygen" ? keygenWrites(args) : optionWrites(name, args);
  if (byOption === "unknown") found.writes.push({ path: name, glob: false, subtree: false, unknown: `${name} with a word only known on the host where an option naming a file to write may stand` });
  else for (const a of byOption ?? []) found.writes.push(...writeTargetsOf(a, cwd));
  if (!spec) return found;
  const parsed = parseOptions(optionTable(name), args);
  const w = (word: ShellWord, subtree = false) => found.writes.push(...writeTargetsOf(word, cwd, subtree));
  const code = spec.code ? codeReason(spec, name, args, parsed) : null;
  if (code?.unknown) found.unknown = code.unknown;
  if (code?.hidden) found.hidden = code.hidden;
  for (const t of code?.writes ?? []) w(t);
  switch (spec.writes) {
    case "operands":
      for (const a of parsed.operands) if (a.value !== "-" || a.dynamic) w(a);
      break;
    case "copy": {
      if (parsed.flags.has("directory")) {
        for (const a of parsed.operands) w(a);
        break;
      }
      const dirs = parsed.values.get("target-directory") ?? [];
      const sources = dirs.length > 0 ? parsed.operands : parsed.operands.slice(0, -1);
      const dests = dirs.length > 0 ? dirs : parsed.operands.slice(-1);
      const tree = name === "mv" || parsed.flags.has("recursive") || parsed.flags.has("archive");
      // `--backup --suffix=rc x ~/.bash` moves the old ~/.bash to ~/.bashrc.
      const suffixes = parsed.flags.has("backup") || parsed.flags.has("suffix") ? [...(parsed.values.get("suffix") ?? []).map((x) => x.value), "~"] : [];
      for (const d of dests) {
        w(d, tree);
        for (const sfx of suffixes) w({ ...d, value: `${d.value}${sfx}` });
        // The destination may be a directory: the file lands at dest/<source name>.
        for (const s of sources) w(s.dynamic ? { value: `${d.value}/${s.value}`, dynamic: true, glob: false } : { ...d, value: `${d.value}/${base(s.value)}`, glob: d.glob || s.glob }, tree);
        // `cp --parents .ssh/authorized_keys ~` writes ~/.ssh/authorized_keys.
        if (parsed.flags.has("parents")) for (const s of sources) w({ value: `${d.value}/${s.value}`, dynamic: d.dynamic || s.dynamic, glob: d.glob || s.glob }, tree);
      }
      break;
    }
    case "patch": {
      for (const a of parsed.values.get("output") ?? []) w(a);
      if (parsed.operands[0] && !parsed.anyOption) w(parsed.operands[0]);
      // Without a file operand patch writes the files named inside the patch (`patch -p0 < diff`).
      else found.writes.push({ path: "patch", glob: false, subtree: false, unknown: "patch writes the files named inside the patch" });
      break;
    }
    case "link": {
      const dirs = parsed.values.get("target-directory") ?? [];
      for (const a of [...parsed.operands, ...dirs]) w(a);
      // The link lands at DIR/<target name> (`ln -s /tmp/.bashrc -t ~`, `ln -s /tmp/.bashrc ~`).
      const sources = dirs.length > 0 ? parsed.operands : parsed.operands.slice(0, -1);
      for (const d of dirs.length > 0 ? dirs : parsed.operands.slice(-1)) for (const src of sources) w({ value: `${d.value}/${base(src.value)}`, dynamic: d.dynamic || /[$`]/.test(base(src.value)), glob: d.glob || src.glob });
      break;
    }
    case "dd":
      for (const a of args) {
        if (a.dynamic && !a.value.startsWith("if=")) found.writes.push({ path: a.value, glob: false, subtree: false, unknown: `dd operand ${JSON.stringify(a.value)} is only known on the host` });
        else if (a.value.startsWith("of=")) w({ ...a, value: a.value.slice(3) });
      }
      break;
    case "sed":
      if (parsed.flags.has("in-place") || parsed.anyOption) {
        const scriptGiven = parsed.values.has("expression") || parsed.values.has("file");
        for (const a of scriptGiven ? parsed.operands : parsed.operands.slice(1)) w(a);
      }
      break;
    case "crontab":
      if (!parsed.flags.has("list") || parsed.anyOption) w(lit("/var/spool/cron/crontabs/user"));
      break;
    case "systemctl": {
      const verb = parsed.operands[0]?.value ?? "";
      if (["reboot", "poweroff", "halt", "kexec", "soft-reboot"].includes(verb)) found.alsoRuns = [{ name: verb === "soft-reboot" || verb === "kexec" ? "reboot" : verb, args: [] }];
      if (["enable", "link", "edit", "preset", "preset-all", "add-wants", "add-requires", "set-property", "mask", "revert", "reenable", "set-default"].includes(verb) || parsed.operands[0]?.dynamic) {
        const dir = parsed.flags.has("user") || parsed.flags.has("global") ? "~/.config/systemd/user" : "/etc/systemd/system";
        for (const unit of parsed.operands.slice(1).length > 0 ? parsed.operands.slice(1) : [lit("unit")]) w(unit.dynamic ? unit : lit(`${dir}/${base(unit.value)}`));
      }
      break;
    }
    case "git": {
      const [sub, ...rest] = parsed.operands.length > 0 ? args.slice(parsed.operandStart) : [];
      const sw = gitSubcommand(sub, rest, parsed);
      if (sw.unknown) found.unknown ??= sw.unknown;
      // `git clean -d` deletes untracked trees: `rm -r -f` of its paths (or the work tree) by another name.
      if (sub?.value === "clean" && rest.some((a) => a.dynamic || /^-[A-Za-z]*d/.test(a.value))) {
        const paths = rest.filter((a) => !a.value.startsWith("-"));
        found.alsoRuns = [...(found.alsoRuns ?? []), { name: "rm", args: [lit("-r"), lit("-f"), ...(paths.length > 0 ? paths : [sw.worktree[0] ?? lit(".")])] }];
      }
      for (const t of sw.worktree) w(t, true);
      if (sub?.value !== "config") break;
      const words = rest.map((a) => a.value);
      if (words.some((x) => /^(--get|--list|-l$|get$|list$)/.test(x))) break;
      if (rest.some((a) => a.dynamic) || !words.some((x) => /^[A-Za-z][\w-]*\./.test(x)) || words.some((x) => /^[A-Za-z][\w-]*\./.test(x) && !HARMLESS_GIT_KEY.test(x))) {
        found.unknown ??= "git config of a key that can run programs (core.fsmonitor, core.pager, alias.*, filter.*…)";
      }
      const file = words.findIndex((x) => x === "-f" || x === "--file");
      if (words.includes("--global")) w(lit("~/.gitconfig"));
      else if (words.includes("--system")) w(lit("/etc/gitconfig"));
      else if (file >= 0 && rest[file + 1]) w(rest[file + 1]!);
      else w(lit(".git/config"));
      break;
    }
    case "curl":
      // A config file (-K) can name any output file.
      if (parsed.values.has("config") || parsed.anyOption) found.writes.push({ path: "curl", glob: false, subtree: false, unknown: "curl -K reads options (output files) from a file the gateway cannot see" });
      for (const a of parsed.values.get("output") ?? []) w(a);
      if (["remote-name", "remote-name-all", "remote-header-name"].some((f) => parsed.flags.has(f)) || parsed.anyOption) for (const d of parsed.values.get("output-dir") ?? [lit(".")]) w(d, true);
      break;
    case "wget": {
      const documents = parsed.values.get("output-document") ?? [];
      for (const a of documents) if (a.value !== "-") w(a);
      if (documents.length === 0) for (const d of parsed.values.get("directory-prefix") ?? [lit(".")]) w(d, true);
      break;
    }
    case "attributes":
      for (const a of parsed.values.has("reference") ? parsed.operands : parsed.operands.slice(1)) w(a, parsed.flags.has("recursive"));
      break;
    case "renames":
      found.writes.push({ path: name, glob: false, subtree: false, unknown: `${name} computes the new names` });
      break;
    case "editor":
      for (const a of args) if (!a.value.startsWith("-") && !a.value.startsWith("+")) w(a);
      break;
    case "rsync": {
      const server = args.some((a) => a.value === "--server");
      const dest = [...args].reverse().find((a) => a.dynamic || !a.value.startsWith("-"));
      const receiving = server ? !args.some((a) => a.value === "--sender") : dest !== undefined && (dest.dynamic || !/^[^/]*:/.test(dest.value));
      if (!dest || !receiving) break;
      w(dest, true);
      if (args.some((a) => a.dynamic || /^--(del|delete.*|remove-source-files)$/.test(a.value))) found.alsoRuns = [{ name: "rm", args: [lit("-r"), lit("-f"), dest] }];
      break;
    }
    case "output-option":
      args.forEach((a, i) => {
        if (a.dynamic) return;
        // -o FILE, -oFILE, -out FILE, and --output in any unique prefix (`sort --o=FILE`).
        const long = /^--o(?:u(?:t(?:p(?:u(?:t)?)?)?)?)?(?:=(.*))?$/.exec(a.value);
        if (long) {
          if (long[1] !== undefined) w({ ...a, value: long[1] });
          else if (args[i + 1]) w(args[i + 1]!);
          return;
        }
        const m = /^(?:-out|-o)(=?)(.*)$/.exec(a.value);
        if (m) {
          if (m[2] !== "") w({ ...a, value: m[2]! });
          else if (m[1] === "" && args[i + 1]) w(args[i + 1]!);
          return;
        }
        // -o at the end of a cluster of short flags (`sort -uo FILE`, `sort -uoFILE`). openssl has
        // no clusters: its options are single-dash words (`-noout`, `-nodes`, `-keyout`).
        if (name === "openssl") return;
        const c = /^-[A-Za-z]+o(.*)$/.exec(a.value);
        if (!c) return;
        if (c[1] !== "") w({ ...a, value: c[1]! });
        else if (args[i + 1]) w(args[i + 1]!);
      });
      break;
    case "split": {
      // The pieces are PREFIX followed by generated suffixes: every name starting with PREFIX.
      const prefixes = name === "split" ? [parsed.operands[1] ?? lit("x")] : (parsed.values.get("prefix") ?? [lit("xx")]);
      for (const p of prefixes) w({ ...p, value: `${p.value}*`, glob: true });
      if (parsed.anyOption || parsed.unrecognised.length > 0) found.writes.push({ path: name, glob: false, subtree: false, unknown: `${name} with options the gateway cannot read names files it cannot see` });
      break;
    }
    case "uniq": {
      const operands = args.filter((a) => a.dynamic || !a.value.startsWith("-"));
      if (operands[1]) w(operands[1]);
      break;
    }
    case "script":
      args.forEach((a, i) => {
        const prev = args[i - 1]?.value ?? "";
        if (/^(-[OIBT]|--log-(in|out|io|timing)|--timing)$/.test(prev)) w(a);
        else if (/^(-c|--command|-E|--echo|-m|--logging-format)$/.test(prev)) return;
        else if (a.dynamic || !a.value.startsWith("-")) w(a);
        else if (/^--(log-(in|out|io|timing)|timing)=/.test(a.value)) w({ ...a, value: a.value.slice(a.value.indexOf("=") + 1) });
      });
      break;
    case "extract": {
      if (name === "tar" || name === "gtar" || name === "bsdtar") {
        // tar -c/-r/-u/-A writes the archive named by -f / --file.
        args.forEach((a, i) => {
          const bundled = i === 0 && /^[A-Za-z]+$/.test(a.value);
          if (a.value.startsWith("--file=")) w({ ...a, value: a.value.slice(7) });
          else if ((a.value === "--file" || ((bundled || /^-[A-Za-z]+$/.test(a.value)) && a.value.endsWith("f"))) && args[i + 1]) {
            if (args.some((x) => /^--(create|append|update|catenate|concatenate)$/.test(x.value) || (/^-?[A-Za-z]+$/.test(x.value) && !x.value.startsWith("--") && /[cruA]/.test(x.value) && (x === args[0] || x.value.startsWith("-"))))) w(args[i + 1]!);
          }
        });
      }
      const text = args.map((a) => a.value);
      const extracting =
        name === "unzip" ||
        text.some((t) => /^--(extract|get)$/.test(t) || /^-[A-Za-z]*[xi]/.test(t) && !t.startsWith("--")) ||
        (/^[A-Za-z]+$/.test(text[0] ?? "") && /[x]/.test(text[0]!)) ||
        args.some((a) => a.dynamic);
      if (!extracting) break;
      let dir: ShellWord = lit(".");
      args.forEach((a, i) => {
        const flag = name === "unzip" ? "-d" : name === "tar" || name === "gtar" || name === "bsdtar" ? "-C" : "-D";
        if ((a.value === flag || a.value === "--directory") && args[i + 1]) dir = args[i + 1]!;
        else if (a.value.startsWith("--directory=")) dir = { ...a, value: a.value.slice(12) };
        else if (a.value.startsWith(flag) && a.value.length > 2 && !a.value.startsWith("--")) dir = { ...a, value: a.value.slice(2) };
      });
      w(dir, true);
      break;
    }
    case "scp":
      if (name === "scp" && args.some((a) => /^-[A-Za-z]*t[A-Za-z]*$/.test(a.value)) && args.length > 0) w(args[args.length - 1]!, true);
      else if (!(name === "scp" && args.some((a) => /^-[A-Za-z]*f[A-Za-z]*$/.test(a.value)))) found.hidden = `${name} as a client on the host runs ssh and writes what the other side sends`;
      break;
  }
  return found;
}

interface CodeFinding {
  unknown?: string;
  hidden?: string;
  writes?: ShellWord[];
}

/** Editors that are command interpreters: every command comes from standard input. */
const LINE_EDITORS = new Set(["ed", "red", "ex"]);
/** The vi family, whose -e/-E options make them ex (a line editor). */
const VI_EDITORS = new Set(["vi", "vim", "nvim", "view", "vimdiff", "rvim"]);

function codeReason(spec: ProgramSpec, name: string, args: ShellWord[], parsed: ParsedOptions): CodeFinding | null {
  switch (spec.code) {
    case "interpreter": {
      if (name === "gdb" || name === "lldb") return { unknown: `${name} can run any program` };
      const first = args.findIndex((a) => !a.value.startsWith("-") || a.dynamic);
      if (first !== 0) return { unknown: `${name} ${first < 0 ? "reads its program from standard input or the command line" : "with options (code on the command line or modules) the gateway cannot read"}` };
      const script = args[0]!;
      if (script.dynamic || script.glob || /^(\/dev\/(stdin|fd\/)|\/proc\/)/.test(script.value)) return { unknown: `${name} runs a program from ${JSON.stringify(script.value)}, only known on the host` };
      return { hidden: `${name} runs the script ${script.value}, whose content the gateway cannot see` };
    }
    case "awk": {
      // Only -v NAME=VALUE and -F SEP (which take a value) may come before the program: every other
      // option may load code or write a file (-f/-E/-i/-l/--source program files, gawk -o/-p/-d
      // writing the pretty-printed program, profile or variables, mawk -W exec, abbreviations such
      // as --sour=…); the program is the first word after them.
      let p = 0;
      while (p < args.length && /^-/.test(args[p]!.value) && args[p]!.value !== "--") {
        const o = args[p]!.value;
        if (/^(-v|-F|--assign|--field-separator)$/.test(o)) p += 2;
        else if (/^(-[vF].|--(assign|field-separator)=)/.test(o)) p += 1;
        else return { unknown: `${name} option ${o} may run a program file or write a file` };
      }
      if (args[p]?.value === "--") p++;
      const program = args[p];
      if (args.some((a) => a.dynamic)) return { unknown: `${name} with a dynamic program` };
      if (!program) return { unknown: `${name} without a program` };
      if (/system|getline|\||>|@load|@include|ENVIRON|PROCINFO/.test(program.value)) return { unknown: `${name} program can run commands or write files` };
      return null;
    }
    case "sed": {
      const scripts = [...(parsed.values.get("expression") ?? [])];
      if (parsed.values.has("file")) return { unknown: `${name} -f runs a script file the gateway cannot see` };
      if (scripts.length === 0 && parsed.operands[0]) scripts.push(parsed.operands[0]);
      const writes: ShellWord[] = [];
      for (const s of scripts) {
        if (s.dynamic) return { unknown: `${name} with a dynamic script` };
        const r = scanSedScript(s.value);
        if (r.exec) return { unknown: `${name} script runs commands (e)` };
        writes.push(...r.writes.map(lit));
      }
      return { writes };
    }
    case "editor":
      if (args.some((a) => /^(-c|-S|--cmd|-s|\+|--eval|--load|-l|-x|-batch|--batch|-f|--funcall|--script)/.test(a.value) || a.dynamic)) return { unknown: `${name} with commands on its command line` };
      // Line editors (ed, ex, vim -e/-E) read their commands from standard input whatever it is —
      // the client's input, a pipe, a here-string: `!cmd` runs a shell, `w FILE` writes any file.
      // A shell reading stdin, which is unknown too. (nvim --embed/--headless/--listen take commands from RPC.)
      if (LINE_EDITORS.has(name) || (VI_EDITORS.has(name) && args.some((a) => /^-[A-Za-z]*[eE]/.test(a.value) || /^--(embed|headless|listen)/.test(a.value)))) {
        return { unknown: `${name} reads editor commands from its standard input (\`!cmd\` runs a shell, \`w FILE\` writes any file)` };
      }
      return null;
    case "split":
      if (parsed.values.has("filter") || parsed.anyOption) return { unknown: `${name} --filter runs a shell command for each piece` };
      return null;
    case "git":
      if (parsed.flags.has("config") || parsed.flags.has("config-env") || parsed.flags.has("exec-path") || parsed.anyOption) return { unknown: `git configuration on the command line can run programs (core.pager, core.sshCommand, alias.*=!…)` };
      if (parsed.unrecognised.length > 0) return { unknown: `git option ${parsed.unrecognised[0]} is not understood by the gateway` };
      return null;
    case "tar":
      if (args.some((a) => a.dynamic || TAR_RUNS.some((r) => isLongAbbreviation(a.value, r, TAR_EXACT)) || /^-[A-Za-z]*[IF]/.test(a.value) || (/^[A-Za-z]+$/.test(a.value) && /[IF]/.test(a.value) && a === args[0]))) {
        return { unknown: `${name} with an option that runs a program` };
      }
      return null;
    case "rsync": {
      if (args.some((a) => a.dynamic)) return { unknown: `${name} with a dynamic argument` };
      // What ssh runs on the far side of an rsync transfer starts with --server; there `-e.LsfxCIvu`
      // is the protocol's capability string, not a remote shell. Daemon mode reads a config file
      // whose `pre-xfer exec` runs programs.
      if (args[0]?.value === "--server") {
        return args.some((a) => /^--(daemon|config)/.test(a.value)) ? { unknown: `${name} --server --daemon/--config (a config file can run programs)` } : null;
      }
      if (args.some((a) => /^(-e|--rsh|--rsync-path)/.test(a.value) || (/^-[A-Za-z]*e/.test(a.value) && !a.value.startsWith("--")))) return { unknown: `${name} with a remote shell or rsync path (runs a program)` };
      return null;
    }
  }
  return null;
}

/**
 * tar long options that run a program (or, --index-file, write a file of its choosing), in any
 * getopt_long abbreviation: `--rsh=sh`, `--use-compress-prog=sh`, `--checkpoint-act=exec=…`.
 */
const TAR_RUNS = ["to-command", "use-compress-program", "checkpoint-action", "rsh-command", "rmt-command", "info-script", "new-volume-script", "index-file"];
/** tar options whose exact name is a prefix of one of those (an exact match is that option, not an abbreviation). */
const TAR_EXACT = ["checkpoint"];

/** `--KEY[=…]` where KEY abbreviates `name` (getopt_long: any prefix, unless it is exactly another option). */
function isLongAbbreviation(word: string, name: string, exact: string[]): boolean {
  if (!word.startsWith("--") || word === "--") return false;
  const key = word.slice(2).split("=")[0]!;
  return key.length > 0 && name.startsWith(key) && !exact.includes(key);
}

/** The commands of a sed script that matter: `e` (and `s///e`) runs commands, `w`/`W` (and `s///w`) write files. */
export function scanSedScript(script: string): { exec: boolean; writes: string[] } {
  const out = { exec: false, writes: [] as string[] };
  let i = 0;
  const n = script.length;
  const restOfLine = () => {
    const nl = script.indexOf("\n", i);
    const end = nl < 0 ? n : nl;
    const text = script.slice(i, end).trim();
    i = end;
    return text;
  };
  const delimited = (delim: string) => {
    let s = "";
    while (i < n && script[i] !== delim) {
      if (script[i] === "\\") s += script[i++];
      if (i < n) s += script[i++];
    }
    i++;
    return s;
  };
  while (i < n) {
    const c = script[i]!;
    if (/[\s;{}!]/.test(c)) {
      i++;
      continue;
    }
    // Addresses: numbers, $, /re/, \cREc, ranges, steps.
    if (/[0-9$,~+]/.test(c)) {
      i++;
      continue;
    }
    if (c === "/") {
      i++;
      delimited("/");
      if (script[i] === "I" || script[i] === "M") i++;
      continue;
    }
    if (c === "\\") {
      const d = script[i + 1] ?? "";
      i += 2;
      delimited(d);
      continue;
    }
    i++;
    if (c === "s" || c === "y") {
      const d = script[i++] ?? "";
      delimited(d);
      delimited(d);
      if (c === "y") continue;
      while (i < n && /[gpiImMe0-9w]/.test(script[i]!)) {
        const f = script[i++]!;
        if (f === "e") out.exec = true;
        if (f === "w") {
          out.writes.push(restOfLine());
          break;
        }
      }
      continue;
    }
    if (c === "e") out.exec = true;
    if (c === "w" || c === "W") out.writes.push(restOfLine());
    else if ("bTt:".includes(c)) {
      while (i < n && script[i] !== ";" && script[i] !== "\n") i++;
    } else if ("aicrRe#".includes(c)) restOfLine();
    else if (!"=dDgGhHnNpPxzFlLqQ".includes(c)) out.exec = true; // a command we do not know: assume the worst
  }
  return out;
}

/** `git config` keys that only change names, colours and defaults; any other key may run a program. */
const HARMLESS_GIT_KEY = /^(user\.(name|email)|color\.|init\.defaultbranch|advice\.|pull\.(rebase|ff)|push\.default|i18n\.|core\.(autocrlf|filemode|ignorecase|quotepath|eol|safecrlf)|safe\.directory|commit\.verbose|fetch\.prune)$/i;
/** Subcommands that write files of the work tree (or create one). */
const WORKTREE_WRITERS = new Set(["clean", "checkout", "restore", "reset", "switch", "merge", "pull", "apply", "am", "stash", "rebase", "cherry-pick", "revert", "read-tree", "checkout-index", "sparse-checkout", "submodule", "mv", "worktree"]);
/** Options that run a program or command string of the caller's choosing, by subcommand ("*": any). */
const GIT_RUNS: Record<string, RegExp> = {
  "*": /^(--upload-pack|--receive-pack|--exec=|--exec$|--config|--template|--extcmd|--to-cmd|--cc-cmd|--open-files-in-pager|--tool|--[a-z-]*-filter|--sendmail-cmd|--smtp-server)/,
  clone: /^(-u|-c|--config|--upload-pack|--template)/,
  fetch: /^(-u|--upload-pack)/,
  "ls-remote": /^(-u|--upload-pack)/,
  archive: /^(--exec|--remote)/,
  rebase: /^(-x|--exec|-[A-Za-z]*x)/,
  grep: /^(-O|--open-files-in-pager)/,
  init: /^--template/,
  submodule: /^foreach$/,
};
function gitSubcommand(sub: ShellWord | undefined, rest: ShellWord[], parsed: ParsedOptions): { unknown?: string; worktree: ShellWord[] } {
  if (!sub) return { worktree: [] };
  if (sub.dynamic) return { unknown: "git with a dynamic subcommand", worktree: [] };
  const v = sub.value;
  if (["bisect", "filter-branch", "instaweb", "web--browse", "difftool", "mergetool", "daemon", "credential", "send-email", "p4", "svn", "cvsimport", "quiltimport"].includes(v) || rest.some((a) => a.dynamic || GIT_RUNS["*"]!.test(a.value) || (Object.hasOwn(GIT_RUNS, v) && GIT_RUNS[v]!.test(a.value)))) {
    return { unknown: `git ${v} with a command or option that runs a program`, worktree: [] };
  }
  if (v === "clone") {
    // Every operand may be the destination (`-b NAME` values are not told apart), and so may the
    // folder named after the repository.
    const operands = rest.filter((a) => !a.value.startsWith("-"));
    return { worktree: [...operands, ...operands.map((a) => ({ ...a, value: a.value.replace(/\/+$/, "").replace(/\.git$/, "").replace(/^.*[/:]/, "") || "." }))] };
  }
  if (WORKTREE_WRITERS.has(v)) {
    const tree = parsed.values.get("work-tree")?.at(-1) ?? parsed.values.get("chdir")?.at(-1) ?? lit(".");
    return { worktree: [tree] };
  }
  return { worktree: [] };
}

/** Programs that change the account files (`chsh -s /tmp/x` makes every later login run /tmp/x). */
const ACCOUNT_FILE_WRITERS: Record<string, string[]> = {
  chsh: ["/etc/passwd"], chfn: ["/etc/passwd"], passwd: ["/etc/shadow"], chpasswd: ["/etc/shadow"], chage: ["/etc/shadow"], gpasswd: ["/etc/group"],
  usermod: ["/etc/passwd", "/etc/shadow", "/etc/group"], useradd: ["/etc/passwd", "/etc/shadow", "/etc/group"], adduser: ["/etc/passwd", "/etc/shadow", "/etc/group"],
  newusers: ["/etc/passwd", "/etc/shadow"], groupadd: ["/etc/group"], groupmod: ["/etc/group"], vigr: ["/etc/group"],
};
/**
 * Programs whose written files the gateway cannot see: archive extractors without a readable target
 * (7z, ar, dpkg -x), downloaders choosing names (aria2c, axel, lftp, rclone), systemd-tmpfiles
 * (its configuration creates files and links anywhere). Refused where a `writes` rule applies.
 */
const UNSEEN_WRITERS = new Set(["7z", "7za", "7zr", "ar", "dpkg", "dpkg-deb", "rpm2archive", "aria2c", "axel", "lftp", "rclone", "systemd-tmpfiles", "unar", "unrar", "lha", "arj", "pax"]);
