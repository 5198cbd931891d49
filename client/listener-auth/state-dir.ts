/**
 * Where a `gatehouse connect` listener puts what only its own OS user may read: a fresh 0700
 * directory per listener under the user's state directory, removed when the listener stops.
 *
 *   $GATEHOUSE_STATE_DIR, else $XDG_STATE_HOME/gatehouse, else ~/.local/state/gatehouse
 *     listeners/<resource>-<port>/   (0700, created fresh; a predictable path, so a pipeline can
 *                                     `export PGPASSFILE=…/listeners/orders-db-5433/pgpass`)
 *
 * The state directory and `listeners/` must be real directories owned by us; they are (re)set to
 * 0700, so no other user can create or swap anything inside. A directory left by a listener that
 * died is replaced (two live listeners never share a port).
 */
import { chmod, lstat, mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { CliError } from "../errors.ts";

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GATEHOUSE_STATE_DIR) return path.resolve(env.GATEHOUSE_STATE_DIR);
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)) return path.join(env.XDG_STATE_HOME, "gatehouse");
  return path.join(homedir(), ".local", "state", "gatehouse");
}

/** Create `dir` (and missing parents) 0700 and check it is ours and not a symlink. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory (a symlink?); refusing to keep listener secrets there`);
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new CliError(`${dir} belongs to another user; refusing to keep listener secrets there`);
  await chmod(dir, 0o700);
}

/** A new private directory for one listener's files. */
export async function createListenerDir(stateDir: string, resource: string, port: number): Promise<string> {
  const parent = path.join(stateDir, "listeners");
  await ensurePrivateDir(stateDir);
  await ensurePrivateDir(parent);
  const dir = path.join(parent, `${resource}-${port}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** A new file only we can read (never overwrites: the directory is fresh). */
export async function writePrivateFile(file: string, contents: string): Promise<void> {
  await writeFile(file, contents, { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
}

export async function removeListenerDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
