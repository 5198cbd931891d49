/**
 * The production worker bundle, exactly as `wrangler deploy` would upload it
 * (`wrangler deploy --dry-run --outdir`), and its sizes. Used by the size-budget test
 * (test/deploy/worker-bundle.test.ts) and by `npm run build:worker`, which writes the report to
 * bench/results/worker-bundle.json.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Cloudflare's limit is 3 MB gzip (free) / 10 MB (paid); ours leaves room and catches regressions early. */
export const BUNDLE_BUDGET = { gzipBytes: 512 * 1024, rawBytes: 2 * 1024 * 1024 };

export interface BundleReport {
  outDir: string;
  files: Array<{ name: string; rawBytes: number; gzipBytes: number }>;
  total: { rawBytes: number; gzipBytes: number };
  budget: typeof BUNDLE_BUDGET;
}

/** `entry` overrides wrangler.toml's `main` (the self-host build: worker/selfhost/index.ts). */
export async function buildWorkerBundle(outDir: string, entry?: string): Promise<BundleReport> {
  mkdirSync(outDir, { recursive: true });
  const wrangler = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [wrangler, "deploy", ...(entry ? [entry] : []), "--dry-run", "--outdir", outDir], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) =>
      err ? reject(new Error(`wrangler deploy --dry-run failed: ${stderr || err.message}`)) : resolve(),
    ),
  );
  // Source maps are not uploaded (no upload_source_maps): they do not count.
  const files = readdirSync(outDir)
    .filter((name) => !name.endsWith(".map") && name !== "README.md" && statSync(path.join(outDir, name)).isFile())
    .sort()
    .map((name) => {
      const bytes = readFileSync(path.join(outDir, name));
      return { name, rawBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    });
  const total = files.reduce((t, f) => ({ rawBytes: t.rawBytes + f.rawBytes, gzipBytes: t.gzipBytes + f.gzipBytes }), { rawBytes: 0, gzipBytes: 0 });
  return { outDir, files, total, budget: BUNDLE_BUDGET };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outDir = path.join(ROOT, "dist", "worker");
  const report = await buildWorkerBundle(outDir);
  const out = path.join(ROOT, "bench", "results", "worker-bundle.json");
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString().slice(0, 10), files: report.files, total: report.total, budget: report.budget }, null, 2) + "\n");
  process.stdout.write(`worker bundle in ${path.relative(ROOT, outDir)}: ${report.total.rawBytes} bytes raw, ${report.total.gzipBytes} gzip (budget ${BUNDLE_BUDGET.gzipBytes}); report: ${path.relative(ROOT, out)}\n`);
}
