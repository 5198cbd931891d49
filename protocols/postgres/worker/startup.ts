/**
 * Startup-phase rules for PostgreSQL clients: which startup parameters may travel to the target.
 * `user` and `database` are decided by the connector's resource configuration; `options` could set
 * arbitrary GUCs (e.g. `-c role=admin`) and `replication` changes the protocol — neither passes.
 */
export const FORWARDED_STARTUP_PARAMETERS = ["application_name", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "extra_float_digits"] as const;

const MAX_VALUE_LENGTH = 256;

export function forwardedStartupParameters(parameters: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_STARTUP_PARAMETERS) {
    const value = parameters.get(name);
    if (value !== undefined && value.length <= MAX_VALUE_LENGTH) out[name] = value;
  }
  return out;
}

/** A replication startup (physical or logical) — refused: it bypasses statement-level policy. */
export function isReplicationStartup(parameters: Map<string, string>): boolean {
  const value = parameters.get("replication");
  if (value === undefined) return false;
  return !["false", "off", "no", "0"].includes(value.toLowerCase());
}
