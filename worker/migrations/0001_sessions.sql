-- Live-session routing data. The audit index (who did what) is in the audit migrations.
CREATE TABLE IF NOT EXISTS cancel_keys (
  pid INTEGER NOT NULL,
  secret INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (pid, secret)
);
CREATE TABLE IF NOT EXISTS policy_versions (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL,
  source TEXT NOT NULL,
  text TEXT NOT NULL,
  applied_by TEXT NOT NULL,
  applied_at INTEGER NOT NULL
);
