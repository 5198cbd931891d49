/**
 * Fenced shell blocks of README.md and docs/*.md: which are executed by the doc runner
 * (docs-run.test.ts), which are explicitly not (with a reason), and — a test failure — which are
 * neither. The conventions (test/docs/README.md):
 *
 *   ```sh runnable              commands run in one shell per file and terminal (exports carry
 *   cmd arg                     over); each must exit 0, unless `# ` lines follow it: then its
 *   # expected output …         output (stdout + stderr) must contain each such line (`…` matches
 *   # exit status 126           anything), and `# exit status N` is its expected exit status
 *   ```
 *   ```sh runnable background   each command is started in the background (a listener), and the
 *   cmd                         runner waits for its first line of output; so is a command ending
 *   ```                         in ` &` in any runnable block
 *   ```sh runnable background nowait   started in the background, not waited for (it prints only
 *   cmd                         once something later happens: a held request)
 *   ```
 * A background command with expectations is given until the end of the file (and up to a minute
 * more) to print them or exit; one without is a listener, ended with the file.
 *   ```sh runnable terminal=bob commands of another terminal: its own exported variables
 *   ```
 *   ```sh synopsis              a usage synopsis (`gatehouse cmd sub [--flag X]`): each command's
 *   gatehouse cmd [--flag]      `--help` must succeed and name every --flag the line shows
 *   ```                         (synopsis.test.ts)
 *   ```sh                       not executed, on purpose: the block's first line says why
 *   # not run by the doc tests: needs a Cloudflare account
 *   ```
 *
 * Shell blocks are fences labelled sh, bash, shell, console, zsh or fish. A fence without a
 * language is an error too (label diagrams and sample output `text`), so commands cannot hide in
 * one. A trailing `# comment` on a command line is shell syntax and is kept. `\` continues a line.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

export interface RunnableCommand {
  file: string;
  /** 1-based line of the command in the file. */
  line: number;
  command: string;
  /**
   * Started in the background (a `background` block, or a command ending in ` &`): "wait" for its
   * first output line before going on (a listener), "nowait" (`background nowait`); false: in the
   * foreground.
   */
  background: "wait" | "nowait" | false;
  /** The terminal it is typed in (`terminal=NAME` on the fence; default "main"). */
  terminal: string;
  /** Lines the output must contain (from `# ` lines after the command). */
  expect: string[];
  /** Expected exit status (`# exit status N`); undefined: 0 unless output lines are expected. */
  status?: number;
}

export type ShellBlockKind = "runnable" | "synopsis" | "not-run" | "unmarked" | "unlabelled";

export interface ShellBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  info: string;
  kind: ShellBlockKind;
  /** For not-run blocks: why. */
  reason?: string;
  body: string[];
}

const SHELL_LANGUAGES = new Set(["sh", "bash", "shell", "console", "zsh", "fish"]);
/** The marker, as the first line of a shell block that is deliberately not executed. */
export const NOT_RUN_MARKER = "# not run by the doc tests:";
/** A reason must say something: at least a few words. */
const MIN_REASON_LENGTH = 12;

/** Every fenced block that is (or, unlabelled, might be) shell. */
export function shellBlocks(file: string, text: string): ShellBlock[] {
  const lines = text.split("\n");
  const out: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const info = open[3]!.trim();
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.trim().startsWith(fence); i++) body.push(lines[i]!);
    const language = info.split(/\s+/)[0] ?? "";
    if (info === "") {
      out.push({ file, line: start + 1, info, kind: "unlabelled", body });
      continue;
    }
    if (!SHELL_LANGUAGES.has(language)) continue;
    const words = info.split(/\s+/).slice(1);
    if (words.includes("runnable") || words.includes("synopsis")) {
      out.push({ file, line: start + 1, info, kind: words.includes("runnable") ? "runnable" : "synopsis", body });
      continue;
    }
    const first = body.find((l) => l.trim() !== "")?.trim() ?? "";
    if (first.startsWith(NOT_RUN_MARKER)) {
      const reason = first.slice(NOT_RUN_MARKER.length).trim();
      out.push({ file, line: start + 1, info, kind: reason.length >= MIN_REASON_LENGTH ? "not-run" : "unmarked", reason, body });
      continue;
    }
    out.push({ file, line: start + 1, info, kind: "unmarked", body });
  }
  return out;
}

/** `cmd &   # comment` → the command without the `&` (and its comment), or undefined. */
function backgrounded(command: string): string | undefined {
  const m = /^(.*?[^&])\s*&\s*(#.*)?$/.exec(command);
  return m ? m[1]!.trim() : undefined;
}

export function runnableCommands(file: string, text: string): RunnableCommand[] {
  const out: RunnableCommand[] = [];
  for (const block of shellBlocks(file, text)) {
    if (block.kind !== "runnable") continue;
    const words = block.info.split(/\s+/).slice(1);
    const blockBackground = words.includes("background") ? (words.includes("nowait") ? "nowait" : "wait") : false;
    const terminal = words.find((w) => w.startsWith("terminal="))?.slice("terminal=".length) || "main";
    let current: RunnableCommand | undefined;
    block.body.forEach((raw, k) => {
      const l = raw.trimEnd();
      if (/^\s*#/.test(l)) {
        const said = l.replace(/^\s*#\s?/, "").trim();
        const status = /^exit status (\d+)$/.exec(said);
        if (current && status) current.status = Number(status[1]);
        else if (current && said) current.expect.push(said);
        return;
      }
      if (!l.trim()) return;
      if (current?.command.endsWith("\\")) {
        current.command = `${current.command.slice(0, -1)} ${l.trim()}`;
        return;
      }
      current = { file, line: block.line + k + 1, command: l.trim(), background: blockBackground, terminal, expect: [] };
      out.push(current);
    });
  }
  for (const c of out) {
    const bg = backgrounded(c.command);
    if (bg !== undefined) {
      c.command = bg;
      c.background ||= "wait";
    }
  }
  return out;
}

/** `…` in an expected line matches any text; everything else literally. */
export function expectationMatches(expected: string, output: string): boolean {
  const pattern = expected
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+"))
    .join("[\\s\\S]*?");
  return new RegExp(pattern).test(output);
}

/** README.md and docs/*.md of the repository. */
export function documentationFiles(root: string): Array<{ file: string; text: string }> {
  const files = ["README.md", ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
  return files.map((file) => ({ file, text: readFileSync(path.join(root, file), "utf8") }));
}

export interface SynopsisLine {
  file: string;
  line: number;
  /** The command path, e.g. ["approvals", "list"]. */
  command: string[];
  /** Every `--flag` the line (and its continuation lines) shows. */
  flags: string[];
}

/** `gatehouse …` lines of synopsis blocks; indented lines continue the previous one. */
export function synopsisLines(file: string, text: string): SynopsisLine[] {
  const out: SynopsisLine[] = [];
  for (const block of shellBlocks(file, text)) {
    if (block.kind !== "synopsis") continue;
    let current: SynopsisLine | undefined;
    block.body.forEach((l, k) => {
      const words = l.trim().split(/\s+/);
      if (words[0] === "gatehouse") {
        const command: string[] = [];
        for (const w of words.slice(1)) {
          if (!/^[a-z][a-z-]*$/.test(w)) break;
          command.push(w);
        }
        current = { file, line: block.line + k + 1, command, flags: [] };
        out.push(current);
      } else if (!current || !/^\s/.test(l)) return;
      for (const m of l.replace(/#.*$/, "").matchAll(/--[a-z][a-z-]*/g)) if (!current.flags.includes(m[0])) current.flags.push(m[0]);
    });
  }
  return out;
}
