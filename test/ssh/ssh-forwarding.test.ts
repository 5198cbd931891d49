/**
 * SSH forwarding through the gateway when policy allows it, end to end with the real OpenSSH
 * `ssh`, `sshd`, `ssh-agent`, `Xvfb` and `xdpyinfo`: -W / -L to allowed targets only (by canonical
 * host), -R with a fixed and a dynamic port, agent forwarding (-A) and X11 (-Y) — and each refused
 * where policy does not allow it, with the refusal recorded. Refusals with the default policy are in
 * ssh-e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { freePort } from "../../client/dev/ports.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { main } from "../../client/cli.ts";
import { run, SSH_OPTS } from "./run.ts";


/** A TCP echo server that counts its connections. */
async function echoServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const server: Server = createServer((sock) => {
    count++;
    sock.on("error", () => {});
    sock.pipe(sock);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, connections: () => count, close: () => new Promise((r) => server.close(() => r())) };
}


/** Send `text` to 127.0.0.1:port (or a unix socket path) and collect what comes back until the peer closes or `want` bytes arrived. */
function exchange(port: number | string, text: string, want = text.length): Promise<string> {
  return new Promise((resolve) => {
    const s = typeof port === "number" ? tcpConnect(port, "127.0.0.1") : tcpConnect(port);
    let got = "";
    s.on("connect", () => s.write(text));
    s.on("data", (d) => {
      got += d.toString();
      if (got.length >= want) s.end();
    });
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
    setTimeout(() => s.destroy(), 10_000);
  });
}

async function eventually<T>(fn: () => Promise<T | undefined>, what: string, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("SSH forwarding allowed by policy (real ssh, sshd, ssh-agent, Xvfb)", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection; // demo-ssh: forwarding allowed to listed targets
  let strict: TestConnection; // strict-ssh: exec only, every forward refused
  let echo: Awaited<ReturnType<typeof echoServer>>; // a service on the host's network
  let forbidden: Awaited<ReturnType<typeof echoServer>>; // a service policy does not allow
  let clientSide: Awaited<ReturnType<typeof echoServer>>; // a service next to the pipeline (for -R)
  let scratch: string;
  const ssh = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; port?: number } = {}) =>
    run("ssh", ["-p", String(opts.port ?? conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", ...args], opts);

  /** Trail events of the sessions logged since `before` on `c`, once `until` holds. */
  async function trail(c: TestConnection, before: number, until: (events: Array<{ type: string; data?: Record<string, unknown> }>) => boolean) {
    const token = await stack.mintToken({ sub: "auditor-1", claims: { groups: ["auditors"] } });
    return await eventually(async () => {
      const events: Array<{ type: string; data?: Record<string, unknown> }> = [];
      for (const line of c.logs.slice(before)) {
        const id = /session ([0-9a-f-]{36})/.exec(line)?.[1];
        if (!id) continue;
        let out = "";
        const io = { stdout: (t: string) => (out += t), stderr: () => {}, env: { GATEHOUSE_TOKEN: token, GATEHOUSE_URL: stack.gatewayUrl } };
        if ((await main(["sessions", "show", id, "--json"], io as never)) !== 0) continue;
        events.push(...(JSON.parse(out) as { events: Array<{ type: string; data?: Record<string, unknown> }> }).events);
      }
      return until(events) ? events : undefined;
    }, "the session's trail");
  }

  beforeAll(async () => {
    sshd = await startTestSshd();
    echo = await echoServer();
    forbidden = await echoServer();
    clientSide = await echoServer();
    scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-fwd-"));
    chmodSync(scratch, 0o777); // the host account creates and opens sockets here
    const resource = (name: string, labels: Record<string, string>) => sshdResource(sshd, name, { labels });
    const policyYaml = `
version: 1
roles:
  auditor:
    - claims: { groups: auditors }
rules:
  - name: pg
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect]
  - name: ssh-ops
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions: [connect, ssh.exec]
  - name: tunnels
    effect: allow
    subjects: any
    resources: [demo-ssh]
    actions:
      - { ssh: { forward: ["local:127.0.0.1:${echo.port}", "remote:127.0.0.1:*", "remote:localhost:*", "streamlocal:${scratch}/host-*.sock", "remote-streamlocal:${scratch}/remote-*.sock"] } }
      - ssh.agent-forward
      - ssh.x11
`;
    stack = await startTestStack({ policyYaml, extraResources: [resource("demo-ssh", { env: "test" }), resource("strict-ssh", { env: "strict" })] });
    conn = await stack.connect("demo-ssh");
    strict = await stack.connect("strict-ssh");
  });

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
    await Promise.all([echo?.close(), forbidden?.close(), clientSide?.close()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("relays ssh -W to an allowed target, whatever spelling of its address, and refuses others", async () => {
    const before = conn.logs.length;
    let r = await ssh(["-W", `127.0.0.1:${echo.port}`], { input: "through-the-gateway\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("through-the-gateway\n");
    expect(r.status).toBe(0);

    // 127.1 and 0x7f.0.0.1 are 127.0.0.1: canonicalised before policy, and that is what is dialled.
    r = await ssh(["-W", `0x7f.1:${echo.port}`], { input: "alt-spelling\n" });
    expect(r.stdout).toBe("alt-spelling\n");

    const seen = forbidden.connections();
    r = await ssh(["-W", `127.0.0.1:${forbidden.port}`], { input: "nope\n" });
    expect(r.status).toBe(255);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/stdio forwarding failed|open failed/);
    expect(forbidden.connections()).toBe(seen);
    expect(conn.logs.join("\n")).toMatch(new RegExp(`local forwarding to local:127\\.0\\.0\\.1:${forbidden.port} refused: no rule allows`));

    const events = await trail(conn, before, (ev) => ev.filter((e) => e.type === "ssh.forward-close").length >= 2);
    const closes = events.filter((e) => e.type === "ssh.forward-close");
    expect(closes[0]!.data).toMatchObject({ kind: "local", target: `local:127.0.0.1:${echo.port}` });
    expect(closes.some((c) => c.data?.bytesUp === "through-the-gateway\n".length && c.data?.bytesDown === "through-the-gateway\n".length)).toBe(true);
    const refused = events.filter((e) => e.type === "decision" && e.data?.effect === "deny");
    expect(refused.length).toBeGreaterThanOrEqual(1);
  });

  it("says why an ssh -L connection was refused, on the user's terminal (not an empty 'connect failed:')", async () => {
    const localPort = await freePort();
    // OpenSSH prints channel open failures at INFO: the shared options' LogLevel=ERROR would hide them.
    const opts = SSH_OPTS.filter((o, i) => o !== "LogLevel=ERROR" && SSH_OPTS[i + 1] !== "LogLevel=ERROR");
    const tunnel = spawn("ssh", ["-p", String(conn.port), ...opts, "-N", "-L", `${localPort}:127.0.0.1:${forbidden.port}`, "pipeline@127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    tunnel.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const seen = forbidden.connections();
    try {
      const line = await eventually(async () => {
        await exchange(localPort, "nope").catch(() => "");
        return /open failed/.test(stderr) ? stderr : undefined;
      }, "ssh's open-failure line");
      // RFC 4254 reason 1 with the gateway's reason as the description.
      expect(line).toMatch(new RegExp(`open failed: administratively prohibited: .*local forwarding to local:127\\.0\\.0\\.1:${forbidden.port} refused: no rule allows`));
      expect(forbidden.connections()).toBe(seen);
    } finally {
      tunnel.kill("SIGTERM");
    }
  });

  it("relays a local forward (ssh -L) to an allowed target", async () => {
    const localPort = await freePort();
    const tunnel = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "-N", "-L", `${localPort}:127.0.0.1:${echo.port}`, "pipeline@127.0.0.1"], { stdio: "ignore" });
    try {
      const reply = await eventually(async () => {
        const got = await exchange(localPort, "hello over -L");
        return got === "hello over -L" ? got : undefined;
      }, "the -L listener");
      expect(reply).toBe("hello over -L");
      // Several connections over the same forward, in parallel.
      const payloads = [1, 2, 3].map((i) => `conn-${i}-${"x".repeat(100_000)}`);
      const replies = await Promise.all(payloads.map((p) => exchange(localPort, p)));
      // Compared as booleans: a failure must not print 300 KB.
      expect(replies.map((r, i) => ({ length: r.length, same: r === payloads[i] }))).toEqual(payloads.map((p) => ({ length: p.length, same: true })));
    } finally {
      tunnel.kill("SIGTERM");
    }
  });

  it("relays a remote forward (ssh -R) with a fixed port, and with port 0 reports the allocated one", async () => {
    const remotePort = await freePort();
    // The command on the host connects back through the forward (retrying until the listener is up).
    const script = `for i in $(seq 100); do exec 3<>/dev/tcp/127.0.0.1/${remotePort} 2>/dev/null && break; sleep 0.1; done; printf from-the-host >&3; head -c 13 <&3`;
    let r = await ssh(["-o", "ExitOnForwardFailure=yes", "-R", `127.0.0.1:${remotePort}:127.0.0.1:${clientSide.port}`, `bash -c '${script}'`]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("from-the-host");
    expect(r.status).toBe(0);

    // LogLevel INFO: ssh reports the port the host allocated on stderr.
    const infoOpts = SSH_OPTS.map((o) => (o === "LogLevel=ERROR" ? "LogLevel=INFO" : o));
    const dynamic = spawn("ssh", ["-p", String(conn.port), ...infoOpts, "-o", "ExitOnForwardFailure=yes", "-N", "-R", `0:127.0.0.1:${clientSide.port}`, "pipeline@127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
    try {
      let err = "";
      dynamic.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      const port = await eventually(async () => {
        const m = /Allocated port (\d+) for remote forward/.exec(err);
        return m ? Number(m[1]) : undefined;
      }, "the allocated port");
      // sshd listens on the host (this machine): connect to it as a host process would.
      expect(await exchange(port, "dynamic-port")).toBe("dynamic-port");
    } finally {
      dynamic.kill("SIGTERM");
    }

    // Binding on every interface is not in the policy: refused, and nothing listens.
    r = await ssh(["-o", "ExitOnForwardFailure=yes", "-R", `0.0.0.0:${remotePort}:127.0.0.1:${clientSide.port}`, "echo should-not-run"]);
    expect(r.status).toBe(255);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/forwarding failed/i);
  });

  it("relays unix socket forwards both ways (ssh -L and -R with socket paths) within the allowed paths", async () => {
    // A service on the host listening on a unix socket the host account may open.
    const hostSock = path.join(scratch, "host-svc.sock");
    const svc = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => svc.listen(hostSock, r));
    chmodSync(hostSock, 0o777);
    const localSock = path.join(scratch, "local-end.sock");
    const remoteSock = path.join(scratch, "remote-end.sock");
    const tunnel = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "-N", "-o", "ExitOnForwardFailure=yes", "-L", `${localSock}:${hostSock}`, "-R", `${remoteSock}:127.0.0.1:${clientSide.port}`, "pipeline@127.0.0.1"], { stdio: "ignore" });
    try {
      expect(await eventually(async () => ((await exchange(localSock, "via-streamlocal")) === "via-streamlocal" ? true : undefined), "the -L socket")).toBe(true);
      // The host side: a process on the host connects to the socket sshd made for -R.
      expect(await eventually(async () => ((await exchange(remoteSock, "via-remote-socket")) === "via-remote-socket" ? true : undefined), "the -R socket")).toBe(true);
    } finally {
      tunnel.kill("SIGTERM");
      await new Promise((r) => svc.close(r));
    }
    // A socket outside the allowed paths is refused when used: the local end closes at once.
    const other = path.join(scratch, "elsewhere.sock");
    const otherSvc = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => otherSvc.listen(other, r));
    chmodSync(other, 0o777);
    const localOther = path.join(scratch, "local-other.sock");
    const refused = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "-N", "-L", `${localOther}:${other}`, "pipeline@127.0.0.1"], { stdio: "ignore" });
    try {
      await eventually(async () => (existsSync(localOther) ? true : undefined), "the refused -L socket");
      expect(await exchange(localOther, "should-not-pass")).toBe("");
      await eventually(async () => (conn.logs.join("\n").includes(`streamlocal forwarding to streamlocal:${other} refused`) ? true : undefined), "the refusal in the log");
    } finally {
      refused.kill("SIGTERM");
      await new Promise((r) => otherSvc.close(r));
    }
  });

  it("forwards the pipeline's agent (ssh -A) only where policy allows it", async () => {
    const sock = path.join(scratch, "agent.sock");
    const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      await eventually(async () => (existsSync(sock) ? true : undefined), "ssh-agent");
      const key = path.join(scratch, "id_agent");
      expect((await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pipeline-agent-key", "-f", key])).status).toBe(0);
      const env = { ...process.env, SSH_AUTH_SOCK: sock };
      expect((await run("ssh-add", [key], { env })).status).toBe(0);

      let r = await ssh(["-A", "ssh-add -l"], { env });
      expect(r.stdout).toContain("pipeline-agent-key");
      expect(r.status).toBe(0);

      r = await ssh(["-A", "ssh-add -l; echo agent-status=$?"], { env, port: strict.port });
      expect(r.stdout).not.toContain("pipeline-agent-key");
      expect(r.stdout).toMatch(/agent-status=2/); // no agent reachable on the host
      expect(r.stderr).toMatch(/gatehouse: agent forwarding refused: no rule allows/);
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("forwards X11 (ssh -Y) to the pipeline's display only where policy allows it", async () => {
    const display = 90 + (process.pid % 50);
    const xvfb = spawn("Xvfb", [`:${display}`, "-ac", "-nolisten", "tcp", "-screen", "0", "640x480x24"], { stdio: "ignore" });
    try {
      await eventually(async () => (existsSync(`/tmp/.X11-unix/X${display}`) ? true : undefined), "Xvfb");
      const env = { ...process.env, DISPLAY: `:${display}` };
      let r = await ssh(["-Y", "xdpyinfo | grep -E 'vendor string|dimensions'"], { env });
      expect(r.stdout, r.stderr).toMatch(/vendor string:\s+The X\.Org Foundation/);
      expect(r.stdout).toMatch(/dimensions:\s+640x480 pixels/);

      r = await ssh(["-Y", "echo display=[$DISPLAY]"], { env, port: strict.port });
      expect(r.stdout).toContain("display=[]");
      expect(r.stderr).toMatch(/gatehouse: X11 forwarding refused: no rule allows/);
    } finally {
      xvfb.kill("SIGTERM");
    }
  });
});
