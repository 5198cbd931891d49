/**
 * A small, strict argv parser: `--flag value`, `--flag=value`, boolean switches and repeatable
 * flags. Unknown flags are an error (a typo must not silently change what the CLI does).
 */
import { UsageError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

export interface FlagSpec {
  /** "string" takes a value; "boolean" does not; "list" takes a value and may repeat. */
  kind: "string" | "boolean" | "list";
  /** One-letter alias, without dash. */
  short?: string;
}

export interface ParsedArgs {
  positionals: string[];
  strings: Map<string, string>;
  booleans: Set<string>;
  lists: Map<string, string[]>;
}

export function parseArgs(argv: readonly string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], strings: new Map(), booleans: new Set(), lists: new Map() };
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.short) byShort.set(s.short, name);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (arg.startsWith("-") && arg.length === 2) {
      name = byShort.get(arg[1]!);
      if (!name) throw new UsageError(`unknown option ${arg}`);
    } else {
      out.positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}${didYouMean(name, Object.keys(spec), "--")}`);
    if (s.kind === "boolean") {
      if (inline !== undefined) throw new UsageError(`--${name} does not take a value`);
      out.booleans.add(name);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (s.kind === "list") {
      const list = out.lists.get(name) ?? [];
      list.push(value);
      out.lists.set(name, list);
    } else {
      if (out.strings.has(name)) throw new UsageError(`--${name} given twice`);
      out.strings.set(name, value);
    }
  }
  return out;
}

/** Parse a TCP port; 0 means "pick a free one". */
export function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new UsageError(`${what} must be a port number, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n > 65535) throw new UsageError(`${what} must be at most 65535`);
  return n;
}

/** Parse a duration like `90`, `90s`, `10m`, `1h` into seconds. */
export function parseDurationSeconds(text: string, what: string): number {
  const m = /^(\d{1,7})([smh]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`${what} must be a duration like 90s, 10m or 1h, got ${JSON.stringify(text)}`);
  const n = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  if (n <= 0) throw new UsageError(`${what} must be positive`);
  return n;
}
