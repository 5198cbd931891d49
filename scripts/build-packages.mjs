#!/usr/bin/env node
/**
 * Builds the installable packages (packages/cli, packages/connector) as plain JavaScript:
 * one esbuild bundle per binary from its TypeScript entry point, platform node, ESM, every
 * npm package left external (installed from the package's own `dependencies`).
 *
 *   node scripts/build-packages.mjs [cli|connector ...]     (default: both)
 *
 * Bundling from the entry point (not a file list) keeps the build true when code moves. The
 * build fails when the bundle imports an npm package the package.json does not list, lists one
 * the bundle never imports, or pins a version other than the root's — so a package can never
 * ship with a missing, stray or drifting runtime dependency. Plain .mjs on purpose: it runs
 * with node alone, before anything else is built.
 */
import { build } from "esbuild";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = path.resolve(import.meta.dirname, "..");

/** What each package ships: its binary (module + the function called with argv) and extra files. */
export const PACKAGES = {
  cli: {
    dir: "packages/cli",
    bin: "gatehouse",
    entry: "client/cli.ts",
    version: { file: "client/version.ts", name: "CLIENT_VERSION" },
    // `gatehouse policy test --sql` loads the gateway's SQL classifier; dist/../build/ is where
    // wasm/loader/node.ts looks (new URL("../build/<name>.wasm", import.meta.url)).
    copy: [["wasm/build/sql.wasm", "build/sql.wasm"]],
  },
  connector: {
    dir: "packages/connector",
    bin: "gatehouse-connector",
    entry: "connector/main.ts",
    version: { file: "connector/version.ts", name: "CONNECTOR_VERSION" },
    copy: [],
  },
};

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** "pg-protocol/dist/parser.js" → "pg-protocol"; "@scope/x/y" → "@scope/x". */
function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function readJson(file) {
  return JSON.parse(readFileSync(path.join(ROOT, file), "utf8"));
}

export async function buildPackage(name) {
  const spec = PACKAGES[name];
  if (!spec) throw new Error(`unknown package ${JSON.stringify(name)} (known: ${Object.keys(PACKAGES).join(", ")})`);
  const pkg = readJson(`${spec.dir}/package.json`);
  const root = readJson("package.json");
  const problems = [];

  const versionSource = readFileSync(path.join(ROOT, spec.version.file), "utf8");
  const declared = new RegExp(`${spec.version.name}\\s*=\\s*"([^"]+)"`).exec(versionSource)?.[1];
  if (declared !== pkg.version) problems.push(`${spec.version.file} says ${declared}, ${spec.dir}/package.json says ${pkg.version}`);

  const dist = path.join(ROOT, spec.dir, "dist");
  rmSync(dist, { recursive: true, force: true });
  const outfile = path.join(dist, `${spec.bin}.js`);
  const result = await build({
    stdin: {
      contents: `import { main } from ${JSON.stringify(`./${spec.entry}`)};\nprocess.exitCode = await main(process.argv.slice(2));\n`,
      resolveDir: ROOT,
      sourcefile: `${spec.bin}-entry.ts`,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    banner: { js: `#!/usr/bin/env node\n// ${pkg.name} ${pkg.version}: built from ${spec.entry} by scripts/build-packages.mjs` },
    sourcemap: false,
    metafile: true,
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);

  const imported = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const i of output.imports) if (i.external && !builtins.has(i.path)) imported.add(packageOf(i.path));
  }
  // Test-only code (fakes, harnesses) never ships: it lives under test/ and nothing shipped imports it.
  for (const input of Object.keys(result.metafile.inputs)) {
    if (/^test\/|\.test\.ts$|(^|\/)testing\//.test(input)) problems.push(`the bundle includes test-only code: ${input}`);
  }
  const listed = pkg.dependencies ?? {};
  for (const dep of imported) {
    if (!(dep in listed)) problems.push(`the bundle imports ${dep}, which ${spec.dir}/package.json does not list in dependencies`);
  }
  for (const [dep, version] of Object.entries(listed)) {
    if (!imported.has(dep)) problems.push(`${spec.dir}/package.json lists ${dep}, which the bundle never imports`);
    const rootVersion = root.dependencies?.[dep] ?? root.devDependencies?.[dep];
    if (version !== rootVersion) problems.push(`${spec.dir}/package.json pins ${dep}@${version}, the root package.json ${dep}@${rootVersion}`);
  }

  for (const [from, to] of spec.copy) {
    const source = path.join(ROOT, from);
    if (!existsSync(source)) problems.push(`${from} is missing (run "npm run build:wasm" first)`);
    else {
      mkdirSync(path.dirname(path.join(ROOT, spec.dir, to)), { recursive: true });
      copyFileSync(source, path.join(ROOT, spec.dir, to));
    }
  }

  if (problems.length > 0) throw new Error(`${pkg.name}:\n  ${problems.join("\n  ")}`);
  return { name: pkg.name, version: pkg.version, dir: spec.dir, outfile, dependencies: [...imported].sort() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const names = process.argv.slice(2);
  try {
    for (const name of names.length > 0 ? names : Object.keys(PACKAGES)) {
      const built = await buildPackage(name);
      console.log(`built ${built.name}@${built.version} → ${path.relative(ROOT, built.outfile)} (runtime deps: ${built.dependencies.join(", ") || "none"})`);
    }
  } catch (err) {
    console.error(`build-packages: ${err.message}`);
    process.exitCode = 1;
  }
}
