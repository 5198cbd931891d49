/**
 * Malformed input on one SSH session ends only that session (issue 15): a raw tunnel that speaks
 * garbage after ssh.start — a DATA frame shorter than its channel header, an unknown stream, a
 * control message of the wrong shape — is closed, while a concurrent session of the real ssh
 * client through `gatehouse connect` keeps running and finishes its command. Ground truth: marker
 * files on the host's file system.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { sshdAvailable, sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { eventually } from "../e2e/helpers.ts";
import { SSH_OPTS } from "./run.ts";
import { TUNNEL_SUBPROTOCOL, encodeControl, encodeData, decodeFrame, FrameType } from "../../parsers/tunnel/frames.ts";

const POLICY = `
version: 1
rules:
  - { name: ssh, effect: allow, subjects: any, resources: [demo-ssh], actions: [connect, ssh.exec] }
`;

describe("SSH: garbage on one session ends only that session", () => {
  let sshd: TestSshd;
  let stack: TestStack;

  beforeAll(async () => {
    if (!(await sshdAvailable())) throw new Error("openssh-server is required (.ci/run installs it)");
    sshd = await startTestSshd();
    stack = await startTestStack({ policyYaml: POLICY, extraResources: [sshdResource(sshd, "demo-ssh", { labels: {} })] });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
  });

  async function readyTunnel(sub: string): Promise<{ ws: WebSocket; closed: Promise<number>; controls: Array<Record<string, unknown>> }> {
    const token = await stack.mintToken({ sub });
    const ws = new WebSocket(`${stack.gatewayUrl.replace(/^http/, "ws")}/v1/tunnel/demo-ssh`, TUNNEL_SUBPROTOCOL, { headers: { authorization: `Bearer ${token}` } });
    const controls: Array<Record<string, unknown>> = [];
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.on("message", (m: Buffer) => {
      try {
        const f = decodeFrame(new Uint8Array(m));
        if (f.type === FrameType.Control) controls.push(f.message);
      } catch {
        /* not ours to judge here */
      }
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(encodeControl({ t: "ssh.start", client: "SSH-2.0-garbage-test" }));
    await eventually(async () => controls.some((c) => c.t === "ssh.ready"), "ssh.ready on the raw tunnel", 200);
    return { ws, closed, controls };
  }

  it("ends a session that sends a short DATA frame, an unknown stream or a malformed control message; another session runs on", async () => {
    const conn = await stack.connect("demo-ssh", { sub: "survivor" });
    const started = path.join(sshd.home, "survivor-started");
    const finished = path.join(sshd.home, "survivor-finished");
    const survivor = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${started}; sleep 4; touch ${finished}`], { stdio: "ignore" });
    const survivorExit = new Promise<number | null>((resolve) => survivor.on("close", resolve));
    try {
      await eventually(async () => existsSync(started), "the surviving session's command to start", 300);
      const garbage: Array<[string, Uint8Array]> = [
        ["DATA shorter than its channel header", encodeData(Uint8Array.of(0, 0, 1))],
        ["DATA on an unknown stream", encodeData(Uint8Array.of(0, 0, 0, 0, 9, 0x41))],
        ["control message of the wrong shape", encodeControl({ t: "ssh.exec", ch: -1, command: 42 })],
      ];
      for (const [what, frame] of garbage) {
        const { ws, closed, controls } = await readyTunnel(`mallory-${what.length}`);
        ws.send(frame);
        await closed; // the gateway ends this session (the test never closes it)
        const ended = controls.find((c) => c.t === "close" || c.t === "error");
        expect(JSON.stringify(ended), `${what}: the gateway says why it ends the session`).toMatch(/gatehouse: /);
        expect(existsSync(finished), `${what}: the other session still running`).toBe(false);
      }
      expect(await survivorExit).toBe(0);
      expect(existsSync(finished)).toBe(true);
    } finally {
      survivor.kill("SIGKILL");
      await conn.stop();
    }
  }, 120_000);
});
