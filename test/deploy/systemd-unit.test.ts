/**
 * The shipped systemd unit (deploy/systemd/gatehouse-connector.service) is checked by systemd's own
 * tools: `systemd-analyze verify` must accept every line (a typo is only a warning to systemd, so
 * any output fails), and `systemd-analyze security --offline` must rate the sandbox OK or better.
 * ExecStart is pointed at this checkout's binary, which verify requires to exist.
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const UNIT = path.join(ROOT, "deploy/systemd/gatehouse-connector.service");
const INSTALLED_BIN = "/opt/gatehouse-connector/node_modules/.bin/gatehouse-connector";

function analyze(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile("systemd-analyze", args, { env: { ...process.env, SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

function unitCopy(edit: (text: string) => string = (t) => t): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), "gh-unit-"));
  const text = readFileSync(UNIT, "utf8");
  expect(text).toContain(`ExecStart=${INSTALLED_BIN} `);
  const file = path.join(dir, "gatehouse-connector.service");
  writeFileSync(file, edit(text.replace(INSTALLED_BIN, path.join(ROOT, "bin/gatehouse-connector.mjs"))));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("systemd unit for the connector", () => {
  it("passes systemd-analyze verify with no warning at all", async () => {
    const { file, cleanup } = unitCopy();
    try {
      const r = await analyze(["verify", file]);
      expect(r.stderr + r.stdout).toBe("");
      expect(r.code).toBe(0);
    } finally {
      cleanup();
    }
  });

  it("the check itself catches a mistyped directive (verify only warns, so the test reads its output)", async () => {
    const { file, cleanup } = unitCopy((t) => t.replace("ProtectHome=yes", "ProtectHome=bogus"));
    try {
      const r = await analyze(["verify", file]);
      expect(r.stderr).toMatch(/protect home value/i);
    } finally {
      cleanup();
    }
  });

  it("is rated OK by systemd-analyze security, with the sandboxing the connector needs", async () => {
    const { file, cleanup } = unitCopy();
    try {
      const r = await analyze(["security", "--offline=yes", "--no-pager", file]);
      const score = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout);
      expect(score, r.stdout + r.stderr).not.toBeNull();
      expect(Number(score![1])).toBeLessThanOrEqual(2.0);
      for (const setting of ["NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=", "CapabilityBoundingSet=", "RestrictAddressFamilies="]) {
        expect(r.stdout, setting).toMatch(new RegExp(`✓ ${setting}`));
      }
      const text = readFileSync(UNIT, "utf8");
      expect(text).toMatch(/^User=gatehouse-connector$/m);
      expect(text).toMatch(/^LoadCredential=connector-key:/m);
      expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    } finally {
      cleanup();
    }
  });
});
