/**
 * Local state of the development tooling (`npm start`, `gatehouse dev ...`): `.gatehouse/` in the
 * current directory unless GATEHOUSE_HOME says otherwise. Everything in it is private to our OS
 * user: files 0600, directories 0700. Only the directories the demo PostgreSQL (it runs as the
 * unprivileged `postgres` user when we are root) must pass through are 0711 as root — traversable,
 * never listable or readable (TRAVERSE_ONLY).
 */
import { chmod, lstat, mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";

export function gatehouseHome(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.GATEHOUSE_HOME ?? ".gatehouse");
}

/**
 * Where the demo servers keep what their own OS accounts (postgres, the demo SSH user) must reach
 * when the stack runs as root: outside GATEHOUSE_HOME, so the home stays 0700 with everything in it
 * 0700/0600. One directory per home (a hash of its path) under /var/lib/gatehouse-demo-servers
 * (root-owned, 0711: only traversable), or $GATEHOUSE_DEMO_SERVERS_DIR. (Not /var/lib/gatehouse-demo:
 * that is the demo SSH account's own home.) Not root: undefined — the servers run as us and
 * keep their data inside the home.
 */
export function demoServersDir(home: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const root = env.GATEHOUSE_DEMO_SERVERS_DIR || "/var/lib/gatehouse-demo-servers";
  return path.join(root, createHash("sha256").update(path.resolve(home)).digest("hex").slice(0, 16));
}

/** Create the demo servers' directory (and its root) as root-owned, traversable only (0711). */
export async function ensureDemoServersDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  // Both levels must be real directories of root: whoever owns them could swap the servers' data.
  for (const d of [path.dirname(dir), dir]) {
    const st = await lstat(d);
    if (!st.isDirectory() || st.uid !== 0) throw new Error(`${d} must be a directory owned by root (it holds the demo servers' data); remove it or set GATEHOUSE_DEMO_SERVERS_DIR`);
    await chmod(d, 0o711);
  }
}

/** 0711 when root (another OS user must pass through), else 0700. */
export const TRAVERSE_ONLY = process.getuid?.() === 0 ? 0o711 : 0o700;

/** Create `dir` (and missing parents) private; existing directories keep their mode. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
}

/**
 * Make a state tree private whatever created it (older runs, tools with their own umask):
 * directories 0700, files 0600. Symlinks are left alone (never followed).
 */
export async function makeTreePrivate(root: string): Promise<void> {
  let st;
  try {
    st = await lstat(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (st.isSymbolicLink()) return;
  if (!st.isDirectory()) {
    await chmod(root, 0o600);
    return;
  }
  await chmod(root, 0o700);
  for (const entry of await readdir(root)) await makeTreePrivate(`${root}/${entry}`);
}

/** Write a secret file atomically with mode 0600. */
export async function writeSecretFile(file: string, contents: string): Promise<void> {
  await ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, contents, { mode: 0o600, flag: "wx" });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Read a file, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A random password (URL- and shell-safe alphabet). */
export function randomPassword(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

/** Read a secret file, creating it with a fresh random password when missing. */
export async function loadOrCreatePassword(file: string): Promise<string> {
  const existing = await readIfExists(file);
  if (existing && existing.trim()) return existing.trim();
  const pw = randomPassword();
  await writeSecretFile(file, `${pw}\n`);
  return pw;
}
