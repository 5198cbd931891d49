/**
 * The connector's container file (deploy/container/Containerfile). There is no container engine
 * here, so this checks what can be checked without one: a non-root runtime user, images named by
 * registry and tag, and — against the real connector process — that the entry point's flags
 * exist and that the HEALTHCHECK command reports healthy while the connector is connected and
 * unhealthy once the gateway is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startHarnessWorker } from "../connector/harness-worker.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin/gatehouse-connector.mjs");

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Containerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

let file: Instruction[];
let dir: string;
beforeAll(async () => {
  file = instructions(await readFile(path.join(ROOT, "deploy/container/Containerfile"), "utf8"));
  dir = await mkdtemp(path.join(tmpdir(), "gh-container-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const finalStage = () => file.slice(file.map((i) => i.op).lastIndexOf("FROM"));
const execForm = (op: string) => JSON.parse(finalStage().find((i) => i.op === op)!.args) as string[];

describe("connector Containerfile", () => {
  it("runs as an unprivileged user from images named by registry and tag", () => {
    const froms = file.filter((i) => i.op === "FROM").map((i) => i.args.split(/\s+/)[0]!);
    expect(froms.length).toBe(2);
    for (const image of froms) expect(image).toMatch(/^[a-z0-9.-]+\.[a-z]+\/[\w./-]+:[\w.-]+$/);
    for (const image of froms) expect(image).not.toMatch(/:latest$/);
    const user = finalStage().filter((i) => i.op === "USER").at(-1)!.args;
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    // Nothing is fetched from a URL at build time; no install scripts run.
    expect(file.some((i) => i.op === "ADD")).toBe(false);
    expect(file.find((i) => i.op === "RUN")!.args).toContain("--ignore-scripts");
  });

  it("its command line is one the real connector accepts", { timeout: 120_000 }, async () => {
    const cmd = execForm("CMD");
    expect(cmd).toEqual(["--config", "/etc/gatehouse/connector.yaml", "--log-format", "json", "--ops-listen", "0.0.0.0:9464"]);
    // Same configuration path as the systemd unit.
    expect(await readFile(path.join(ROOT, "deploy/systemd/gatehouse-connector.service"), "utf8")).toContain("--config /etc/gatehouse/connector.yaml");
    const help = await new Promise<string>((resolve) => execFile(process.execPath, [BIN, "--help"], (_e, out) => resolve(out)));
    for (const flag of cmd.filter((a) => a.startsWith("--"))) expect(help).toContain(flag);
    expect(execForm("ENTRYPOINT")[1]).toBe("/opt/gatehouse-connector/gatehouse-connector.mjs");
    expect(file.find((i) => i.op === "RUN")!.args).toContain("/opt/gatehouse-connector/gatehouse-connector.mjs");
  });

  it("its HEALTHCHECK passes while the connector is connected and fails once the gateway is gone", async () => {
    const health = finalStage().find((i) => i.op === "HEALTHCHECK")!.args;
    const command = JSON.parse(health.slice(health.indexOf("CMD") + 3).trim()) as string[];
    expect(command.slice(0, 2)).toEqual(["/nodejs/bin/node", "-e"]);
    const port = /:(\d+)$/.exec(execForm("CMD").at(-1)!)![1]!;
    expect(command[2]).toContain(`http://127.0.0.1:${port}/healthz`);

    const { privateJwk, publicJwk } = await generateConnectorKeyPair();
    await writeFile(path.join(dir, "key.jwk"), JSON.stringify(privateJwk), { mode: 0o600 });
    const worker = await startHarnessWorker({ connectors: { "container-test": publicJwk } });
    let stopped = false;
    const config = path.join(dir, "connector.yaml");
    await writeFile(config, `gateway: ${worker.url}\nid: container-test\nprivate_key: file:./key.jwk\nresources:\n  - { name: demo-pg, type: postgres, host: 127.0.0.1, database: demo, username: demo, password: env:CT_PW }\n`);
    // The image's flags, with an ephemeral port instead of 9464 (tests run in parallel).
    const args = execForm("CMD").map((a) => (a === "/etc/gatehouse/connector.yaml" ? config : a === `0.0.0.0:${port}` ? "127.0.0.1:0" : a));
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CT_PW: "x" }, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const check = (url: string) =>
      new Promise<number>((resolve) => execFile(process.execPath, ["-e", command[2]!.replace(`http://127.0.0.1:${port}`, url)], (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0)));
    const until = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => {
      for (let i = 0; i < 300; i++) {
        const v = await fn();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; log:\n${log}`);
    };
    try {
      await worker.controls.next(180_000);
      const url = await until("the ops endpoint", async () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(log)?.[1]);
      expect(await until("healthy", async () => ((await check(url)) === 0 ? 0 : undefined))).toBe(0);
      // The gateway goes away for good (not a blip the connector reconnects through).
      await worker.stop();
      stopped = true;
      expect(await until("unhealthy", async () => ((await check(url)) === 1 ? 1 : undefined))).toBe(1);
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      if (!stopped) await worker.stop();
    }
  }, 300_000);
});
