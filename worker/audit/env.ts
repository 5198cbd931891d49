/** The bindings the audit trail needs (a subset of the worker's Env). */
export interface AuditEnv {
  DB: D1Database;
  RECORDINGS: R2Bucket;
  /** JSON array of Ed25519 private JWKs with kid; the first signs, the rest stay published for verification. */
  GATEHOUSE_AUDIT_KEYS?: string;
}
