#!/usr/bin/env node
// `npm run typecheck`: both TypeScript projects (Node side: tsconfig.json; workerd side:
// worker/tsconfig.json) at once, each process single-threaded so two cores halve the wall time.
// Incremental: tsc keeps what it learned in node_modules/.cache/gatehouse/ (ignored, outside the
// sources), so a re-run re-checks only files whose inputs changed — errors are still all reported,
// tsc stores every file's diagnostics with it. Output is printed per project, in order.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const cache = path.join(root, "node_modules", ".cache", "gatehouse");
mkdirSync(cache, { recursive: true });

const projects = [
  { config: "tsconfig.json", info: "tsc-node.tsbuildinfo" },
  { config: "worker/tsconfig.json", info: "tsc-worker.tsbuildinfo" },
];

const runs = projects.map(
  ({ config, info }) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [tsc, "-p", config, "--incremental", "--tsBuildInfoFile", path.join(cache, info)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("close", (code, signal) => resolve({ config, code: code ?? (signal ? 1 : 0), output }));
    }),
);

let failed = false;
for (const { config, code, output } of await Promise.all(runs)) {
  if (output) process.stdout.write(output);
  if (code !== 0) {
    failed = true;
    console.error(`typecheck: tsc -p ${config} failed (exit ${code})`);
  }
}
process.exit(failed ? 1 : 0);
