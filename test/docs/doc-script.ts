/**
 * Turns one documentation file's runnable commands (runnable-blocks.ts) into a bash script that
 * types them as a reader would, and reads back what each printed. Kept apart from the test so the
 * conventions are unit-tested without a stack (doc-script.test.ts).
 *
 * What the script does beyond running the commands as written:
 *  - terminals: a command's `terminal` selects the exported variables it sees (each terminal
 *    starts from the runner's environment; `export` in one never leaks into another);
 *  - placeholders: `apr_…` and `grt_…` (an approval request, a grant) stand for the newest such
 *    id printed so far that no earlier placeholder took — waiting for it, since the command that
 *    prints it may still be running in the background; `<id>` (a session) for the newest session
 *    id printed so far (show, replay and verify of one session all say `<id>`);
 *  - background commands start, and the runner waits for their first output line (a listener
 *    prints it once it listens), unless `nowait`; those with expectations (a held statement)
 *    write their exit status when they end. After the last command the script writes "$__out/t.end"
 *    and waits: the test decides when what it expects has been printed, and ends the script's
 *    process group.
 */
import type { RunnableCommand } from "./runnable-blocks.ts";

/** Placeholder → what it stands for in earlier output (POSIX ERE), and whether each use takes a new one. */
export const PLACEHOLDERS: Record<string, { pattern: string; fresh: boolean }> = {
  "apr_…": { pattern: "apr_[A-Za-z0-9_-]+", fresh: true },
  "grt_…": { pattern: "grt_[A-Za-z0-9_-]+", fresh: true },
  "<id>": { pattern: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", fresh: false },
};

const PREAMBLE = String.raw`
set +e
# Where outputs go: a shell variable of the runner's own (a doc may well set D, OUT, DIR…).
__out=$GH_DOC_OUT
unset GH_DOC_OUT
: > "$__out/used"
# Exported variables as global declarations (sourced inside a function, plain declare would be local).
__exports() { export -p | sed 's/^declare -x /declare -gx /; s/^declare -\([a-zA-Z]*\)x\([a-zA-Z]*\) /declare -g\1x\2 /'; }
__exports > "$__out/term.initial"
__terminal=main
cp "$__out/term.initial" "$__out/term.main"
# Switch to another terminal: keep this one's exported variables, restore the other's.
__switch() {
  [ "$__terminal" = "$1" ] && return
  __exports > "$__out/term.$__terminal"
  for __v in $(compgen -e); do unset "$__v" 2>/dev/null; done
  if [ -f "$__out/term.$1" ]; then source "$__out/term.$1"; else source "$__out/term.initial"; fi
  __terminal=$1
}
# The newest id matching $1 in any output so far (with $2 = fresh: that no placeholder took yet);
# waits up to 60 s for one.
__fresh() {
  for _ in $(seq 600); do
    for __f in $(ls -t "$__out"/out.* 2>/dev/null); do
      if [ "$2" = fresh ]; then __m=$(grep -oE "$1" "$__f" | grep -vxF -f "$__out/used" | tail -1); else __m=$(grep -oE "$1" "$__f" | tail -1); fi
      if [ -n "$__m" ]; then echo "$__m" >> "$__out/used"; echo "$__m"; return; fi
    done
    sleep 0.1
  done
  echo "no-unused-match-for-$1"
}
`;

/** `placeholder` occurrences in a command → a shell variable set just before it runs. */
function withPlaceholders(command: string, i: number): { setup: string[]; command: string } {
  const setup: string[] = [];
  let out = command;
  Object.entries(PLACEHOLDERS).forEach(([placeholder, { pattern, fresh }], k) => {
    if (!out.includes(placeholder)) return;
    const v = `__p${i}_${k}`;
    setup.push(`${v}=$(__fresh '${pattern}' ${fresh ? "fresh" : "any"})`);
    out = out.split(placeholder).join(`$${v}`);
  });
  return { setup, command: out };
}

/**
 * The bash script for one file's commands; outputs land in "$__out/out.<i>", statuses in "$__out/rc.<i>",
 * the time each started (after its placeholders were found) in "$__out/t.<i>".
 */
export function docScript(commands: RunnableCommand[], substitute: (command: string) => string = (c) => c): string {
  const lines = [PREAMBLE];
  commands.forEach((c, i) => {
    const { setup, command } = withPlaceholders(substitute(c.command), i);
    lines.push(`# ${c.file}:${c.line}`, `__switch ${JSON.stringify(c.terminal)}`, ...setup, `echo "$EPOCHREALTIME" > "$__out/t.${i}"`);
    if (!c.background) {
      lines.push(`{ ${command}\n} > "$__out/out.${i}" 2>&1 < /dev/null; echo $? > "$__out/rc.${i}"`);
      return;
    }
    lines.push(`{ ${command}\necho $? > "$__out/rc.${i}"; } > "$__out/out.${i}" 2>&1 < /dev/null &`);
    // A listener: going on before it listens would be a race, so wait for its first line.
    if (c.background === "wait") lines.push(`for _ in $(seq 600); do [ -s "$__out/out.${i}" ] && break; sleep 0.1; done`);
  });
  lines.push(
    'echo "$EPOCHREALTIME" > "$__out/t.end"',
    "# Background commands go on (listeners, held requests) until the test ends this process group.",
    "wait",
  );
  return `${lines.join("\n")}\n`;
}
