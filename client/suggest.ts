/**
 * "Did you mean …?" for mistyped commands and flags, like git, gh and kubectl: the closest known
 * name by edit distance (Damerau: a swapped pair of letters counts as one edit), only when it is
 * close enough to be the likely intent.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `input`, or undefined when none is plausibly meant (also a unique prefix). */
export function closest(input: string, known: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  const prefixed = known.filter((k) => lower.length >= 2 && k.startsWith(lower));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(lower, k);
    if (distance < bestDistance) {
      best = k;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(Math.max(lower.length, 3) / 3));
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean "x"?)` or "" — to append to an error message. */
export function didYouMean(input: string, known: readonly string[], prefix = ""): string {
  const hit = closest(input, known);
  return hit ? ` (did you mean "${prefix}${hit}"?)` : "";
}
