/**
 * Column masking for MySQL resultsets (text and binary protocol), from the same `masking:` rules
 * as PostgreSQL (parsers/masking/config.ts): a column rule matches a column by its name or
 * `table.column`, checked against both the alias and the original table/column the server reports
 * in the column definition (so `SELECT ssn AS x` is still masked). Masked values:
 *  - text protocol: `redact` → "****", `partial` → "****" + last `keep` characters;
 *  - binary protocol: string-typed cells (length-encoded) the same way; masked cells of any other
 *    type become NULL (fail closed: a number cannot carry "****").
 * Not done yet (docs/MYSQL.md): content detectors/patterns, `hash` style, values derived from
 * masked columns (taint) — a rule with those is refused at session start rather than ignored.
 */
import type { MaskingRule } from "../../../parsers/masking/config.ts";
import type { Cell, ColumnDefinition } from "../codec/resultset.ts";
import { binaryCellString, isStringType } from "../codec/resultset.ts";
import { Writer, utf8Bytes, utf8Text } from "../codec/bytes.ts";

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

interface CompiledColumnRule {
  name: string;
  table: RegExp | null;
  column: RegExp;
  style: "redact" | "partial";
  keep: number;
}

export class RowMaskerConfigError extends Error {}

export class RowMasker {
  private rules: CompiledColumnRule[] = [];
  readonly counts: Record<string, number> = {};
  private cache = new WeakMap<ColumnDefinition[], (CompiledColumnRule | null)[]>();

  constructor(rules: readonly MaskingRule[]) {
    for (const r of rules) {
      if (r.detectors?.length || r.patterns?.length) throw new RowMaskerConfigError(`masking rule ${r.name}: detectors and patterns are not supported for MySQL yet`);
      if (r.style === "hash") throw new RowMaskerConfigError(`masking rule ${r.name}: style hash is not supported for MySQL yet`);
      for (const g of r.columns ?? []) {
        const dot = g.lastIndexOf(".");
        this.rules.push({ name: r.name, table: dot > 0 ? globToRegExp(g.slice(0, dot)) : null, column: globToRegExp(dot > 0 ? g.slice(dot + 1) : g), style: r.style, keep: r.keep ?? 4 });
      }
    }
  }

  private plan(cols: ColumnDefinition[]): (CompiledColumnRule | null)[] {
    let p = this.cache.get(cols);
    if (!p) {
      p = cols.map((c) => this.rules.find((r) => [c.name, c.orgName].some((n) => n && r.column.test(n.toLowerCase())) && (!r.table || [c.table, c.orgTable].some((t) => t && r.table!.test(t.toLowerCase())))) ?? null);
      this.cache.set(cols, p);
    }
    return p;
  }

  touches(cols: ColumnDefinition[]): boolean {
    return this.plan(cols).some((r) => r !== null);
  }

  private maskString(r: CompiledColumnRule, s: string): string {
    this.counts[r.name] = (this.counts[r.name] ?? 0) + 1;
    if (r.style === "partial") {
      const chars = [...s];
      return "****" + (chars.length > r.keep ? chars.slice(-r.keep).join("") : "");
    }
    return "****";
  }

  maskText(cols: ColumnDefinition[], cells: Cell[]): { cells: Cell[]; changed: number } {
    const plan = this.plan(cols);
    let changed = 0;
    const out = cells.map((c, i) => {
      const r = plan[i];
      if (!r || c === null) return c;
      changed++;
      return utf8Bytes(this.maskString(r, utf8Text(c)));
    });
    return { cells: out, changed };
  }

  maskBinary(cols: ColumnDefinition[], cells: Cell[]): { cells: Cell[]; changed: number } {
    const plan = this.plan(cols);
    let changed = 0;
    const out = cells.map((c, i) => {
      const r = plan[i];
      if (!r || c === null) return c;
      changed++;
      if (!isStringType(cols[i].type)) {
        this.counts[r.name] = (this.counts[r.name] ?? 0) + 1;
        return null;
      }
      const masked = utf8Bytes(this.maskString(r, utf8Text(binaryCellString(c))));
      return new Writer().lenencBytes(masked).finish();
    });
    return { cells: out, changed };
  }
}
