/**
 * A shell command-line parser for policy (POSIX sh + the bash extensions an attacker would reach
 * for). It does not build a full AST: it walks the line the way the shell would and reports every
 * simple command it finds — in lists, pipelines, subshells, `{ }` groups, `if/while/for/case`
 * bodies, function bodies, command and process substitutions, `sh -c` strings, `eval`, and behind
 * wrappers such as `sudo`, `env`, `xargs`, `find -exec` (see wrappers.ts).
 *
 * Static resolution: quoting and escapes (`r''m`, `\rm`, `$'\x72m'`), line continuations,
 * comments, brace expansion (`{rm,-rf,/}`), heredocs (their bodies are scanned for substitutions
 * unless the delimiter is quoted). Whatever depends on the host (variables, `~`, globs, command
 * output) is marked dynamic/glob; a command whose NAME is dynamic, a syntax error, or an exceeded
 * bound yields an `unknown` command — policy decides, default deny.
 */
import { expandBraces, finishWord, type RawWord, type WordChar } from "./brace.ts";
import { SHELL_LIMITS, type ParsedCommandLine, type ShellCommand, type ShellWord } from "./types.ts";
import { analyseCommand } from "./wrappers.ts";
import { ARITHMETIC_NAME, ARITHMETIC_REASON, SENSITIVE_VARIABLES, pushCommand, pushUnknown, type ParseContext } from "./context.ts";

export { ARITHMETIC_NAME, ARITHMETIC_REASON, SENSITIVE_VARIABLES, pushCommand, pushUnknown, type ParseContext };
import { initialCwd, writeTargetsOf, type CwdState } from "./paths.ts";

export function parseCommandLine(source: string): ParsedCommandLine {
  const out: ShellCommand[] = [];
  const ctx: ParseContext = { out, full: false, cwd: initialCwd(), parseNested };
  if (source.length > SHELL_LIMITS.maxLength) {
    pushUnknown(ctx, [], `command line longer than ${SHELL_LIMITS.maxLength} characters`);
  } else {
    parseNested(ctx, source, [], 0);
  }
  return { source, commands: out, hasUnknown: out.some((c) => c.kind === "unknown") };
}

/** Parse a complete command string (top level, `sh -c`, `eval`…) at nesting `depth`. */
export function parseNested(ctx: ParseContext, text: string, via: string[], depth: number): void {
  if (depth > SHELL_LIMITS.maxDepth) {
    pushUnknown(ctx, via, `nested more than ${SHELL_LIMITS.maxDepth} levels deep`);
    return;
  }
  const p = new Parser(ctx, text, depth);
  p.parseList(EOF_END, via, false);
}

const EOF_END = "eof";
type End = "eof" | ")" | "case-item" | "esac";

const META = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const KEYWORDS_SKIP = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"]);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/;

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
  expand: boolean;
  via: string[];
}

interface WordResult {
  raw: RawWord;
  /** The word's text when it is entirely unquoted literal characters (keyword detection), else null. */
  plain: string | null;
}

class SyntaxError_ extends Error {}

class Parser {
  private pos = 0;
  private heredocs: PendingHeredoc[] = [];

  constructor(
    private readonly ctx: ParseContext,
    private readonly src: string,
    private readonly depth: number,
  ) {}

  /** Parse commands until `end`; returns what actually ended the list. */
  parseList(end: End, via: string[], caseMode: boolean): End {
    try {
      return this.list(end, via, caseMode);
    } catch (e) {
      if (!(e instanceof SyntaxError_)) throw e;
      pushUnknown(this.ctx, via, `syntax the gateway cannot analyse: ${e.message}`);
      this.pos = this.src.length;
      return "eof";
    }
  }

  private list(end: End, via: string[], caseMode: boolean): End {
    let words: RawWord[] = [];
    let prefixSeen = false;
    let assigned: string[] = [];
    const finish = () => {
      if (words.length > 0) this.emit(words, via, assigned);
      words = [];
      assigned = [];
      prefixSeen = false;
    };
    const atStart = () => words.length === 0 && !prefixSeen;
    for (;;) {
      if (this.ctx.full) {
        this.pos = this.src.length;
        return "eof";
      }
      this.skipBlanks();
      const c = this.src[this.pos];
      if (c === undefined) {
        finish();
        if (end !== "eof" && end !== "case-item") throw new SyntaxError_(`missing '${end === ")" ? ")" : "esac"}'`);
        if (caseMode) throw new SyntaxError_("missing 'esac'");
        return "eof";
      }
      if (c === "#") {
        this.skipComment();
        continue;
      }
      if (c === "\n") {
        this.pos++;
        finish();
        this.readHeredocs();
        continue;
      }
      if (c === ")") {
        this.pos++;
        finish();
        if (end === ")") return ")";
        throw new SyntaxError_("unexpected ')'");
      }
      if ((c === "<" || c === ">") && this.src[this.pos + 1] === "(") {
        words.push(this.readWord(via).raw);
        continue;
      }
      if (c === "&" && this.src[this.pos + 1] === ">") {
        this.redirection(via, null);
        prefixSeen = true;
        continue;
      }
      if (c === ";" || c === "&" || c === "|") {
        const op = this.readOperator();
        finish();
        if (caseMode && (op === ";;" || op === ";&" || op === ";;&")) return "case-item";
        if (op === ";;" || op === ";&" || op === ";;&") throw new SyntaxError_(`unexpected '${op}'`);
        continue;
      }
      if (c === "(") {
        if (atStart()) {
          if (this.src[this.pos + 1] === "(") {
            this.arithmetic(via, "((", "))");
            continue;
          }
          this.pos++;
          finish();
          this.list(")", via, false);
          continue;
        }
        if (words.length === 1) {
          // `name () compound-command`: a function definition; its body is parsed as commands.
          const save = this.pos;
          this.pos++;
          this.skipBlanks();
          if (this.src[this.pos] === ")") {
            this.pos++;
            words = [];
            continue;
          }
          this.pos = save;
        }
        throw new SyntaxError_("unexpected '('");
      }
      if (c === "<" || c === ">") {
        this.redirection(via, null);
        prefixSeen = true;
        continue;
      }
      const fd = /^(\d+|\{[A-Za-z_][A-Za-z0-9_]*\})(?=[<>])/.exec(this.src.slice(this.pos, this.pos + 16));
      if (fd) {
        this.pos += fd[0].length;
        this.redirection(via, fd[1]!);
        prefixSeen = true;
        continue;
      }

      const word = this.readWord(via);
      if (atStart() && word.plain !== null) {
        const kw = word.plain;
        if (caseMode && kw === "esac") return "esac";
        if (KEYWORDS_SKIP.has(kw)) continue;
        if (kw === "time") {
          this.skipBlanks();
          if (this.src.startsWith("-p", this.pos) && META.has(this.src[this.pos + 2] ?? " ")) this.pos += 2;
          continue;
        }
        if (kw === "for" || kw === "select") {
          this.forHeader(via);
          continue;
        }
        if (kw === "case") {
          this.caseCommand(via);
          continue;
        }
        if (kw === "function") {
          this.skipBlanks();
          this.readWord(via);
          this.skipBlanks();
          if (this.src[this.pos] === "(") {
            this.pos++;
            this.skipBlanks();
            if (this.src[this.pos] !== ")") throw new SyntaxError_("expected ')' after function name");
            this.pos++;
          }
          continue;
        }
        if (kw === "[[") {
          this.conditional(via);
          continue;
        }
        if (kw === "coproc") continue;
      }
      if (words.length === 0) {
        const assignment = this.assignmentName(word);
        if (assignment !== null) {
          prefixSeen = true;
          assigned.push(assignment);
          if (SENSITIVE_VARIABLES.test(assignment)) {
            pushUnknown(this.ctx, via, `assignment to ${assignment} changes what later commands run`);
          }
          if (this.src[this.pos] === "(" && word.raw[word.raw.length - 1]?.c === "=") this.arrayValue(via);
          continue;
        }
      }
      words.push(word.raw);
    }
  }

  private emit(rawWords: RawWord[], via: string[], assigned: string[] = []): void {
    const words: ShellWord[] = [];
    for (const raw of rawWords) {
      const expanded = expandBraces(raw, SHELL_LIMITS.maxBraceWords);
      if (!expanded) {
        pushUnknown(this.ctx, via, `brace expansion produces more than ${SHELL_LIMITS.maxBraceWords} words`);
        return;
      }
      for (const w of expanded) words.push(finishWord(w));
    }
    this.ctx.prefixEnv = assigned;
    analyseCommand(this.ctx, words, via, this.depth);
  }

  // ------------------------------------------------------------------ pieces of syntax

  private readOperator(): string {
    for (const op of [";;&", ";;", ";&", ";", "&&", "&", "||", "|&", "|"]) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    throw new SyntaxError_("unexpected operator");
  }

  private redirection(via: string[], fd: string | null): void {
    let op = "";
    for (const candidate of ["&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">"]) {
      if (this.src.startsWith(candidate, this.pos)) {
        op = candidate;
        break;
      }
    }
    this.pos += op.length;
    this.skipBlanks();
    if (this.pos >= this.src.length || META.has(this.src[this.pos]!)) {
      if (!((this.src[this.pos] === "<" || this.src[this.pos] === ">") && this.src[this.pos + 1] === "(")) throw new SyntaxError_(`missing target after '${op}'`);
    }
    if (op === "<<" || op === "<<-") {
      const delim = this.readWord(via);
      const quoted = delim.raw.some((c) => c.quoted);
      this.heredocs.push({ delimiter: delim.raw.map((c) => c.c).join(""), stripTabs: op === "<<-", expand: !quoted, via });
      return;
    }
    const target = this.readWord(via);
    const expanded = expandBraces(target.raw, 2);
    const word = finishWord(expanded && expanded.length === 1 ? expanded[0]! : target.raw);
    if (expanded === null || expanded.length !== 1) word.dynamic = true; // bash: "ambiguous redirect"
    const writes = op === ">" || op === ">>" || op === ">|" || op === "<>" || op === "&>" || op === "&>>";
    const dupToFile = op === ">&" && !/^(\d+|-)$/.test(word.value);
    if (writes || (dupToFile && fd === null)) {
      const name = op === "<>" || op === ">|" ? ">" : op.replace("&", "");
      const targets = word.value === "/dev/null" && !word.dynamic ? [] : writeTargetsOf(word, this.ctx.cwd);
      pushCommand(this.ctx, { kind: "redirect", name, path: op, args: [word], via: [...via], writes: targets });
    }
  }

  private forHeader(via: string[]): void {
    this.skipBlanks();
    if (this.src.startsWith("((", this.pos)) {
      this.arithmetic(via, "((", "))");
      return;
    }
    this.readWord(via); // the loop variable
    this.skipBlanksAndNewlines();
    const save = this.pos;
    const next = this.peekPlainWord();
    if (next !== "in") {
      this.pos = save;
      return;
    }
    this.pos += 2;
    // The word list: words (substitutions inside are parsed) until ';' or newline.
    for (;;) {
      this.skipBlanks();
      const c = this.src[this.pos];
      if (c === undefined || c === ";" || c === "\n") return;
      if (c === "#") return this.skipComment();
      if (META.has(c)) throw new SyntaxError_(`unexpected '${c}' in for list`);
      this.readWord(via);
    }
  }

  private caseCommand(via: string[]): void {
    this.skipBlanks();
    this.readWord(via);
    this.skipBlanksAndNewlines();
    if (this.peekPlainWord() !== "in") throw new SyntaxError_("expected 'in' after case word");
    this.pos += 2;
    for (;;) {
      this.skipBlanksAndNewlines();
      if (this.src[this.pos] === "#") {
        this.skipComment();
        continue;
      }
      if (this.pos >= this.src.length) throw new SyntaxError_("missing 'esac'");
      const save = this.pos;
      if (this.peekPlainWord() === "esac") {
        this.pos += 4;
        return;
      }
      this.pos = save;
      if (this.src[this.pos] === "(") this.pos++;
      // Patterns separated by '|' up to ')'.
      for (;;) {
        this.skipBlanks();
        const c = this.src[this.pos];
        if (c === ")") {
          this.pos++;
          break;
        }
        if (c === "|") {
          this.pos++;
          continue;
        }
        if (c === undefined || META.has(c)) throw new SyntaxError_("malformed case pattern");
        this.readWord(via);
      }
      const ended = this.list("case-item", via, true);
      if (ended === "esac") return;
      if (ended === "eof") throw new SyntaxError_("missing 'esac'");
    }
  }

  /** `[[ … ]]`: operators inside are test operators, not redirections or lists. */
  private conditional(via: string[]): void {
    for (;;) {
      this.skipBlanksAndNewlines();
      if (this.pos >= this.src.length) throw new SyntaxError_("missing ']]'");
      if (this.src.startsWith("]]", this.pos) && (this.pos + 2 >= this.src.length || META.has(this.src[this.pos + 2]!))) {
        this.pos += 2;
        return;
      }
      const c = this.src[this.pos]!;
      if (META.has(c)) {
        this.pos++;
        continue;
      }
      const word = this.readWord(via);
      if (word.plain !== null && /^-(eq|ne|lt|le|gt|ge)$/.test(word.plain)) pushUnknown(this.ctx, via, ARITHMETIC_REASON);
    }
  }

  /** `((…))` / `$((…))`: arithmetic. Substitutions inside are not analysed: unknown. */
  private arithmetic(via: string[], open: string, close: string): string {
    this.pos += open.length;
    let depth = 0;
    const start = this.pos;
    for (;;) {
      if (this.pos >= this.src.length) throw new SyntaxError_(`missing '${close}'`);
      const c = this.src[this.pos]!;
      if (c === "(") depth++;
      else if (c === ")") {
        if (depth === 0 && this.src.startsWith(close, this.pos)) break;
        depth--;
      }
      this.pos++;
    }
    const body = this.src.slice(start, this.pos);
    this.pos += close.length;
    if (body.includes("$(") || body.includes("`") || body.includes("${")) pushUnknown(this.ctx, via, "substitution inside an arithmetic expression");
    else if (ARITHMETIC_NAME.test(body)) pushUnknown(this.ctx, via, ARITHMETIC_REASON);
    return body;
  }

  private arrayValue(via: string[]): void {
    this.pos++; // (
    for (;;) {
      this.skipBlanksAndNewlines();
      const c = this.src[this.pos];
      if (c === undefined) throw new SyntaxError_("missing ')' in array assignment");
      if (c === ")") {
        this.pos++;
        return;
      }
      if (c === "#") {
        this.skipComment();
        continue;
      }
      if (META.has(c)) throw new SyntaxError_(`unexpected '${c}' in array assignment`);
      this.readWord(via);
    }
  }

  private assignmentName(word: WordResult): string | null {
    // The NAME= part must be unquoted literal text.
    let prefix = "";
    for (const ch of word.raw) {
      if (ch.quoted || ch.dynamic) break;
      prefix += ch.c;
      if (ch.c === "=") break;
    }
    const m = ASSIGNMENT.exec(prefix);
    return m ? m[1]! : null;
  }

  private readHeredocs(): void {
    const pending = this.heredocs;
    this.heredocs = [];
    for (const h of pending) {
      let body = "";
      for (;;) {
        if (this.pos >= this.src.length) break; // bash runs it with what there is (with a warning)
        let nl = this.src.indexOf("\n", this.pos);
        if (nl < 0) nl = this.src.length;
        let line = this.src.slice(this.pos, nl);
        this.pos = Math.min(this.src.length, nl + 1);
        if (h.stripTabs) line = line.replace(/^\t+/, "");
        if (line === h.delimiter) break;
        body += `${line}\n`;
      }
      if (h.expand) {
        const sub = new Parser(this.ctx, body, this.depth);
        try {
          sub.readDoubleQuoted([], h.via, true);
        } catch (e) {
          if (!(e instanceof SyntaxError_)) throw e;
          pushUnknown(this.ctx, h.via, `here-document: ${e.message}`);
        }
      }
    }
  }

  // ------------------------------------------------------------------ words

  private readWord(via: string[]): WordResult {
    const raw: RawWord = [];
    let plain = true;
    const start = this.pos;
    const lit = (c: string) => raw.push({ c, quoted: false, dynamic: false });
    const dyn = (text: string, quoted: boolean) => {
      for (const c of text) raw.push({ c, quoted, dynamic: true });
    };
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) break;
      if ((c === "<" || c === ">") && this.src[this.pos + 1] === "(" && raw.length === 0) {
        this.pos += 2;
        this.list(")", [...via, `${c}(…)`], false);
        dyn(`${c}(…)`, false);
        plain = false;
        continue;
      }
      if (META.has(c)) break;
      if (c === "\\") {
        const next = this.src[this.pos + 1];
        if (next === "\n") {
          this.pos += 2;
          continue;
        }
        plain = false;
        if (next === undefined) {
          raw.push({ c: "\\", quoted: true, dynamic: false });
          this.pos++;
          continue;
        }
        raw.push({ c: next, quoted: true, dynamic: false });
        this.pos += 2;
        continue;
      }
      if (c === "'") {
        plain = false;
        const close = this.src.indexOf("'", this.pos + 1);
        if (close < 0) throw new SyntaxError_("unterminated single quote");
        for (const ch of this.src.slice(this.pos + 1, close)) raw.push({ c: ch, quoted: true, dynamic: false });
        if (close === this.pos + 1) raw.push(EMPTY_QUOTE);
        this.pos = close + 1;
        continue;
      }
      if (c === '"') {
        plain = false;
        this.pos++;
        const before = raw.length;
        this.readDoubleQuoted(raw, via, false);
        if (raw.length === before) raw.push(EMPTY_QUOTE);
        continue;
      }
      if (c === "$") {
        const n = this.src[this.pos + 1];
        if (n === "'") {
          plain = false;
          this.pos += 2;
          const before = raw.length;
          this.ansiC(raw);
          if (raw.length === before) raw.push(EMPTY_QUOTE);
          continue;
        }
        if (n === '"') {
          plain = false;
          this.pos += 2;
          const before = raw.length;
          this.readDoubleQuoted(raw, via, false);
          if (raw.length === before) raw.push(EMPTY_QUOTE);
          continue;
        }
        if (this.dollar(raw, via, false)) {
          plain = false;
          continue;
        }
        lit("$");
        this.pos++;
        continue;
      }
      if (c === "`") {
        plain = false;
        this.backquote(via);
        dyn("`…`", false);
        continue;
      }
      if (c === "~" && raw.length === 0) {
        // Tilde expansion: the prefix up to the first '/' names a home directory on the host.
        plain = false;
        let end = this.pos + 1;
        while (end < this.src.length && !META.has(this.src[end]!) && this.src[end] !== "/" && !"'\"\\$`".includes(this.src[end]!)) end++;
        dyn(this.src.slice(this.pos, end), false);
        this.pos = end;
        continue;
      }
      if ("@!+*?".includes(c) && this.src[this.pos + 1] === "(") {
        // extglob pattern: balanced parentheses belong to the word.
        plain = false;
        let depth = 0;
        let i = this.pos + 1;
        for (; i < this.src.length; i++) {
          if (this.src[i] === "(") depth++;
          else if (this.src[i] === ")" && --depth === 0) break;
        }
        if (i >= this.src.length) throw new SyntaxError_("unterminated extended glob");
        for (const ch of this.src.slice(this.pos, i + 1)) raw.push({ c: ch, quoted: false, dynamic: false });
        raw.push({ c: "*", quoted: false, dynamic: false });
        this.pos = i + 1;
        continue;
      }
      lit(c);
      this.pos++;
    }
    if (this.pos === start) throw new SyntaxError_(`unexpected '${this.src[this.pos] ?? "end of input"}'`);
    return { raw: raw.filter((ch) => ch !== EMPTY_QUOTE || raw.length === 1).map((ch) => (ch === EMPTY_QUOTE ? { c: "", quoted: true, dynamic: false } : ch)), plain: plain ? raw.map((r) => r.c).join("") : null };
  }

  /**
   * Inside "…" (or a here-document body when `toEnd`): `$` expansions and backquotes are live,
   * backslash escapes only `$ \` " \\` and newline.
   */
  readDoubleQuoted(raw: RawWord, via: string[], toEnd: boolean): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) {
        if (toEnd) return;
        throw new SyntaxError_("unterminated double quote");
      }
      if (c === '"' && !toEnd) {
        this.pos++;
        return;
      }
      if (c === "\\") {
        const next = this.src[this.pos + 1];
        if (next === "\n") {
          this.pos += 2;
          continue;
        }
        if (next !== undefined && (next === "$" || next === "`" || next === "\\" || (next === '"' && !toEnd))) {
          raw.push({ c: next, quoted: true, dynamic: false });
          this.pos += 2;
          continue;
        }
        raw.push({ c: "\\", quoted: true, dynamic: false });
        this.pos++;
        continue;
      }
      if (c === "$") {
        if (this.dollar(raw, via, true)) continue;
        raw.push({ c: "$", quoted: true, dynamic: false });
        this.pos++;
        continue;
      }
      if (c === "`") {
        this.backquote(via);
        for (const ch of "`…`") raw.push({ c: ch, quoted: true, dynamic: true });
        continue;
      }
      raw.push({ c, quoted: true, dynamic: false });
      this.pos++;
    }
  }

  /** A `$` expansion at pos; returns false when the `$` is literal. */
  private dollar(raw: RawWord, via: string[], quoted: boolean): boolean {
    const n = this.src[this.pos + 1];
    const push = (text: string) => {
      for (const ch of text) raw.push({ c: ch, quoted, dynamic: true });
    };
    if (n === "(") {
      if (this.src[this.pos + 2] === "(") {
        this.pos++;
        const body = this.arithmetic(via, "((", "))");
        push(`$((${body}))`);
        return true;
      }
      this.pos += 2;
      this.list(")", [...via, "$(…)"], false);
      push("$(…)");
      return true;
    }
    if (n === "{") {
      const start = this.pos;
      let depth = 0;
      let i = this.pos + 1;
      for (; i < this.src.length; i++) {
        const ch = this.src[i];
        if (ch === "\\") {
          i++;
          continue;
        }
        if (ch === "{") depth++;
        else if (ch === "}" && --depth === 0) break;
      }
      if (i >= this.src.length) throw new SyntaxError_("unterminated ${");
      const body = this.src.slice(start + 2, i);
      this.pos = i + 1;
      if (body.includes("$(") || body.includes("`") || body.includes("<(") || body.includes(">(")) {
        pushUnknown(this.ctx, via, "command substitution inside a parameter expansion");
      } else if (/^[#!]?[A-Za-z_][A-Za-z0-9_]*\[[^\]]*[A-Za-z_$]/.test(body) || /^[A-Za-z_][A-Za-z0-9_]*:(?![-=?+])[^}]*[A-Za-z_$]/.test(body)) {
        pushUnknown(this.ctx, via, ARITHMETIC_REASON);
      } else if (/^![A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_]*([*@]\}?$|\[[@*]\]$))/.test(body) || /@P$/.test(body)) {
        // `${!x}` evaluates x's value as a name (x='a[$(cmd)]' runs cmd); `${x@P}` expands x as a prompt (runs $(…)).
        pushUnknown(this.ctx, via, "indirect or prompt expansion evaluates a variable's value as code");
      }
      push(`\${${body}}`);
      return true;
    }
    if (n === "[") {
      const close = this.src.indexOf("]", this.pos);
      if (close < 0) throw new SyntaxError_("unterminated $[");
      const body = this.src.slice(this.pos + 2, close);
      if (body.includes("$(") || body.includes("`")) pushUnknown(this.ctx, via, "substitution inside an arithmetic expression");
      else if (ARITHMETIC_NAME.test(body)) pushUnknown(this.ctx, via, ARITHMETIC_REASON);
      this.pos = close + 1;
      push(`$[${body}]`);
      return true;
    }
    if (n !== undefined && /[A-Za-z_]/.test(n)) {
      let end = this.pos + 2;
      while (end < this.src.length && /[A-Za-z0-9_]/.test(this.src[end]!)) end++;
      push(this.src.slice(this.pos, end));
      this.pos = end;
      return true;
    }
    if (n !== undefined && /[0-9@*#?$!\-]/.test(n)) {
      push(this.src.slice(this.pos, this.pos + 2));
      this.pos += 2;
      return true;
    }
    return false;
  }

  /** `…` (old-style command substitution): unescape, then parse the inside as a command line. */
  private backquote(via: string[]): void {
    let i = this.pos + 1;
    let inner = "";
    for (; i < this.src.length; i++) {
      const ch = this.src[i]!;
      if (ch === "\\" && i + 1 < this.src.length && "\\`$".includes(this.src[i + 1]!)) {
        inner += this.src[++i];
        continue;
      }
      if (ch === "`") break;
      inner += ch;
    }
    if (i >= this.src.length) throw new SyntaxError_("unterminated backquote");
    this.pos = i + 1;
    parseNested(this.ctx, inner, [...via, "`…`"], this.depth + 1);
  }

  /** $'…' ANSI-C quoting, decoded exactly (so `$'\x72m'` is `rm`). */
  private ansiC(raw: RawWord): void {
    const q = (c: string) => raw.push({ c, quoted: true, dynamic: false });
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) throw new SyntaxError_("unterminated $'");
      this.pos++;
      if (c === "'") return;
      if (c !== "\\") {
        q(c);
        continue;
      }
      const e = this.src[this.pos];
      if (e === undefined) throw new SyntaxError_("unterminated $'");
      this.pos++;
      const simple: Record<string, string> = { a: "\x07", b: "\b", e: "\x1b", E: "\x1b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"', "?": "?" };
      if (e in simple) {
        q(simple[e]!);
        continue;
      }
      const take = (re: RegExp, max: number): string => {
        let s = "";
        while (s.length < max && this.src[this.pos] !== undefined && re.test(this.src[this.pos]!)) s += this.src[this.pos++];
        return s;
      };
      if (/[0-7]/.test(e)) {
        this.pos--;
        const oct = take(/[0-7]/, 3);
        q(String.fromCharCode(parseInt(oct, 8) & 0xff));
        continue;
      }
      if (e === "x") {
        const hex = take(/[0-9A-Fa-f]/, 2);
        if (hex === "") q("\\x");
        else q(String.fromCharCode(parseInt(hex, 16)));
        continue;
      }
      if (e === "u" || e === "U") {
        const hex = take(/[0-9A-Fa-f]/, e === "u" ? 4 : 8);
        if (hex === "") q(`\\${e}`);
        else {
          const cp = parseInt(hex, 16);
          q(cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd");
        }
        continue;
      }
      if (e === "c") {
        const ch = this.src[this.pos++];
        if (ch === undefined) throw new SyntaxError_("unterminated $'");
        q(String.fromCharCode(ch.toUpperCase().charCodeAt(0) & 0x1f));
        continue;
      }
      q("\\");
      q(e);
    }
  }

  // ------------------------------------------------------------------ blanks

  private skipBlanks(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === " " || c === "\t") this.pos++;
      else if (c === "\\" && this.src[this.pos + 1] === "\n") this.pos += 2;
      else return;
    }
  }

  private skipBlanksAndNewlines(): void {
    for (;;) {
      this.skipBlanks();
      if (this.src[this.pos] === "\n") {
        this.pos++;
        this.readHeredocs();
      } else return;
    }
  }

  private skipComment(): void {
    const nl = this.src.indexOf("\n", this.pos);
    this.pos = nl < 0 ? this.src.length : nl;
  }

  /** The next word if it is plain unquoted text followed by a delimiter (does not consume). */
  private peekPlainWord(): string | null {
    let end = this.pos;
    while (end < this.src.length && /[A-Za-z0-9_]/.test(this.src[end]!)) end++;
    if (end === this.pos) return null;
    if (end < this.src.length && !META.has(this.src[end]!)) return null;
    return this.src.slice(this.pos, end);
  }
}

/** Marks `''`/`""` so an empty quoted word still counts as a word. */
const EMPTY_QUOTE: WordChar = { c: "", quoted: true, dynamic: false };
