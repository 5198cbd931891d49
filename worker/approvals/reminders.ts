/**
 * Progress feedback while a statement waits for approval: every `everyMs` the waiting client gets
 * one more line (a NoticeResponse on PostgreSQL, a stderr line on SSH) with the time left, so a
 * person or a CI log watching a silent psql/ssh knows it is waiting, for what, and until when.
 */
export const DEFAULT_REMINDER_MS = 60_000;

/** "14m 5s", "45s", "2h 3m" — coarse on purpose. */
export function formatLeft(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function reminderLine(id: string, expiresAt: number, now = Date.now()): string {
  return `gatehouse: still waiting for approval ${id} (${formatLeft(expiresAt - now)} left, until ${new Date(expiresAt).toISOString()}) — approve with 'gatehouse approvals approve ${id}'`;
}

/** Sends a reminder every `everyMs` until the returned function is called or the deadline passes. */
export function remindUntilDecided(id: string, expiresAt: number, everyMs: number, send: (line: string) => void): () => void {
  if (!(everyMs > 0)) return () => {};
  const timer = setInterval(() => {
    if (Date.now() >= expiresAt) return clearInterval(timer);
    try {
      send(reminderLine(id, expiresAt));
    } catch {
      clearInterval(timer); // the client is gone
    }
  }, everyMs);
  return () => clearInterval(timer);
}
