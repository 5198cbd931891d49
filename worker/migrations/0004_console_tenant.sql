-- Console sign-in per tenant (docs/CONSOLE.md, docs/TENANCY.md): sessions and sign-ins in flight
-- carry the tenant they were made for ('' on a single-tenant deployment), checked on every read.
-- New tables rather than ALTER TABLE: every statement here is idempotent, because the worker
-- applies migrations itself (worker/storage/schema.ts) and a deployment may also have applied
-- them with wrangler. Sessions of the old tables end (people sign in again).
CREATE TABLE IF NOT EXISTS console_tenant_sessions (
  id_hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  claims TEXT NOT NULL,
  method TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_tenant_signins (
  state_hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  provider TEXT NOT NULL,
  verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  return_to TEXT NOT NULL,
  binding TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
DROP TABLE IF EXISTS console_sessions;
DROP TABLE IF EXISTS console_signins;
