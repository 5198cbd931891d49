/**
 * A connector's binding: the resource names it may serve (docs/CONNECTOR.md "Binding"). A list of
 * globs in the policy's syntax (parsers/policy/glob.ts: `*`, `?`, `\x`, anchored, case-sensitive),
 * set in GATEHOUSE_CONNECTORS (`resources`) or at enrolment (`--resources`), changed by an
 * administrator (`gatehouse admin connectors bind`). The hub refuses a hello naming any resource
 * outside it. Absent: any name (what connectors did before bindings existed). Empty: refused — a
 * connector that may serve nothing is a revoked one; revoke it instead.
 */
import { compileGlob, GlobSet } from "./policy/glob.ts";

/** At most this many patterns in one binding (it travels in a header from the control route to its hub shard). */
export const MAX_BINDING_PATTERNS = 64;
/** A pattern's length: a resource name is at most 63 characters, escapes may double it. */
export const MAX_BINDING_PATTERN_LENGTH = 128;
/** Resource-name characters, the glob wildcards and the escape: any other character could never match a name. */
const PATTERN_ALPHABET = /^[A-Za-z0-9._\-*?\\]+$/;

/**
 * The patterns of a binding given as `value` (an array of strings; `undefined`/`null`: no binding),
 * or throws an Error whose message starts with `where`.
 */
export function parseBinding(value: unknown, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new Error(`${where} must be a list of resource name patterns`);
  if (value.length === 0) throw new Error(`${where} is empty: the connector could serve no resource (omit it to allow any name, or revoke the connector)`);
  if (value.length > MAX_BINDING_PATTERNS) throw new Error(`${where}: at most ${MAX_BINDING_PATTERNS} patterns`);
  const out: string[] = [];
  for (const [i, p] of value.entries()) {
    if (typeof p !== "string" || p === "") throw new Error(`${where}[${i}] must be a non-empty string`);
    if (p.length > MAX_BINDING_PATTERN_LENGTH) throw new Error(`${where}[${i}] is longer than ${MAX_BINDING_PATTERN_LENGTH} characters`);
    if (!PATTERN_ALPHABET.test(p)) throw new Error(`${where}[${i}] '${p}' has a character no resource name has (names: letters, digits, . _ -; wildcards * ?)`);
    try {
      compileGlob(p);
    } catch (e) {
      throw new Error(`${where}[${i}]: ${(e as Error).message}`);
    }
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** A comma-separated list of patterns (the CLI's `--resources 'prod-*,billing-api'`). */
export function splitBinding(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The binding (undefined/null: any name) as a matcher; compiled per check — hellos are rare, bindings short. */
function matcher(binding: readonly string[] | undefined | null): GlobSet | null {
  return binding === undefined || binding === null ? null : new GlobSet(binding.map(compileGlob));
}

/** Whether `binding` (undefined: any name) lets the connector serve `name`. */
export function bindingAllows(binding: readonly string[] | undefined | null, name: string): boolean {
  return matcher(binding)?.matches(name) ?? true;
}

/** The names of `names` outside `binding`, in order (none when there is no binding). */
export function outsideBinding(binding: readonly string[] | undefined | null, names: readonly string[]): string[] {
  const m = matcher(binding);
  return m === null ? [] : names.filter((n) => !m.matches(n));
}
