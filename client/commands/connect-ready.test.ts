/** `gatehouse connect --ready-file`: the pipeline's readiness signal (real CLI process, a gateway peer). */
import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import net from "node:net";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startGatewayPeer } from "../../test/support/gateway-peer.ts";
import { mintDevToken } from "../dev/issuer.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/gatehouse.mjs");
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-ready-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("gatehouse connect --ready-file", () => {
  it("appears only once the listener accepts, 0600, with the port and credential file paths (no secrets), and is removed on exit", async () => {
    const peer = await startGatewayPeer();
    cleanups.push(() => peer.close());
    const dir = await tempDir();
    const token = await mintDevToken({ sub: "ci-bot", keyFile: path.join(dir, "k.json"), issuer: "http://127.0.0.1:1" });
    const ready = path.join(dir, "ready.json");
    const child = spawn(process.execPath, [BIN, "connect", "demo-pg", "--port", "0", "--gateway", peer.url, "--ready-file", ready], {
      env: { ...process.env, GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: path.join(dir, "state") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    cleanups.push(async () => child.kill("SIGKILL"));
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${code}/${signal}`)));

    for (let i = 0; i < 300 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(ready), stderr).toBe(true);
    expect(statSync(ready).mode & 0o777).toBe(0o600);
    const text = readFileSync(ready, "utf8");
    const info = JSON.parse(text) as { version: number; resource: string; type: string; host: string; port: number; pid: number; files: Record<string, string>; usage: string[] };
    expect(info).toMatchObject({ version: 1, resource: "demo-pg", type: "postgres", host: "127.0.0.1", pid: child.pid });
    expect(existsSync(info.files.pgpass!)).toBe(true);
    expect(info.usage.join("\n")).toContain(`127.0.0.1:${info.port}/demo-pg`);
    // Paths to secrets, not the secrets: the listener's password is only inside the 0600 pgpass file.
    const password = readFileSync(info.files.pgpass!, "utf8").trim().split(":").pop()!;
    expect(password.length).toBeGreaterThan(10);
    expect(text).not.toContain(password);
    expect(text).not.toContain(token);
    // Already accepting when the file exists.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(info.port, "127.0.0.1", () => {
        s.destroy();
        resolve();
      });
      s.once("error", reject);
    });

    child.kill("SIGTERM");
    expect(await exit, stderr).toBe("0/null");
    expect(existsSync(ready)).toBe(false);
  });

  it("fails clearly, and leaves no listener behind, when the file cannot be written", async () => {
    const peer = await startGatewayPeer();
    cleanups.push(() => peer.close());
    const dir = await tempDir();
    const token = await mintDevToken({ sub: "ci-bot", keyFile: path.join(dir, "k.json"), issuer: "http://127.0.0.1:1" });
    const child = spawn(process.execPath, [BIN, "connect", "demo-pg", "--port", "0", "--gateway", peer.url, "--ready-file", path.join(dir, "missing", "ready.json")], {
      env: { ...process.env, GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: path.join(dir, "state") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    cleanups.push(async () => child.kill("SIGKILL"));
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--ready-file .*missing\/ready\.json: .*ENOENT/);
  });
});
