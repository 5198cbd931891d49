// Compiles every top-level wasm/assembly/*.ts (one WASM module each) into wasm/build/<name>.wasm.
// Files in subfolders of wasm/assembly/ are shared AssemblyScript code, imported by the entries.
// Runs on install (`prepare`) and before `npm test` / `npm start`; skips up-to-date outputs.
import { readdirSync, statSync, mkdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, "assembly");
const outDir = join(here, "build");
mkdirSync(outDir, { recursive: true });

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const sourcesChanged = Math.max(newestMtime(srcDir), statSync(fileURLToPath(import.meta.url)).mtimeMs);
const entries = readdirSync(srcDir).filter((f) => f.endsWith(".ts") && statSync(join(srcDir, f)).isFile());
let failed = false;
for (const file of entries) {
  const name = file.replace(/\.ts$/, "");
  const out = join(outDir, `${name}.wasm`);
  if (existsSync(out) && statSync(out).mtimeMs >= sourcesChanged && !process.argv.includes("--force")) continue;
  // The compiler loads only when something is out of date (most runs: nothing, in well under a second).
  const asc = (await import("assemblyscript/asc")).default;
  const { error, stderr } = await asc.main([
    join(srcDir, file),
    "--outFile", out,
    "--optimizeLevel", "3",
    "--shrinkLevel", "0",
    "--runtime", "stub", // JS owns the arena; no GC on the hot path
    "--noAssert",
    "--exportRuntime",
    "--initialMemory", "2",
    "--enable", "simd",
    "--enable", "bulk-memory",
  ]);
  if (error) {
    failed = true;
    console.error(`wasm: ${file} failed: ${error.message}\n${stderr.toString()}`);
  } else {
    console.log(`wasm: built ${name}.wasm`);
  }
}
if (failed) process.exit(1);
