/**
 * File paths as the host will see them, for protected-path rules. The gateway does not know the
 * account's home directory or the current directory, so paths are put in a canonical form:
 *
 *   `~/…`       the account's home (`~`, `$HOME`, `${HOME}`, and relative paths before any `cd`:
 *               an SSH command starts in the home directory)
 *   `~user/…`   another account's home
 *   `/…`        absolute, lexically normalised (`//root/./.bashrc` → `/root/.bashrc`, `..` folded)
 *
 * The current directory is tracked through `cd`/`pushd` (parse context `cwds`): every directory a
 * `cd` with a literal target could have reached is kept (subshells and conditionals are not
 * modelled, so a `cd` anywhere adds a possibility and never removes one). After a `cd` whose
 * target is not literal (`cd "$X"`, `cd -`, `popd`, or a bare relative name CDPATH could
 * redirect), relative paths are unknown. Symbolic links are not visible to the gateway: a path
 * through a link is judged by its spelling (docs/SSH.md).
 */
import { normalizeSftpPath } from "../sftp/packets.ts";
import type { ShellWord, WriteTarget } from "./types.ts";

export interface CwdState {
  /** Directories the line could be in (canonical). */
  cwds: string[];
  /** A `cd` the gateway could not follow happened: relative paths are unknown from then on. */
  unknown: boolean;
}

export const initialCwd = (): CwdState => ({ cwds: ["~"], unknown: false });

const HOME_PREFIX = /^(?:\$HOME|\$\{HOME\})(?=\/|$)/;

/** Canonical form of a path written as a word; null when it cannot be known statically. */
export function canonicalPaths(word: ShellWord, cwd: CwdState): { paths: string[]; glob: boolean } | { unknown: string } {
  let value = word.value;
  if (word.dynamic) {
    // Only a leading `~`, `~user`, `$HOME` or `${HOME}` is understood; anything else is host state.
    const tilde = /^~([A-Za-z0-9._-]*)(?=\/|$)/.exec(value);
    if (tilde) value = `~${tilde[1]}${value.slice(tilde[0].length)}`;
    else if (HOME_PREFIX.test(value)) value = value.replace(HOME_PREFIX, "~");
    else return { unknown: `the path ${JSON.stringify(word.value)} is only known on the host` };
    const rest = value.slice(value.indexOf("/") < 0 ? value.length : value.indexOf("/"));
    if (/[$`]|[<>]\(/.test(rest)) return { unknown: `the path ${JSON.stringify(word.value)} is only known on the host` };
  }
  if (value === "") return { unknown: "an empty path" };
  let paths: Array<string | null>;
  if (value.startsWith("/") || value.startsWith("~")) paths = [joinPath("/", value)];
  else if (cwd.unknown) return { unknown: `the relative path ${JSON.stringify(value)} follows a cd the gateway could not follow` };
  else paths = cwd.cwds.map((dir) => joinPath(dir, value));
  // `~/../x` leaves a home whose place the gateway does not know; /proc/<pid>/root|cwd|fd are links.
  if (paths.some((p) => p === null || /^\/proc(\/|$)/.test(p))) return { unknown: `the path ${JSON.stringify(value)} cannot be placed (it leaves the home directory or goes through /proc)` };
  return { paths: paths as string[], glob: word.glob };
}

/** `~/a/../b` → `~/b`; `~user` kept as the first segment; null when `..` climbs above it. */
function normalizeHome(value: string): string | null {
  const slash = value.indexOf("/");
  const head = slash < 0 ? value : value.slice(0, slash);
  if (slash < 0) return head;
  let depth = 0;
  for (const seg of value.slice(slash + 1).split("/")) {
    if (seg === "..") depth--;
    else if (seg !== "" && seg !== ".") depth++;
    if (depth < 0) return null;
  }
  const rest = normalizeSftpPath(`/${value.slice(slash + 1)}`);
  return rest === "/" ? head : `${head}${rest}`;
}

/** `dir` + `rel` in canonical form (absolute `rel` and `~…` stand alone); null when it leaves a home. */
export function joinPath(dir: string, rel: string): string | null {
  if (rel.startsWith("/")) return normalizeSftpPath(rel);
  if (rel.startsWith("~")) return normalizeHome(rel);
  if (dir.startsWith("~")) return normalizeHome(`${dir}/${rel}`);
  return normalizeSftpPath(`${dir}/${rel}`);
}

/** Apply `cd <target>` to the state (target absent = home). */
export function applyCd(cwd: CwdState, target: ShellWord | undefined): void {
  if (!target) {
    if (!cwd.cwds.includes("~")) cwd.cwds.push("~");
    return;
  }
  const v = target.value;
  const explicit = v.startsWith("/") || v.startsWith("./") || v.startsWith("../") || v === "." || v === ".." || v.startsWith("~") || /^\$\{?HOME\}?/.test(v);
  if (target.glob || !explicit) {
    cwd.unknown = true; // CDPATH may redirect a bare name; a glob or `-` is host state
    return;
  }
  const r = canonicalPaths(target, cwd);
  if ("unknown" in r) {
    cwd.unknown = true;
    return;
  }
  for (const p of r.paths) if (!cwd.cwds.includes(p)) cwd.cwds.push(p);
  if (cwd.cwds.length > 64) cwd.unknown = true;
}

/** Write targets for one word (a file the command writes). */
export function writeTargetsOf(word: ShellWord, cwd: CwdState, subtree = false): WriteTarget[] {
  const r = canonicalPaths(word, cwd);
  if ("unknown" in r) return [{ path: word.value, glob: false, subtree, unknown: r.unknown }];
  return r.paths.map((path) => ({ path, glob: r.glob, subtree }));
}
