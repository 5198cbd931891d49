/**
 * Local state of the development tooling (`npm start`, `gatehouse dev ...`): `.gatehouse/` in the
 * current directory unless GATEHOUSE_HOME says otherwise. Secrets in it are written mode 0600;
 * the directory itself stays traversable (0755) because the embedded PostgreSQL runs as the
 * unprivileged `postgres` user when we are root and keeps its data dir below it.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";

export function gatehouseHome(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.GATEHOUSE_HOME ?? ".gatehouse");
}

export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
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
