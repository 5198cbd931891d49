/**
 * Static brace expansion (`r{m,x}` → `rm rx`, `{rm,-rf,/}` → `rm -rf /`, `{1..3}`), done like
 * bash does it before anything else, so `{rm,-rf,/}` is seen as the three words it becomes.
 *
 * A word is a list of pieces; only braces and commas in unquoted literal pieces take part.
 * Expansion is bounded (SHELL_LIMITS.maxBraceWords); past the bound the caller gets null.
 */
import type { ShellWord } from "./types.ts";

/** A character of a word with its provenance. */
export interface WordChar {
  c: string;
  /** Quoted (or escaped) characters never take part in brace or glob expansion. */
  quoted: boolean;
  /** Part of an expansion whose value is unknown (`$X`). */
  dynamic: boolean;
}

export type RawWord = WordChar[];

/** Expand braces; returns null when the expansion would exceed `limit` words. */
export function expandBraces(word: RawWord, limit: number): RawWord[] | null {
  const out: RawWord[] = [];
  const ok = expandInto(word, out, limit, 0);
  return ok ? out : null;
}

function expandInto(word: RawWord, out: RawWord[], limit: number, depth: number): boolean {
  if (depth > 32) return false;
  const group = findGroup(word);
  if (!group) {
    out.push(word);
    return out.length <= limit;
  }
  const { open, close, alternatives } = group;
  const prefix = word.slice(0, open);
  const suffix = word.slice(close + 1);
  for (const alt of alternatives) {
    if (!expandInto([...prefix, ...alt, ...suffix], out, limit, depth + 1)) return false;
  }
  return true;
}

const unq = (ch: WordChar | undefined, c: string) => ch !== undefined && !ch.quoted && !ch.dynamic && ch.c === c;

/** The first brace group that expands: `{a,b}` with a top-level comma, or a `{x..y}` sequence. */
function findGroup(word: RawWord): { open: number; close: number; alternatives: RawWord[] } | null {
  for (let open = 0; open < word.length; open++) {
    if (!unq(word[open], "{")) continue;
    // `${` is parameter expansion, already folded into dynamic characters by the lexer.
    let depth = 0;
    const commas: number[] = [];
    for (let i = open + 1; i < word.length; i++) {
      if (unq(word[i], "{")) depth++;
      else if (unq(word[i], "}")) {
        if (depth === 0) {
          if (commas.length > 0) {
            const alternatives: RawWord[] = [];
            let start = open + 1;
            for (const comma of [...commas, i]) {
              alternatives.push(word.slice(start, comma));
              start = comma + 1;
            }
            return { open, close: i, alternatives };
          }
          const seq = sequence(word.slice(open + 1, i));
          if (seq) return { open, close: i, alternatives: seq };
          break; // `{x}`: literal; try a later `{`
        }
        depth--;
      } else if (depth === 0 && unq(word[i], ",")) commas.push(i);
    }
  }
  return null;
}

/** `{1..5}`, `{a..e}`, `{1..10..2}` (bounded); null when it is not a valid sequence. */
function sequence(inner: RawWord): RawWord[] | null {
  if (inner.some((c) => c.quoted || c.dynamic)) return null;
  const text = inner.map((c) => c.c).join("");
  const m = /^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$/.exec(text);
  if (!m) return null;
  const [, a, b, stepText] = m;
  const numeric = /\d/.test(a!) && /\d/.test(b!);
  if (!numeric && (/\d/.test(a!) || /\d/.test(b!))) return null;
  const from = numeric ? Number(a) : a!.charCodeAt(0);
  const to = numeric ? Number(b) : b!.charCodeAt(0);
  let step = Math.abs(Number(stepText ?? 1)) || 1;
  if (Math.abs(to - from) / step > 4096) return null;
  if (to < from) step = -step;
  const out: RawWord[] = [];
  for (let v = from; step > 0 ? v <= to : v >= to; v += step) {
    const s = numeric ? String(v) : String.fromCharCode(v);
    out.push([...s].map((c) => ({ c, quoted: false, dynamic: false })));
  }
  return out;
}

/** Collapse a raw word into the parser's word. */
export function finishWord(raw: RawWord): ShellWord {
  let value = "";
  let dynamic = false;
  let glob = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    value += ch.c;
    if (ch.dynamic) dynamic = true;
    else if (!ch.quoted && (ch.c === "*" || ch.c === "?" || (ch.c === "[" && hasClosingBracket(raw, i)))) glob = true;
  }
  return { value, dynamic, glob };
}

function hasClosingBracket(raw: RawWord, from: number): boolean {
  for (let i = from + 1; i < raw.length; i++) if (!raw[i]!.quoted && raw[i]!.c === "]") return true;
  return false;
}
