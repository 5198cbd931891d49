/**
 * "Could these last bytes still become a secret?" — the question a stream must answer before it
 * releases output it has not seen the end of.
 *
 * Each detector (and each custom pattern) is described here by a *shape*: a sequence of byte sets
 * with repetition ranges that every match of it fits (a deliberate over-approximation of the
 * detector's grammar in docs/MASKING.md: looser is safe, it only holds bytes a little longer).
 * A tail of the stream is *viable* when, starting at a token start, some shape consumes it to the
 * very end without failing and without having finished: more bytes could then complete or extend
 * a match that began there. Such a tail is held back; everything before the earliest viable start
 * is settled — no later byte can change whether or how it matches.
 *
 * Shapes use the custom patterns' possessive semantics (parsers/masking/config.ts): each item
 * takes as many bytes of its set as it can (up to max) and never gives them back. The built-in
 * shapes are written so that consecutive items never compete for a byte, so possessive walking
 * is exact for them.
 */
import { DETECTORS, type DetectorName, type PatternItem } from "../../../parsers/masking/config.ts";

export interface ShapeItem {
  /** 256 entries, 1 = the byte belongs to the item. */
  set: Uint8Array;
  min: number;
  max: number;
  /** `\b` of a custom pattern: zero-width, treated as satisfied (looser = safe). */
  boundary?: boolean;
}

export interface Shape {
  name: string;
  items: ShapeItem[];
  /** aws_secret_key: only viable with "aws"/"secret" in the 64 bytes before its start. */
  needsContext?: boolean;
}

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** A byte set from a class body: ranges `a-z`, `\\` escapes the next character. */
function set(spec: string): Uint8Array {
  const s = new Uint8Array(256);
  const add = (lo: number, hi: number) => {
    for (let c = lo; c <= hi; c++) s[c] = 1;
  };
  for (let k = 0; k < spec.length; k++) {
    if (spec[k] === "\\") {
      k++;
      add(spec.charCodeAt(k), spec.charCodeAt(k));
    } else if (spec[k + 1] === "-" && k + 2 < spec.length) {
      add(spec.charCodeAt(k), spec.charCodeAt(k + 2));
      k += 2;
    } else add(spec.charCodeAt(k), spec.charCodeAt(k));
  }
  return s;
}

const item = (spec: string, min: number, max: number): ShapeItem => ({ set: set(spec), min, max });
/** One literal byte, either case when `fold`. */
const lit = (word: string, fold = false): ShapeItem[] => [...word].map((ch) => item(fold ? `${ch.toLowerCase()}${ch.toUpperCase()}` : ch, 1, 1));

const ALNUM = "A-Za-z0-9";
const B64U = "A-Za-z0-9_\\-";

/** Built-in detectors as shapes (a detector may have several). */
const BUILTIN: Record<DetectorName, Shape[]> = {
  // Handled by the PEM rule in stream-window.ts as well (a block spans lines); this covers the armour.
  private_key: [{ name: "private_key", items: [item("-", 5, 5), ...lit("BEGIN "), item("A-Z0-9 ", 0, 60), item("-", 1, 5)] }],
  password_hash: [{ name: "password_hash", items: [item("$", 1, 1), item("A-Za-z0-9./+=,$", 1, UNBOUNDED)] }],
  jwt: [{ name: "jwt", items: [...lit("eyJ"), item(`${B64U}.=`, 0, UNBOUNDED)] }],
  github_token: [{ name: "github_token", items: [...lit("gh"), item(`${ALNUM}_`, 1, UNBOUNDED)] }],
  gitlab_token: [{ name: "gitlab_token", items: [...lit("glpat-"), item(B64U, 0, UNBOUNDED)] }],
  slack_token: [{ name: "slack_token", items: [...lit("xox"), item("abpr", 1, 1), item("-", 1, 1), item(`${ALNUM}\\-`, 0, UNBOUNDED)] }],
  aws_access_key: [{ name: "aws_access_key", items: [item("A", 1, 1), item("KS", 1, 1), ...lit("IA"), item("A-Z0-9", 0, 16)] }],
  bearer: [{ name: "bearer", items: [...lit("bearer", true), item(" ", 1, UNBOUNDED), item("A-Za-z0-9_._~+/=\\-", 0, UNBOUNDED)] }],
  aws_secret_key: [{ name: "aws_secret_key", items: [item(ALNUM, 1, 1), item(`${ALNUM}/+`, 0, 40)], needsContext: true }],
  email: [{ name: "email", items: [item(ALNUM, 1, 1), item(`${ALNUM}_._%+\\-`, 0, 64), item("@", 1, 1), item(`${ALNUM}.\\-`, 0, 254)] }],
  iban: [{ name: "iban", items: [item("A-Z", 2, 2), item("0-9", 2, 2), item("A-Z0-9 ", 0, 45)] }],
  card: [{ name: "card", items: [item("2-6", 1, 1), item("0-9 \\-", 0, 40)] }],
  ssn: [{ name: "ssn", items: [item("0-9", 1, 3), item("\\-", 0, 1), item("0-9", 0, 2), item("\\-", 0, 1), item("0-9", 0, 4)] }],
  phone: [{ name: "phone", items: [item("+(0-9", 1, 1), item("0-9 ().\\-", 0, 32)] }],
};

/**
 * Shapes for the enabled detectors and the custom patterns of a compiled masking config, each
 * also reversed: output of `rev` arrives from the secret's last byte, and the stream window scans
 * reversed lines too (see stream-window.ts), so their tails must be held the same way.
 */
export function shapesFor(detectorRule: readonly number[], customs: readonly { items: PatternItem[]; source: string }[]): Shape[] {
  const forward = forwardShapes(detectorRule, customs);
  return [...forward, ...forward.map((shape) => reversed(shape, !shape.name.startsWith("pattern ")))];
}

function reversed(shape: Shape, builtin: boolean): Shape {
  const items = [...shape.items].reverse();
  // A built-in detector's last part is never empty (its tight minimum is relaxed to 0 in the
  // forward shape only so that a prefix fits): reversed, it must consume a byte first…
  if (builtin) {
    // …and that byte is never a separator (a match does not start with a blank).
    const first = items[0]!;
    const set = first.set.slice();
    set[0x20] = 0;
    items.splice(0, 1, { set, min: 1, max: 1 }, { ...first, min: Math.max(0, first.min - 1), max: first.max - 1 });
  }
  // The context word of aws_secret_key comes after a reversed key: hold it whatever precedes it.
  return { name: `${shape.name} (reversed)`, items };
}

function forwardShapes(detectorRule: readonly number[], customs: readonly { items: PatternItem[]; source: string }[]): Shape[] {
  const shapes: Shape[] = [];
  DETECTORS.forEach((name, d) => {
    if ((detectorRule[d] ?? -1) >= 0) shapes.push(...BUILTIN[name]);
  });
  for (const c of customs) {
    shapes.push({
      name: `pattern ${c.source}`,
      items: c.items.map((it) => {
        const bytes = new Uint8Array(256);
        for (let b = 0; b < 256; b++) bytes[b] = (it.set[b >> 3]! >> (b & 7)) & 1;
        return it.kind === "boundary" ? { set: bytes, min: 0, max: 0, boundary: true } : { set: bytes, min: it.min, max: it.max };
      }),
    });
  }
  return shapes;
}

/** Every built-in detector's shapes, forward and reversed (a scanner with all detectors on). */
export function allBuiltinShapes(): Shape[] {
  return shapesFor(DETECTORS.map(() => 0), []);
}

const unions = new WeakMap<readonly Shape[], Uint8Array>();

/** Bytes some item of some shape accepts (cached per shape list). */
function unionSet(shapes: readonly Shape[]): Uint8Array {
  let u = unions.get(shapes);
  if (!u) {
    u = new Uint8Array(256);
    for (const shape of shapes) for (const it of shape.items) for (let c = 0; c < 256; c++) if (it.set[c] === 1) u[c] = 1;
    unions.set(shapes, u);
  }
  return u;
}

const isWord = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** Walks `shape` from q: true when it reaches the end of `bytes` still matching and not finished. */
function viableFrom(bytes: Uint8Array, q: number, shape: Shape): boolean {
  let i = q;
  const items = shape.items;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    if (it.boundary) {
      if (i === bytes.length) return true;
      continue;
    }
    let n = 0;
    while (n < it.max && i < bytes.length && it.set[bytes[i]!] === 1) {
      i++;
      n++;
    }
    if (i === bytes.length) return !(k === items.length - 1 && n === it.max);
    if (n < it.min) return false;
  }
  return false; // the whole shape matched and a later byte ended it: settled
}

function hasContextWord(bytes: Uint8Array, q: number): boolean {
  const lo = Math.max(0, q - 64);
  for (let k = lo; k < q; k++) {
    const c = bytes[k]! | 0x20;
    if (c === 0x61 && k + 3 <= q && (bytes[k + 1]! | 0x20) === 0x77 && (bytes[k + 2]! | 0x20) === 0x73) return true;
    if (c === 0x73 && k + 6 <= q && String.fromCharCode(...bytes.subarray(k, k + 6)).toLowerCase() === "secret") return true;
  }
  return false;
}

/**
 * The earliest position ≥ `from` (and ≥ bytes.length − maxTail) where a viable tail starts, or
 * bytes.length when nothing needs holding. Matches start only at token starts (the byte before is
 * not [A-Za-z0-9_]), as in the WASM scanner; the byte before `from` is still looked at.
 */
export function viableTailStart(bytes: Uint8Array, shapes: readonly Shape[], from: number, maxTail: number): number {
  // No tail can reach back over a byte that no shape accepts anywhere (a line end, usually).
  const any = unionSet(shapes);
  let start = Math.max(from, bytes.length - maxTail, 0);
  for (let k = bytes.length - 1; k >= start; k--) {
    if (any[bytes[k]!] !== 1) {
      start = k + 1;
      break;
    }
  }
  for (let q = start; q < bytes.length; q++) {
    if (q > 0 && isWord(bytes[q - 1]!)) continue;
    for (const shape of shapes) {
      if (shape.items[0]!.set[bytes[q]!] !== 1 && !shape.items[0]!.boundary && shape.items[0]!.min > 0) continue;
      if (!viableFrom(bytes, q, shape)) continue;
      if (shape.needsContext && !hasContextWord(bytes, q)) continue;
      return q;
    }
  }
  return bytes.length;
}
