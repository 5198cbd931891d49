/**
 * Durations in policies: one or more `<integer><unit>` parts, units ms, s, m, h, d — `30s`, `5m`,
 * `8h`, `1h30m`. A bare number is rejected (is `30` seconds or minutes?).
 */
import { PolicySyntaxError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Upper bound for any duration in a policy: a year is already far beyond any sane session. */
export const MAX_DURATION_MS = 366 * 86_400_000;

export function parseDuration(text: string): number {
  const whole = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/;
  if (!whole.test(text)) {
    throw new PolicySyntaxError(`invalid duration '${text}': use a number with a unit (ms, s, m, h, d), e.g. '30s', '5m', '8h' or '1h30m'`);
  }
  let total = 0;
  for (const part of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  if (total <= 0) throw new PolicySyntaxError(`invalid duration '${text}': must be greater than zero`);
  if (total > MAX_DURATION_MS) throw new PolicySyntaxError(`invalid duration '${text}': longer than 366 days`);
  return total;
}

/** Shortest human form of a millisecond duration: 28800000 → "8h", 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
