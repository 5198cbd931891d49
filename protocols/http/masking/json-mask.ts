/**
 * Streaming JSON masking for HTTP bodies: bytes in as they arrive, masked bytes out, memory bounded
 * by the nesting depth and the longest single string/number (MAX_TOKEN_BYTES), never the document.
 *
 * What is masked, with the policy's masking rules (`columns` are the JSON counterpart of columns):
 *  - a key-name glob (`email`, `*token*`, case-insensitive; `customers.email` matches key `email`)
 *    masks the whole value under that key — a scalar, or every scalar inside an object/array;
 *  - a JSON path (`$.customers[*].card`, `$.data.*.secret`, `$.items[0].token`) masks the value at
 *    that path (and everything inside it);
 *  - every other string (and number) goes through the content detectors (`detect`): escapes are
 *    decoded first, so `\u0040` cannot hide an e-mail address from them.
 * A masked value becomes a JSON string (`"[REDACTED]"`, `"************1111"`, `"h:…"`): numbers and
 * booleans change type, which is the price of not leaking them. Invalid JSON throws — the caller
 * fails closed (the body was declared JSON and cannot be checked).
 */
import { compileGlob } from "../../../parsers/policy/glob.ts";

export const MAX_TOKEN_BYTES = 1024 * 1024;
export const MAX_DEPTH = 512;

export class JsonMaskError extends Error {}

export interface JsonRule {
  name: string;
  style: "redact" | "partial" | "hash";
  keep: number;
  columns: string[];
}

export interface JsonMaskOptions {
  rules: readonly JsonRule[];
  /** Content detectors over a text value; returns the masked text (same when nothing found). */
  detect(text: Uint8Array): Uint8Array;
  /** `hash` style: "h:" + 16 hex digits of HMAC-SHA256(tenant key, value). */
  hash?(value: Uint8Array): string;
  /** Called once per value masked by a key/path rule. */
  counted?(rule: string): void;
}

type PathSeg = { t: "key"; name: string } | { t: "anykey" } | { t: "index"; i: number } | { t: "anyindex" };

interface CompiledJsonRule {
  rule: JsonRule;
  keys: Array<(k: string) => boolean>;
  paths: PathSeg[][];
}

function compileJsonPath(source: string): PathSeg[] {
  const out: PathSeg[] = [];
  const re = /\.([A-Za-z_$][A-Za-z0-9_$-]*|\*)|\[(\*|[0-9]+|'[^']*'|"[^"]*")\]/y;
  let i = 1;
  while (i < source.length) {
    re.lastIndex = i;
    const m = re.exec(source);
    if (!m) throw new JsonMaskError(`bad JSON path ${JSON.stringify(source)} at ${i}`);
    if (m[1] !== undefined) out.push(m[1] === "*" ? { t: "anykey" } : { t: "key", name: m[1] });
    else if (m[2] === "*") out.push({ t: "anyindex" });
    else if (/^[0-9]+$/.test(m[2]!)) out.push({ t: "index", i: Number(m[2]) });
    else out.push({ t: "key", name: m[2]!.slice(1, -1) });
    i = re.lastIndex;
  }
  return out;
}

export function compileJsonRules(rules: readonly JsonRule[]): CompiledJsonRule[] {
  return rules.map((rule) => {
    const keys: Array<(k: string) => boolean> = [];
    const paths: PathSeg[][] = [];
    for (const c of rule.columns) {
      if (c.startsWith("$")) paths.push(compileJsonPath(c));
      else {
        const col = c.includes(".") ? c.slice(c.lastIndexOf(".") + 1) : c;
        const g = compileGlob(col.toLowerCase());
        keys.push((k) => g.matches(k.toLowerCase()));
      }
    }
    return { rule, keys, paths };
  });
}

type Frame = { kind: "obj" | "arr"; key: string | null; index: number; rule: number; expect: "key" | "colon" | "value" | "comma" };
type Seg = string | number;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

export class JsonBodyMasker {
  private readonly compiled: CompiledJsonRule[];
  private readonly stack: Frame[] = [];
  private out: number[] = [];
  private token: number[] | null = null;
  private tokenKind: "string" | "scalar" | null = null;
  private escaped = false;
  private hasEscape = false;
  private done = false;
  private sawValue = false;

  constructor(private readonly opts: JsonMaskOptions) {
    this.compiled = compileJsonRules(opts.rules);
  }

  push(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i]!);
    return this.flush();
  }

  /** The end of the body: the document must be complete. */
  end(): Uint8Array {
    if (this.tokenKind === "scalar") this.finishScalar();
    if (this.tokenKind === "string" || this.stack.length > 0) throw new JsonMaskError("JSON body ended inside a value");
    if (!this.sawValue) throw new JsonMaskError("empty JSON body");
    return this.flush();
  }

  private flush(): Uint8Array {
    const b = Uint8Array.from(this.out);
    this.out = [];
    return b;
  }

  private path(extra?: Seg): Seg[] {
    const p: Seg[] = [];
    for (let d = 0; d < this.stack.length; d++) {
      const f = this.stack[d]!;
      if (d === this.stack.length - 1 && extra === undefined) {
        p.push(f.kind === "obj" ? f.key! : f.index);
      } else p.push(f.kind === "obj" ? f.key! : f.index);
    }
    return p;
  }

  /** Rule index for the value about to start in the current container (inherited, key or path). */
  private ruleForValue(): number {
    const top = this.stack[this.stack.length - 1];
    if (top && top.rule >= 0) return top.rule;
    const key = top?.kind === "obj" ? top.key : null;
    const path = this.stack.length === 0 ? [] : this.path();
    for (let r = 0; r < this.compiled.length; r++) {
      const c = this.compiled[r]!;
      if (key !== null && c.keys.some((m) => m(key))) return r;
      for (const p of c.paths) if (pathMatches(p, path)) return r;
    }
    return -1;
  }

  private fail(msg: string): never {
    throw new JsonMaskError(`invalid JSON body: ${msg}`);
  }

  private beforeValue(): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.sawValue) this.fail("more than one top-level value");
      this.sawValue = true;
      return;
    }
    if (top.expect !== "value") this.fail("value where a key, ':' or ',' was expected");
  }

  private afterValue(): void {
    const top = this.stack[this.stack.length - 1];
    if (top) top.expect = "comma";
  }

  private byte(c: number): void {
    if (this.tokenKind === "string") {
      if (this.token!.length >= MAX_TOKEN_BYTES) this.fail(`a string longer than ${MAX_TOKEN_BYTES} bytes`);
      if (this.escaped) {
        this.escaped = false;
        this.token!.push(c);
        return;
      }
      if (c === 0x5c) {
        this.escaped = true;
        this.hasEscape = true;
        this.token!.push(c);
        return;
      }
      if (c === 0x22) return this.finishString();
      if (c < 0x20) this.fail("control character in a string");
      this.token!.push(c);
      return;
    }
    if (this.tokenKind === "scalar") {
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45 || (c >= 0x61 && c <= 0x7a)) {
        if (this.token!.length >= 1024) this.fail("scalar too long");
        this.token!.push(c);
        return;
      }
      this.finishScalar();
    }
    if (isWs(c)) {
      this.out.push(c);
      return;
    }
    const top = this.stack[this.stack.length - 1];
    if (this.done) this.fail("data after the top-level value");
    switch (c) {
      case 0x7b: // {
      case 0x5b: {
        // [
        this.beforeValue();
        if (this.stack.length >= MAX_DEPTH) this.fail("nested deeper than 512");
        const rule = this.ruleForValue();
        this.stack.push({ kind: c === 0x7b ? "obj" : "arr", key: null, index: 0, rule, expect: c === 0x7b ? "key" : "value" });
        this.out.push(c);
        return;
      }
      case 0x7d: // }
      case 0x5d: {
        // ]
        if (!top || top.kind !== (c === 0x7d ? "obj" : "arr")) this.fail("unbalanced bracket");
        // Empty container, or after a value (no trailing comma).
        const emptyOk = top.expect === (top.kind === "obj" ? "key" : "value") && (top.kind === "obj" ? top.key === null : top.index === 0);
        if (top.expect !== "comma" && !emptyOk) this.fail("unexpected closing bracket");
        this.stack.pop();
        this.out.push(c);
        this.afterValue();
        if (this.stack.length === 0) this.done = true;
        return;
      }
      case 0x3a: // :
        if (!top || top.kind !== "obj" || top.expect !== "colon") this.fail("unexpected ':'");
        top.expect = "value";
        this.out.push(c);
        return;
      case 0x2c: // ,
        if (!top || top.expect !== "comma") this.fail("unexpected ','");
        if (top.kind === "obj") top.expect = "key";
        else {
          top.index++;
          top.expect = "value";
        }
        this.out.push(c);
        return;
      case 0x22: // "
        if (top?.kind === "obj" && top.expect === "key") {
          this.tokenKind = "string";
        } else {
          this.beforeValue();
          this.tokenKind = "string";
        }
        this.token = [];
        this.hasEscape = false;
        return;
      default:
        this.beforeValue();
        this.tokenKind = "scalar";
        this.token = [c];
    }
  }

  private finishString(): void {
    const raw = Uint8Array.from(this.token!);
    this.token = null;
    this.tokenKind = null;
    const top = this.stack[this.stack.length - 1];
    let text: string;
    try {
      text = this.hasEscape ? (JSON.parse(`"${dec.decode(raw)}"`) as string) : dec.decode(raw);
    } catch {
      this.fail("bad string escape or UTF-8");
    }
    if (top?.kind === "obj" && top.expect === "key") {
      top.key = text;
      top.expect = "colon";
      this.emit(raw, true);
      return;
    }
    const rule = this.ruleForValue();
    if (rule >= 0) this.emitMasked(rule, enc.encode(text));
    else if (!this.hasEscape) {
      this.emit(this.opts.detect(raw), true);
    } else {
      const masked = this.opts.detect(enc.encode(text));
      const changed = masked.length !== raw.length || dec.decode(masked) !== text;
      if (changed) this.emitRaw(enc.encode(JSON.stringify(dec.decode(masked))));
      else this.emit(raw, true);
    }
    this.afterValue();
    if (this.stack.length === 0) this.done = true;
  }

  private finishScalar(): void {
    const raw = Uint8Array.from(this.token!);
    this.token = null;
    this.tokenKind = null;
    const text = String.fromCharCode(...raw);
    const isNumber = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text);
    if (!isNumber && text !== "true" && text !== "false" && text !== "null") this.fail(`bad literal ${JSON.stringify(text.slice(0, 20))}`);
    const rule = this.ruleForValue();
    if (rule >= 0 && text !== "null") this.emitMasked(rule, raw);
    else if (isNumber) {
      const masked = this.opts.detect(raw);
      if (dec.decode(masked) !== text) this.emitRaw(enc.encode(JSON.stringify(dec.decode(masked))));
      else this.emitRaw(raw);
    } else this.emitRaw(raw);
    this.afterValue();
    if (this.stack.length === 0) this.done = true;
  }

  private emit(content: Uint8Array, quoted: boolean): void {
    if (quoted) this.out.push(0x22);
    for (const b of content) this.out.push(b);
    if (quoted) this.out.push(0x22);
  }

  private emitRaw(bytes: Uint8Array): void {
    for (const b of bytes) this.out.push(b);
  }

  private emitMasked(ruleIndex: number, value: Uint8Array): void {
    const { rule } = this.compiled[ruleIndex]!;
    this.opts.counted?.(rule.name);
    let replacement: string;
    if (rule.style === "redact") replacement = "[REDACTED]";
    else if (rule.style === "hash") {
      if (!this.opts.hash) throw new JsonMaskError("hash masking without a key");
      replacement = this.opts.hash(value);
    } else {
      const cps = [...dec.decode(value)];
      const keep = Math.min(rule.keep, cps.length);
      replacement = "*".repeat(cps.length - keep) + cps.slice(cps.length - keep).join("");
      if (cps.length <= rule.keep) replacement = "*".repeat(cps.length);
    }
    this.emitRaw(enc.encode(JSON.stringify(replacement)));
  }
}

function pathMatches(pattern: PathSeg[], path: Seg[]): boolean {
  if (pattern.length !== path.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = path[i]!;
    if (p.t === "key" && s !== p.name) return false;
    if (p.t === "anykey" && typeof s !== "string" && typeof s !== "number") return false;
    if (p.t === "index" && s !== p.i) return false;
    if (p.t === "anyindex" && typeof s !== "number") return false;
  }
  return true;
}
