/** The production bundle builds with wrangler's own bundler and stays within its size budget. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BUNDLE_BUDGET, buildWorkerBundle } from "../../scripts/worker-bundle.ts";

describe("production worker bundle (wrangler deploy --dry-run)", () => {
  it("builds, carries its WASM modules and migrations, and stays within the size budget", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gh-bundle-"));
    try {
      const report = await buildWorkerBundle(dir);
      const names = report.files.map((f) => f.name);
      expect(names).toContain("index.js");
      for (const wasm of ["pgframe.wasm", "sql.wasm", "mask.wasm"]) expect(names.some((n) => n.endsWith(`-${wasm}`)), wasm).toBe(true);
      expect(report.total.gzipBytes, JSON.stringify(report.files)).toBeLessThanOrEqual(BUNDLE_BUDGET.gzipBytes);
      expect(report.total.rawBytes).toBeLessThanOrEqual(BUNDLE_BUDGET.rawBytes);
      // Every Durable Object class the configuration binds is exported by the bundle.
      const js = readFileSync(path.join(dir, "index.js"), "utf8");
      for (const cls of ["SessionObject", "ConnectorHub", "ApprovalsObject", "SessionLimiter"]) expect(js, cls).toMatch(new RegExp(`export\\s*\\{[^}]*\\b${cls}\\b`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
