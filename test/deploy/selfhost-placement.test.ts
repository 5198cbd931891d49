/**
 * `npm run selfhost:config -- … --placement FILE --process NAME` (scripts/selfhost-config.ts,
 * docs/TENANCY.md "Placement across workerd processes"): the real script writes the process's
 * GATEHOUSE_PLACEMENT from the deployment's one placement file, and refuses what the worker would
 * refuse at run time — before any process serves with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
let dir: string;

const MAP = { tenants: { acme: { process: "p0", audiences: ["gatehouse-acme"] }, beta: { process: "p1", audiences: ["gatehouse-beta"] } } };
const VARS = { GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ issuer: "https://idp.example", audiences: ["gatehouse-platform"] }]) };

function generate(args: string[], files: { vars?: unknown; placement?: unknown } = {}): Promise<{ code: number; stderr: string; config: string }> {
  return (async () => {
    await writeFile(path.join(dir, "vars.json"), JSON.stringify(files.vars ?? VARS));
    await writeFile(path.join(dir, "placement.json"), JSON.stringify(files.placement ?? MAP));
    const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}.capnp`);
    const base = ["bin/run-ts.mjs", "scripts/selfhost-config.ts", "--bundle", path.join(dir, "bundle"), "--state", path.join(dir, "state"), "--listen", "127.0.0.1:8443", "--vars", path.join(dir, "vars.json"), "--out", out];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [...base, ...args], { cwd: ROOT }, (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr })),
    );
    return { code, stderr, config: code === 0 ? await readFile(out, "utf8") : "" };
  })();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-selfhost-placement-"));
  await mkdir(path.join(dir, "bundle"));
  await writeFile(path.join(dir, "bundle", "index.js"), "export default {};\n");
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("selfhost:config --placement", () => {
  it("writes this process's GATEHOUSE_PLACEMENT: the whole map and its own name", async () => {
    for (const p of ["p0", "p1"]) {
      const r = await generate(["--placement", path.join(dir, "placement.json"), "--process", p]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      const binding = /\(name = "GATEHOUSE_PLACEMENT", text = ("(?:[^"\\]|\\.)*")\)/.exec(r.config);
      expect(binding).not.toBeNull();
      expect(JSON.parse(JSON.parse(binding![1]!) as string)).toEqual({ process: p, tenants: MAP.tenants });
    }
    // Without --placement there is none (one process serves every tenant).
    const plain = await generate([]);
    expect(plain.code).toBe(0);
    expect(plain.config).not.toContain("GATEHOUSE_PLACEMENT");
  }, 60_000);

  it("refuses what the worker would refuse, naming why", async () => {
    const placement = ["--placement", path.join(dir, "placement.json")];
    const cases: Array<[string[], { vars?: unknown; placement?: unknown }, RegExp]> = [
      [placement, {}, /--placement and --process go together/],
      [[...placement, "--process", "p0"], { vars: { GATEHOUSE_TENANCY: "single" } }, /needs GATEHOUSE_TENANCY=multi/],
      [[...placement, "--process", "p7"], {}, /places no tenant on process p7/],
      [[...placement, "--process", "p0"], { placement: { tenants: { acme: { process: "p0", audiences: ["x"] }, beta: { process: "p1", audiences: ["x"] } } } }, /audience x is declared for tenants acme and beta/],
      [[...placement, "--process", "p0"], { placement: { tenants: { acme: { process: "p0", audiences: ["gatehouse-platform"] } } } }, /is a platform audience/],
      [[...placement, "--process", "p0"], { placement: { process: "p0", tenants: MAP.tenants } }, /placement file must be/],
    ];
    for (const [args, files, why] of cases) {
      const r = await generate(args, files);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
  }, 120_000);
});
