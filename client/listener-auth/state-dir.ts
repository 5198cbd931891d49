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
 *
 * Every directory above the state directory must be safe too: owned by root or us, and not
 * writable by others unless sticky (like /tmp). Otherwise another user who owns, say,
 * /tmp/shared/.local could rename our `state` away and plant its own `url` or `ssh_config` (with
 * a ProxyCommand) at the predictable path the pipeline reads next — so the CLI refuses.
 */
import { chmod, lstat, mkdir, realpath, rm, stat, writeFile } from "node:fs/promises";
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

const STICKY = 0o1000;

/** Refuse when another user could rename or replace anything on the way to `dir` (OpenSSH StrictModes-like). */
export async function checkSafeAncestors(dir: string): Promise<void> {
  const uid = typeof process.getuid === "function" ? process.getuid() : null;
  if (uid === null) return;
  let current = await realpath(dir);
  for (;;) {
    const st = await stat(current);
    if (st.uid !== 0 && st.uid !== uid) throw new CliError(`${current} belongs to another user; refusing to keep listener secrets below it (set GATEHOUSE_STATE_DIR to a private directory)`);
    if ((st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0) throw new CliError(`${current} is writable by other users; refusing to keep listener secrets below it (set GATEHOUSE_STATE_DIR to a private directory)`);
    const up = path.dirname(current);
    if (up === current) return;
    current = up;
  }
}

async function nearestExisting(dir: string): Promise<string> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    try {
      await lstat(current);
      return current;
    } catch {
      if (path.dirname(current) === current) return current;
    }
  }
}

/** A new private directory for one listener's files. */
export async function createListenerDir(stateDir: string, resource: string, port: number): Promise<string> {
  const parent = path.join(stateDir, "listeners");
  // Before creating anything (mkdir would follow a planted symlink), and again once it exists.
  await checkSafeAncestors(await nearestExisting(path.dirname(stateDir)));
  await ensurePrivateDir(stateDir);
  await checkSafeAncestors(path.dirname(stateDir));
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
