/**
 * Commands that run other commands. Each wrapper is reported itself (so `sudo` can be denied) and
 * so is what it runs, with `via` naming the wrapper: `sudo rm -rf /` reports `sudo …` and `rm -rf /`
 * (via sudo). Strings that a shell will parse again (`sh -c`, `bash -c`, `eval`, `su -c`,
 * `env -S`, `watch`, `flock -c`, `script -c`, `trap`) are parsed recursively. The table in
 * wrapper-table.ts documents all of this (docs/SSH.md is generated from it).
 *
 * What cannot be followed statically (a dynamic command name, a shell reading commands from stdin,
 * `source <(…)`, alias definitions, arithmetic on variables…) becomes `unknown`; scripts and the
 * programs of UNANALYSED_RUNNERS (`ssh`, `docker`, `nsenter`…) are `hidden`. Every command also gets
 * the files it writes and whether it runs code the gateway cannot read (writes.ts), and `cd` moves
 * the tracked current directory (paths.ts).
 */
import { ARITHMETIC_REASON as ARITH, pushCommand, pushUnknown, SENSITIVE_VARIABLES, type ParseContext } from "./context.ts";
import { SHELL_LIMITS, type ShellCommand, type ShellWord } from "./types.ts";
import { inspectProgram } from "./writes.ts";
import { hiddenCodeIn } from "./code-options.ts";
import { applyCd, writeTargetsOf } from "./paths.ts";
import { normalizeSftpPath } from "../sftp/packets.ts";
import { PROGRAMS } from "./programs.ts";

export const SHELL_NAMES = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash", "busybox-sh", "ksh93", "oksh", "loksh"];
const SHELLS = new Set(SHELL_NAMES);
const DECLARATIONS = new Set(["export", "declare", "typeset", "local", "readonly"]);
/** Programs that run other programs and are not analysed here: always hidden code (deny rules refuse them). */
export const UNANALYSED_RUNNERS = [
  "at", "batch", "screen", "tmux", "systemd-run", "pkexec", "unshare", "nsenter", "setpriv", "prlimit", "firejail", "cgexec", "fakeroot",
  "proot", "sg", "newgrp", "ssh-agent", "dbus-launch", "dbus-run-session", "xvfb-run", "chpst", "start-stop-daemon", "daemonize", "capsh",
  "numactl", "cpulimit", "torsocks", "torify", "proxychains", "proxychains4", "sshpass", "rlwrap", "entr", "ssh", "make", "gmake",
  "docker", "podman", "kubectl", "crictl", "ctr", "nerdctl", "lxc-attach", "machinectl", "systemd-nspawn", "bwrap", "faketime", "catchsegv",
  "valgrind", "perf", "fish", "csh", "tcsh", "elvish", "nu", "xonsh", "pdsh", "clush", "ansible", "salt-call", "run-parts",
  "ksu", "sudoedit", "visudo", "vipw", "logsave", "mispipe", "ssh-copy-id",
  // Servers and relays that run a program or shell command per connection or event (`socat - SYSTEM:cmd`).
  "socat", "ncat", "inotifyd", "telnetd", "httpd", "ftpd", "crond", "tcpsvd", "udpsvd", "inetd", "xinetd", "incrond",
];
const RUNNER_SET = new Set(UNANALYSED_RUNNERS);
/** Directories whose programs are the system's own; a program run by any other path may have been written by this line. */
const SYSTEM_PROGRAM = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$/;

/** Static word (no expansion): its value is exactly what the program receives. */
const lit = (w: ShellWord) => !w.dynamic && !w.glob;
const dynamicWord = (value: string): ShellWord => ({ value, dynamic: true, glob: false });

/** Wrappers and programs with code options handled below by name (besides PROGRAMS, shells and runners). */
const HANDLED_BY_NAME = ["eval", "exec", "command", "builtin", "time", "nohup", "setsid", "unbuffer", "busybox", "toybox", "sudo", "doas", "env", "nice", "timeout", "stdbuf", "ionice", "chrt", "taskset", "chroot", "flock", "strace", "ltrace", "xargs", "find", "su", "runuser", "watch", "script", "trap", "source", "zip", "man", "less", "more", "sqlite3", "psql", "mysql", "mariadb", "cpio", "bsdcpio", "mysqldump", "pg_dump", "pg_dumpall", "ssh-keygen", "nc", "netcat"];
let knownNames: Set<string> | undefined;
const ALIASES: Record<string, string> = { "original-awk": "awk" };
/** One step from a packaged variant to the program it is: `python3.11` → `python3`, `vim.basic` → `vim`, `luajit-2.1.0-beta3` → `luajit`. */
const VARIANT_STEPS = [/\.(basic|tiny|nox|gtk3?|athena|motif|distrib|static)$/, /-(static|nox|gtk3?|multiarch|dbg|minimal)$/, /-[a-z0-9_]+-linux-gnu[a-z]*$/, /\.\d+$/, /-\d[\w.-]*$/, /(?<=[A-Za-z])\d+$/];

/**
 * The program a command name is, by meaning: Debian and other distributions install interpreters,
 * editors and shells under versioned or variant names too (`python3.11`, `perl5.36.0` — in every
 * Debian's perl-base —, `vim.basic`, `sh.distrib`, `gdb-multiarch`, `bash-static`); each is the
 * program it is a version of, so that its code options are read (`python3.11 -c …` is unknown like
 * `python3 -c …`) and rules naming the program match it. Only names that end as such a program
 * are rewritten; any other name is kept as written.
 */
export function programName(name: string): string {
  knownNames ??= new Set([...PROGRAMS.flatMap((p) => p.names), ...SHELL_NAMES, ...UNANALYSED_RUNNERS, ...HANDLED_BY_NAME]);
  if (knownNames.has(name) || !Object.hasOwn(ALIASES, name) && !/[\d.-]/.test(name)) return name;
  if (Object.hasOwn(ALIASES, name)) return ALIASES[name]!;
  let current = name;
  for (let step = 0; step < 12; step++) {
    const next = VARIANT_STEPS.reduce((s, re) => (s === current ? s.replace(re, "") : s), current);
    if (next === current || next === "") return name;
    if (knownNames.has(next)) return next;
    current = next;
  }
  return name;
}

export function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

export function analyseCommand(ctx: ParseContext, argv: ShellWord[], via: string[], depth: number): void {
  const prefixEnv = ctx.prefixEnv ?? [];
  ctx.prefixEnv = undefined;
  if (argv.length === 0) return;
  if (depth > SHELL_LIMITS.maxDepth) {
    pushUnknown(ctx, via, `nested more than ${SHELL_LIMITS.maxDepth} levels deep`);
    return;
  }
  const head = argv[0]!;
  if (head.dynamic) {
    pushUnknown(ctx, via, `the command name ${JSON.stringify(head.value)} is only known on the host`);
    return;
  }
  if (head.glob) {
    pushUnknown(ctx, via, `the command name ${JSON.stringify(head.value)} is a file name pattern`);
    return;
  }
  const name = programName(basename(head.value));
  if (name === "") {
    pushUnknown(ctx, via, `empty command name ${JSON.stringify(head.value)}`);
    return;
  }
  const args = argv.slice(1);
  const findings = inspectProgram(name, args, ctx.cwd);
  const command: ShellCommand = { kind: "command", name, path: head.value, args, via: [...via], cwd: { dirs: [...ctx.cwd.cwds], unknown: ctx.cwd.unknown } };
  if (prefixEnv.length > 0) command.env = prefixEnv;
  if (findings.writes.length > 0) command.writes = findings.writes;
  if (findings.hidden) command.hidden = findings.hidden;
  if (head.value.includes("/") && !SYSTEM_PROGRAM.test(normalizeSftpPath(head.value))) command.hidden ??= `runs the program ${head.value}, which may have been written by this line`;
  pushCommand(ctx, command);
  if (findings.unknown) pushUnknown(ctx, via, findings.unknown);
  const hiddenCode = hiddenCodeIn(name, args);
  if (hiddenCode) pushUnknown(ctx, via, hiddenCode);
  for (const also of findings.alsoRuns ?? []) pushCommand(ctx, { kind: "command", name: also.name, path: also.name, args: also.args, via: [...via, name] });
  const inner = (rest: ShellWord[], label: string) => analyseCommand(ctx, rest, [...via, label], depth + 1);
  const nested = (text: string, label: string) => ctx.parseNested(ctx, text, [...via, label], depth + 1);
  const unknown = (reason: string) => pushUnknown(ctx, via, reason);

  if (SHELLS.has(name)) return shell(name, args, inner, nested, unknown, command);
  if (RUNNER_SET.has(name)) {
    // Hidden, not unknown: deny rules refuse it, and an allow-list may still name it exactly.
    command.hidden ??= `${name} runs other programs in ways the gateway does not analyse`;
    return;
  }
  if (DECLARATIONS.has(name)) {
    if (args.some((a) => /^-[A-Za-z]*i/.test(a.value))) unknown(`${name} -i: ${ARITH}`);
    for (const a of args) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(a.value);
      if (m && SENSITIVE_VARIABLES.test(m[1]!)) unknown(`${name} ${m[1]}=… changes what later commands run`);
      else if (a.dynamic) unknown(`${name} with a dynamic argument may change what later commands run`);
    }
    return;
  }
  switch (name) {
    case "eval": {
      if (args.some((a) => a.dynamic)) return unknown("eval of a dynamic string");
      if (args.length > 0) nested(args.map((a) => a.value).join(" "), "eval");
      return;
    }
    case "exec":
      return withOptions(args, { "-a": 1 }, ["-c", "-l"], (rest) => rest.length > 0 && inner(rest, "exec"), unknown);
    case "command":
    case "builtin":
      return withOptions(args, {}, ["-p", "-v", "-V"], (rest, seen) => !seen.has("-v") && !seen.has("-V") && rest.length > 0 && inner(rest, name), unknown);
    case "sudo":
      return sudo(args, inner, nested, unknown);
    case "doas":
      return withOptions(args, { "-u": 1, "-C": 1 }, ["-n", "-s", "-L"], (rest) => (rest.length > 0 ? inner(rest, "doas") : unknown("doas without a command starts a shell")), unknown);
    case "env":
      return env(args, inner, nested, unknown);
    case "nice":
      return withOptions(args, { "-n": 1, "--adjustment": 1 }, [], (rest) => rest.length > 0 && inner(rest, "nice"), unknown, /^-\d+$/);
    case "nohup":
    case "setsid":
    case "unbuffer":
    case "time":
    case "busybox":
    case "toybox":
      return withOptions(args, {}, ["-p", "-f", "-w", "-c"], (rest) => rest.length > 0 && inner(rest, name), unknown);
    case "timeout":
      return withOptions(args, { "-s": 1, "--signal": 1, "-k": 1, "--kill-after": 1 }, ["--preserve-status", "--foreground", "-v", "--verbose"], (rest) => rest.length > 1 && inner(rest.slice(1), "timeout"), unknown);
    case "stdbuf":
      return withOptions(args, { "-i": 1, "-o": 1, "-e": 1 }, [], (rest) => rest.length > 0 && inner(rest, "stdbuf"), unknown, /^-[ioe].+$/);
    case "ionice":
      return withOptions(args, { "-c": 1, "-n": 1, "-p": 1, "-P": 1, "-u": 1 }, ["-t"], (rest) => rest.length > 0 && inner(rest, "ionice"), unknown);
    case "chrt":
      return withOptions(args, { "-T": 1, "-P": 1, "-D": 1 }, ["-a", "-b", "-d", "-f", "-i", "-o", "-r", "-R", "-m", "-p", "-v"], (rest) => rest.length > 1 && inner(rest.slice(1), "chrt"), unknown);
    case "taskset":
      return withOptions(args, {}, ["-a", "-c", "-p"], (rest) => rest.length > 1 && inner(rest.slice(1), "taskset"), unknown);
    case "chroot":
      return withOptions(args, { "--userspec": 1, "--groups": 1 }, ["--skip-chdir"], (rest) => (rest.length > 1 ? inner(rest.slice(1), "chroot") : rest.length === 1 && unknown("chroot without a command starts a shell")), unknown);
    case "strace":
    case "ltrace": {
      // -o FILE writes FILE; strace -o '|CMD' / '!CMD' pipes its output into CMD, run by the shell.
      const outputs: ShellWord[] = [];
      return withOptions(args, { "-e": 1, "-o": 1, "-p": 1, "-s": 1, "-u": 1, "-E": 1, "-P": 1, "-a": 1, "-b": 1, "-I": 1, "-S": 1, "-X": 1 }, ["-f", "-ff", "-c", "-C", "-q", "-t", "-tt", "-ttt", "-T", "-v", "-x", "-xx", "-y", "-yy", "-k", "-r", "-w", "-z", "-Z", "-n", "-i", "-d", "-D", "-F", "-h", "-V"], (rest) => {
        for (const out of outputs) {
          if (out.dynamic && !out.value.startsWith("~")) unknown(`${name} -o with a dynamic value may run a command (-o '|cmd')`);
          else if (name === "strace" && /^[|!]/.test(out.value)) nested(out.value.slice(1), "strace -o |");
          else command.writes = [...(command.writes ?? []), ...writeTargetsOf(out, ctx.cwd)];
        }
        return rest.length > 0 && inner(rest, name);
      }, unknown, undefined, (key, value) => key === "-o" && outputs.push(value));
    }
    case "xargs":
      return xargs(args, inner, unknown);
    case "find":
      return find(args, inner, (rm) => pushCommand(ctx, { kind: "command", name: "rm", path: "rm", args: rm, via: [...via, "find -delete"] }), (file) => {
        command.writes = [...(command.writes ?? []), ...writeTargetsOf(file, ctx.cwd)];
      });
    case "su":
    case "runuser":
      return su(name, args, nested, unknown);
    case "watch":
      return withOptions(args, { "-n": 1, "--interval": 1, "-d": 0, "-q": 1 }, ["-b", "-e", "-g", "-t", "-x", "-c", "-p", "-r", "-w", "--exec"], (rest) => {
        if (rest.length === 0) return;
        if (rest.some((a) => a.dynamic)) return unknown("watch with a dynamic command");
        nested(rest.map((a) => a.value).join(" "), "watch");
      }, unknown);
    case "flock":
      return flock(args, inner, nested, unknown);
    case "script":
      return scriptCommand(args, nested, unknown);
    case "parallel":
      return unknown("parallel builds its command lines on the host");
    case "source":
    case ".": {
      const file = args[0];
      if (!file) return;
      if (file.dynamic || file.glob || /^(\/dev\/(stdin|fd\/)|\/proc\/|-$)/.test(file.value)) return unknown(`${name} of ${JSON.stringify(file.value)} runs commands only known on the host`);
      command.hidden = `${name} runs the commands in ${file.value}, which the gateway cannot see`;
      return;
    }
    case "cd":
    case "pushd": {
      const operands = args.filter((a) => !/^-[LPe@n]+$/.test(a.value));
      if (operands.length > 1 || operands.some((a) => /^[+-]/.test(a.value))) ctx.cwd.unknown = true;
      else applyCd(ctx.cwd, operands[0]);
      return;
    }
    case "popd":
      ctx.cwd.unknown = true;
      return;
    case "alias":
      if (args.some((a) => a.value.includes("=") || a.dynamic)) unknown("alias definitions change what later command names run");
      return;
    case "hash":
      if (args.some((a) => a.dynamic || /^-[A-Za-z]*p/.test(a.value))) unknown("hash -p changes which program a name runs");
      return;
    case "enable":
      if (args.some((a) => a.dynamic || /^-[A-Za-z]*f/.test(a.value))) unknown("enable -f loads code into the shell");
      return;
    case "trap": {
      const action = args[0];
      if (!action || /^-[lp]*$/.test(action.value)) return;
      if (action.dynamic) return unknown("trap with a dynamic action");
      if (args.length > 1 && action.value !== "-") nested(action.value, "trap");
      return;
    }
    case "fc":
    case "bind":
    case "complete":
      if (name !== "complete" || args.some((a) => /^-[A-Za-z]*C/.test(a.value))) unknown(`${name} runs commands the gateway cannot see`);
      return;
    case "mapfile":
    case "readarray":
      if (args.some((a) => a.dynamic || /^-[A-Za-z]*C/.test(a.value))) unknown(`${name} -C runs a callback`);
      return;
    case "let":
      if (args.some((a) => /[A-Za-z_]/.test(a.value))) unknown(`let: ${ARITH}`);
      return;
    case "scp":
    case "sftp":
      if (args.some((a) => a.dynamic || /^-[A-Za-z]*[SoF]/.test(a.value))) unknown(`${name} with -S/-o/-F can run programs`);
      return;
  }
}

type Inner = (rest: ShellWord[], label: string) => void;
type Nested = (text: string, label: string) => void;
type Unknown = (reason: string) => void;

/**
 * Skip a wrapper's options, then hand the remaining words to `then`.
 * `withValue`: options taking one argument (`-u root`, also `-uroot` and `--user=root`).
 * `flags`: options without arguments. Anything else that looks like an option → unknown
 * (we cannot tell where the wrapped command starts).
 */
function withOptions(
  args: ShellWord[],
  withValue: Record<string, number>,
  flags: string[],
  then: (rest: ShellWord[], seen: Set<string>) => unknown,
  unknown: Unknown,
  extraFlag?: RegExp,
  /** Each option value as the program reads it (separate, `--opt=value`, or attached `-ovalue`). */
  values?: (key: string, value: ShellWord) => void,
): void {
  const seen = new Set<string>();
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a.dynamic) return unknown(`a dynamic option ${JSON.stringify(a.value)} hides which command runs`);
    const v = a.value;
    if (v === "--") {
      i++;
      break;
    }
    if (!v.startsWith("-") || v === "-") break;
    if (flags.includes(v) || extraFlag?.test(v)) {
      seen.add(v);
      continue;
    }
    const eq = v.indexOf("=");
    const key = eq > 0 ? v.slice(0, eq) : v;
    if (key in withValue) {
      seen.add(key);
      if (eq < 0) {
        if (withValue[key] === 1 && args[i + 1]) values?.(key, args[i + 1]!);
        i += withValue[key]!;
      } else values?.(key, { ...a, value: v.slice(eq + 1) });
      continue;
    }
    // Short option with its value attached (-uroot), or a cluster of known short flags (-in).
    if (!v.startsWith("--") && v.length > 2) {
      const first = `-${v[1]}`;
      if (first in withValue) {
        seen.add(first);
        values?.(first, { ...a, value: v.slice(2) });
        continue;
      }
      const letters = [...v.slice(1)];
      if (letters.every((l) => flags.includes(`-${l}`))) {
        for (const l of letters) seen.add(`-${l}`);
        continue;
      }
    }
    return unknown(`unrecognised option ${JSON.stringify(v)} of a command that runs other commands`);
  }
  if (i > args.length) return unknown("option without its value");
  then(args.slice(i), seen);
}

function shell(name: string, args: ShellWord[], inner: Inner, nested: Nested, unknown: Unknown, self: ShellCommand): void {
  // sh [options] -c 'string' [arg0 args…] | sh [options] script [args] | sh (commands from stdin)
  let i = 0;
  let command = false;
  let stdin = false;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a.dynamic) return unknown(`${name} with a dynamic option`);
    const v = a.value;
    if (v === "--" || v === "-") {
      i++;
      break;
    }
    if (v === "-o" || v === "+o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file") {
      i++;
      continue;
    }
    if (v.startsWith("--")) continue;
    if (/^[-+][A-Za-z]+$/.test(v)) {
      if (v[0] === "-" && v.includes("c")) command = true;
      if (v[0] === "-" && v.includes("s")) stdin = true;
      if (v[0] === "-" && v.includes("i")) stdin = true;
      continue;
    }
    break;
  }
  if (command) {
    const text = args[i];
    if (!text) return unknown(`${name} -c without a command string`);
    if (text.dynamic) return unknown(`${name} -c with a dynamic command string`);
    return nested(text.value, `${name} -c`);
  }
  if (stdin || i >= args.length) return unknown(`${name} reads commands from its standard input`);
  const script = args[i]!;
  if (script.dynamic || script.glob || /^(\/dev\/(stdin|fd\/)|\/proc\/)/.test(script.value)) return unknown(`${name} runs a script only known on the host`);
  // `sh script.sh`: the script's content is not visible here; policy sees the `sh` command and its arguments.
  self.hidden = `${name} runs the script ${script.value}, whose content the gateway cannot see`;
  void inner;
}

function sudo(args: ShellWord[], inner: Inner, nested: Nested, unknown: Unknown): void {
  withOptions(
    args,
    { "-u": 1, "-g": 1, "-h": 1, "-p": 1, "-C": 1, "-r": 1, "-t": 1, "-U": 1, "-D": 1, "-T": 1, "-R": 1, "--user": 1, "--group": 1, "--host": 1, "--prompt": 1, "--close-from": 1, "--role": 1, "--type": 1, "--other-user": 1, "--chdir": 1, "--command-timeout": 1, "--chroot": 1 },
    ["-A", "-b", "-E", "-e", "-H", "-i", "-K", "-k", "-l", "-n", "-P", "-S", "-s", "-V", "-v", "-B", "-N", "--askpass", "--background", "--preserve-env", "--edit", "--set-home", "--login", "--remove-timestamp", "--reset-timestamp", "--list", "--non-interactive", "--preserve-groups", "--stdin", "--shell", "--bell", "--no-update"],
    (rest, seen) => {
      if (seen.has("-e") || seen.has("--edit")) return unknown("sudo -e edits files with an editor the gateway cannot follow");
      if (rest.length === 0) {
        if (seen.has("-s") || seen.has("-i") || seen.has("--shell") || seen.has("--login")) unknown("sudo starts an interactive shell");
        return;
      }
      if (seen.has("-s") || seen.has("-i") || seen.has("--shell") || seen.has("--login")) {
        // The words are joined and run through the target user's shell (-c).
        if (rest.some((a) => a.dynamic)) return unknown("sudo -s/-i with a dynamic command");
        return nested(rest.map((a) => a.value).join(" "), "sudo -s");
      }
      inner(rest, "sudo");
    },
    unknown,
  );
}

function env(args: ShellWord[], inner: Inner, nested: Nested, unknown: Unknown): void {
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a.dynamic) return unknown("env with a dynamic argument");
    const v = a.value;
    if (v === "--") {
      i++;
      break;
    }
    if (v === "-i" || v === "-0" || v === "--ignore-environment" || v === "--null" || v === "-" || v === "-v" || v === "--debug") continue;
    if (v === "-u" || v === "--unset" || v === "-C" || v === "--chdir") {
      i++;
      continue;
    }
    if (/^(-u|-C|--unset=|--chdir=).+/.test(v)) continue;
    if (v === "-S" || v === "--split-string" || v.startsWith("-S") || v.startsWith("--split-string=")) {
      const text = v === "-S" || v === "--split-string" ? args[++i] : { value: v.replace(/^(-S|--split-string=)/, ""), dynamic: false, glob: false };
      if (!text) return unknown("env -S without a string");
      if (text.dynamic) return unknown("env -S with a dynamic string");
      const rest = args.slice(i + 1).map((w) => (w.dynamic ? "$DYNAMIC" : w.value));
      return nested([text.value, ...rest].join(" "), "env -S");
    }
    if (v.startsWith("-")) return unknown(`unrecognised env option ${JSON.stringify(v)}`);
    const m = /^([^=]+)=/.exec(v);
    if (m) {
      if (SENSITIVE_VARIABLES.test(m[1]!)) return unknown(`env ${m[1]}=… changes which program runs`);
      continue;
    }
    break;
  }
  if (i < args.length) inner(args.slice(i), "env");
}

function xargs(args: ShellWord[], inner: Inner, unknown: Unknown): void {
  const replace: string[] = [];
  let anyReplace = false;
  withOptions(
    args,
    { "-a": 1, "-d": 1, "-E": 1, "-e": 0, "-I": 1, "-i": 0, "-L": 1, "-l": 0, "-n": 1, "-P": 1, "-s": 1, "--arg-file": 1, "--delimiter": 1, "--eof": 1, "--replace": 0, "--max-lines": 1, "--max-args": 1, "--max-procs": 1, "--max-chars": 1, "--process-slot-var": 1 },
    ["-0", "-o", "-p", "-r", "-t", "-x", "--null", "--open-tty", "--interactive", "--no-run-if-empty", "--verbose", "--exit", "--show-limits"],
    (rest, seen) => {
      // -i / --replace without a value replace {}.
      if (seen.has("-i") || seen.has("--replace")) replace.push("{}");
      // With -I R, every word holding R gets a line of stdin in its place (the command name too:
      // `xargs -I% sh -c %` runs stdin as a script); otherwise words read from stdin are appended.
      // Either way the command gets arguments nobody can see here.
      const command = (rest.length > 0 ? rest : [{ value: "echo", dynamic: false, glob: false }]).map((w) =>
        anyReplace || replace.some((r) => w.value.includes(r)) ? dynamicWord(w.value) : w,
      );
      inner([...command, dynamicWord("<arguments from stdin>")], "xargs");
    },
    unknown,
    undefined,
    (key, value) => {
      if (key !== "-I" && key !== "-i" && key !== "--replace") return;
      if (value.dynamic) anyReplace = true;
      else replace.push(value.value === "" ? "{}" : value.value);
    },
  );
}

/**
 * find: `-exec`/`-execdir`/`-ok`/`-okdir` commands are analysed; `-delete`, and rm/rmdir/unlink/shred
 * run by `-exec…`, are reported as `rm -r -f <start points>` (what they amount to); `-fprint`/`-fprintf`/`-fls` write files.
 */
function find(args: ShellWord[], inner: Inner, deletes: (rmArgs: ShellWord[]) => void, writes: (file: ShellWord) => void): void {
  const starts: ShellWord[] = [];
  let i0 = 0;
  while (i0 < args.length && /^-[HLP]$|^-D$|^-O\d*$/.test(args[i0]!.value)) i0 += args[i0]!.value === "-D" ? 2 : 1;
  for (let j = i0; j < args.length && !/^[-(!]/.test(args[j]!.value); j++) starts.push(args[j]!);
  // A dynamic word could be `-delete`.
  if (args.some((a) => a.value === "-delete" || a.dynamic)) deletes([{ value: "-r", dynamic: false, glob: false }, { value: "-f", dynamic: false, glob: false }, ...(starts.length > 0 ? starts : [{ value: ".", dynamic: false, glob: false }])]);
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if ((v === "-fprint" || v === "-fprint0" || v === "-fls" || v === "-fprintf") && args[i + 1]) writes(args[i + 1]!);
    if (v === "-exec" || v === "-execdir" || v === "-ok" || v === "-okdir") {
      const start = i + 1;
      let end = start;
      while (end < args.length && args[end]!.value !== ";" && args[end]!.value !== "+") end++;
      const words = args.slice(start, end).map((w) => (w.value.includes("{}") ? { ...w, value: w.value, dynamic: true } : w));
      if (words.length > 0) inner(words, `find ${v}`);
      // rm/rmdir/unlink run on every file find walks to delete the tree, as `-delete` does
      // (`-exec rm {} +` then `-depth -exec rmdir {} +` is `rm -rf` by another name).
      if (words[0] && (words[0].dynamic || /^(rm|rmdir|unlink|shred)$/.test(basename(words[0].value)))) deletes([{ value: "-r", dynamic: false, glob: false }, { value: "-f", dynamic: false, glob: false }, ...(starts.length > 0 ? starts : [{ value: ".", dynamic: false, glob: false }])]);
      i = end;
    }
  }
}

function su(name: string, args: ShellWord[], nested: Nested, unknown: Unknown): void {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === "-c" || v === "--command" || v === "-C" || v === "--session-command") {
      const text = args[i + 1];
      if (!text) return unknown(`${name} -c without a command`);
      if (text.dynamic) return unknown(`${name} -c with a dynamic command`);
      return nested(text.value, `${name} -c`);
    }
    if (/^--(command|session-command)=/.test(v)) return nested(v.slice(v.indexOf("=") + 1), `${name} -c`);
    if (v.startsWith("-c") && v.length > 2) return nested(v.slice(2), `${name} -c`);
  }
  unknown(`${name} without -c starts a shell`);
}

function flock(args: ShellWord[], inner: Inner, nested: Nested, unknown: Unknown): void {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === "-c" || v === "--command") {
      const text = args[i + 1];
      if (!text || text.dynamic) return unknown("flock -c with a missing or dynamic command");
      return nested(text.value, "flock -c");
    }
  }
  withOptions(args, { "-w": 1, "--timeout": 1, "-E": 1, "--conflict-exit-code": 1 }, ["-s", "-x", "-e", "-u", "-n", "-o", "-F", "--shared", "--exclusive", "--unlock", "--nonblock", "--close", "--no-fork", "--verbose"], (rest) => rest.length > 1 && inner(rest.slice(1), "flock"), unknown);
}

function scriptCommand(args: ShellWord[], nested: Nested, unknown: Unknown): void {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (args[i]!.dynamic) return unknown("script with a dynamic argument");
    if (v.startsWith("--command=")) return nested(v.slice(10), "script -c");
    if (v === "-c" || v === "--command" || /^-[aefqkEtTIOBm]*c$/.test(v)) {
      const text = args[i + 1];
      if (!text || text.dynamic) return unknown("script -c with a missing or dynamic command");
      return nested(text.value, "script -c");
    }
  }
  unknown("script without -c starts a shell");
}

export { lit as isLiteralWord };
