/** The gatehouse-connector binary: keygen, check, run (against the harness worker). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startHarnessWorker } from "./harness-worker.ts";

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, "../../bin/gatehouse-connector.mjs");

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gatehouse-connector-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

describe("gatehouse-connector keygen", () => {
  it("writes the private JWK with mode 0600 and prints the public JWK", async () => {
    const out = join(dir, "keys", "connector-key.jwk");
    const result = await cli(["keygen", "--out", out]);
    expect(result.code).toBe(0);
    const publicJwk = JSON.parse(result.stdout);
    expect(Object.keys(publicJwk).sort()).toEqual(["crv", "kty", "x"]);
    const privateJwk = JSON.parse(await readFile(out, "utf8"));
    expect(privateJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", x: publicJwk.x });
    expect(typeof privateJwk.d).toBe("string");
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(result.stderr).not.toContain(privateJwk.d);

    const again = await cli(["keygen", "--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect(JSON.parse(await readFile(out, "utf8")).d).toBe(privateJwk.d);
  });
});

describe("gatehouse-connector check / run", () => {
  async function writeKey(): Promise<Record<string, string>> {
    const result = await cli(["keygen", "--force", "--out", join(dir, "key.jwk")]);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  }

  async function writeConfig(gateway: string, password = "env:DEMO_PG_PASSWORD"): Promise<string> {
    const path = join(dir, "connector.yaml");
    await writeFile(
      path,
      `gateway: ${gateway}
id: cli-test
private_key: file:./key.jwk
resources:
  - name: demo-pg
    type: postgres
    labels: { env: dev }
    host: 127.0.0.1
    port: 5432
    database: demo
    username: gatehouse_demo
    password: ${password}
`,
    );
    return path;
  }

  it("check validates and names the faulty field", async () => {
    await writeKey();
    const path = await writeConfig("http://127.0.0.1:8787");
    expect(await cli(["check", "--config", path], { DEMO_PG_PASSWORD: "x" })).toMatchObject({ code: 0, stdout: expect.stringContaining("configuration ok") });
    const missing = await cli(["check", "--config", path], { DEMO_PG_PASSWORD: "" });
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain("resources[0].password: environment variable DEMO_PG_PASSWORD is not set");
    const inline = await writeConfig("http://127.0.0.1:8787", "hunter2");
    const refused = await cli(["check", "--config", inline]);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain("resources[0].password: inline passwords are refused");
    expect(refused.stderr).not.toContain("hunter2");
  });

  it("runs until SIGTERM: says hello to the worker, then exits 0", async () => {
    const publicJwk = await writeKey();
    const worker = await startHarnessWorker({ connectors: { "cli-test": publicJwk } });
    try {
      const config = await writeConfig(worker.url);
      const child = spawn(process.execPath, [BIN, "--config", config], { env: { ...process.env, DEMO_PG_PASSWORD: "pg-secret-value" }, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const { hello } = await worker.controls.next();
      expect(hello).toEqual({ t: "hello", connector: "cli-test", version: 1, resources: [{ name: "demo-pg", type: "postgres", labels: { env: "dev" } }] });
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).toContain("control channel: online");
      expect(stderr).not.toContain("pg-secret-value");
    } finally {
      await worker.stop();
    }
  });
});
