/**
 * A throwaway MariaDB server for tests (Debian's mariadb-server: `mariadb-install-db` + `mariadbd`).
 *
 * Every call gets its own data directory, unix socket and pid file in a fresh temp dir and a free
 * loopback port, so parallel vitest forks never share a server — and the system MariaDB that may
 * be listening on :3306 is never touched (`--no-defaults`: no /etc/mysql config is read).
 *
 * mariadbd refuses to run as root unless told to; as root we run it as the `mysql` OS user, which
 * needs to traverse the temp dir and own the data dir. Setup runs as the server's root account
 * over the unix socket (unix_socket auth maps OS root → root@localhost).
 *
 * The server gets a demo schema and one least-privileged account per access level — the
 * credentials a connector would hold in production (connector/postgres/credentials.ts):
 *   read   SELECT on the demo database
 *   write  SELECT, INSERT, UPDATE, DELETE (no DDL)
 *   admin  ALL on the demo database (not global privileges)
 * plus one account per authentication plugin the connector speaks.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { freePort } from "../../client/dev/ports.ts";

const run = promisify(execFile);

export const MARIADB_SERVER = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"].find((p) => existsSync(p));
export const MARIADB_CLIENT = ["/usr/bin/mariadb", "/usr/bin/mysql"].find((p) => existsSync(p));

export type AccessLevel = "read" | "write" | "admin";

export interface MariaDbAccount {
  user: string;
  password: string;
}

export interface RunningMariaDb {
  host: string;
  port: number;
  /** Unix socket of the server (root setup connections). */
  socket: string;
  dir: string;
  database: string;
  levels: Record<AccessLevel, MariaDbAccount>;
  /** An admin-level account that authenticates with client_ed25519. */
  ed25519: MariaDbAccount;
  /** Run SQL as the server's root over the unix socket; returns tab-separated rows. */
  rootSql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartMariaDbOptions {
  /** Extra mariadbd flags, e.g. ["--sql-mode=ANSI_QUOTES"]. */
  serverArgs?: string[];
}

const HOST = "127.0.0.1";
export const DEMO_DATABASE = "gatehouse_demo";

/** The demo schema (the same shape the PostgreSQL demo's masking rules talk about). */
export const DEMO_SCHEMA = `
CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, email VARCHAR(200), ssn CHAR(11), card VARCHAR(19), note TEXT);
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, total DECIMAL(10,2), created DATETIME DEFAULT CURRENT_TIMESTAMP);
INSERT INTO customers (name, email, ssn, card, note) VALUES
  ('Ada Lovelace', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111', 'first'),
  ('Alan Turing', 'alan@example.com', '987-65-4321', '5500 0000 0000 0004', 'second'),
  ('Grace Hopper', 'grace@example.com', '555-12-3456', '3400 0000 0000 009', NULL);
INSERT INTO orders (customer_id, total) VALUES (1, 10.50), (2, 99.99), (3, 0.01);
`;

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

export async function startMariaDb(opts: StartMariaDbOptions = {}): Promise<RunningMariaDb> {
  if (!MARIADB_SERVER || !MARIADB_CLIENT) throw new Error("mariadbd/mariadb not installed (apt-get install mariadb-server mariadb-client)");
  const dir = await mkdtemp(join(tmpdir(), "gatehouse-mariadb-"));
  const data = join(dir, "data");
  await mkdir(data);
  // Its own temporary directory: internal temporary tables (`#sql-temptable-…`) of servers sharing
  // /tmp were seen vanishing under a busy suite (Errcode 2 on delete), failing a catalog read.
  const tmp = join(dir, "tmp");
  await mkdir(tmp);
  const asRoot = userInfo().uid === 0;
  const osUser = asRoot ? "mysql" : userInfo().username;
  if (asRoot) {
    // The server runs as `mysql`: it must reach (x) the temp dir and own the data dir and socket dir.
    await chmod(dir, 0o755);
    const { stdout } = await run("id", ["-u", "mysql"]);
    const { stdout: gid } = await run("id", ["-g", "mysql"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    await chown(data, Number(stdout.trim()), Number(gid.trim()));
    await chown(tmp, Number(stdout.trim()), Number(gid.trim()));
  }
  await run("mariadb-install-db", ["--no-defaults", `--datadir=${data}`, `--user=${osUser}`, "--skip-test-db", "--auth-root-authentication-method=socket"], { timeout: 60_000 });
  const port = await freePort(HOST);
  const socket = join(dir, "mysqld.sock");
  const args = [
    "--no-defaults",
    `--datadir=${data}`,
    `--user=${osUser}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    `--socket=${socket}`,
    `--tmpdir=${tmp}`,
    `--pid-file=${join(dir, "mysqld.pid")}`,
    `--log-error=${join(dir, "error.log")}`,
    "--skip-log-bin",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=16M",
    "--performance-schema=OFF",
    "--plugin-load-add=auth_ed25519",
    "--local-infile=1",
    "--max-allowed-packet=64M",
    // A throwaway server: durability is not needed, speed on a shared machine is.
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-file-per-table=0",
    "--sync-frm=0",
    ...(opts.serverArgs ?? []),
  ];
  const proc: ChildProcess = spawn(MARIADB_SERVER, args, { stdio: "ignore" });
  let exited = false;
  proc.once("exit", () => (exited = true));
  const rootSql = async (sql: string, database?: string): Promise<string> => {
    const { stdout } = await run(MARIADB_CLIENT, ["--no-defaults", "-S", socket, "-uroot", "-N", "-B", ...(database ? ["-D", database] : []), "-e", sql], { timeout: 60_000, maxBuffer: 64 << 20 });
    return stdout;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`mariadbd exited during startup: ${await readFile(join(dir, "error.log"), "utf8").catch(() => "")}`);
    try {
      await rootSql("SELECT 1");
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pw = () => randomBytes(12).toString("base64url");
  const levels: Record<AccessLevel, MariaDbAccount> = {
    read: { user: "gh_reader", password: pw() },
    write: { user: "gh_writer", password: pw() },
    admin: { user: "gh_admin", password: pw() },
  };
  const ed25519 = { user: "gh_ed25519", password: pw() };
  const db = DEMO_DATABASE;
  await rootSql(`CREATE DATABASE ${db}; USE ${db}; ${DEMO_SCHEMA}
    CREATE USER '${levels.read.user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlString(levels.read.password)});
    CREATE USER '${levels.write.user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlString(levels.write.password)});
    CREATE USER '${levels.admin.user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlString(levels.admin.password)});
    CREATE USER '${ed25519.user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD(${sqlString(ed25519.password)});
    GRANT SELECT ON ${db}.* TO '${levels.read.user}'@'%';
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO '${levels.write.user}'@'%';
    GRANT ALL ON ${db}.* TO '${levels.admin.user}'@'%';
    GRANT ALL ON ${db}.* TO '${ed25519.user}'@'%';
    CREATE DATABASE gatehouse_scratch;
    GRANT ALL ON gatehouse_scratch.* TO '${levels.admin.user}'@'%';`);
  return {
    host: HOST,
    port,
    socket,
    dir,
    database: db,
    levels,
    ed25519,
    rootSql,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
        await done;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
