-- Audit trail (issue 5): the session index and the audit signing keys. See docs/AUDIT.md.
-- The trail itself lives in R2 (sessions/<id>/<chunk>.jsonl); this index is derived from it and
-- only serves listing and filtering: verification never trusts it except for the chunk count.

CREATE TABLE IF NOT EXISTS session_index (
  id              TEXT PRIMARY KEY,
  issuer          TEXT NOT NULL,
  subject         TEXT NOT NULL,
  identity_kind   TEXT NOT NULL,             -- pipeline | human
  identity_label  TEXT NOT NULL,             -- repo@ref (workflow) or email / sub
  claims          TEXT NOT NULL,             -- JSON: every verified claim (CI claims included)
  repository      TEXT,                      -- CI claims, flattened for filtering
  ref             TEXT,
  workflow        TEXT,
  environment     TEXT,
  resource        TEXT NOT NULL,
  resource_type   TEXT NOT NULL,
  connector       TEXT NOT NULL,
  client_addr     TEXT NOT NULL,
  policy_hash     TEXT NOT NULL,
  recording_mode  TEXT NOT NULL,             -- fail-closed | best-effort
  started_at      INTEGER NOT NULL,          -- epoch ms
  ended_at        INTEGER,
  status          TEXT NOT NULL DEFAULT 'open', -- open | ok | error | denied | aborted | recording-failed …
  end_reason      TEXT,
  statements      TEXT NOT NULL DEFAULT '{}', -- JSON { kind: count }
  statements_total INTEGER NOT NULL DEFAULT 0,
  denied          INTEGER NOT NULL DEFAULT 0,
  approved        INTEGER NOT NULL DEFAULT 0,
  bytes_in        INTEGER NOT NULL DEFAULT 0,
  bytes_out       INTEGER NOT NULL DEFAULT 0,
  rows            INTEGER NOT NULL DEFAULT 0,
  events          INTEGER NOT NULL DEFAULT 0,
  chunks          INTEGER NOT NULL DEFAULT 0,  -- chunks written to R2
  last_hash       TEXT,
  complete        INTEGER NOT NULL DEFAULT 0,  -- 1: ended, every chunk in R2, nothing lost or truncated
  incomplete_reason TEXT
);
CREATE INDEX IF NOT EXISTS session_index_started ON session_index (started_at);
CREATE INDEX IF NOT EXISTS session_index_identity ON session_index (issuer, subject, resource, started_at);
CREATE INDEX IF NOT EXISTS session_index_resource ON session_index (resource, started_at);

-- Public audit keys ever used or configured, so sessions stay verifiable after rotation even if a
-- key leaves GATEHOUSE_AUDIT_KEYS. private_jwk is set only for the key generated for local
-- development when GATEHOUSE_AUDIT_KEYS is absent (origin = 'generated').
CREATE TABLE IF NOT EXISTS audit_keys (
  kid         TEXT PRIMARY KEY,
  public_jwk  TEXT NOT NULL,
  private_jwk TEXT,
  origin      TEXT NOT NULL,                 -- configured | generated
  created     INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_keys_one_generated ON audit_keys (origin) WHERE origin = 'generated';
