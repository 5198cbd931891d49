/**
 * The programs and shell builtins that run other commands, and what the gateway does with each
 * (wrappers.ts implements it). docs/SSH.md § "Programs that run other programs" is generated from
 * this table, and protocols/ssh/codec/shell/wrapper-table.test.ts runs every `example` through the parser:
 * each must surface the `rm -rf /x` it hides, or be `unknown`.
 */
import { SHELL_NAMES, UNANALYSED_RUNNERS } from "./wrappers.ts";

export interface WrapperEntry {
  names: string[];
  /** How the wrapped command is found. */
  how: string;
  /** An invocation hiding `rm -rf /x` (the test checks it is found or unknown). */
  example: string;
}

export const ANALYSED_WRAPPERS: WrapperEntry[] = [
  { names: [...SHELL_NAMES], how: "`-c STRING` parsed recursively; reading commands from stdin (`-s`, `-i`, no operand, here-strings, here-documents, pipes) → unknown; a script file → the command, seen as hidden code by deny rules", example: "bash -c 'rm -rf /x'" },
  { names: ["eval"], how: "its words joined and parsed recursively; a dynamic word → unknown", example: "eval 'rm -rf /x'" },
  { names: ["source", "."], how: "a literal file → hidden code (deny rules refuse it); a dynamic file, `<(…)`, /dev/stdin, /dev/fd/*, /proc/* → unknown", example: "source <(echo rm -rf /x)" },
  { names: ["exec", "command", "builtin", "time", "nohup", "setsid", "unbuffer", "busybox", "toybox"], how: "options skipped, the rest is the command (busybox/toybox applets are the programs they name)", example: "busybox rm -rf /x" },
  { names: ["sudo", "doas"], how: "options with values skipped; `-s`/`-i` with words → parsed as a shell string; `-e`/sudoedit → unknown", example: "sudo -u root -- rm -rf /x" },
  { names: ["env"], how: "assignments and options skipped (`PATH=`, `LD_*`… → unknown); `-S STRING` parsed recursively", example: "env -i X=1 rm -rf /x" },
  { names: ["nice", "timeout", "stdbuf", "ionice", "chrt", "taskset", "chroot", "flock", "strace", "ltrace"], how: "their own options and positional values (duration, priority, mask, root, lock file) skipped; `flock -c` parsed recursively; `strace`/`ltrace -o FILE` writes FILE, `strace -o '|CMD'` (or `!CMD`) parsed recursively", example: "timeout -s KILL 5 rm -rf /x" },
  { names: ["xargs"], how: "options skipped; the command gets a dynamic argument (what stdin supplies); with `-I R`/`-i`/`--replace`, every word holding R is dynamic (`xargs -I% sh -c %` runs stdin as a script: unknown)", example: "xargs -0 rm -rf" },
  { names: ["find"], how: "`-exec`/`-execdir`/`-ok`/`-okdir` commands analysed (`{}` is dynamic); `-delete`, and `rm`/`rmdir`/`unlink`/`shred` run by `-exec…`, reported as `rm -r -f <start points>`; `-fprint*`/`-fls` write files", example: "find /x -delete" },
  { names: ["su", "runuser"], how: "`-c STRING` parsed recursively; otherwise → unknown (a shell)", example: "su -c 'rm -rf /x'" },
  { names: ["watch", "script"], how: "the command string parsed recursively; `script` without `-c` → unknown", example: "script -qc 'rm -rf /x' /dev/null" },
  { names: ["trap"], how: "the action string parsed recursively", example: "trap 'rm -rf /x' EXIT" },
  { names: ["parallel", "alias", "hash -p", "enable -f", "fc", "bind", "complete -C", "mapfile -C", "let", "((…))", "$((…))", "[[ … -eq … ]]", "declare -i"], how: "→ unknown (they build or evaluate code the gateway cannot see; arithmetic on a variable evaluates `a[$(…)]` in its value)", example: "alias x='rm -rf /x'" },
  { names: ["zip", "man", "less", "more", "sqlite3", "psql", "mysql", "mariadb", "cpio", "nc", "netcat", "sort", "install", "sdiff", "diff3"], how: "→ unknown with `nc -e`/`-c`, `zip -TT`/`--unzip-command`, `man -P`/`-H`/`--pager`, `less +cmd`/`-k`, `sort --compress-program` (it feeds the data to that program: `=sh` runs it), `install --strip-program`, `sdiff`/`diff3 --diff-program`, `sdiff -o` (merge commands from stdin), `cpio --rsh-command`, `sqlite3` always (`.shell`, `.system`, ATTACH, VACUUM INTO); `psql`/`mysql`/`mariadb` unless their statements are on the command line (`-c`/`-e`) without a client command (`\\! cmd`, `system cmd`, `\\o FILE`, `tee FILE`: no backslash, no backquote, no `system`/`tee`/`source`… line) — they read stdin or a `-f` file otherwise; mysql `--plugin-dir`/`--default-auth`/`--defaults*-file` (protocols/ssh/codec/shell/code-options.ts)", example: "zip z.zip f -T -TT 'rm -rf /x'" },
  { names: ["test", "[", "printf -v", "read", "unset", "declare -n", "${!x}", "${x@P}"], how: "→ unknown when a variable name they evaluate carries a subscript with an expansion (`test -v 'a[$(…)]'`) or is dynamic: bash runs the command substitution in it", example: "printf -v 'a[$(rm -rf /x)]' 1" },
  { names: ["git"], how: "`-c`/`--config-env`/`--exec-path`, `git config` of any key outside names/colours/defaults (core.fsmonitor, core.pager, alias.*…), `clone -u/-c/--template`, `fetch/ls-remote -u`, `rebase -x`, `grep -O`, `submodule foreach`, `bisect`, `difftool`, `filter-branch`… → unknown; `clean -d` reported as `rm -r -f`; clone/checkout/pull/reset/… write their work tree", example: "git submodule foreach 'rm -rf /x'" },
  { names: ["scp", "sftp"], how: "with `-S`/`-o`/`-F` (a program to run) → unknown; `scp -t DIR` writes into DIR", example: "scp -S 'rm -rf /x' a b:c" },
  { names: UNANALYSED_RUNNERS, how: "→ hidden (they run other programs; their options are not analysed): every deny/approve exec rule refuses them, an allow rule covers them only by a pattern naming them", example: "nsenter -t 1 rm -rf /x" },
  { names: ["any other program"], how: "when a deny/approve rule's command name is one of its literal arguments (`setarch x86_64 rm -rf /x`), the words after it are matched as that command (programs known never to run others are exempt)", example: "setarch x86_64 rm -rf /x" },
];

export function renderWrapperTableDoc(): string {
  const rows = ANALYSED_WRAPPERS.map((w) => `| ${w.names.map((n) => `\`${n}\``).join(" ")} | ${w.how.replace(/\|/g, "\\|")} |`);
  return ["| programs | how the command they run is found |", "| --- | --- |", ...rows].join("\n");
}
