#!/usr/bin/env node
/**
 * Builds and packs the installable packages into tarballs, and prints for each the file name and
 * its npm `integrity` (sha512, base64 — what package-lock.json records and what a pipeline pins).
 *
 *   node scripts/pack-packages.mjs [--out DIR] [--json]      (default DIR: release/)
 *
 * Each tarball carries an npm-shrinkwrap.json (generated here, at pack time): installing the
 * tarball then installs every transitive dependency at the exact version and integrity locked
 * when the release was packed, so pinning the tarball's integrity pins the whole tree.
 *
 * The integrity is recomputed from the written file, not copied from npm's output, so what is
 * printed is what a downloader can check:
 *   test "sha512-$(openssl dgst -sha512 -binary FILE | base64 -w0)" = "<integrity>"
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { buildPackage, PACKAGES } from "./build-packages.mjs";

const ROOT = path.resolve(import.meta.dirname, "..");

export function integrityOf(file) {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

/** The package's dependency tree, locked: `npm install --package-lock-only` on its package.json alone. */
function shrinkwrapFor(pkgDir) {
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const tmp = mkdtempSync(path.join(tmpdir(), "gh-shrinkwrap-"));
  try {
    writeFileSync(path.join(tmp, "package.json"), JSON.stringify({ name: pkg.name, version: pkg.version, dependencies: pkg.dependencies }));
    execFileSync("npm", ["install", "--package-lock-only", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: tmp,
      stdio: ["ignore", "ignore", "inherit"],
      env: npmEnv(),
    });
    return readFileSync(path.join(tmp, "package-lock.json"), "utf8");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** npm outside this repo's workspace: none of the npm_* variables a parent `npm run` sets. */
function npmEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) || /^npm_config_(cache|registry)$/i.test(k)) env[k] = v;
  return env;
}

export async function packPackages(outDir) {
  mkdirSync(outDir, { recursive: true });
  const packed = [];
  for (const name of Object.keys(PACKAGES)) {
    const built = await buildPackage(name);
    const pkgDir = path.join(ROOT, built.dir);
    const shrinkwrap = path.join(pkgDir, "npm-shrinkwrap.json");
    writeFileSync(shrinkwrap, shrinkwrapFor(pkgDir));
    let out;
    try {
      // --ignore-scripts: prepack would only build again what was just built.
      out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--loglevel=error", "--pack-destination", outDir], {
        cwd: pkgDir,
        encoding: "utf8",
        env: npmEnv(),
      });
    } finally {
      rmSync(shrinkwrap, { force: true });
    }
    const [info] = JSON.parse(out);
    const file = path.join(outDir, info.filename);
    const integrity = integrityOf(file);
    if (integrity !== info.integrity) throw new Error(`${file}: npm reported ${info.integrity}, the file hashes to ${integrity}`);
    packed.push({ name: info.name, version: info.version, bin: PACKAGES[name].bin, file, integrity, files: info.files.map((f) => f.path) });
  }
  return packed;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { out: { type: "string", default: path.join(ROOT, "release") }, json: { type: "boolean" } } });
  try {
    const packed = await packPackages(path.resolve(values.out));
    if (values.json) console.log(JSON.stringify(packed, null, 2));
    else for (const p of packed) console.log(`${p.name}@${p.version}\n  ${path.relative(process.cwd(), p.file)}\n  integrity ${p.integrity}`);
  } catch (err) {
    console.error(`pack-packages: ${err.message}`);
    process.exitCode = 1;
  }
}
