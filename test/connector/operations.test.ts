/**
 * Running the connector as a service: health and Prometheus metrics on a local port, JSON logs,
 * and SIGHUP reloading the configuration without dropping live sessions (real PostgreSQL behind
 * the connector, the harness worker in front).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serialize } from "pg-protocol";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { ConfigError } from "../../connector/errors.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { BackendReader } from "./pg-backend.ts";
import { startHarnessWorker } from "./harness-worker.ts";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";

const BIN = resolve(import.meta.dirname, "../../bin/gatehouse-connector.mjs");

describe("configuration reload (SIGHUP) keeps live sessions", () => {
  let db: RunningPostgres;
  let stack: ConnectorStack;

  beforeAll(async () => {
    db = await startPostgres({ auth: "scram-sha-256", password: "ops-pw-9!" });
    stack = await startConnectorStack([pgResource("demo-pg", db)]);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.stop();
  });

  it("announces added and removed resources, refuses identity changes, and live sessions keep running", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "reload-test" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    const readies = () => backend.messages.filter((m) => m.code === "Z").length;
    const ask = async (sql: string) => {
      const before = readies();
      backend.firstRows.length = 0;
      stream.sendData(serialize.query(sql));
      for (let i = 0; i < 300 && readies() === before; i++) await new Promise((r) => setTimeout(r, 50));
      expect(readies()).toBe(before + 1);
      return backend.firstRows[0];
    };
    expect(await ask("select 1 + 1")).toEqual(["2"]);

    // Add a resource: announced on the live control channel.
    const added = await stack.connector.reload({ ...stack.config, resources: [pgResource("demo-pg", db), pgResource("reports-pg", db)] });
    expect(added).toEqual({ added: ["reports-pg"], removed: [], changed: [] });
    expect(await stack.control.controls.next()).toMatchObject({ t: "hello", resources: [{ name: "demo-pg" }, { name: "reports-pg" }] });
    expect(await ask("select 2 + 2")).toEqual(["4"]);

    // Remove the live session's own resource: no new session can use it, the live one keeps running.
    const removed = await stack.connector.reload({ ...stack.config, resources: [pgResource("reports-pg", db)] });
    expect(removed).toEqual({ added: [], removed: ["demo-pg"], changed: [] });
    expect(await stack.control.controls.next()).toMatchObject({ t: "hello", resources: [{ name: "reports-pg" }] });
    expect(await ask("select 3 + 3")).toEqual(["6"]);

    // The connector's identity (gateway, id, key) cannot change under a reload: refused whole.
    const { privateJwk: otherKey } = await generateConnectorKeyPair();
    await expect(stack.connector.reload({ ...stack.config, privateKey: otherKey })).rejects.toBeInstanceOf(ConfigError);
    await expect(stack.connector.reload({ ...stack.config, id: "someone-else" })).rejects.toThrow(/id: changed/);
    expect(stack.control.controls.pending).toHaveLength(0);
    expect(await ask("select 4 + 4")).toEqual(["8"]);
  });
});

describe("gatehouse-connector as a service: /healthz, /metrics, JSON logs, SIGHUP", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gatehouse-connector-ops-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves health and metrics, logs JSON lines, reloads on SIGHUP and keeps the old configuration when the new one is bad", async () => {
    const { privateJwk, publicJwk } = await generateConnectorKeyPair();
    await writeFile(join(dir, "key.jwk"), JSON.stringify(privateJwk), { mode: 0o600 });
    const worker = await startHarnessWorker({ connectors: { "ops-test": publicJwk } });
    const config = join(dir, "connector.yaml");
    const yaml = (id: string, resources: string[]) =>
      `gateway: ${worker.url}\nid: ${id}\nprivate_key: file:./key.jwk\nresources:\n` +
      resources.map((name) => `  - { name: ${name}, type: postgres, host: 127.0.0.1, port: 5432, database: demo, username: demo, password: env:OPS_PG_PASSWORD }\n`).join("");
    await writeFile(config, yaml("ops-test", ["demo-pg"]));
    const child = spawn(process.execPath, [BIN, "--config", config, "--log-format", "json", "--ops-listen", "127.0.0.1:0"], {
      env: { ...process.env, OPS_PG_PASSWORD: "ops-secret-value" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const lines = () => stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const until = async <T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> => {
      for (let i = 0; i < 200; i++) {
        const v = await fn();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    };
    try {
      const { peer, hello } = await worker.controls.next();
      expect(hello).toMatchObject({ t: "hello", resources: [{ name: "demo-pg" }] });
      const url = await until("the ops endpoint log line", () => lines().find((l) => l.msg === "operations endpoint listening")?.url as string | undefined);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // Every line is JSON with ts/level/msg (the parse above would have thrown otherwise).
      expect(lines().every((l) => typeof l.ts === "string" && typeof l.level === "string" && typeof l.msg === "string")).toBe(true);

      const health = await until("healthy", async () => {
        const r = await fetch(`${url}/healthz`);
        return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
      });
      expect(health).toMatchObject({ status: "ok", connector: "ops-test", connected: true, sessions: 0 });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain("# TYPE gatehouse_connector_up gauge\ngatehouse_connector_up 1\n");
      expect(metrics).toContain("gatehouse_connector_reconnects_total 0\n");
      expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);

      // SIGHUP with one more resource: announced to the worker on the live control channel.
      await writeFile(config, yaml("ops-test", ["demo-pg", "reports-pg"]));
      child.kill("SIGHUP");
      const announced = await peer.controls.next();
      expect(announced).toMatchObject({ t: "hello", resources: [{ name: "demo-pg" }, { name: "reports-pg" }] });
      await until("the reload counted", async () => ((await (await fetch(`${url}/metrics`)).text()).includes('gatehouse_connector_config_reloads_total{result="ok"} 1') ? true : undefined));

      // A configuration that changes the connector's identity is refused; the running one stays.
      await writeFile(config, yaml("someone-else", ["demo-pg"]));
      child.kill("SIGHUP");
      const refusal = await until("the refusal log line", () => lines().find((l) => l.level === "error" && String(l.msg).startsWith("configuration reload refused")));
      expect(String(refusal.error)).toContain("id: changed");
      expect((await (await fetch(`${url}/metrics`)).text())).toContain('gatehouse_connector_config_reloads_total{result="error"} 1');
      expect(peer.controls.pending).toHaveLength(0);

      // The worker goes away: health turns 503 (a load balancer or systemd watchdog sees it).
      worker.dropAll();
      await until("unhealthy", async () => ((await fetch(`${url}/healthz`)).status === 503 ? true : undefined));
      expect(stderr).not.toContain("ops-secret-value");
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      await worker.stop();
    }
  }, 60_000);
});
