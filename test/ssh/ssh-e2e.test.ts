/**
 * SSH through the gateway, end to end: real OpenSSH sshd (test/harness/sshd.ts), the real worker
 * (wrangler dev), the real connector and client, and the real `ssh`, `scp` (SFTP mode) and
 * `rsync` clients. Side effects are checked on the host's file system (same machine).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync, chownSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { freePort } from "../../client/dev/ports.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { startTcpCapture, type TcpCapture } from "../harness/tcp-capture.ts";
import { parsePinnedHostKey } from "../../protocols/ssh/connector/config.ts";
import type { SshResourceConfig } from "../../protocols/ssh/connector/config.ts";
import { startConnectListener, type ConnectListener } from "../../client/listener.ts";
import { TEST_LISTENER_CREDENTIALS } from "../harness/listener-auth.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { main } from "../../client/cli.ts";
import { run, SSH_OPTS, type Run } from "./run.ts";


describe("SSH through the gateway (real sshd, ssh, scp, rsync)", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection;
  let work: string; // on the host: owned by the ssh account, where allowed writes land
  let local: string; // client-side scratch
  const ssh = (args: string[], input?: string, port = conn.port) => run("ssh", ["-p", String(port), ...SSH_OPTS, "pipeline@127.0.0.1", ...args], { input });

  beforeAll(async () => {
    sshd = await startTestSshd();
    work = path.join(sshd.dir, "work");
    mkdirSync(path.join(work, "protected"), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(work, "protected", "keep.txt"), "keep me\n");
    const owner = statSync(sshd.home);
    for (const p of [work, path.join(work, "protected"), path.join(work, "protected", "keep.txt")]) chownSync(p, owner.uid, owner.gid);
    local = mkdtempSync(path.join(tmpdir(), "gatehouse-ssh-local-"));

    const resource = (name: string, over: Partial<SshResourceConfig> = {}) => sshdResource(sshd, name, { labels: { env: "test" }, ...over });
    const wrongPub = readFileSync(`${sshd.wrongKeyFile}.pub`, "utf8");
    const closedPort = await freePort();
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
    actions: [connect, sql.read]
  - name: ssh-ops
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions:
      - connect
      - ssh.exec
      - ssh.shell
      - { ssh: { sftp: [read, list] } }
      - { ssh: { sftp: [write, mkdir, setstat, remove, rename], paths: ["${work}/**"] } }
  - name: no-destroy
    effect: deny
    subjects: any
    resources: { type: ssh }
    actions:
      - { ssh: { exec: ["rm -rf /*", "shutdown **", "reboot **", "touch **denied-marker*"] } }
      - { ssh: { sftp: [write, remove, rename], paths: ["${work}/protected/**"] } }
  - name: restarts-need-approval
    effect: approve
    subjects: any
    resources: { type: ssh }
    approvers: any
    actions: [{ ssh: { exec: ["systemctl restart *", "touch **approved-marker*"] } }]
masking:
  rules:
    - name: ssh-secrets
      resources: { type: ssh }
      detectors: [github_token, aws_access_key]
      style: redact
`;
    stack = await startTestStack({
      policyYaml,
      // Reminders every second, so the held-command test sees one on ssh's stderr.
      workerVars: { GATEHOUSE_APPROVAL_REMINDER_SECONDS: "1" },
      extraResources: [
        resource("demo-ssh"),
        resource("pinned-wrong", { hostKey: parsePinnedHostKey("host_key", wrongPub) }),
        resource("wrong-key", { privateKey: () => readFileSync(sshd.wrongKeyFile, "utf8") }),
        resource("host-down", { port: closedPort }),
      ],
    });
    conn = await stack.connect("demo-ssh");
  });

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  it("runs an allowed command and returns its output and exit status", async () => {
    const r = await ssh(["echo hello; id -un; exit 3"]);
    expect(r.stdout).toBe(`hello\n${sshd.user}\n`);
    expect(r.status).toBe(3);
  });

  it("drops environment variables other than the locale, records that, and still runs the command", async () => {
    const r = await ssh(["-o", "SetEnv=LD_PRELOAD=/tmp/evil.so GATEHOUSE_X=1", "echo preload=[$LD_PRELOAD] x=[$GATEHOUSE_X]"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("preload=[] x=[]\n");
    expect(r.status).toBe(0);
  });

  it("refuses a denied command with the rule on stderr and status 126, and it never runs", async () => {
    const marker = path.join(work, "denied-marker-1");
    const r = await ssh([`touch ${marker}`]);
    expect(r.status).toBe(126);
    expect(r.stderr).toContain("rule 'no-destroy'");
    expect(r.stdout).toBe("");
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a whole line when any command in it is denied, however it is hidden", async () => {
    const lines = [
      `echo before; touch ${work}/denied-marker-2`,
      `echo $(touch ${work}/denied-marker-2)`,
      `sh -c "bash -c 'touch ${work}/denied-marker-2'"`,
      `t''ouch ${work}/denied-marker-2`,
      `$'\\x74ouch' ${work}/denied-marker-2`,
      `{touch,${work}/denied-marker-2}`,
      `true && sudo -n touch ${work}/denied-marker-2`,
      `echo ${work}/denied-marker-2 | xargs touch`,
      `reboot`,
      `$CMD -rf /`,
    ];
    for (const line of lines) {
      const r = await ssh([line]);
      expect(r.status, line).toBe(126);
      expect(r.stdout, line).toBe("");
      expect(r.stderr, line).toMatch(/gatehouse: command refused/);
    }
    expect(existsSync(path.join(work, "denied-marker-2"))).toBe(false);
  });

  it("runs tricky but allowed lines exactly as the shell would", async () => {
    const r = await ssh([`echo 'a;b' | tr a-z A-Z && printf '%s\\n' "x y" $'tab\\there' # rm -rf /`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("A;B\nx y\ntab\there\n");
  });

  it("masks secrets in command output with the policy's detectors", async () => {
    const half = "Zx9".repeat(6);
    const r = await ssh([`printf 'token=ghp_${half}'; printf '${half} key=AKIAIOSFODNN7EXAMPLE\\n'`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^token=/);
    expect(r.stdout).not.toContain(`ghp_${half}${half}`);
    expect(r.stdout).not.toContain("AKIAIOSFODNN7EXAMPLE");
  });

  it("holds a command for approval: approved runs it exactly once, denied refuses it (126)", async () => {
    const approver = await stack.mintToken({ sub: "sre-on-call" });
    const cli = async (args: string[]) => {
      let out = "";
      let err = "";
      const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), env: { GATEHOUSE_TOKEN: approver, GATEHOUSE_URL: stack.gatewayUrl } };
      const code = await main(args, io as never);
      return { code, out, err };
    };
    const pendingFor = async (needle: string) => {
      for (let i = 0; i < 200; i++) {
        const list = await cli(["approvals", "list", "--json"]);
        const requests = JSON.parse(list.out) as Array<{ id: string }> | { requests: Array<{ id: string }> };
        const found = (Array.isArray(requests) ? requests : requests.requests).find((r) => JSON.stringify(r).includes(needle));
        if (found) return found.id;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`no pending approval for ${needle}`);
    };

    const marker = path.join(work, "approved-marker");
    let live = "";
    const child = spawn("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", `touch ${marker}`], { stdio: ["ignore", "pipe", "pipe"] });
    child.stderr.on("data", (d: Buffer) => (live += d.toString("utf8")));
    const approved = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout: "", stderr: live })));
    const id = await pendingFor("approved-marker");
    expect(existsSync(marker)).toBe(false); // held: nothing ran yet
    // While it waits, the pipeline's log shows it is still waiting and for how long (on stderr, not in the command's output).
    for (let i = 0; i < 300 && !live.includes(`still waiting for approval ${id}`); i++) await new Promise((res) => setTimeout(res, 100));
    expect(live).toMatch(new RegExp(`still waiting for approval ${id} \\((\\d+m )?\\d+s left, until \\S+\\)`));
    expect((await cli(["approvals", "approve", id, "--reason", "planned"])).code).toBe(0);
    const r = await approved;
    expect(r.stderr).toContain(`held for approval ${id}`);
    expect(r.status).toBe(0);
    expect(existsSync(marker)).toBe(true);

    const deniedMarker = path.join(work, "approved-marker-2");
    const denied = ssh([`touch ${deniedMarker}`]);
    const id2 = await pendingFor("approved-marker-2");
    expect((await cli(["approvals", "deny", id2, "--reason", "change freeze"])).code).toBe(0);
    const d = await denied;
    expect(d.status).toBe(126);
    expect(d.stderr).toContain("change freeze");
    expect(existsSync(deniedMarker)).toBe(false);
  });

  it("a held command is shown to approvers with its invisible and reordering characters as marks", async () => {
    // A right-to-left override (or a lone carriage return) in the command line would make the
    // console, a terminal or Slack show the approver another order than the shell runs.
    const approver = await stack.mintToken({ sub: "sre-on-call" });
    const cli = async (args: string[]) => {
      let out = "";
      const io = { stdout: (t: string) => (out += t), stderr: () => {}, env: { GATEHOUSE_TOKEN: approver, GATEHOUSE_URL: stack.gatewayUrl } };
      return { code: await main(args, io as never), out };
    };
    const marker = path.join(work, "approved-marker-bidi");
    const pending = ssh([`touch ${marker} # \u202edone\r`]);
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      const list = JSON.parse((await cli(["approvals", "list", "--json"])).out) as Array<{ id: string; statement?: { text: string } }>;
      id = list.find((r) => r.statement?.text.includes("approved-marker-bidi"))?.id;
      if (!id) await new Promise((res) => setTimeout(res, 100));
    }
    const shown = JSON.parse((await cli(["approvals", "show", id!, "--json"])).out) as { request: { statement: { text: string } } };
    expect((await cli(["approvals", "approve", id!, "--reason", "planned"])).code).toBe(0);
    expect((await pending).status).toBe(0);
    expect(existsSync(marker)).toBe(true); // what ran: the sshd host's own file system
    expect(shown.request.statement.text).toBe(`touch ${marker} # <U+202E>done<U+000D>`);
  });

  it("records an interactive shell session (ssh -tt) and replays it", async () => {
    const before = conn.logs.length;
    const r = await ssh(["-tt"], "echo shell-$((6*7))\nexit 5\n");
    expect(r.stdout, `status ${r.status}, stderr: ${r.stderr}`).toContain("shell-42");
    expect(r.status).toBe(5);
    // The client logs each connection (with its session id) once its tunnel has closed. Connections
    // of earlier tests may still be logging, so replay every new session until the shell's shows up.
    const token = await stack.mintToken({ sub: "auditor-1", claims: { groups: ["auditors"] } });
    const replay = async (sessionId: string) => {
      let out = "";
      let err = "";
      const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), env: { GATEHOUSE_TOKEN: token, GATEHOUSE_URL: stack.gatewayUrl } };
      const code = await main(["sessions", "replay", sessionId, "--asciicast"], io as never);
      return { code, out, err };
    };
    let shell: { code: number; out: string; err: string } | undefined;
    for (let i = 0; i < 100 && !shell; i++) {
      for (const line of conn.logs.slice(before)) {
        const id = /session ([0-9a-f-]{36}): /.exec(line)?.[1];
        if (!id) continue;
        const got = await replay(id);
        if (got.code === 0 && got.out.includes("shell-42")) shell = got;
      }
      if (!shell) await new Promise((res) => setTimeout(res, 100));
    }
    expect(shell).toBeDefined();
    expect(shell!.err).toBe("");
    const lines = shell!.out.trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(lines[0]).toMatchObject({ version: 2 });
    const output = lines.slice(1).filter((e) => Array.isArray(e) && e[1] === "o").map((e) => (e as [number, string, string])[2]).join("");
    expect(output).toContain("shell-42");
  });

  it("uploads and downloads with scp (SFTP) under per-path policy", async () => {
    const src = path.join(local, "up.txt");
    writeFileSync(src, "uploaded through the gateway\n");
    const scp = (args: string[]) => run("scp", ["-P", String(conn.port), ...SSH_OPTS, ...args]);
    let r = await scp([src, `pipeline@127.0.0.1:${work}/up.txt`]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(path.join(work, "up.txt"), "utf8")).toBe("uploaded through the gateway\n");

    const down = path.join(local, "down.txt");
    r = await scp([`pipeline@127.0.0.1:${work}/up.txt`, down]);
    expect(r.status).toBe(0);
    expect(readFileSync(down, "utf8")).toBe("uploaded through the gateway\n");

    // Writes outside the allowed paths, and into protected/, are refused before the host sees them.
    const outside = path.join(sshd.dir, "outside.txt");
    r = await scp([src, `pipeline@127.0.0.1:${outside}`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/gatehouse: refused|Permission denied/);
    expect(existsSync(outside)).toBe(false);
    r = await scp([src, `pipeline@127.0.0.1:${work}/protected/keep.txt`]);
    expect(r.status).not.toBe(0);
    expect(readFileSync(path.join(work, "protected", "keep.txt"), "utf8")).toBe("keep me\n");
  });

  it("refuses sftp remove of protected files (sftp batch mode)", async () => {
    const batch = path.join(local, "batch.txt");
    writeFileSync(batch, `rm ${work}/protected/keep.txt\n`);
    const r = await run("sftp", ["-P", String(conn.port), ...SSH_OPTS, "-b", batch, "pipeline@127.0.0.1"]);
    expect(r.status).not.toBe(0);
    // sftp shows the STATUS code (the gateway's message travels in it too).
    expect(r.stderr).toMatch(/Permission denied|gatehouse: refused/);
    expect(existsSync(path.join(work, "protected", "keep.txt"))).toBe(true);
  });

  it("lists with sftp `ls -l` without refusal noise (users-groups-by-id is a listing)", async () => {
    const batch = path.join(local, "ls-batch.txt");
    writeFileSync(batch, `ls -l ${work}\n`);
    const r = await run("sftp", ["-P", String(conn.port), ...SSH_OPTS, "-b", batch, "pipeline@127.0.0.1"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("protected");
    expect(r.stderr).not.toMatch(/refused|denied|unsupported|failed/i);
  });

  it("syncs a directory with rsync over the gateway", async () => {
    const srcDir = path.join(local, "tree");
    mkdirSync(path.join(srcDir, "sub"), { recursive: true });
    writeFileSync(path.join(srcDir, "a.txt"), "alpha\n");
    writeFileSync(path.join(srcDir, "sub", "b.txt"), "beta\n".repeat(10_000));
    const r = await run("rsync", ["-a", "-e", `ssh -p ${conn.port} ${SSH_OPTS.join(" ")}`, `${srcDir}/`, `pipeline@127.0.0.1:${work}/tree/`]);
    expect(r.stderr, conn.logs.join("\n")).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(path.join(work, "tree", "a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(path.join(work, "tree", "sub", "b.txt"), "utf8")).toBe("beta\n".repeat(10_000));
  });

  it("refuses port forwarding (ssh -W, -L and -R)", async () => {
    let r = await ssh(["-W", `127.0.0.1:${sshd.port}`]);
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/stdio forwarding failed|open failed/);

    r = await ssh(["-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:22"]);
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/forwarding failed/i);

    // -L: the local end listens, but the gateway refuses the channel when it is used.
    const localPort = await freePort();
    const forwarding = ssh(["-L", `${localPort}:127.0.0.1:${sshd.port}`, "sleep 3"]);
    await new Promise((r2) => setTimeout(r2, 1500));
    const banner = await new Promise<string>((resolve) => {
      const s = tcpConnect(localPort, "127.0.0.1");
      let got = "";
      s.on("data", (d) => (got += d.toString()));
      s.on("close", () => resolve(got));
      s.on("error", () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    });
    // The forwarded connection is closed at once: nothing from the target's sshd comes through.
    expect(banner).toBe("");
    const done = await forwarding;
    expect(done.stdout).toBe("");
  });

  it("explains a host key mismatch, an authentication failure and a host that is down", async () => {
    for (const [resource, pattern] of [
      ["pinned-wrong", /host key mismatch/],
      ["wrong-key", /authentication as gatehouse-ssh failed/],
      ["host-down", /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/],
    ] as const) {
      const c = await stack.connect(resource);
      const r = await ssh(["echo should-not-run"], undefined, c.port);
      expect(r.status, resource).toBe(255);
      expect(r.stdout, resource).toBe("");
      expect(r.stderr, resource).toMatch(pattern);
      await c.stop();
    }
  });

  it("gatehouse exec runs one command with stdin, stdout, stderr and the exit status", async () => {
    const env = { ...process.env, GATEHOUSE_TOKEN: await stack.mintToken(), GATEHOUSE_URL: stack.gatewayUrl };
    const cli = (args: string[], input = "") =>
      new Promise<Run>((resolve) => {
        const p = spawn(process.execPath, [path.resolve("bin/gatehouse.mjs"), "exec", ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        p.stdin.end(input);
        p.on("close", (status) => resolve({ status, stdout, stderr }));
      });
    let r = await cli(["demo-ssh", "--", "echo out; echo err >&2; exit 7"]);
    expect(r).toEqual({ status: 7, stdout: "out\n", stderr: "err\n" });
    r = await cli(["demo-ssh", "--", "tr", "a-z", "A-Z"], "piped input\n");
    expect(r).toEqual({ status: 0, stdout: "PIPED INPUT\n", stderr: "" });
    r = await cli(["demo-ssh", "--", "reboot"]);
    expect(r.status).toBe(126);
    expect(r.stderr).toContain("rule 'no-destroy'");
    r = await cli(["host-down", "--", "true"]);
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/cannot reach/);
  });

  it("never lets the target's private key reach the client side", async () => {
    const capture: TcpCapture = await startTcpCapture(Number(new URL(stack.gatewayUrl).port));
    let listener: ConnectListener | undefined;
    try {
      listener = await startConnectListener({
        gateway: `http://127.0.0.1:${capture.port}`,
        resource: "demo-ssh",
        port: 0,
        tokenSource: staticTokenSource(await stack.mintToken(), "test"),
        log: () => {},
        credentials: TEST_LISTENER_CREDENTIALS,
      });
      const r = await ssh(["echo key-check"], undefined, listener.port);
      expect(r.stdout).toBe("key-check\n");
      const seen = capture.bytes().toString("latin1");
      expect(seen).toContain("key-check");
      const keyBody = sshd.clientPrivateKey.split("\n").filter((l) => l && !l.startsWith("-----"));
      for (const line of keyBody) expect(seen).not.toContain(line);
      expect(seen).not.toContain("PRIVATE KEY");
    } finally {
      await listener?.close();
      await capture.stop();
    }
  });
});
