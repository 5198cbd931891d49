/**
 * The `gatehouse` CLI's exit codes, stable and documented in one table (docs/CLI.md). Scripts
 * may rely on them; client/exit-codes.test.ts keeps the table and this file in step.
 */
export const EXIT = {
  /** Success (policy test: allowed; doctor: every check passed). */
  OK: 0,
  /** An error the message explains (gateway refused, not found, verification failed, a doctor check failed); policy test: denied. */
  ERROR: 1,
  /** Bad command line (unknown command or flag, missing argument) or unreadable input. */
  USAGE: 2,
  /** policy test: the policy would hold the request for approval. */
  APPROVE: 3,
  /** exec: the gateway refused the command (policy, denied or expired approval). */
  REFUSED: 126,
  /** exec: the gateway, connector or host failed (unreachable, 401/503, session lost) — like ssh. */
  GATEWAY: 255,
} as const;
