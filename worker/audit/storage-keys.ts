/** Where chunks live in R2. Chunk numbers are zero-padded so R2's lexicographic listing is chunk order. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isValidSessionId(id: string): boolean {
  return SESSION_ID_PATTERN.test(id);
}

export function chunkPrefix(sessionId: string): string {
  return `sessions/${sessionId}/`;
}

export function chunkKey(sessionId: string, chunk: number): string {
  return `${chunkPrefix(sessionId)}${String(chunk).padStart(6, "0")}.jsonl`;
}
