/**
 * The demo MariaDB of the local stack (`demo-mysql`), started by `npm start` when the MariaDB
 * server binary is installed (Debian: mariadb-server; `.ci/run` installs it). Its own data
 * directory (never the machine's own MariaDB), loopback only, the same demo schema and masking
 * rules as demo-pg (examples/demo/schema-mysql.sql; examples/policies/demo.yaml), and one account
 * per access level held only by the connector:
 *
 *   read   gatehouse_demo_reader  SELECT
 *   write  gatehouse_demo_writer  SELECT, INSERT, UPDATE, DELETE; no DDL
 *   admin  gatehouse_demo         everything on the demo database
 *
 * The server's root account authenticates by OS user over the unix socket only (setup).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { userInfo } from "node:os";
import { promisify } from "node:util";
import type { MysqlResourceConfig } from "../../protocols/mysql/connector/config.ts";
import { loadOrCreatePassword } from "./home.ts";
import { freePort } from "./ports.ts";

const run = promisify(execFile);
const HOST = "127.0.0.1";
export const DEMO_MYSQL_DATABASE = "demo";
const ACCOUNTS = { read: "gatehouse_demo_reader", write: "gatehouse_demo_writer", admin: "gatehouse_demo" } as const;

export const MARIADB_SERVER_BINARY = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"].find((p) => existsSync(p));
const MARIADB_CLIENT_BINARY = ["/usr/bin/mariadb", "/usr/bin/mysql"].find((p) => existsSync(p));

export interface DemoMysql {
  port: number;
  resource: MysqlResourceConfig;
  stop(): Promise<void>;
}

export interface DemoMysqlOptions {
  /** Private directory for the account passwords (under the stack's home). */
  dir: string;
  /** The server's data directory (as root: outside the private home, owned by `mysql`). */
  dataDir: string;
  port?: number;
  log(line: string): void;
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** Starts the demo MariaDB, creating and loading it on first use; null (with the reason logged) when it cannot run here. */
export async function startDemoMysql(opts: DemoMysqlOptions): Promise<DemoMysql | null> {
  if (!MARIADB_SERVER_BINARY || !MARIADB_CLIENT_BINARY) {
    opts.log("demo-mysql not started: the MariaDB server is not installed (apt-get install mariadb-server mariadb-client)");
    return null;
  }
  const asRoot = userInfo().uid === 0;
  const osUser = asRoot ? "mysql" : userInfo().username;
  const data = path.join(opts.dataDir, "data");
  const fresh = !existsSync(path.join(data, "mysql"));
  await mkdir(data, { recursive: true, mode: 0o700 });
  if (asRoot) {
    const uid = Number((await run("id", ["-u", "mysql"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "mysql"])).stdout.trim());
    await chmod(opts.dataDir, 0o700);
    await chown(opts.dataDir, uid, gid);
    await chown(data, uid, gid);
  }
  if (fresh) await run("mariadb-install-db", ["--no-defaults", `--datadir=${data}`, `--user=${osUser}`, "--skip-test-db", "--auth-root-authentication-method=socket"], { timeout: 120_000 });
  const port = opts.port || (await freePort(HOST));
  const socket = path.join(opts.dataDir, "mysqld.sock");
  const errorLog = path.join(opts.dataDir, "error.log");
  const proc: ChildProcess = spawn(
    MARIADB_SERVER_BINARY,
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--user=${osUser}`,
      `--port=${port}`,
      `--bind-address=${HOST}`,
      `--socket=${socket}`,
      `--pid-file=${path.join(opts.dataDir, "mysqld.pid")}`,
      `--log-error=${errorLog}`,
      "--skip-log-bin",
      "--innodb-buffer-pool-size=32M",
      "--performance-schema=OFF",
      "--local-infile=0",
    ],
    { stdio: "ignore" },
  );
  let exited = false;
  proc.once("exit", () => (exited = true));
  const stop = async () => {
    if (exited) return;
    const done = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    await done;
    clearTimeout(timer);
  };
  const rootSql = async (sql: string, database?: string) =>
    (await run(MARIADB_CLIENT_BINARY, ["--no-defaults", "-S", socket, "-uroot", "-N", "-B", ...(database ? ["-D", database] : []), "-e", sql], { timeout: 120_000, maxBuffer: 16 << 20 })).stdout;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`mariadbd exited during startup: ${(await readFile(errorLog, "utf8").catch(() => "")).slice(-2000)}`);
      try {
        await rootSql("SELECT 1");
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const passwords = {
      read: await loadOrCreatePassword(path.join(opts.dir, "reader-password")),
      write: await loadOrCreatePassword(path.join(opts.dir, "writer-password")),
      admin: await loadOrCreatePassword(path.join(opts.dir, "owner-password")),
    };
    const db = DEMO_MYSQL_DATABASE;
    const exists = (await rootSql(`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '${db}'`)).trim() === "1";
    if (!exists) {
      const schema = await readFile(new URL("../../examples/demo/schema-mysql.sql", import.meta.url), "utf8");
      await rootSql(`CREATE DATABASE ${db}; USE ${db}; ${schema}`);
      opts.log(`demo-mysql: created database ${db} from examples/demo/schema-mysql.sql`);
    }
    // Accounts and grants every start (passwords live in the home; a new home gets new ones).
    await rootSql(`
      CREATE OR REPLACE USER '${ACCOUNTS.read}'@'127.0.0.1' IDENTIFIED BY ${sqlString(passwords.read)};
      CREATE OR REPLACE USER '${ACCOUNTS.write}'@'127.0.0.1' IDENTIFIED BY ${sqlString(passwords.write)};
      CREATE OR REPLACE USER '${ACCOUNTS.admin}'@'127.0.0.1' IDENTIFIED BY ${sqlString(passwords.admin)};
      GRANT SELECT ON ${db}.* TO '${ACCOUNTS.read}'@'127.0.0.1';
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO '${ACCOUNTS.write}'@'127.0.0.1';
      GRANT ALL ON ${db}.* TO '${ACCOUNTS.admin}'@'127.0.0.1';`);
    const resource: MysqlResourceConfig = {
      name: "demo-mysql",
      type: "mysql",
      labels: { env: "demo", owner: "gatehouse" },
      host: HOST,
      port,
      database: db,
      credentials: {
        read: { username: ACCOUNTS.read, password: passwords.read },
        write: { username: ACCOUNTS.write, password: passwords.write },
        admin: { username: ACCOUNTS.admin, password: passwords.admin },
      },
      // Loopback, like demo-pg: a production resource names its TLS mode and CA (docs/MYSQL.md).
      tls: { mode: "disable" },
    };
    return { port, resource, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Removes the demo server's data (tests). */
export async function removeDemoMysqlData(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
}
