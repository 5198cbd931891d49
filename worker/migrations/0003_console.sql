-- Web console sign-in (worker/signin/): people's sessions, pending sign-ins, SAML replay cache.
-- Secrets are stored only as SHA-256 hashes: a D1 read never yields a usable cookie or state.
CREATE TABLE IF NOT EXISTS console_sessions (
  id_hash TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  claims TEXT NOT NULL,
  method TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_signins (
  state_hash TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  return_to TEXT NOT NULL,
  binding TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_saml_seen (
  assertion_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
