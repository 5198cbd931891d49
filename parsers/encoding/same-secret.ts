/**
 * Comparison of two secrets (CSRF tokens, cookie tags, stream-ticket hashes) in time that depends
 * only on their length: a wrong guess's refusal tells nothing about how much of it matched.
 * Runtime-neutral (worker and connector bundles).
 */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
