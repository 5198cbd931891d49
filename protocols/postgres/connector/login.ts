/**
 * Which role a session logs in as, from the access level the worker decided (credentials.ts).
 *
 * Fail closed: a level without a credential refuses the session (28000) — never a stronger one.
 *
 * `credentials: dynamic`: the manager creates a role for this one session
 *
 *   CREATE ROLE gh_<24 hex> LOGIN INHERIT CONNECTION LIMIT 1 VALID UNTIL <now + max session>
 *     PASSWORD '<SCRAM verifier of 32 random bytes>' IN ROLE <the level's role>
 *
 * logs the session in as it, and drops it when the session ends (objects it created are
 * reassigned to the level's role first). The password exists only in this process — the server
 * receives a SCRAM verifier, so not even its statement log shows it. Roles left behind by a
 * connector that died are swept at start (sweepSessionRoles). Requires PostgreSQL 16+ (the
 * manager inherits the roles it creates via `createrole_self_grant`, so it can reassign and drop
 * what they own).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { TargetError } from "../../../connector/errors.ts";
import type { PostgresResourceConfig } from "./config.ts";
import type { AccessLevel, LoginCredential } from "./credentials.ts";
import { runAsManager, type ManagerOptions } from "./manager-session.ts";
import type { SessionLogin } from "./startup.ts";

export const SESSION_ROLE_PREFIX = "gh_";
const SESSION_ROLE_COMMENT = "gatehouse session role";
/** VALID UNTIL when the policy sets no maximum session length. */
export const DEFAULT_DYNAMIC_ROLE_LIFETIME_MS = 24 * 3_600_000;
/** Upper bound whatever the worker says (a session that long outlives any sane policy). */
const MAX_DYNAMIC_ROLE_LIFETIME_MS = 7 * 24 * 3_600_000;
const DROP_ATTEMPTS = 5;

export interface LeasedLogin extends SessionLogin {
  /** Give the login back when the session has ended (drops a dynamic role; never throws). */
  release(): Promise<void>;
}

export interface LoginOptions extends ManagerOptions {
  /** The policy's maximum session length (from the worker's `open`); bounds a dynamic role's VALID UNTIL. */
  maxSessionMs?: number | null;
  onReleaseError?: (err: Error) => void;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

function noCredential(resource: PostgresResourceConfig, level: AccessLevel): TargetError {
  return new TargetError(
    "28000",
    `gatehouse: resource ${resource.name}: the connector has no credential for access level '${level}', which this session's policy needs; ` +
      `refusing the session rather than log in with a stronger one (declare credentials.${level} for this resource)`,
  );
}

export async function loginForLevel(resource: PostgresResourceConfig, level: AccessLevel, opts: LoginOptions = {}): Promise<LeasedLogin> {
  const readOnly = level === "read";
  const nothing = async () => {};
  const creds = resource.credentials;
  if (!creds) {
    if (resource.username === undefined) throw noCredential(resource, level);
    return { username: resource.username, ...(resource.password !== undefined ? { password: resource.password } : {}), readOnly, release: nothing };
  }
  if (creds.mode === "static") {
    const login = creds.levels[level];
    if (!login) throw noCredential(resource, level);
    return { ...login, readOnly, release: nothing };
  }
  const levelRole = creds.roles[level];
  if (!levelRole) throw noCredential(resource, level);
  return await createSessionRole(resource, creds.manager, levelRole, readOnly, opts);
}

/** A SCRAM-SHA-256 verifier (what PostgreSQL stores) for `password`: the server never sees the password itself. */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

async function createSessionRole(resource: PostgresResourceConfig, manager: LoginCredential, levelRole: string, readOnly: boolean, opts: LoginOptions): Promise<LeasedLogin> {
  const username = `${SESSION_ROLE_PREFIX}${randomBytes(12).toString("hex")}`;
  const password = randomBytes(32).toString("base64url");
  const lifetime = opts.maxSessionMs && opts.maxSessionMs > 0 ? Math.min(opts.maxSessionMs, MAX_DYNAMIC_ROLE_LIFETIME_MS) : DEFAULT_DYNAMIC_ROLE_LIFETIME_MS;
  const validUntil = new Date(Date.now() + lifetime).toISOString();
  await runAsManager(
    resource,
    manager,
    [
      // The manager inherits what the role will own, so it can reassign and drop it later.
      "SET createrole_self_grant = 'set, inherit'",
      `CREATE ROLE ${quoteIdent(username)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
        `CONNECTION LIMIT 1 VALID UNTIL ${quoteLiteral(validUntil)} PASSWORD ${quoteLiteral(scramVerifier(password))} IN ROLE ${quoteIdent(levelRole)}`,
      `COMMENT ON ROLE ${quoteIdent(username)} IS ${quoteLiteral(`${SESSION_ROLE_COMMENT} (level role ${levelRole})`)}`,
    ],
    opts,
  );
  let released = false;
  return {
    username,
    password,
    readOnly,
    release: async () => {
      if (released) return;
      released = true;
      try {
        // Not bound to the session's abort signal: the session is over exactly when this runs.
        const { signal: _sessionSignal, ...dropOpts } = opts;
        await dropSessionRole(resource, manager, username, levelRole, dropOpts);
      } catch (err) {
        opts.onReleaseError?.(err as Error);
      }
    },
  };
}

/**
 * DROP ROLE; when the role still owns something (objects the session created, or its backend's
 * temporary schema not yet cleaned up), reassign them to the level role, drop its privileges, and
 * try again a few times.
 */
async function dropSessionRole(resource: PostgresResourceConfig, manager: LoginCredential, username: string, levelRole: string, opts: ManagerOptions): Promise<void> {
  const role = quoteIdent(username);
  for (let attempt = 1; ; attempt++) {
    try {
      await runAsManager(resource, manager, [`DROP ROLE IF EXISTS ${role}`], opts);
      return;
    } catch (err) {
      if (!(err instanceof TargetError) || attempt >= DROP_ATTEMPTS) throw err;
      // 2BP01: objects depend on it; 55006: in use. Anything else is retried too: the sweep is the backstop.
      await runAsManager(resource, manager, [`REASSIGN OWNED BY ${role} TO ${quoteIdent(levelRole)}`, `DROP OWNED BY ${role}`], opts).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

/**
 * Drops session roles that outlived their session: created by this kind of connector (name
 * prefix and comment), held by this manager, and past their VALID UNTIL (which is the longest a
 * session may last). Returns the names dropped.
 */
export async function sweepSessionRoles(resource: PostgresResourceConfig, opts: ManagerOptions = {}): Promise<string[]> {
  const creds = resource.credentials;
  if (creds?.mode !== "dynamic") return [];
  const [rows] = await runAsManager(
    resource,
    creds.manager,
    [
      // Names qualified as well as the pinned search path (manager-session.ts): both walls.
      `SELECT r.rolname || '/' || coalesce(pg_catalog.substring(pg_catalog.shobj_description(r.oid, 'pg_authid'), '\\(level role ([^)]*)\\)'), '') FROM pg_catalog.pg_roles r ` +
        `WHERE r.rolname LIKE ${quoteLiteral(`${SESSION_ROLE_PREFIX.replace(/_/g, "\\_")}%`)} AND r.rolvaliduntil < pg_catalog.now() ` +
        `AND pg_catalog.shobj_description(r.oid, 'pg_authid') LIKE ${quoteLiteral(`${SESSION_ROLE_COMMENT}%`)} AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')`,
    ],
    opts,
  );
  const dropped: string[] = [];
  for (const row of rows ?? []) {
    if (!row) continue;
    const [name, levelRole] = row.split("/") as [string, string];
    await dropSessionRole(resource, creds.manager, name, levelRole || creds.manager.username, opts);
    dropped.push(name);
  }
  return dropped;
}
