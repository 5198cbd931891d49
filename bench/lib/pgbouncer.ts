/**
 * A real pooler as the single-hop reference: pgbouncer from Debian's packages (installed with
 * apt-get when missing, bounded in time), session pooling, loopback only, its own temp dir.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import net from "node:net";
import { freePort } from "../../client/dev/ports.ts";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"];

export function findPgbouncer(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p));
}

/** `apt-get install -y pgbouncer` when it is not installed (root only; ≤ 4 minutes). */
export async function ensurePgbouncer(log: (l: string) => void): Promise<string | undefined> {
  const found = findPgbouncer();
  if (found) return found;
  if (userInfo().uid !== 0) {
    log("pgbouncer is not installed and we are not root: skipping the pgbouncer path (apt-get install pgbouncer)");
    return undefined;
  }
  log("installing pgbouncer from Debian's packages (apt-get install -y pgbouncer)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    await run("apt-get", ["install", "-y", "--no-install-recommends", "pgbouncer"], { env, timeout: 240_000 }).catch(async () => {
      await run("apt-get", ["update"], { env, timeout: 120_000 });
      await run("apt-get", ["install", "-y", "--no-install-recommends", "pgbouncer"], { env, timeout: 240_000 });
    });
  } catch (err) {
    log(`could not install pgbouncer: ${(err as Error).message.split("\n")[0]}`);
    return undefined;
  }
  // The package starts a system instance on 6432; we run our own and leave that one alone.
  return findPgbouncer();
}


async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningPgbouncer {
  port: number;
  /** Database name clients use. */
  database: string;
  pid: number;
  stop(): Promise<void>;
}

/** Start pgbouncer in front of `target`. Clients authenticate with trust; pgbouncer logs in with the role's password. */
export async function startPgbouncer(
  bin: string,
  target: { host: string; port: number; database: string; user: string; password: string },
  poolSize = 16,
): Promise<RunningPgbouncer> {
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-bench-pgbouncer-"));
  const port = await freePort();
  const q = (s: string) => s.replace(/"/g, '""');
  const ini = [
    "[databases]",
    `${target.database} = host=${target.host} port=${target.port} dbname=${target.database} user=${target.user} password=${target.password}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${path.join(dir, "users.txt")}`,
    "pool_mode = session",
    `default_pool_size = ${poolSize}`,
    "max_client_conn = 200",
    `logfile = ${path.join(dir, "pgbouncer.log")}`,
    `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
    "ignore_startup_parameters = extra_float_digits",
    "",
  ].join("\n");
  await writeFile(path.join(dir, "pgbouncer.ini"), ini, { mode: 0o600 });
  await writeFile(path.join(dir, "users.txt"), `"${q(target.user)}" ""\n`, { mode: 0o600 });
  let child: ChildProcess;
  if (userInfo().uid === 0) {
    // pgbouncer refuses to run as root.
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    for (const f of ["", "pgbouncer.ini", "users.txt"]) await chown(path.join(dir, f), Number(uid), Number(gid));
    await chmod(dir, 0o700);
    child = spawn(bin, [path.join(dir, "pgbouncer.ini")], { stdio: "ignore", uid: Number(uid), gid: Number(gid) });
  } else {
    child = spawn(bin, [path.join(dir, "pgbouncer.ini")], { stdio: "ignore" });
  }
  // Never outlive the benchmark, even when it crashes.
  const killNow = () => child.kill("SIGKILL");
  process.once("exit", killNow);
  try {
    await waitForPort(port, 15_000);
  } catch (err) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    database: target.database,
    pid: child.pid!,
    stop: async () => {
      process.off("exit", killNow);
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
