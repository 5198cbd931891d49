/**
 * What the gateway knows about individual programs: their options (so rules match semantic flags,
 * protocols/ssh/codec/shell/options.ts), which files they write (protected paths, protocols/ssh/codec/shell/writes.ts),
 * and which invocations run code the gateway cannot see (→ `unknown`).
 *
 * The table is data: docs/SSH.md § "Programs the gateway reads" is generated from it and a test
 * (protocols/ssh/codec/shell/programs.test.ts) keeps the two identical. Programs not listed are parsed with a
 * generic reading (every `-x` letter and `--long` word is a flag named as written).
 */
import type { OptionDef, OptionTable } from "./options.ts";

export interface ProgramSpec {
  names: string[];
  options: OptionDef[];
  /** How files written are found (writes.ts). */
  writes?: "operands" | "patch" | "attributes" | "renames" | "extract" | "output-option" | "uniq" | "script" | "copy" | "link" | "dd" | "sed" | "crontab" | "systemctl" | "git" | "curl" | "wget" | "editor" | "rsync" | "scp" | "split";
  /** Code the gateway cannot read (interpreters, editors with commands, sed `e`…) → unknown. */
  code?: "interpreter" | "awk" | "sed" | "editor" | "git" | "tar" | "rsync" | "split";
  /** One line for the docs table. */
  doc: string;
  /** POSIX utility without GNU permutation (`env`, wrappers): options end at the first operand. */
  stopAtOperand?: boolean;
}

const o = (short: string | undefined, long?: string, flag?: string, arg?: "required" | "optional"): OptionDef => ({ short, long, flag, arg });
const v = (short: string | undefined, long?: string, flag?: string) => o(short, long, flag, "required");

const BACKUP = [o("b", undefined, "backup"), o(undefined, "backup", "backup", "optional"), v("S", "suffix")];
const VERBOSE = o("v", "verbose");

export const PROGRAMS: ProgramSpec[] = [
  {
    names: ["rm"],
    doc: "flags: recursive (-r -R --recursive), force (-f --force), dir, interactive, no-preserve-root, one-file-system, verbose",
    options: [o("r", "recursive"), o("R", undefined, "recursive"), o("f", "force"), o("i", undefined, "interactive"), o("I", undefined, "interactive"), o(undefined, "interactive", "interactive", "optional"), o("d", "dir"), o(undefined, "one-file-system"), o(undefined, "no-preserve-root"), o(undefined, "preserve-root", undefined, "optional"), VERBOSE, o(undefined, "help"), o(undefined, "version")],
  },
  {
    names: ["rmdir"],
    doc: "flags: parents, ignore-fail-on-non-empty, verbose",
    options: [o("p", "parents"), o(undefined, "ignore-fail-on-non-empty"), VERBOSE],
  },
  {
    names: ["cp"],
    writes: "copy",
    doc: "flags: recursive, force, archive, target-directory (value), …; writes the destination (and destination/<source name>), the whole tree when recursive, and backups (`--backup` + `--suffix`)",
    options: [o("a", "archive"), o("r", "recursive"), o("R", undefined, "recursive"), o("f", "force"), o("i", "interactive"), o("n", "no-clobber"), o("l", "link"), o("s", "symbolic-link"), o("u", "update", undefined, "optional"), o("d", undefined, "no-dereference"), o("P", "no-dereference"), o("L", "dereference"), o("H", undefined, "dereference-args"), o("p", undefined, "preserve"), o(undefined, "preserve", undefined, "optional"), o(undefined, "no-preserve", undefined, "required"), o("x", "one-file-system"), o("T", "no-target-directory"), v("t", "target-directory"), o(undefined, "parents"), o(undefined, "sparse", undefined, "required"), o(undefined, "reflink", undefined, "optional"), o(undefined, "remove-destination"), o(undefined, "strip-trailing-slashes"), o(undefined, "attributes-only"), o(undefined, "copy-contents"), o(undefined, "debug"), o("Z", "context", undefined, "optional"), VERBOSE, ...BACKUP],
  },
  {
    names: ["mv"],
    writes: "copy",
    doc: "flags: force, target-directory (value), …; writes the destination (and destination/<source name>)",
    options: [o("f", "force"), o("i", "interactive"), o("n", "no-clobber"), o("u", "update", undefined, "optional"), o("T", "no-target-directory"), v("t", "target-directory"), o(undefined, "strip-trailing-slashes"), o(undefined, "exchange"), o(undefined, "no-copy"), o("Z", "context"), o(undefined, "debug"), VERBOSE, ...BACKUP],
  },
  {
    names: ["install"],
    writes: "copy",
    doc: "flags: directory, target-directory (value), mode (value), …; writes the destination",
    options: [o("d", "directory"), o("D", undefined, "create-leading"), o("C", "compare"), v("m", "mode"), v("o", "owner"), v("g", "group"), o("p", "preserve-timestamps"), o("s", "strip"), v(undefined, "strip-program"), o("T", "no-target-directory"), v("t", "target-directory"), o("Z", undefined, "context"), o(undefined, "context", undefined, "optional"), o(undefined, "preserve-context"), o(undefined, "debug"), VERBOSE, ...BACKUP],
  },
  {
    names: ["ln"],
    writes: "link",
    doc: "flags: symbolic, force, target-directory (value), …; the link and its target count as written (a link to a protected file is a way to write it)",
    options: [o("s", "symbolic"), o("f", "force"), o("i", "interactive"), o("n", "no-dereference"), o("L", "logical"), o("P", "physical"), o("r", "relative"), o("T", "no-target-directory"), v("t", "target-directory"), o("d", "directory"), o("F", undefined, "directory"), VERBOSE, ...BACKUP],
  },
  { names: ["link"], writes: "operands", doc: "writes both operands (a hard link)", options: [] },
  { names: ["rename", "prename", "file-rename", "perl-rename"], writes: "renames", doc: "the new names come from an expression: the files written are unknown", options: [] },
  { names: ["tee"], writes: "operands", doc: "flags: append, …; writes every operand", options: [o("a", "append"), o("i", "ignore-interrupts"), o("p", undefined, "output-error"), o(undefined, "output-error", undefined, "optional")] },
  { names: ["truncate"], writes: "operands", doc: "flags: size (value), …; writes every operand", options: [v("s", "size"), v("r", "reference"), o("c", "no-create"), o("o", "io-blocks")] },
  { names: ["shred"], writes: "operands", doc: "flags: remove, zero, force, …; writes every operand", options: [o("u", undefined, "remove"), o(undefined, "remove", undefined, "optional"), o("z", "zero"), o("f", "force"), o("x", "exact"), v("n", "iterations"), v("s", "size"), v(undefined, "random-source"), VERBOSE] },
  { names: ["touch"], writes: "operands", doc: "writes every operand", options: [o("a"), o("c", "no-create"), v("d", "date"), o("f"), o("h", "no-dereference"), o("m"), v("r", "reference"), v("t"), v(undefined, "time")] },
  { names: ["chmod", "chown", "chgrp"], writes: "attributes", doc: "flags: recursive, …; changes the files after the mode/owner (all operands with --reference): they count as written (making a start-up file writable is a way to write it)", options: [o("R", "recursive"), o("c", "changes"), o("f", "silent"), o(undefined, "quiet", "silent"), o("h", "no-dereference"), o(undefined, "dereference"), o("H"), o("L"), o("P"), v(undefined, "reference"), v(undefined, "from"), o(undefined, "preserve-root"), o(undefined, "no-preserve-root"), VERBOSE] },
  { names: ["dd"], writes: "dd", doc: "writes the file of `of=`", options: [] },
  { names: ["patch"], writes: "patch", doc: "writes its file operand, or the files named inside the patch (unknown: refused where a `writes` rule applies), and -o/--output", options: [v("o", "output"), v("i", "input"), v("d", "directory"), v("p", "strip"), v("r", "reject-file"), v("B", "prefix"), v("z", "suffix"), o("R", "reverse"), o("N", "forward"), o("E", "remove-empty-files"), o("f", "force"), o("s", "quiet"), o(undefined, "silent", "quiet"), o("t", "batch"), o("u", "unified"), o("b", "backup"), o(undefined, "dry-run"), o("l", "ignore-whitespace"), v("F", "fuzz"), v("V", "version-control")] },
  { names: ["sort", "shuf", "iconv", "openssl", "base64", "gzip", "xz", "zstd", "jq", "yq", "gpg", "gpg2"], writes: "output-option", doc: "writes the file of -o/-out/--output (any spelling: `=` or separate, `--o=FILE`, `-uoFILE`)", options: [] },
  {
    names: ["split"],
    writes: "split",
    code: "split",
    doc: "writes PREFIX* (its second operand, default `x`, in the current directory: `split -l 1 - .profil` writes `.profile`); --filter runs a shell command for each piece → unknown",
    options: [v("a", "suffix-length"), v(undefined, "additional-suffix"), v("b", "bytes"), v("C", "line-bytes"), v("l", "lines"), v("n", "number"), v("t", "separator"), o("d"), o(undefined, "numeric-suffixes", undefined, "optional"), o("x"), o(undefined, "hex-suffixes", undefined, "optional"), o("e", "elide-empty-files"), v(undefined, "filter"), o("u", "unbuffered"), o(undefined, "verbose"), o(undefined, "help"), o(undefined, "version")],
  },
  {
    names: ["csplit"],
    writes: "split",
    doc: "writes PREFIX* (-f/--prefix, default `xx`, in the current directory: `csplit -f .bashr -b 'c%.0d' - 2` writes `.bashrc`)",
    options: [v("b", "suffix-format"), v("f", "prefix"), v("n", "digits"), o("k", "keep-files"), o(undefined, "suppress-matched"), o("s", "quiet"), o(undefined, "silent", "quiet"), o("z", "elide-empty-files"), o(undefined, "help"), o(undefined, "version")],
  },
  { names: ["uniq", "xxd"], writes: "uniq", doc: "writes its second operand", options: [] },
  {
    names: ["sed", "gsed"],
    writes: "sed",
    code: "sed",
    doc: "flags: in-place (-i --in-place, writes every file operand), …; a script with `e` (or `s///e`) runs commands → unknown; `w` writes that file; -f script → unknown",
    options: [o("i", "in-place", undefined, "optional"), v("e", "expression"), v("f", "file"), o("n", "quiet"), o(undefined, "silent", "quiet"), o("E", "regexp-extended"), o("r", undefined, "regexp-extended"), o("s", "separate"), o("z", "null-data"), v("l", "line-length"), o("u", "unbuffered"), o("b", "binary"), o(undefined, "posix"), o(undefined, "debug"), o(undefined, "sandbox"), o(undefined, "follow-symlinks")],
  },
  { names: ["crontab"], writes: "crontab", doc: "installs a crontab (anything but -l) → writes /var/spool/cron/crontabs/<user>", options: [v("u", undefined, "user"), o("l", undefined, "list"), o("r", undefined, "remove"), o("e", undefined, "edit"), o("i"), o("T", undefined, "test")] },
  { names: ["systemctl"], writes: "systemctl", doc: "enable/link/edit/preset/add-wants/add-requires/set-property/mask/revert write unit folders; reboot/poweroff/halt/kexec are reported as those commands", options: [o(undefined, "user"), o(undefined, "system"), o(undefined, "global"), o(undefined, "now"), o(undefined, "runtime"), o("f", "force"), o("q", "quiet"), o(undefined, "no-block"), o(undefined, "no-pager"), o(undefined, "no-reload"), o(undefined, "no-ask-password"), v("H", "host"), v("M", "machine"), v("t", "type"), v("s", "signal"), v("p", "property"), o("a", "all"), o("l", "full"), v("n", "lines"), v("o", "output"), v(undefined, "root"), v(undefined, "kill-whom"), v(undefined, "job-mode"), v(undefined, "state")] },
  { names: ["git"], writes: "git", code: "git", doc: "`-c`/`--config-env`/`--exec-path` (config can run programs) → unknown; `git config --global` writes ~/.gitconfig, `git config` writes .git/config", options: [v("c", undefined, "config"), v(undefined, "config-env"), v("C", undefined, "chdir"), o(undefined, "exec-path", undefined, "optional"), v(undefined, "git-dir"), v(undefined, "work-tree"), v(undefined, "namespace"), o(undefined, "no-pager"), o("p", "paginate"), o("P"), o(undefined, "bare"), o(undefined, "no-replace-objects"), o(undefined, "literal-pathspecs"), o(undefined, "no-optional-locks"), o("v", "version"), o("h", "help")], stopAtOperand: true },
  { names: ["curl"], writes: "curl", doc: "writes the file of -o/--output, and of -D/--dump-header, -c/--cookie-jar, --trace*, --stderr, --libcurl, --etag-save, --hsts, --alt-svc (any abbreviation); -O/--remote-name/-J write a server-chosen name into --output-dir (or the current directory)", options: [v("o", "output"), o("O", "remote-name"), o(undefined, "remote-name-all"), o("J", "remote-header-name"), v(undefined, "output-dir"), v("K", "config"), o("s", "silent"), o("S", "show-error"), o("f", "fail"), o("L", "location"), v("H", "header"), v("d", "data"), v("X", "request"), v("u", "user"), o("k", "insecure")] },
  { names: ["wget"], writes: "wget", doc: "writes the file of -O/--output-document (and of -o/-a logs, --save-cookies, --warc-file, --rejected-log, --hsts-file), else a server-chosen name into -P/--directory-prefix (or the current directory)", options: [v("O", "output-document"), v("P", "directory-prefix"), o("q", "quiet"), v("o", "output-file"), v("a", "append-output"), o("c", "continue")] },
  { names: ["vi", "vim", "nvim", "view", "ex", "vimdiff", "rvim", "nano", "emacs", "ed", "red", "pico", "joe", "mcedit"], writes: "editor", code: "editor", doc: "editors: every file operand is written; commands on the command line (-c, +cmd, -S, --cmd, --eval, -l) → unknown; `ed`, `red`, `ex` and `vi -e`/`-E` read their commands (`!cmd`, `w FILE`) from standard input → unknown; on an exec without a terminal every editor reads its commands from the client's input → unknown", options: [] },
  { names: ["tar", "gtar", "bsdtar"], writes: "extract", code: "tar", doc: "--to-command, --use-compress-program/-I, --checkpoint-action, --rsh-command, --rmt-command, --info-script/-F, --new-volume-script (in any abbreviation: `--rsh=`, `--use-compress-prog=`) run programs → unknown; extraction (-x, --extract, --get) writes below its -C/--directory (or the current directory): archive members are not visible", options: [] },
  { names: ["unzip", "cpio", "bsdcpio"], writes: "extract", doc: "extraction writes below -d DIR (unzip) / -D DIR (cpio) or the current directory: archive members are not visible", options: [] },
  { names: ["rsync"], writes: "rsync", code: "rsync", doc: "-e/--rsh and --rsync-path run programs, and so does a `host:path`/`rsync://` operand (ssh or a daemon there) → unknown; writes below its destination (`rsync --server` without --sender, or a local destination); --delete*/--remove-source-files are also reported as `rm -r -f <destination>`", options: [] },
  { names: ["scp", "sftp"], writes: "scp", doc: "`scp -t <dir>` (legacy scp sink) writes into <dir>; as a client on the host (`scp host:x ~/`, `sftp`) it runs ssh: hidden", options: [] },
  { names: ["script"], writes: "script", doc: "writes its typescript file and -O/-I/-B/-T/--log-*/--timing files (its -c command is analysed as a wrapper)", options: [] },
  { names: ["python", "python2", "python3", "pypy", "pypy3", "perl", "ruby", "node", "nodejs", "deno", "bun", "php", "lua", "luajit", "Rscript", "tclsh", "wish", "expect", "pwsh", "powershell", "osascript", "jshell", "groovy", "scala", "julia", "guile", "racket", "sbcl", "erl", "escript", "elixir", "ghci", "runghc", "irb", "gdb", "lldb", "R", "octave", "gnuplot", "ipython", "ipython3", "dc", "m4", "logrotate"], code: "interpreter", doc: "interpreters (and programs whose input is code: `m4` syscmd, `dc` `!`, `gnuplot` `system`, `logrotate` postrotate scripts): code on the command line (-c, -e, -E, -r, --eval, -m, -x, -ex…) or read from stdin → unknown; a script or configuration file is reported as the command (its content is not visible)", options: [] },
  { names: ["awk", "gawk", "mawk", "nawk"], code: "awk", doc: "a program that can run commands or write files (system, getline, |, >, @load) → unknown; any option but -v/-F before the program (program files -f/-E/-i/--source in any abbreviation, gawk -o/-p/-d writing files, mawk -W exec) → unknown", options: [] },
];

const byName = new Map<string, ProgramSpec>();
for (const p of PROGRAMS) for (const n of p.names) byName.set(n, p);

export function programSpec(name: string): ProgramSpec | undefined {
  return byName.get(name);
}

/** The option table for a command name (empty table = generic reading). */
export function optionTable(name: string): OptionTable {
  const spec = byName.get(name);
  return { options: spec?.options ?? [], stopAtOperand: spec?.stopAtOperand };
}

/** All semantic flag names known for a program (policy compile checks `flags:` against them). */
export function knownFlags(name: string): Set<string> | null {
  const spec = byName.get(name);
  if (!spec || spec.options.length === 0) return null;
  return new Set(spec.options.map((d) => d.flag ?? d.long ?? d.short!));
}

/** The docs table (docs/SSH.md § Programs the gateway reads). */
export function renderProgramTableDoc(): string {
  const rows = PROGRAMS.map((p) => `| ${p.names.map((n) => `\`${n}\``).join(" ")} | ${p.doc.replace(/\|/g, "\\|")} |`);
  return ["| programs | what the gateway reads |", "| --- | --- |", ...rows].join("\n");
}
