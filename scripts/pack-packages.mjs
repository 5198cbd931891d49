#!/usr/bin/env node
/**
 * Builds and packs the installable packages into tarballs, and prints for each the file name and
 * its npm `integrity` (sha512, base64 — what package-lock.json records and what a pipeline pins).
 *
 *   node scripts/pack-packages.mjs [--out DIR] [--json]      (default DIR: release/)
 *
 * The integrity is recomputed from the written file, not copied from npm's output, so what is
 * printed is what a downloader can check:
 *   test "sha512-$(openssl dgst -sha512 -binary FILE | base64 -w0)" = "<integrity>"
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { buildPackage, PACKAGES } from "./build-packages.mjs";

const ROOT = path.resolve(import.meta.dirname, "..");

export function integrityOf(file) {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

export async function packPackages(outDir) {
  mkdirSync(outDir, { recursive: true });
  const packed = [];
  for (const name of Object.keys(PACKAGES)) {
    const built = await buildPackage(name);
    // --ignore-scripts: prepack would only build again what was just built.
    const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", outDir], {
      cwd: path.join(ROOT, built.dir),
      encoding: "utf8",
      env: { ...process.env, npm_config_loglevel: "error" },
    });
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
