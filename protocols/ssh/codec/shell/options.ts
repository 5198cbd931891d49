/**
 * Command-line options read the way the program reads them (GNU getopt_long), so policy can match
 * what an option MEANS (`rm` recursive + force) however it is spelled: `-rf`, `-Rf`, `-r -f`,
 * `-f -- -r`… (no: after `--` nothing is an option), `--recursive --force`, `--rec --forc`
 * (unique-prefix abbreviations), options after operands (GNU permutation), values attached
 * (`-tDIR`, `--target-directory=DIR`) or separate (`-t DIR`).
 *
 * Choices made where the program's behaviour depends on the host (all fail closed for deny rules):
 *  - Permutation is always assumed (as if POSIXLY_CORRECT were unset): an option after an operand
 *    counts. With POSIXLY_CORRECT set the program would see fewer options, never more.
 *  - An ambiguous abbreviation (`--p` for `--preserve`/`--parents`) makes getopt refuse; it is
 *    reported as every candidate, so a deny rule on any of them still matches.
 *  - A word the gateway cannot read exactly in option position (`$X`, `"$@"`, or a glob such as
 *    `*` that may expand to a file named `-rf`) could be any option: `anyOption` is set.
 */
import type { ShellWord } from "./types.ts";

export interface OptionDef {
  /** One letter (`r`). */
  short?: string;
  /** Long name without dashes (`recursive`). */
  long?: string;
  /** Does the option take a value (`required`: attached or the next word; `optional`: only attached). */
  arg?: "required" | "optional";
  /** The semantic flag it sets (default: the long name, else the letter). */
  flag?: string;
}

export interface OptionTable {
  options: OptionDef[];
  /** Stop at the first operand (POSIX utilities, wrappers whose operand is a command). */
  stopAtOperand?: boolean;
}

export interface ParsedOptions {
  /** Semantic flags set, in any spelling. */
  flags: Set<string>;
  /** Values of options that take one, by semantic flag. */
  values: Map<string, ShellWord[]>;
  operands: ShellWord[];
  /** Options the table does not know (as written). */
  unrecognised: string[];
  /** A dynamic or glob word stands where an option could be: it could be any option. */
  anyOption: boolean;
  /** Index in args where operands start when the table stops at the first operand. */
  operandStart: number;
}

const flagOf = (d: OptionDef) => d.flag ?? d.long ?? d.short!;

/** Could this glob word expand to a word starting with '-' (an option)? */
function globMayBeOption(w: ShellWord): boolean {
  return w.glob && /^[-*?[]/.test(w.value);
}

export function parseOptions(table: OptionTable, args: ShellWord[]): ParsedOptions {
  const out: ParsedOptions = { flags: new Set(), values: new Map(), operands: [], unrecognised: [], anyOption: false, operandStart: args.length };
  const set = (d: OptionDef, value?: ShellWord) => {
    const f = flagOf(d);
    out.flags.add(f);
    if (value) out.values.set(f, [...(out.values.get(f) ?? []), value]);
  };
  let endOfOptions = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (endOfOptions) {
      out.operands.push(w);
      continue;
    }
    if (w.dynamic || globMayBeOption(w)) {
      out.anyOption = true;
      out.operands.push(w);
      if (table.stopAtOperand) {
        out.operandStart = i;
        endOfOptions = true;
      }
      continue;
    }
    const v = w.value;
    if (v === "--") {
      endOfOptions = true;
      out.operandStart = i + 1;
      continue;
    }
    if (v.startsWith("--")) {
      const eq = v.indexOf("=");
      const name = eq < 0 ? v.slice(2) : v.slice(2, eq);
      const attached = eq < 0 ? undefined : lit(v.slice(eq + 1));
      const exact = table.options.filter((d) => d.long === name);
      const candidates = exact.length > 0 ? exact : table.options.filter((d) => d.long !== undefined && d.long.startsWith(name));
      if (candidates.length === 0) {
        out.unrecognised.push(v);
        continue;
      }
      let value = attached;
      if (value === undefined && candidates.some((d) => d.arg === "required") && i + 1 < args.length) value = args[++i];
      for (const d of candidates) set(d, d.arg ? value : undefined);
      continue;
    }
    if (v.startsWith("-") && v.length > 1) {
      for (let j = 1; j < v.length; j++) {
        const d = table.options.find((o) => o.short === v[j]);
        if (!d) {
          out.unrecognised.push(`-${v[j]}`);
          continue;
        }
        if (!d.arg) {
          set(d);
          continue;
        }
        const rest = v.slice(j + 1);
        if (rest !== "") set(d, lit(rest));
        else if (d.arg === "required" && i + 1 < args.length) set(d, args[++i]);
        else set(d);
        break;
      }
      continue;
    }
    out.operands.push(w);
    if (table.stopAtOperand) {
      out.operandStart = i;
      endOfOptions = true;
    }
  }
  if (table.stopAtOperand && !endOfOptions) out.operandStart = args.length;
  return out;
}

const lit = (value: string): ShellWord => ({ value, dynamic: false, glob: false });
