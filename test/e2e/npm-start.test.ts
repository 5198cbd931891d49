/**
 * `npm start` as a newcomer runs it: on non-default ports and a non-default GATEHOUSE_HOME, the
 * printed next steps work as printed (the demo policy's `issuer: dev` follows the issuer's port),
 * and however the stack is ended — SIGTERM, SIGHUP, or its parent killed outright — no process it
 * started (node, wrangler/workerd, postgres, the demo sshd) is left running.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../client/dev/ports.ts";
import { demoServersDir } from "../../client/dev/home.ts";
import { descendants, exportedVariables, npmStart, stillRunning, type NpmStart } from "./support/npm-start.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";

// 0700 (mkdtemp): as root the demo servers' data lives outside the home, so nothing must pass through it.
const tmp = mkdtempSync(path.join(tmpdir(), "gh-npm-start-"));
const home = path.join(tmp, "my home");
const stateDir = path.join(tmp, "state");

async function startOnFreePorts(): Promise<NpmStart> {
  return npmStart({
    GATEHOUSE_HOME: home,
    GATEHOUSE_STATE_DIR: stateDir,
    GATEHOUSE_PORT: String(await freePort()),
    GATEHOUSE_ISSUER_PORT: String(await freePort()),
    GATEHOUSE_DEMO_PG_PORT: String(await freePort()),
  });
}

/** Ends npm start with `how` and waits until every process it had started is gone. */
async function endAndCheck(run: NpmStart, how: NodeJS.Signals) {
  const pids = descendants(run.child.pid!);
  expect(pids.length).toBeGreaterThan(2);
  process.kill(run.child.pid!, how);
  const left = await eventually(async () => (stillRunning(pids).length === 0 ? "none" : undefined), "the stack's processes to exit", 600, 200).catch(() => undefined);
  expect(left === "none" ? [] : stillRunning(pids)).toEqual([]);
}

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  const servers = demoServersDir(home);
  if (servers) rmSync(servers, { recursive: true, force: true });
});

describe("npm start", () => {
  let run: NpmStart;
  let banner = "";
  beforeAll(async () => {
    run = await startOnFreePorts();
    banner = await run.ready;
  }, 300_000);

  it("prints next steps that work as printed on other ports and another home", async () => {
    expect(lstatSync(home).mode & 0o777).toBe(0o700);
    const vars = exportedVariables(banner);
    expect(vars.GATEHOUSE_HOME).toBe(home);
    expect(vars.GATEHOUSE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(vars.GATEHOUSE_STATE_DIR).toBe(stateDir);
    // This checkout's CLI first on PATH, as printed (never `npx gatehouse`: issue 20).
    expect(vars.PATH).toBe(`${path.resolve("bin")}:"$PATH"`);
    const env: Record<string, string> = { ...vars, PATH: `${path.resolve("bin")}:${process.env.PATH}` };
    delete env.PGPASSFILE;
    const token = await gatehouse(["dev", "token", "--sub", "alice"], env);
    expect(token.stderr).toBe("");
    expect(token.code).toBe(0);

    // The banner's listener port may be taken on a shared machine: same command, a free port.
    const port = await freePort();
    const connect = spawn("gatehouse", ["connect", "demo-pg", "--port", String(port)], {
      env: { ...process.env, ...env, GATEHOUSE_TOKEN: token.stdout.trim() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      connect.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      connect.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      await eventually(async () => out.includes("listening on"), "gatehouse connect to listen", 600, 100).catch((e: Error) => {
        throw new Error(`${e.message}: ${err}`);
      });
      const pgpass = vars.PGPASSFILE!.replace("demo-pg-5433", `demo-pg-${port}`);
      const r = await psql(`postgresql://alice@127.0.0.1:${port}/demo-pg?sslmode=disable`, ["-At", "-c", "select count(*) > 0 from customers"], { env: { PGPASSFILE: pgpass } });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("t");
    } finally {
      connect.kill("SIGTERM");
    }
  }, 120_000);

  it("stops everything it started on SIGTERM", async () => {
    await endAndCheck(run, "SIGTERM");
  }, 180_000);

  it("stops everything it started on SIGHUP", async () => {
    const again = await startOnFreePorts();
    await again.ready;
    await endAndCheck(again, "SIGHUP");
  }, 400_000);

  it("stops everything it started when its parent (npm) is killed outright", async () => {
    const again = await startOnFreePorts();
    await again.ready;
    await endAndCheck(again, "SIGKILL");
  }, 400_000);
});
