/**
 * The `type: mysql` resource (MySQL 8, MariaDB): where the server is and the credentials only the
 * connector holds — one account per access level (least privilege, as for PostgreSQL):
 *
 *   - name: app-mysql
 *     type: mysql
 *     host: db.internal
 *     port: 3306
 *     database: app                       # default schema (a client's own database wins)
 *     credentials:
 *       read:  { username: app_reader, password: env:APP_READER_PASSWORD }
 *       write: { username: app_writer, password: env:APP_WRITER_PASSWORD }
 *     tls: { mode: verify-full, ca: file:/etc/ssl/db-ca.pem }
 *     server_public_key: file:./mysql-rsa.pem   # caching_sha2_password full path without TLS (optional)
 *
 * TLS modes: `disable` (plaintext: only for a server on the connector's own host or network),
 * `require` (TLS, certificate checked when `ca` is given), `verify-ca`, `verify-full` (+ host name).
 * The server must offer TLS when it is configured: no silent plaintext.
 */
import { ConfigError } from "../../../connector/errors.ts";
import { expectLabels, expectObject, expectOneOf, expectOnlyKeys, expectPort, expectString } from "../../../connector/config-fields.ts";
import { parseCaBundle, parseSecretRef, type SecretRefContext, type SecretSource } from "../../../connector/secrets.ts";
import { ACCESS_LEVELS, type AccessLevel } from "../../../parsers/policy/access-level.ts";

export const MYSQL_TLS_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type MysqlTlsMode = (typeof MYSQL_TLS_MODES)[number];

export interface MysqlCredential {
  username: string;
  password?: SecretSource;
}

export interface MysqlResourceConfig {
  name: string;
  type: "mysql";
  labels: Record<string, string>;
  host: string;
  port: number;
  database?: string;
  /** One account per access level; a session whose level has none is refused. */
  credentials: Partial<Record<AccessLevel, MysqlCredential>>;
  /** Never set: passwords are per access level (`credentials`); present so code reading `resource.password` of any type typechecks. */
  password?: undefined;
  tls: { mode: MysqlTlsMode; ca?: string; servername?: string };
  /** PEM of the server's RSA key (caching_sha2_password full authentication without TLS). */
  serverPublicKey?: SecretSource;
}

const FIELDS = ["name", "type", "labels", "host", "port", "database", "credentials", "tls", "server_public_key"] as const;
const HOST = /^[A-Za-z0-9._:%\[\]-]+$/;

function parseCredential(field: string, raw: unknown, ctx: SecretRefContext): MysqlCredential {
  const obj = expectObject(field, raw);
  expectOnlyKeys(field, obj, ["username", "password"]);
  const c: MysqlCredential = { username: expectString(`${field}.username`, obj.username, { maxLength: 80 }) };
  if (obj.password !== undefined && obj.password !== null) c.password = parseSecretRef(`${field}.password`, obj.password, ctx, "password");
  return c;
}

export function parseMysqlResource(field: string, raw: Record<string, unknown>, name: string, ctx: SecretRefContext): MysqlResourceConfig {
  expectOnlyKeys(field, raw, FIELDS);
  const credsRaw = expectObject(`${field}.credentials`, raw.credentials);
  expectOnlyKeys(`${field}.credentials`, credsRaw, ACCESS_LEVELS);
  const credentials: MysqlResourceConfig["credentials"] = {};
  for (const level of ACCESS_LEVELS) if (credsRaw[level] !== undefined) credentials[level] = parseCredential(`${field}.credentials.${level}`, credsRaw[level], ctx);
  if (Object.keys(credentials).length === 0) throw new ConfigError(`${field}.credentials`, "declare an account for at least one access level (read, write, admin)");
  const resource: MysqlResourceConfig = {
    name,
    type: "mysql",
    labels: expectLabels(`${field}.labels`, raw.labels),
    host: expectString(`${field}.host`, raw.host, { pattern: HOST, patternHint: "must be a host name or IP address" }),
    port: expectPort(`${field}.port`, raw.port, 3306),
    credentials,
    tls: parseTls(`${field}.tls`, raw.tls, ctx),
  };
  if (raw.database !== undefined) resource.database = expectString(`${field}.database`, raw.database, { maxLength: 64 });
  if (raw.server_public_key !== undefined) resource.serverPublicKey = parseSecretRef(`${field}.server_public_key`, raw.server_public_key, ctx, "server public key");
  return resource;
}

function parseTls(field: string, value: unknown, ctx: SecretRefContext): MysqlResourceConfig["tls"] {
  // No default: whether the hop to the database is encrypted is the operator's explicit choice.
  if (value === undefined) throw new ConfigError(field, `is required: { mode: ${MYSQL_TLS_MODES.join(" | ")} }`);
  const raw = expectObject(field, value);
  expectOnlyKeys(field, raw, ["mode", "ca", "servername"]);
  const tls: MysqlResourceConfig["tls"] = { mode: expectOneOf(`${field}.mode`, raw.mode, MYSQL_TLS_MODES) };
  if (raw.ca !== undefined) {
    if (tls.mode === "disable") throw new ConfigError(`${field}.ca`, "has no effect with mode disable");
    tls.ca = parseCaBundle(`${field}.ca`, raw.ca, ctx)();
  }
  if ((tls.mode === "verify-ca" || tls.mode === "verify-full") && !tls.ca) throw new ConfigError(`${field}.ca`, `is required with mode ${tls.mode}`);
  if (raw.servername !== undefined) tls.servername = expectString(`${field}.servername`, raw.servername, { pattern: HOST });
  return tls;
}
