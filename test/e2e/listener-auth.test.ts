/**
 * Nothing outside the pipeline's own OS user can ride its `gatehouse connect` listener: a
 * throwaway second OS user (useradd; the tests run as root) tries the PostgreSQL and SSH listeners
 * with real psql and ssh — without credentials, with the listener's own files (unreadable to it),
 * with its own key, and after searching everything it can read for the secret. The listeners here
 * generate their secrets exactly as the CLI does (no harness credentials).
 * Ground truth: the target (current_user from PostgreSQL, a file the ssh command writes on the host).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startTestStack, cleanPgEnv, type TestStack } from "../harness/stack.ts";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startConnectListener, type ConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { createIntruder, sh, type Intruder } from "../harness/intruder.ts";
import { spawn } from "node:child_process";
import pg from "pg";
import { eventually } from "./helpers.ts";

let intruder: Intruder;
const asIntruder = (cmd: string, args: string[], env?: Record<string, string>) => intruder.run(cmd, args, env);

describe("local listeners admit only their own OS user", () => {
  let stack: TestStack;
  let sshd: TestSshd;
  let pgListener: ConnectListener;
  let sshListener: ConnectListener;
  let stateRoot: string;
  const logs: string[] = [];

  beforeAll(async () => {
    intruder = await createIntruder();
    sshd = await startTestSshd();
    stack = await startTestStack({
      policyYaml: `
version: 1
rules:
  - { name: pg, effect: allow, subjects: any, resources: [demo-pg], actions: [connect, sql.read] }
  - { name: ssh, effect: allow, subjects: any, resources: [demo-ssh], actions: [connect, ssh.exec] }
`,
      extraResources: [sshdResource(sshd, "demo-ssh", { labels: {} })],
    });
    // A world-traversable parent, and a state dir someone left 0755: the listener must make it private.
    stateRoot = mkdtempSync(path.join(tmpdir(), "gatehouse-state-root-"));
    chmodSync(stateRoot, 0o755);
    mkdirSync(path.join(stateRoot, "state"), { mode: 0o755 });
    chmodSync(path.join(stateRoot, "state"), 0o755);
    const common = { gateway: stack.gatewayUrl, port: 0, stateDir: path.join(stateRoot, "state"), log: (l: string) => logs.push(l) };
    pgListener = await startConnectListener({ ...common, resource: "demo-pg", tokenSource: staticTokenSource(await stack.mintToken({ sub: "pipeline" }), "test") });
    sshListener = await startConnectListener({ ...common, resource: "demo-ssh", tokenSource: staticTokenSource(await stack.mintToken({ sub: "pipeline" }), "test") });
  });

  afterAll(async () => {
    await pgListener?.close();
    await sshListener?.close();
    await stack?.stop();
    await sshd?.stop();
    if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
    intruder?.cleanup();
  });

  const pgUrl = (l: ConnectListener) => `postgresql://pipeline@127.0.0.1:${l.port}/demo-pg?sslmode=disable&connect_timeout=10`;

  it("keeps the listener's files 0600 in 0700 directories, even in a state dir left open", () => {
    const files = Object.values({ ...pgListener.auth.files, ...sshListener.auth.files });
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    for (const d of [path.join(stateRoot, "state"), path.join(stateRoot, "state", "listeners"), path.dirname(pgListener.auth.files.pgpass!)]) expect(statSync(d).mode & 0o777, d).toBe(0o700);
  });

  it("the owner gets in with the printed PGPASSFILE and the printed ssh config", async () => {
    const pg = await sh("psql", [pgUrl(pgListener), "-X", "-w", "-A", "-t", "-c", "select current_user"], { ...cleanPgEnv(), PGPASSFILE: pgListener.auth.files.pgpass! });
    expect(pg.stderr).toBe("");
    // A read-only policy: the connector logs in with the read level's login.
    expect(pg.stdout.trim()).toBe(stack.pg.levels?.read.user ?? stack.pg.user);
    // The printed connection string works as it is (libpq's passfile= parameter).
    const printed = pgListener.usage.find((l) => l.startsWith("connection string:"))!.replace("connection string: ", "");
    const viaPrinted = await sh("psql", [printed, "-X", "-w", "-A", "-t", "-c", "select 'printed'"], cleanPgEnv());
    expect(viaPrinted.stderr).toBe("");
    expect(viaPrinted.stdout.trim()).toBe("printed");
    const marker = path.join(sshd.home, "owner-was-here");
    const ssh = await sh("ssh", ["-F", sshListener.auth.files.sshConfig!, "-o", "BatchMode=yes", "demo-ssh", `touch ${marker}`]);
    expect(ssh.stderr).toBe("");
    expect(ssh.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it("another OS user cannot use the PostgreSQL listener, however it tries", async () => {
    const before = logs.filter((l) => l.includes("local authentication failed:")).length;
    // No password at all, a guessed one, and the listener's own password file (unreadable to it).
    const none = await asIntruder("psql", [pgUrl(pgListener), "-X", "-w", "-c", "select 1"]);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/no password supplied/);
    const guessed = await asIntruder("psql", [pgUrl(pgListener).replace("pipeline@", "pipeline:guess@"), "-X", "-w", "-c", "select 1"]);
    expect(guessed.code).toBe(2);
    expect(guessed.stderr).toContain('FATAL:  gatehouse: password authentication failed for user "pipeline"');
    const viaFile = await asIntruder("psql", [`${pgUrl(pgListener)}&passfile=${pgListener.auth.files.pgpass}`, "-X", "-w", "-c", "select 1"], { PGPASSFILE: pgListener.auth.files.pgpass! });
    expect(viaFile.code).toBe(2);
    const cat = await asIntruder("cat", [pgListener.auth.files.pgpass!, pgListener.auth.files.url!]);
    expect(cat.code).not.toBe(0);
    expect(cat.stderr).toMatch(/Permission denied/);
    expect(cat.stdout).toBe("");
    // Everything it can read around the stack and the listener process: the secret is nowhere.
    const search = await asIntruder("grep", ["-rlsF", "--", pgListener.auth.password, stateRoot, stack.home, intruder.home, `/proc/${process.pid}/cmdline`, `/proc/${process.pid}/environ`]);
    expect(search.stdout).toBe("");
    expect(logs.filter((l) => l.includes("local authentication failed:")).length - before).toBeGreaterThanOrEqual(2);
    // None of it reached the gateway: no session was announced for a refused connection.
    expect(logs.filter((l) => /local authentication failed —/.test(l) && /session /.test(l))).toEqual([]);
  });

  it("another OS user's unauthenticated connection does not use up a --once listener's one connection", async () => {
    const once = await startConnectListener({
      gateway: stack.gatewayUrl,
      resource: "demo-pg",
      port: 0,
      once: true,
      stateDir: path.join(stateRoot, "state"),
      tokenSource: staticTokenSource(await stack.mintToken({ sub: "pipeline" }), "test"),
      log: (l: string) => logs.push(l),
    });
    try {
      const first = await asIntruder("psql", [pgUrl(once).replace("pipeline@", "pipeline:guess@"), "-X", "-w", "-c", "select 1"]);
      expect(first.code).toBe(2);
      expect(first.stderr).toContain("password authentication failed");
      // The pipeline's own connection still gets through, to the target.
      const owner = await sh("psql", [pgUrl(once), "-X", "-w", "-A", "-t", "-c", "select 'owner-after-intruder'"], { ...cleanPgEnv(), PGPASSFILE: once.auth.files.pgpass! });
      expect(owner.stderr).toBe("");
      expect(owner.stdout.trim()).toBe("owner-after-intruder");
      // It was the one connection: the listener has stopped.
      await once.done;
      const after = await sh("psql", [pgUrl(once), "-X", "-w", "-c", "select 1"], { ...cleanPgEnv(), PGPASSFILE: once.auth.files.pgpass! });
      expect(after.code).toBe(2);
    } finally {
      await once.close();
    }
  });

  it("another OS user's CancelRequests never reach the gateway; the owner's own cancel still works", async () => {
    const su = stack.pg.superuser!;
    const admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await admin.connect();
    const sleeping = async () => Number((await admin.query("select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'")).rows[0].n);
    const child = spawn("psql", [pgUrl(pgListener), "-X", "-w", "-c", "select pg_sleep(60)"], { env: { ...cleanPgEnv(), PGPASSFILE: pgListener.auth.files.pgpass! }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    try {
      await eventually(async () => (await sleeping()) === 1, "the owner's query to start");
      const before = logs.filter((l) => l.includes("CancelRequest with a key this listener never handed out")).length;
      // 64 CancelRequests with guessed keys, each on its own connection, as PostgreSQL clients send them.
      const script = `import socket,struct,random\nfor i in range(64):\n s=socket.create_connection(("127.0.0.1",${pgListener.port}))\n s.sendall(struct.pack("!iiII",16,80877102,random.getrandbits(32),random.getrandbits(32)))\n s.recv(1)\n s.close()\n`;
      const flood = await asIntruder("python3", ["-c", script]);
      expect(flood.code, flood.stderr).toBe(0);
      await eventually(async () => logs.filter((l) => l.includes("CancelRequest with a key this listener never handed out")).length - before >= 64, "the listener to drop the guessed cancels");
      expect(await sleeping()).toBe(1);
      child.kill("SIGINT");
      expect(await exited).not.toBe(0);
      expect(stderr).toContain("canceling statement due to user request");
      await eventually(async () => (await sleeping()) === 0, "the owner's query to be cancelled");
    } finally {
      child.kill("SIGKILL");
      await admin.end();
    }
  });

  it("survives hostile authentication answers from another OS user and keeps serving its owner", async () => {
    // Raw PostgreSQL wire from the other user: a cleartext password instead of SASL, SCRAM-SHA-256-PLUS,
    // channel binding, absurd and negative lengths, invalid UTF-8, an oversized nonce, a query before
    // authentication, a wrong proof, and a final message replaying an earlier exchange's nonce.
    const probe = await asIntruder("python3", ["-c", readFileSync(path.join(import.meta.dirname, "listener-auth-probe.py"), "utf8"), String(pgListener.port)]);
    expect(probe.stderr).toBe("");
    const codes = Object.fromEntries(probe.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    expect(codes).toEqual({
      cleartext: "28P01",
      plus: "28P01",
      cbind: "28P01",
      huge: "08P01",
      badutf8: "28P01",
      longnonce: "28P01",
      negative: "28P01",
      wrongtype: "28000",
      wrongproof: "28P01",
      replayednonce: "28P01",
    });
    // The listener still serves its owner, to the target.
    const owner = await sh("psql", [pgUrl(pgListener), "-X", "-w", "-A", "-t", "-c", "select 'still serving'"], { ...cleanPgEnv(), PGPASSFILE: pgListener.auth.files.pgpass! });
    expect(owner.stderr).toBe("");
    expect(owner.stdout.trim()).toBe("still serving");
  });

  it("drops another OS user's connections that never authenticate (no holding the listener's sockets for ever)", async () => {
    // Both listeners at once: connect, say nothing (the SSH one sends its banner), wait for the close.
    const script = [
      "import socket,threading",
      "def hold(name,port):",
      " s=socket.create_connection(('127.0.0.1',port)); s.settimeout(50)",
      " try:",
      "  while s.recv(4096): pass",
      "  print(name,'closed')",
      " except socket.timeout: print(name,'still open')",
      `ts=[threading.Thread(target=hold,args=a) for a in (('ssh',${sshListener.port}),('pg',${pgListener.port}))]`,
      "[t.start() for t in ts]; [t.join() for t in ts]",
    ].join("\n");
    const held = await asIntruder("python3", ["-c", script]);
    expect(held.stderr).toBe("");
    expect(held.stdout.trim().split("\n").sort()).toEqual(["pg closed", "ssh closed"]);
  }, 120_000);

  it("another OS user cannot use the SSH listener, with no key, the listener's key file, or its own key", async () => {
    const marker = path.join(sshd.home, "intruder-was-here");
    const common = ["-p", String(sshListener.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];
    const plain = await asIntruder("ssh", [...common, "gatehouse@127.0.0.1", `touch ${marker}`]);
    expect(plain.code, plain.stderr).toBe(255);
    expect(plain.stderr).toMatch(/Permission denied \(publickey\)/);
    const stolen = await asIntruder("ssh", [...common, "-i", sshListener.auth.files.sshKey!, "-o", "IdentitiesOnly=yes", "gatehouse@127.0.0.1", `touch ${marker}`]);
    expect(stolen.code).toBe(255);
    const keyFile = path.join(intruder.home, "own_key");
    expect((await asIntruder("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])).code).toBe(0);
    const own = await asIntruder("ssh", [...common, "-i", keyFile, "-o", "IdentitiesOnly=yes", "gatehouse@127.0.0.1", `touch ${marker}`]);
    expect(own.code).toBe(255);
    expect(own.stderr).toMatch(/Permission denied \(publickey\)/);
    const withConfig = await asIntruder("ssh", ["-F", sshListener.auth.files.sshConfig!, "-o", "BatchMode=yes", "demo-ssh", `touch ${marker}`]);
    expect(withConfig.code).toBe(255);
    expect(existsSync(marker)).toBe(false);
    // A line holding private bits (the first base64 lines are a header every OpenSSH key shares).
    const keyBody = readFileSync(sshListener.auth.files.sshKey!, "utf8").split("\n")[3]!;
    expect(keyBody.length).toBeGreaterThan(40);
    const search = await asIntruder("grep", ["-rlsF", "--", keyBody, stateRoot, stack.home, intruder.home]);
    expect(search.stdout).toBe("");
    expect(logs.some((l) => l.includes("demo-ssh: local authentication failed: publickey"))).toBe(true);
  });
});
