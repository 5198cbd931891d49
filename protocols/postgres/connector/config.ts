/** The `type: postgres` resource: where the target is and the credentials only the connector holds. */
import { ConfigError } from "../../../connector/errors.ts";
import { expectLabels, expectObject, expectOneOf, expectOnlyKeys, expectPort, expectString } from "../../../connector/config-fields.ts";
import { parseCaBundle, parseSecretRef, type SecretRefContext, type SecretSource } from "../../../connector/secrets.ts";
import { parseCredentials, type PostgresCredentials } from "./credentials.ts";

export const TLS_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;
export type PostgresTlsMode = (typeof TLS_MODES)[number];

export interface PostgresTlsConfig {
  /**
   * disable: plaintext. prefer: TLS when the server offers it (libpq's default).
   * require: TLS, certificate not checked unless `ca` is given. verify-ca: TLS + chain.
   * verify-full: TLS + chain + host name.
   */
  mode: PostgresTlsMode;
  /** PEM bundle of trusted CAs (default: Node's bundled roots). */
  ca?: string;
  /** Name to verify and send as SNI (default: `host`). */
  servername?: string;
}

export interface PostgresResourceConfig {
  name: string;
  type: "postgres";
  labels: Record<string, string>;
  host: string;
  port: number;
  database: string;
  /** One credential for every access level (when `credentials` is absent). */
  username?: string;
  /** Absent for trust authentication. */
  password?: SecretSource;
  /** Credentials per access level (credentials.ts); excludes `username`/`password`. */
  credentials?: PostgresCredentials;
  tls: PostgresTlsConfig;
}

const FIELDS = ["name", "type", "labels", "host", "port", "database", "username", "password", "credentials", "tls"] as const;
const HOST = /^[A-Za-z0-9._:%\[\]-]+$/;

export function parsePostgresResource(field: string, raw: Record<string, unknown>, name: string, ctx: SecretRefContext): PostgresResourceConfig {
  expectOnlyKeys(field, raw, FIELDS);
  const host = expectString(`${field}.host`, raw.host, { pattern: HOST, patternHint: "must be a host name or IP address" });
  const resource: PostgresResourceConfig = {
    name,
    type: "postgres",
    labels: expectLabels(`${field}.labels`, raw.labels),
    host,
    port: expectPort(`${field}.port`, raw.port, 5432),
    database: expectString(`${field}.database`, raw.database, { maxLength: 63 }),
    tls: parseTls(`${field}.tls`, raw.tls, ctx),
  };
  if (raw.credentials !== undefined) {
    if (raw.username !== undefined || raw.password !== undefined) throw new ConfigError(`${field}.credentials`, "use either credentials (per access level) or username/password, not both");
    resource.credentials = parseCredentials(`${field}.credentials`, raw.credentials, ctx);
    return resource;
  }
  resource.username = expectString(`${field}.username`, raw.username, { maxLength: 63 });
  if (raw.password !== undefined && raw.password !== null) {
    resource.password = parseSecretRef(`${field}.password`, raw.password, ctx, "password");
  }
  return resource;
}

function parseTls(field: string, value: unknown, ctx: SecretRefContext): PostgresTlsConfig {
  if (value === undefined) return { mode: "prefer" };
  const raw = expectObject(field, value);
  expectOnlyKeys(field, raw, ["mode", "ca", "servername"]);
  const tls: PostgresTlsConfig = { mode: expectOneOf(`${field}.mode`, raw.mode, TLS_MODES) };
  if (raw.ca !== undefined) {
    if (tls.mode === "disable") throw new ConfigError(`${field}.ca`, "has no effect with mode disable");
    tls.ca = parseCaBundle(`${field}.ca`, raw.ca, ctx)();
  }
  if (raw.servername !== undefined) tls.servername = expectString(`${field}.servername`, raw.servername, { pattern: HOST });
  return tls;
}
