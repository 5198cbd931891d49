/**
 * SSH sessions under the policy's concurrency caps and the identity token's lifetime, with the
 * real ssh client and sshd: a session over the cap is refused before the host is dialled (stderr
 * + exit status 255), and a session whose token expires ends with a clear message. Ground truth:
 * marker files on the host's file system.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import { run, SSH_OPTS } from "./run.ts";

const POLICY = `
version: 1
rules:
  - { name: ssh, effect: allow, subjects: any, resources: [demo-ssh], actions: [connect, ssh.exec], limits: { max_sessions_per_identity: 1 } }
`;

describe("SSH sessions: caps and token lifetime", () => {
  let sshd: TestSshd;
  let stack: TestStack;

  beforeAll(async () => {
    sshd = await startTestSshd();
    stack = await startTestStack({ policyYaml: POLICY, extraResources: [sshdResource(sshd, "demo-ssh", { labels: {} })] });
  });

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
  });

  it("refuses a second concurrent session of one identity with a clear message and status 255", async () => {
    const conn = await stack.connect("demo-ssh", { sub: "capped" });
    const started = path.join(sshd.home, "capped-first");
    const first = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${started}; sleep 60`], { stdio: "ignore" });
    try {
      await eventually(async () => existsSync(started), "the first session's command to run", 300);
      const second = path.join(sshd.home, "capped-second");
      const r = await run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${second}`]);
      expect(r.status).toBe(255);
      expect(r.stderr).toContain("gatehouse: too many sessions: identity capped already has 1 open session (policy limit max_sessions_per_identity: 1)");
      expect(existsSync(second)).toBe(false);
    } finally {
      first.kill("SIGKILL");
    }
    // The first session's end gives its place back.
    const again = path.join(sshd.home, "capped-again");
    await eventually(async () => (await run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${again}`])).status === 0, "a place after the first session ended", 100, 300);
    expect(existsSync(again)).toBe(true);
  });

  it("ends a session whose identity token expires: stderr says so, exit status 255", async () => {
    const conn = await stack.connect("demo-ssh", { sub: "short-lived", ttlSeconds: 8 });
    const started = path.join(sshd.home, "expiring-started");
    const r = await run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${started}; sleep 120`], { timeoutMs: 90_000 });
    expect(existsSync(started)).toBe(true);
    expect(r.stderr).toContain("gatehouse: identity token expired");
    expect(r.status).toBe(255);

    // The command itself is gone from the host: the session ended, so must what it ran.
    await eventually(async () => (await run("pgrep", ["-f", `${started}; sleep 120`], { timeoutMs: 10_000 })).status === 1, "the expired session's command to end on the host");

    // gatehouse exec (no local SSH server) ends the same way.
    const execStarted = path.join(sshd.home, "exec-expiring-started");
    const token = await stack.mintToken({ sub: "short-exec", ttlSeconds: 8 });
    const e = await gatehouse(["exec", "demo-ssh", "--gateway", stack.gatewayUrl, "--no-stdin", "--", `touch ${execStarted}; sleep 120`], { GATEHOUSE_TOKEN: token });
    expect(existsSync(execStarted)).toBe(true);
    expect(e.stderr).toContain("gatehouse: identity token expired");
    expect(e.code).toBe(255);
  });
});
