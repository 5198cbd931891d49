import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import net from "node:net";
import { startGatewayPeer, type PeerTunnel } from "../../../client/testing/gateway-peer.ts";
import { startConnectListener, type ConnectListener } from "../../../client/listener.ts";
import { staticTokenSource } from "../../../client/auth/token-source.ts";
import { mintDevToken } from "../../../client/dev/issuer.ts";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function token(sub = "alice"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-pg-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return mintDevToken({ sub, keyFile: path.join(dir, "key.json"), issuer: "http://127.0.0.1:1" });
}

async function setup(peerOpts: Parameters<typeof startGatewayPeer>[0] = {}, listenerOpts: { type?: string; gateway?: string } = {}) {
  const peer = await startGatewayPeer(peerOpts);
  cleanups.push(() => peer.close());
  const lines: string[] = [];
  const stateDir = await mkdtemp(path.join(tmpdir(), "gh-pg-state-"));
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  const listener = await startConnectListener({
    stateDir,
    gateway: listenerOpts.gateway ?? peer.url,
    resource: "demo-pg",
    port: 0,
    tokenSource: staticTokenSource(await token(), "test"),
    type: listenerOpts.type,
    log: (l) => lines.push(l),
  });
  cleanups.push(() => listener.close());
  return { peer, listener, lines };
}

/** psql with the listener's password (`password: null` for none, or another one). */
function psql(listener: ConnectListener, extra = "sslmode=prefer", password: string | null = listener.auth.password, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const secret = password === null ? "" : `:${encodeURIComponent(password)}`;
  return new Promise((resolve) => {
    execFile(
      "psql",
      [`postgresql://alice${secret}@127.0.0.1:${listener.port}/demo-pg?${extra}&connect_timeout=10`, "-X", "-w", "-c", "select 1"],
      { env: { ...cleanPgEnv(), ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The environment without any PG* variable that could change how psql connects. */
function cleanPgEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
}

/** Send raw bytes to the listener and collect everything it answers until it closes. */
function raw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    s.on("data", (c) => chunks.push(c));
    s.on("close", () => resolve(Buffer.concat(chunks)));
    s.on("error", reject);
  });
}

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function request(code: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(code, 4);
  return b;
}

/** StartupMessage parameters from the first DATA bytes received by the peer. */
function parseStartup(data: Buffer): { protocol: number; params: Record<string, string> } {
  const len = data.readInt32BE(0);
  const protocol = data.readInt32BE(4);
  const parts = data.subarray(8, len - 1).toString("utf8").split("\0");
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) params[parts[i]!] = parts[i + 1]!;
  return { protocol, params };
}

describe("postgres engine (real psql against the local listener)", () => {
  it("answers SSLRequest with N locally and forwards psql's StartupMessage as DATA", async () => {
    let tunnel: PeerTunnel | undefined;
    const { listener, peer, lines } = await setup({
      onTunnel: (t) => {
        tunnel = t;
        // Once the StartupMessage is in, end the session with a reason psql will print.
        void t.until(() => t.dataBytes >= 8 && t.dataBytes >= t.allData().readInt32BE(0)).then(() => t.close("28000", "test peer saw the StartupMessage"));
      },
    });
    const r = await psql(listener, "sslmode=prefer");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("FATAL:  gatehouse: test peer saw the StartupMessage");
    expect(peer.tunnels).toHaveLength(1);
    const startup = parseStartup(tunnel!.allData());
    expect(startup.protocol).toBe(196608);
    expect(startup.params.user).toBe("alice");
    expect(startup.params.database).toBe("demo-pg");
    expect(tunnel!.token).toMatch(/^ey/);
    expect(lines.join("\n")).toMatch(/conn #1 .* session s_test_1: closed by gateway \(28000\)/);
    expect(listener.usage[0]).toBe(`connection string: postgresql://alice@127.0.0.1:${listener.port}/demo-pg?sslmode=disable&passfile=${encodeURIComponent(listener.auth.files.pgpass!)}`);
  });

  it("sslmode=require gets a clear refusal because the local hop does not do TLS", async () => {
    const { listener, peer } = await setup();
    const r = await psql(listener, "sslmode=require");
    expect(r.stderr).toContain("server does not support SSL");
    expect(peer.tunnels).toHaveLength(0);
  });

  it("answers SSLRequest then GSSENCRequest with N each, then asks for SCRAM-SHA-256 before any tunnel exists", async () => {
    const { listener, peer } = await setup();
    const startup = startupMessage({ user: "bob", database: "demo-pg", application_name: "raw" });
    // The client must wait for each answer (bytes after a request would be rejected), so write step by step.
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(listener.port, "127.0.0.1", () => s.write(request(80877103)));
      let step = 0;
      s.on("data", (c) => {
        chunks.push(c);
        const got = Buffer.concat(chunks);
        if (step === 0 && got.length === 1) {
          step = 1;
          s.write(request(80877104));
        } else if (step === 1 && got.length === 2) {
          step = 2;
          s.write(startup);
        } else if (step === 2 && got.length > 2) s.end();
      });
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    expect(answer.subarray(0, 2).toString("latin1")).toBe("NN");
    expect(answer[2]).toBe(0x52); // AuthenticationSASL
    expect(answer.readInt32BE(7)).toBe(10);
    expect(answer.subarray(11).toString("latin1")).toBe("SCRAM-SHA-256\0\0");
    expect(peer.tunnels).toHaveLength(0);
  });

  it("rejects data smuggled after an SSLRequest and startup packets over 10 kB", async () => {
    const { listener, peer } = await setup();
    const smuggled = await raw(listener.port, Buffer.concat([request(80877103), startupMessage({ user: "x" })]));
    expect(smuggled[0]).toBe(0x45);
    expect(smuggled.toString("latin1")).toContain("unencrypted data after an encryption request");
    const big = Buffer.alloc(8);
    big.writeInt32BE(10_001, 0);
    big.writeInt32BE(196608, 4);
    const tooBig = await raw(listener.port, big);
    expect(tooBig.toString("latin1")).toContain("invalid startup packet length 10001");
    expect(peer.tunnels).toHaveLength(0);
  });

  it("turns a CancelRequest connection into POST /v1/cancel with the key", async () => {
    const { listener, peer } = await setup();
    const cancelFor = (pid: number, secret: number) => {
      const cancel = Buffer.alloc(16);
      cancel.writeInt32BE(16, 0);
      cancel.writeInt32BE(80877102, 4);
      cancel.writeUInt32BE(pid, 8);
      cancel.writeUInt32BE(secret, 12);
      return cancel;
    };
    // A key no connection of this listener was given (a guess by another local user) is dropped locally.
    expect((await raw(listener.port, cancelFor(4242, 0xdeadbeee))).length).toBe(0);
    // As if the gateway's BackendKeyData had reached one of the listener's authenticated connections.
    listener.auth.cancelKeys.add(`4242:${0xdeadbeef}`);
    const answer = await raw(listener.port, cancelFor(4242, 0xdeadbeef));
    expect(answer.length).toBe(0);
    await new Promise<void>((r) => {
      const check = () => (peer.cancels.length > 0 ? r() : setTimeout(check, 20));
      check();
    });
    expect(peer.cancels).toHaveLength(1);
    expect(peer.cancels[0]!.body).toEqual({ pid: 4242, secret: 0xdeadbeef });
    expect(peer.cancels[0]!.authorization).toMatch(/^Bearer ey/);
    expect(peer.tunnels).toHaveLength(0);
  });

  it("shows psql the gateway's 401 reason", async () => {
    const { listener } = await setup({ authorize: (_t, what) => (what === "tunnel" ? "token expired" : undefined) });
    const r = await psql(listener, "sslmode=disable");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("FATAL:  gatehouse: unauthorized: token expired");
  });

  it("tells psql when the gateway is unreachable (08001)", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { listener } = await setup({}, { type: "postgres", gateway: `http://127.0.0.1:${deadPort}` });
    const r = await psql(listener, "sslmode=disable");
    expect(r.stderr).toContain(`FATAL:  gatehouse: cannot reach the gateway at http://127.0.0.1:${deadPort}`);
    expect(r.stderr).toContain("ECONNREFUSED");
  });

  it("refuses to start when the resource lookup is unauthorized", async () => {
    await expect(setup({ authorize: () => "bad audience" })).rejects.toThrow(/401: unauthorized \(bad audience\)/);
  });
});

describe("postgres listener authentication (per-listener secret, SCRAM-SHA-256)", () => {
  const closeWith = (reason: string) => ({ onTunnel: (t: PeerTunnel) => void t.until(() => t.dataBytes > 0).then(() => t.close("28000", reason)) });

  it("refuses a wrong password and a missing one with 28P01 before any tunnel, and logs it", async () => {
    const { listener, peer, lines } = await setup();
    const wrong = await psql(listener, "sslmode=disable", `${listener.auth.password}x`);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('FATAL:  gatehouse: password authentication failed for user "alice"');
    const none = await psql(listener, "sslmode=disable", null);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no password supplied|password authentication failed/);
    expect(peer.tunnels).toHaveLength(0);
    expect(lines.filter((l) => l.includes("local authentication failed:"))).toHaveLength(2);
  });

  it("sends the SQLSTATE 28P01 in the ErrorResponse", async () => {
    const { listener } = await setup();
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(listener.port, "127.0.0.1", () => s.write(startupMessage({ user: "mallory", database: "demo-pg" })));
      s.on("data", (c) => {
        chunks.push(c);
        const got = Buffer.concat(chunks);
        // Answer AuthenticationSASL with a client-first for the wrong mechanism.
        if (got.length === 1 + got.readInt32BE(1)) s.write(Buffer.concat([Buffer.from("p"), int32(4 + 6 + 4 + 1), Buffer.from("PLAIN\0"), int32(1), Buffer.from("x")]));
      });
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    const error = answer.subarray(1 + answer.readInt32BE(1));
    expect(String.fromCharCode(error[0]!)).toBe("E");
    expect(error.toString("latin1")).toContain("C28P01\0");
    expect(error.toString("latin1")).toContain("requires SCRAM-SHA-256");
  });

  it("admits psql with the PGPASSFILE it wrote (0600 in a 0700 directory) and removes it on close", async () => {
    const { listener, peer } = await setup(closeWith("reached the gateway"));
    const file = listener.auth.files.pgpass!;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(listener.auth.files.url!)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    const r = await psql(listener, "sslmode=disable", null, { PGPASSFILE: file });
    expect(r.stderr).toContain("FATAL:  gatehouse: reached the gateway");
    const viaUrlFile = await psql(listener, "sslmode=disable", decodeURIComponent(new URL((await readFile(listener.auth.files.url!, "utf8")).trim()).password));
    expect(viaUrlFile.stderr).toContain("FATAL:  gatehouse: reached the gateway");
    expect(peer.tunnels).toHaveLength(2);
    await listener.close();
    await expect(stat(path.dirname(file))).rejects.toThrow(/ENOENT/);
  });

  it("generates a different secret for every listener start", async () => {
    const a = await setup();
    const b = await setup();
    expect(a.listener.auth.password).not.toBe(b.listener.auth.password);
    expect(a.listener.auth.password.length).toBeGreaterThanOrEqual(32);
    const crossed = await psql(b.listener, "sslmode=disable", a.listener.auth.password);
    expect(crossed.stderr).toContain("password authentication failed");
  });
});

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}
