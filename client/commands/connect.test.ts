import { afterEach, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startGatewayPeer } from "../../test/support/gateway-peer.ts";
import { startConnectListener } from "../listener.ts";
import { staticTokenSource } from "../auth/token-source.ts";
import { mintDevToken } from "../dev/issuer.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/gatehouse.mjs");
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function devToken(sub: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-conn-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return mintDevToken({ sub, keyFile: path.join(dir, "k.json"), issuer: "http://127.0.0.1:1" });
}

describe("gatehouse connect (CLI process)", () => {
  it("asks the gateway for the resource type, prints the port and connection string, and exits cleanly on SIGTERM", async () => {
    const peer = await startGatewayPeer();
    cleanups.push(() => peer.close());
    const token = await devToken("ci-bot");
    const child = spawn(process.execPath, [BIN, "connect", "demo-pg", "--port", "0", "--gateway", peer.url], {
      env: { ...process.env, GATEHOUSE_TOKEN: token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(async () => child.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
        if (m && stdout.includes("psql:")) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
    });
    expect(port).toBeGreaterThan(0);
    expect(peer.resourceLookups).toBe(1);
    expect(stdout).toContain(`connection string: postgresql://ci-bot@127.0.0.1:${port}/demo-pg?sslmode=disable`);
    expect(stdout).toContain(`psql "postgresql://ci-bot@127.0.0.1:${port}/demo-pg?sslmode=disable"`);
    expect(stdout).not.toContain(token);

    const exit = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${code}/${signal}`)));
    child.kill("SIGTERM");
    expect(await exit, stderr).toBe("0/null");
    expect(stderr).toContain("gatehouse: stopping");
    expect(stderr).not.toContain(token);
  });

  it("fails with a clear message when no token is available", async () => {
    const child = spawn(process.execPath, [BIN, "connect", "demo-pg", "--port", "0", "--gateway", "http://127.0.0.1:1"], {
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GATEHOUSE_") && !k.startsWith("ACTIONS_") && k !== "GITLAB_CI")),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain("no identity token available");
    expect(stderr).toContain("GATEHOUSE_TOKEN");
  });
});

describe("--once", () => {
  it("serves exactly one connection, then stops listening and finishes", async () => {
    const peer = await startGatewayPeer({ onTunnel: (t) => void t.until(() => t.dataBytes > 0).then(() => t.close("57P01", "bye")) });
    cleanups.push(() => peer.close());
    const listener = await startConnectListener({ gateway: peer.url, resource: "demo-pg", port: 0, once: true, tokenSource: staticTokenSource(await devToken("x"), "test"), log: () => {} });
    cleanups.push(() => listener.close());
    const answer = await new Promise<string>((resolve) => {
      const url = `postgresql://x:${encodeURIComponent(listener.auth.password)}@127.0.0.1:${listener.port}/demo-pg?sslmode=disable`;
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
      execFile("psql", [url, "-X", "-w", "-c", "select 1"], { env, timeout: 30_000 }, (_err, _out, stderr) => resolve(stderr));
    });
    expect(answer).toContain("gatehouse: bye");
    await listener.done;
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(listener.port, "127.0.0.1", () => resolve("connected"));
        s.on("error", reject);
      }),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(peer.tunnels).toHaveLength(1);
  });
});
