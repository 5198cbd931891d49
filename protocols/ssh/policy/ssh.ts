/**
 * SSH actions (docs/POLICY.md §SSH). Action names:
 *
 *   ssh.*                       every SSH request (for allow: except unresolvable commands)
 *   ssh.exec                    every command of an exec line (for allow: except `unknown` ones)
 *   ssh.exec.unknown            commands the shell parser cannot resolve statically
 *   ssh.shell                   an interactive shell (allowed or denied as a whole; always recorded)
 *   ssh.sftp | ssh.sftp.*       every SFTP operation;  ssh.sftp.<op> one of SFTP_OPERATIONS
 *   ssh.port-forward  ssh.agent-forward  ssh.x11
 *   { ssh: { exec: ["systemctl restart *", "rm -rf /*"] } }        command patterns
 *   { ssh: { sftp: [read, list], paths: ["/srv/app/**"] } }       SFTP operations on paths
 *   { ssh: { forward: ["local:db.internal:5432", "remote:127.0.0.1:*"] } }   forwarding targets
 *       (canonical target strings, protocols/ssh/codec/forward.ts: local:<host>:<port>, remote:<bind>:<port>,
 *        streamlocal:<path>, remote-streamlocal:<path>; plain ssh.port-forward means any target)
 *
 * Command patterns: `name arg arg…`, split on blanks. The name matches the command's basename
 * (or its full path when the pattern name contains '/'); each argument is a Gatehouse glob
 * (`*` within a path segment, `**` across); an argument that is exactly `**` stands for any
 * number of arguments.
 *
 *   { ssh: { command: rm, flags: [recursive], args: ["/srv/**"] } }  a program by meaning (ssh-semantic.ts)
 *   { ssh: { writes: [protected, "/dev/sd*"] } }                     writes onto those paths (deny/approve)
 *
 * As for SQL, an ALLOW rule must cover a command completely and a DENY/APPROVE rule need only
 * touch it:
 *  - allow: argv is matched position by position. A dynamic argument (`$X`, `$(…)`, `~`) is only
 *    covered by a `**` word; an argument with a `..` path segment only by `**` or an identical word.
 *  - deny/approve: the pattern's options are read with the program's option table, so `-rf` is
 *    recursive + force in any spelling (`-Rf`, `-r -f`, `--rec --forc`); every other pattern
 *    argument must be met by an operand; a dynamic argument could be anything, so it meets; a glob
 *    argument meets when some file name could match both; a recursive command meets patterns
 *    below its operand.
 *  - unknown commands and hidden code (scripts, programs that run others unanalysed) are touched
 *    by every deny/approve exec rule: they could have matched (fail closed).
 */
import type { ParsedCommandLine, ShellCommand, ShellWord } from "../codec/shell/types.ts";
import { compileGlob, GlobSet } from "../../../parsers/policy/glob.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import type { ConnectInput, Decision, Effect, MatchedRule, ApprovalRequirement } from "../../../parsers/policy/types.ts";
import { EFFECT_RANK } from "../../../parsers/policy/types.ts";
import type { ActionKind, ApplicableRules } from "../../../parsers/policy/action-kinds.ts";
import { normalizeSftpPath } from "../codec/sftp/packets.ts";
import { joinPath } from "../codec/shell/paths.ts";
import { canonicalSftpPath, commandOptions, compileFlags, compileWrites, embeddedCommands, semanticOptionsOf, setsAllFlags, setsOnlyFlags, writeTouched, type SemanticOptions, type WriteMatcher } from "./ssh-semantic.ts";

import { SFTP_OPERATIONS, type SftpOperation } from "../codec/sftp/packets.ts";
export { SFTP_OPERATIONS, type SftpOperation };

export type SshOperation = "exec" | "exec.unknown" | "shell" | "sftp" | "port-forward" | "agent-forward" | "x11" | "write";
export const SSH_ACTION_NAMES = ["ssh.*", "ssh.exec", "ssh.exec.unknown", "ssh.shell", "ssh.sftp", "ssh.sftp.*", ...SFTP_OPERATIONS.map((o) => `ssh.sftp.${o}`), "ssh.port-forward", "ssh.agent-forward", "ssh.x11"];

export interface CommandPattern {
  source: string;
  name: PatternGlob;
  /** null entries are `**` (any number of arguments). Positional matching (allow, `exec:` patterns). */
  args: Array<PatternGlob | null>;
  /** Options of the pattern by meaning (deny/approve; allow for `command:` rules). */
  options: SemanticOptions;
  /** Operand patterns (the pattern's words that are not options; `**` dropped). */
  operands: PatternGlob[];
  /** `{ command, flags, args }` form: allow matches by meaning too (ssh-semantic.ts). */
  structured: boolean;
  /** structured allow: no `args` key = any operands. */
  anyOperands: boolean;
}

/** A compiled glob plus its tokens (deny matching intersects patterns with glob arguments). */
export interface PatternGlob {
  source: string;
  matches(value: string): boolean;
  tokens: GlobToken[];
}

type GlobToken = { t: "lit"; c: string } | { t: "one" } | { t: "star" } | { t: "globstar" };

export interface SshActionMatcher {
  protocol: "ssh";
  /** null = every SSH operation (`ssh.*`). */
  op: SshOperation | null;
  /** exec only: command patterns (null = every command). */
  commands: CommandPattern[] | null;
  /** sftp only: operations (null = all). */
  sftpOps: ReadonlySet<SftpOperation> | null;
  /** sftp only: path patterns (null = any path). */
  paths: GlobSet | null;
  /** port-forward only: target patterns (null = any target). */
  targets?: GlobSet | null;
  /** write only: which written paths (`{ ssh: { writes: [...] } }`). */
  writes?: WriteMatcher;
}

// ------------------------------------------------------------------ compile

/** `ssh.…` action names; throws PolicySyntaxError with a message for the policy author. */
export function compileSshActionName(text: string): SshActionMatcher {
  const base = { protocol: "ssh" as const, commands: null, sftpOps: null, paths: null };
  switch (text) {
    case "ssh.*":
      return { ...base, op: null };
    case "ssh.exec":
    case "ssh.exec.unknown":
    case "ssh.shell":
    case "ssh.port-forward":
    case "ssh.agent-forward":
    case "ssh.x11":
      return { ...base, op: text.slice(4) as SshOperation };
    case "ssh.sftp":
    case "ssh.sftp.*":
      return { ...base, op: "sftp" };
  }
  if (text.startsWith("ssh.sftp.")) {
    const op = text.slice(9);
    if ((SFTP_OPERATIONS as readonly string[]).includes(op)) return { ...base, op: "sftp", sftpOps: new Set([op as SftpOperation]) };
    throw new PolicySyntaxError(`unknown SFTP operation '${op}'; expected ssh.sftp.* or ssh.sftp.<op> with op one of ${SFTP_OPERATIONS.join(", ")}`);
  }
  throw new PolicySyntaxError(`unknown SSH action '${text}'; expected one of ${SSH_ACTION_NAMES.filter((n) => !n.startsWith("ssh.sftp.") || n === "ssh.sftp.*").join(", ")}, ssh.sftp.<op>, { ssh: { exec: [...] } } or { ssh: { sftp: [...], paths: [...] } }`);
}

/** `{ ssh: { exec: … } }` / `{ ssh: { sftp: …, paths: … } }` from plain JS values (the caller reads YAML). */
export function compileSshActionMap(value: unknown): SshActionMatcher {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicySyntaxError("ssh: must be a mapping with 'exec' or 'sftp' (and 'paths')");
  const keys = Object.keys(value);
  const map = value as Record<string, unknown>;
  for (const k of keys) if (!["exec", "sftp", "paths", "forward", "command", "flags", "args", "writes"].includes(k)) throw new PolicySyntaxError(`ssh: unknown key '${k}'; expected exec, command (with flags, args), writes, forward, or sftp with paths`);
  if ("command" in map || "flags" in map || "args" in map) {
    if (!("command" in map)) throw new PolicySyntaxError("ssh: 'flags' and 'args' belong to a 'command'");
    if (keys.some((k) => !["command", "flags", "args"].includes(k))) throw new PolicySyntaxError("ssh: 'command' goes with 'flags' and 'args' only");
    return { protocol: "ssh", op: "exec", commands: [compileStructuredCommand(map)], sftpOps: null, paths: null };
  }
  if ("writes" in map) {
    if (keys.length !== 1) throw new PolicySyntaxError("ssh: 'writes' stands alone");
    return { protocol: "ssh", op: "write", commands: null, sftpOps: null, paths: null, writes: compileWrites(stringsOf(map.writes, "ssh.writes")) };
  }
  if ("exec" in map) {
    if (keys.length !== 1) throw new PolicySyntaxError("ssh: 'exec' stands alone (sftp/paths belong in another action)");
    const list = stringsOf(map.exec, "ssh.exec");
    return { protocol: "ssh", op: "exec", commands: list.map(compileCommandPattern), sftpOps: null, paths: null };
  }
  if ("forward" in map) {
    if (keys.length !== 1) throw new PolicySyntaxError("ssh: 'forward' stands alone (exec/sftp belong in another action)");
    const targets = stringsOf(map.forward, "ssh.forward").map((t) => {
      if (!/^(local|remote|streamlocal|remote-streamlocal):./.test(t)) {
        throw new PolicySyntaxError(`ssh.forward: target '${t}' must start with local:, remote:, streamlocal: or remote-streamlocal: (e.g. local:db.internal:5432)`);
      }
      return compileGlob(t);
    });
    return { protocol: "ssh", op: "port-forward", commands: null, sftpOps: null, paths: null, targets: new GlobSet(targets) };
  }
  if ("sftp" in map || "paths" in map) {
    let sftpOps: Set<SftpOperation> | null = null;
    if ("sftp" in map) {
      const ops = stringsOf(map.sftp, "ssh.sftp");
      if (!(ops.length === 1 && ops[0] === "*")) {
        sftpOps = new Set();
        for (const op of ops) {
          if (!(SFTP_OPERATIONS as readonly string[]).includes(op)) throw new PolicySyntaxError(`ssh.sftp: unknown operation '${op}'; expected one of ${SFTP_OPERATIONS.join(", ")} (or '*')`);
          sftpOps.add(op as SftpOperation);
        }
      }
    }
    let paths: GlobSet | null = null;
    if ("paths" in map) paths = new GlobSet(stringsOf(map.paths, "ssh.paths").map((p) => compileGlob(p)));
    return { protocol: "ssh", op: "sftp", commands: null, sftpOps, paths };
  }
  throw new PolicySyntaxError("ssh: expected 'exec' or 'sftp'");
}

function stringsOf(value: unknown, what: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicySyntaxError(`${what}: empty list (it would never match)`);
  if (list.length > 10_000) throw new PolicySyntaxError(`${what}: too many entries`);
  return list.map((v) => {
    if (typeof v !== "string" || v.trim() === "") throw new PolicySyntaxError(`${what}: entries must be non-empty strings`);
    return v;
  });
}

export function compileCommandPattern(source: string): CommandPattern {
  const words = source.trim().split(/\s+/);
  if (words[0] === "**") throw new PolicySyntaxError(`command pattern '${source}': the command name must be a name or a glob, not '**'`);
  const programName = words[0]!.slice(words[0]!.lastIndexOf("/") + 1);
  const semantic = semanticOptionsOf(programName, words.slice(1).filter((w) => w !== "**"));
  return {
    source,
    name: compilePatternGlob(words[0]!, source),
    args: words.slice(1).map((w) => (w === "**" ? null : compilePatternGlob(w, source))),
    options: semantic.options,
    operands: semantic.operands.map((w) => compilePatternGlob(w, source)),
    structured: false,
    anyOperands: false,
  };
}

/** `{ command: rm, flags: [recursive, force], args: ["/srv/**"] }` */
function compileStructuredCommand(map: Record<string, unknown>): CommandPattern {
  const name = map.command;
  if (typeof name !== "string" || name.trim() === "" || /\s/.test(name.trim())) throw new PolicySyntaxError("ssh.command: must be one program name (or glob), e.g. rm");
  if (name === "**") throw new PolicySyntaxError("ssh.command: must be a name or a glob, not '**'");
  const programName = name.slice(name.lastIndexOf("/") + 1);
  const flags = "flags" in map ? stringsOf(map.flags, "ssh.flags") : [];
  const args = "args" in map ? stringsOf(map.args, "ssh.args") : [];
  const source = `${name}${flags.length > 0 ? ` flags [${flags.join(", ")}]` : ""}${args.length > 0 ? ` args [${args.join(", ")}]` : ""}`;
  return {
    source,
    name: compilePatternGlob(name, source),
    args: [],
    options: compileFlags(programName, flags, source),
    operands: args.map((a) => compilePatternGlob(a, source)),
    structured: true,
    anyOperands: !("args" in map),
  };
}

function compilePatternGlob(word: string, source: string): PatternGlob {
  let glob;
  try {
    glob = compileGlob(word);
  } catch (e) {
    throw new PolicySyntaxError(`command pattern '${source}': ${(e as Error).message}`);
  }
  return { source: word, matches: (v) => glob.matches(v), tokens: tokenize(word, false) };
}

/** Tokens of a Gatehouse glob (pattern = true syntax), or of a shell glob word (char classes become `?`). */
function tokenize(text: string, shellWord: boolean): GlobToken[] {
  const out: GlobToken[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (!shellWord && c === "\\" && i + 1 < text.length) {
      out.push({ t: "lit", c: text[++i]! });
    } else if (c === "*") {
      if (text[i + 1] === "*" && !shellWord) {
        out.push({ t: "globstar" });
        i++;
      } else out.push({ t: "star" });
    } else if (c === "?") out.push({ t: "one" });
    else if (shellWord && c === "[") {
      const close = text.indexOf("]", i + 2);
      if (close > 0) {
        out.push({ t: "one" });
        i = close;
      } else out.push({ t: "lit", c });
    } else out.push({ t: "lit", c });
  }
  return out;
}

// ------------------------------------------------------------------ matching

export type SshRequest =
  | { kind: "exec"; line: ParsedCommandLine }
  | { kind: "shell" }
  | { kind: "sftp"; op: SftpOperation; paths: string[]; detail?: string }
  | { kind: "port-forward"; target: string }
  | { kind: "agent-forward" }
  | { kind: "x11" };

export interface SshInput extends ConnectInput {
  request: SshRequest;
}

/** The rule shape the SSH decision needs (a subset of compile.ts CompiledRule). */
export interface SshRuleView {
  name: string;
  effect: Effect;
  actions: ReadonlyArray<{ protocol: string }>;
  approversRaw: unknown;
  approvalTimeoutMs: number | null;
  requiredApprovals: number;
}

/** Does an action touch (deny/approve) or cover (allow) one command of an exec line? */
export function sshActionMatchesCommand(a: SshActionMatcher, cmd: ShellCommand, effect: Effect): boolean {
  const allow = effect === "allow";
  if (a.op === "write") {
    // Write rules refuse (deny/approve); what a command may write is allowed by exec rules.
    if (allow) return false;
    if (cmd.kind === "unknown" || cmd.hidden) return true; // could write anything
    return (cmd.writes ?? []).some((t) => writeTouched(a.writes!, t, intersects));
  }
  if (cmd.kind === "unknown") {
    if (a.op === "exec.unknown") return true;
    // Every exec rule could have matched what the gateway cannot see: deny/approve touch it (fail
    // closed); allow never covers it.
    return !allow && (a.op === null || a.op === "exec");
  }
  if (a.op === "exec.unknown") return false;
  if (a.op !== null && a.op !== "exec") return false;
  // Hidden code (a script, a program that runs others): deny/approve touch it; allow covers it
  // only by a pattern that names it, never by a bare `ssh.exec`.
  if (a.commands === null) return !allow || !cmd.hidden;
  if (!allow && cmd.hidden) return true;
  return a.commands.some((p) => (allow ? coversCommand(p, cmd) : touchesCommand(p, cmd) || embeddedCommands(cmd, (n, path) => nameMatchesWord(p, n, path)).some((e) => touchesCommand(p, e))));
}

const SFTP_WRITE_OPS = new Set<SftpOperation>(["write", "rename", "symlink", "setstat", "mkdir", "extended"]);

function intersects(pattern: string, value: string, shellGlob: boolean): boolean {
  return globsIntersect(tokenize(pattern, false), tokenize(value, shellGlob));
}

export function sshActionMatchesRequest(a: SshActionMatcher, req: Exclude<SshRequest, { kind: "exec" }>, effect: Effect): boolean {
  if (a.op === "write") {
    if (effect === "allow" || req.kind !== "sftp" || !SFTP_WRITE_OPS.has(req.op)) return false;
    if (req.paths.length === 0) return true; // an extension the gateway cannot read
    return req.paths.some((p) => {
      const path = canonicalSftpPath(p);
      return writeTouched(a.writes!, path === null ? { path: p, glob: false, subtree: false, unknown: "leaves the home directory" } : { path, glob: false, subtree: false }, intersects);
    });
  }
  if (a.op !== null && a.op !== req.kind) return false;
  if (req.kind === "port-forward") return !a.targets || a.targets.matches(req.target);
  if (req.kind !== "sftp") return true;
  if (a.sftpOps && !a.sftpOps.has(req.op)) return false;
  if (!a.paths) return true;
  if (effect === "allow") return req.paths.every((p) => pathCovered(a.paths!, p));
  return req.paths.some((p) => a.paths!.matches(p));
}

function pathCovered(paths: GlobSet, path: string): boolean {
  if (hasDotDot(path)) return paths.globs.some((g) => g.source === "**" || g.source === path);
  return paths.matches(path);
}

const hasDotDot = (v: string) => /(^|\/)\.\.(\/|$)/.test(v);

function nameMatches(p: CommandPattern, cmd: ShellCommand): boolean {
  return nameMatchesWord(p, cmd.name, cmd.path);
}

function nameMatchesWord(p: CommandPattern, name: string, path: string): boolean {
  return p.name.source.includes("/") ? p.name.matches(path) : p.name.matches(name);
}

/** allow: argv matched position by position; `**` words absorb any number of arguments. */
export function coversCommand(p: CommandPattern, cmd: ShellCommand): boolean {
  if (!nameMatches(p, cmd)) return false;
  // `X=… cmd`: the environment changes what cmd does (SYSTEMD_PAGER, GIT_*, LD_*…); patterns name argv only.
  if (cmd.env && cmd.env.length > 0) return false;
  if (p.structured) {
    if (!setsOnlyFlags(cmd, p.options)) return false;
    if (p.anyOperands) return true;
    // Operands and option values (`-C DIR`) alike must be covered by an `args` pattern.
    const parsed = commandOptions(cmd);
    return [...parsed.operands, ...[...parsed.values.values()].flat()].every((w) => p.operands.some((pat) => wordCovered(pat, w)));
  }
  const args = cmd.args;
  const pats = p.args;
  // reach[j] = pattern prefix of length j can match the args consumed so far.
  let reach = new Array<boolean>(pats.length + 1).fill(false);
  reach[0] = true;
  const close = (r: boolean[]) => {
    for (let j = 0; j < pats.length; j++) if (r[j] && pats[j] === null) r[j + 1] = true;
  };
  close(reach);
  for (const arg of args) {
    const next = new Array<boolean>(pats.length + 1).fill(false);
    for (let j = 0; j < pats.length; j++) {
      if (!reach[j]) continue;
      const pat = pats[j];
      if (pat === null) next[j] = true;
      else if (wordCovered(pat, arg)) next[j + 1] = true;
    }
    close(next);
    reach = next;
    if (!reach.some(Boolean)) return false;
  }
  return reach[pats.length] === true;
}

function wordCovered(pat: PatternGlob, arg: ShellWord): boolean {
  if (arg.dynamic) return false;
  if (hasDotDot(arg.value)) return pat.source === arg.value;
  // A path is matched as the folder it names: `/srv/app/releases/.` and `/srv/app/releases/` are
  // `/srv/app/releases`, not an entry below it (`-C /srv/app/releases/*` must not extract there).
  return pat.matches(arg.value.startsWith("/") ? canonicalPath(arg.value) : arg.value);
}

function canonicalPath(v: string): string {
  return `/${v.split("/").filter((seg) => seg !== "" && seg !== ".").join("/")}`;
}

/** deny/approve: every pattern argument is found in argv (options in any spelling). */
export function touchesCommand(p: CommandPattern, cmd: ShellCommand): boolean {
  if (!nameMatches(p, cmd)) return false;
  if (!setsAllFlags(cmd, p.options)) return false;
  const parsed = commandOptions(cmd);
  // A recursive command on a directory reaches everything below it: `rm -rf /srv` touches `/srv/**`.
  const recursive = parsed.flags.has("recursive") || parsed.anyOption;
  return p.operands.every((pat) => parsed.operands.some((a) => resolvedOperands(cmd, pat, a).some((r) => wordTouched(pat, r) || (recursive && subtreeTouched(pat, r)))));
}

/**
 * A relative operand read against the directories the command may run in (`cd /srv && rm -rf x`
 * is `/srv/x`), for absolute and `~` patterns. After a cd the gateway could not follow it could be
 * anything (a dynamic word). The home directory itself is unknown: `~/x` meets `~…` and `**` patterns only.
 */
function resolvedOperands(cmd: ShellCommand, pat: PatternGlob, arg: ShellWord): ShellWord[] {
  const v = arg.value;
  if (arg.dynamic || v.startsWith("/") || v.startsWith("~") || !/^[/~]/.test(pat.source) || !cmd.cwd) return [arg];
  if (cmd.cwd.unknown) return [{ ...arg, dynamic: true }];
  const joined = cmd.cwd.dirs.map((dir) => joinPath(dir, v));
  if (joined.some((j) => j === null)) return [{ ...arg, dynamic: true }];
  return [arg, ...joined.map((value) => ({ ...arg, value: value! }))];
}

function subtreeTouched(pat: PatternGlob, arg: ShellWord): boolean {
  if (arg.dynamic) return true;
  const base = normalizePath(arg.value).replace(/\/+$/, "");
  const under = tokenize(`${base}/`, arg.glob);
  under.push({ t: "globstar" });
  return globsIntersect(pat.tokens, under);
}

function wordTouched(pat: PatternGlob, arg: ShellWord): boolean {
  if (arg.dynamic) return true;
  if (arg.glob) {
    if (arg.value.includes("(")) return true; // extglob: do not try to be clever
    return globsIntersect(pat.tokens, tokenize(arg.value, true));
  }
  return pat.matches(arg.value) || pat.matches(normalizePath(arg.value));
}

/** `/etc/../etc//passwd` → `/etc/passwd` (lexical; for deny matching only). Words without a `/` stay as they are. */
function normalizePath(value: string): string {
  return value.includes("/") ? normalizeSftpPath(value) : value;
}

/** Could some string match both globs? (product automaton reachability) */
export function globsIntersect(a: GlobToken[], b: GlobToken[]): boolean {
  const seen = new Set<number>();
  const stack: Array<[number, number]> = [[0, 0]];
  const W = b.length + 1;
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    const key = i * W + j;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    // Stars may match nothing.
    if (ta && (ta.t === "star" || ta.t === "globstar")) stack.push([i + 1, j]);
    if (tb && (tb.t === "star" || tb.t === "globstar")) stack.push([i, j + 1]);
    if (!ta || !tb) continue;
    // Both consume one character.
    const charA = ta.t === "lit" ? ta.c : null;
    const charB = tb.t === "lit" ? tb.c : null;
    const accepts = (t: GlobToken, ch: string | null): boolean => {
      // ch null = "some character the other side chooses" (other side is a wildcard).
      if (t.t === "lit") return ch === null ? true : t.c === ch;
      if (t.t === "globstar") return true;
      return ch !== "/";
    };
    let compatible: boolean;
    if (charA !== null && charB !== null) compatible = charA === charB;
    else if (charA !== null) compatible = accepts(tb, charA);
    else if (charB !== null) compatible = accepts(ta, charB);
    else compatible = true; // two wildcards share some non-'/' character
    if (!compatible) continue;
    const ni = ta.t === "star" || ta.t === "globstar" ? i : i + 1;
    const nj = tb.t === "star" || tb.t === "globstar" ? j : j + 1;
    stack.push([ni, nj]);
    if (ni === i) stack.push([i + 1, nj]);
    if (nj === j) stack.push([ni, j + 1]);
  }
  return false;
}

// ------------------------------------------------------------------ decisions

const VERB: Record<Effect, string> = { allow: "allows", deny: "denies", approve: "requires approval for" };

export type { ApplicableRules } from "../../../parsers/policy/action-kinds.ts";

/**
 * The decision for one SSH request. Exec lines are decided per command (most restrictive wins,
 * naming the command); the other requests as a whole. Default deny.
 */
export function decideSshRequest<R extends SshRuleView>(input: SshInput, applicable: ApplicableRules<R>, ruleRef: (r: R) => string, who: string): Decision {
  const { request, resource } = input;
  const sshActions = (r: R) => r.actions.filter((a): a is SshActionMatcher => a.protocol === "ssh");
  const rules = applicable.rules.filter((r) => sshActions(r).length > 0);
  const gated = applicable.gated.filter((r) => r.effect === "allow" && sshActions(r).length > 0);
  const grantHint = (matching: R[]) => (matching.length > 0 ? ` (rule '${matching[0]!.name}' would allow it with an active grant for ${resource.name})` : "");

  if (request.kind === "exec") {
    const commands = request.line.commands;
    if (commands.length === 0) return { effect: "allow", rule: null, reason: "empty command line", matched: [] };
    const total = commands.length;
    let deciding: { index: number; effect: Effect; rule: R | null; reason: string } | null = null;
    const matchedAll: MatchedRule[] = [];
    const approvals = new Map<string, R>();
    commands.forEach((cmd, index) => {
      const matched = rules.filter((r) => sshActions(r).some((a) => sshActionMatchesCommand(a, cmd, r.effect)));
      for (const r of matched) matchedAll.push({ rule: r.name, effect: r.effect, statementIndex: index });
      const winner = strictest(matched);
      const where = `(command ${index + 1} of ${total}: ${describeCommand(cmd)})`;
      let verdict: { index: number; effect: Effect; rule: R | null; reason: string };
      if (!winner) {
        const hint = grantHint(gated.filter((r) => sshActions(r).some((a) => sshActionMatchesCommand(a, cmd, "allow"))));
        const what = cmd.kind === "unknown" ? `an unresolvable command (${cmd.reason})` : `exec of ${cmd.kind === "redirect" ? "a redirection" : `'${cmd.name}'`}`;
        verdict = { index, effect: "deny", rule: null, reason: `no rule allows ${what} on ${resource.name} for ${who} ${where}; default deny${hint}` };
      } else {
        verdict = { index, effect: winner.effect, rule: winner, reason: `${ruleRef(winner)} ${VERB[winner.effect]} exec on ${resource.name} ${where}` };
        if (winner.effect === "approve") approvals.set(winner.name, winner);
      }
      // Most restrictive wins; on a tie, a named rule explains more than the default deny.
      const current = deciding as typeof verdict | null;
      if (!current || EFFECT_RANK[verdict.effect] > EFFECT_RANK[current.effect] || (verdict.effect === current.effect && current.rule === null && verdict.rule !== null)) deciding = verdict;
    });
    const d = deciding!;
    const decision: Decision = {
      effect: d.effect,
      rule: d.rule?.name ?? null,
      reason: d.effect === "allow" && total > 1 ? `all ${total} commands allowed; ${d.reason}` : d.reason,
      statementIndex: d.index,
      matched: matchedAll,
    };
    if (d.effect === "approve") decision.approvals = [...approvals.values()].map(approvalOf);
    return decision;
  }

  const what = describeRequest(request);
  const matched = rules.filter((r) => sshActions(r).some((a) => sshActionMatchesRequest(a, request, r.effect)));
  const winner = strictest(matched);
  const matchedList = matched.map((r) => ({ rule: r.name, effect: r.effect }));
  if (!winner) {
    const hint = grantHint(gated.filter((r) => sshActions(r).some((a) => sshActionMatchesRequest(a, request, "allow"))));
    return { effect: "deny", rule: null, reason: `no rule allows ${what} on ${resource.name} for ${who}; default deny${hint}`, matched: matchedList };
  }
  const decision: Decision = { effect: winner.effect, rule: winner.name, reason: `${ruleRef(winner)} ${VERB[winner.effect]} ${what} on ${resource.name}`, matched: matchedList };
  if (winner.effect === "approve") decision.approvals = [approvalOf(winner)];
  return decision;
}

function strictest<R extends SshRuleView>(rules: readonly R[]): R | null {
  let best: R | null = null;
  for (const r of rules) if (!best || EFFECT_RANK[r.effect] > EFFECT_RANK[best.effect]) best = r;
  return best;
}

function approvalOf(rule: SshRuleView): ApprovalRequirement {
  return { rule: rule.name, approvers: rule.approversRaw, timeoutMs: rule.approvalTimeoutMs, required: rule.requiredApprovals };
}

export function describeCommand(cmd: ShellCommand): string {
  if (cmd.kind === "unknown") return `unknown: ${cmd.reason ?? ""}`;
  const text = [cmd.kind === "redirect" ? cmd.path : cmd.path, ...cmd.args.map((a) => a.value)].join(" ");
  const short = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return cmd.via.length > 0 ? `${short} via ${cmd.via.join(" → ")}` : short;
}

function describeRequest(req: Exclude<SshRequest, { kind: "exec" }>): string {
  switch (req.kind) {
    case "shell":
      return "an interactive shell";
    case "sftp":
      return `sftp ${req.op} of ${req.paths.map((p) => `'${p}'`).join(" → ")}${req.detail ? ` (${req.detail})` : ""}`;
    case "port-forward":
      return `port forwarding to ${req.target}`;
    case "agent-forward":
      return "agent forwarding";
    case "x11":
      return "X11 forwarding";
  }
}

/** SSH's rule kind (`ssh.*` actions), plugged into the policy engine by the SSH module (protocols/ssh/module.ts). */
export const sshActionKind: ActionKind<SshRequest> = {
  namespace: "ssh",
  compileName: (text) => compileSshActionName(text),
  compileMap: (value) => compileSshActionMap(value),
  decide: (input, applicable, ruleRef, who) => decideSshRequest(input, applicable as ApplicableRules<SshRuleView & (typeof applicable.rules)[number]>, ruleRef, who),
};
