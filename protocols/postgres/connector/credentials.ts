/**
 * Credentials per access level (docs/CONNECTOR.md §Access levels): the second wall behind the
 * gateway. The worker tells the connector, in the stream's `open`, the access level the session's
 * policy can need (`read` < `write` < `admin`, parsers/policy/access-level.ts); the connector logs
 * in with exactly that level's credential, never a stronger one, and refuses the session when the
 * level has none.
 *
 *   credentials:                                   # static: one login role per level
 *     read:  { username: app_reader, password: env:APP_READER_PASSWORD }
 *     write: { username: app_writer, password: env:APP_WRITER_PASSWORD }
 *
 *   credentials:                                   # dynamic: a throw-away login role per session
 *     mode: dynamic
 *     manager: { username: gatehouse_manager, password: env:PG_MANAGER_PASSWORD }
 *     read: app_read                               # the (NOLOGIN) role whose privileges a session gets
 *     write: app_write
 *
 * The older `username` / `password` fields on the resource are one credential for every level:
 * no database-enforced least privilege beyond read-only transactions for read sessions.
 */
import { ConfigError } from "../../../connector/errors.ts";
import { expectObject, expectOnlyKeys, expectString } from "../../../connector/config-fields.ts";
import { parseSecretRef, type SecretRefContext, type SecretSource } from "../../../connector/secrets.ts";
// One definition of the levels for the worker (which decides them) and the connector (which obeys).
import { ACCESS_LEVELS, type AccessLevel } from "../../../parsers/policy/access-level.ts";

export { ACCESS_LEVELS, type AccessLevel };

export function isAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === "string" && (ACCESS_LEVELS as readonly string[]).includes(value);
}

export interface LoginCredential {
  username: string;
  /** Absent for trust authentication. */
  password?: SecretSource;
}

export type PostgresCredentials =
  | { mode: "static"; levels: Partial<Record<AccessLevel, LoginCredential>> }
  | {
      mode: "dynamic";
      /** Holds CREATEROLE and ADMIN OPTION on the level roles; creates and drops the session roles. */
      manager: LoginCredential;
      /** Role each level's session role is made a member of. */
      roles: Partial<Record<AccessLevel, string>>;
    };

const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

function parseLogin(field: string, raw: unknown, ctx: SecretRefContext): LoginCredential {
  const obj = expectObject(field, raw);
  expectOnlyKeys(field, obj, ["username", "password"]);
  const login: LoginCredential = { username: expectString(`${field}.username`, obj.username, { maxLength: 63 }) };
  if (obj.password !== undefined && obj.password !== null) login.password = parseSecretRef(`${field}.password`, obj.password, ctx, "password");
  return login;
}

export function parseCredentials(field: string, raw: unknown, ctx: SecretRefContext): PostgresCredentials {
  const obj = expectObject(field, raw);
  const mode = obj.mode ?? "static";
  if (mode === "static") {
    expectOnlyKeys(field, obj, ["mode", ...ACCESS_LEVELS]);
    const levels: Partial<Record<AccessLevel, LoginCredential>> = {};
    for (const level of ACCESS_LEVELS) if (obj[level] !== undefined) levels[level] = parseLogin(`${field}.${level}`, obj[level], ctx);
    if (Object.keys(levels).length === 0) throw new ConfigError(field, "declare a credential for at least one access level (read, write, admin)");
    return { mode, levels };
  }
  if (mode === "dynamic") {
    expectOnlyKeys(field, obj, ["mode", "manager", ...ACCESS_LEVELS]);
    const manager = parseLogin(`${field}.manager`, obj.manager, ctx);
    const roles: Partial<Record<AccessLevel, string>> = {};
    for (const level of ACCESS_LEVELS) {
      if (obj[level] === undefined) continue;
      roles[level] = expectString(`${field}.${level}`, obj[level], { pattern: ROLE_NAME, patternHint: "must be a role name (letters, digits, _ and $, max 63, not starting with a digit)" });
    }
    if (Object.keys(roles).length === 0) throw new ConfigError(field, "name the role of at least one access level (read, write, admin)");
    return { mode, manager, roles };
  }
  throw new ConfigError(`${field}.mode`, "must be one of: static, dynamic");
}
