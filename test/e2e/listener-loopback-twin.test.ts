/**
 * Another OS user cannot squat the listener's port on the other loopback address. With only
 * 127.0.0.1:<port> held, it listened on [::1]:<port>; the pipeline's psql, told `localhost` on a
 * runner whose /etc/hosts says `::1 localhost` (Debian's default; here a private mount namespace
 * gives the owner's psql that file), reached the squatter first, answered its cleartext password
 * request with the listener's password (pgpass has a `localhost` line), and the squatter then
 * rode the real listener with it. Real psql (libpq), the throwaway second OS user of
 * test/harness/intruder.ts; ground truth: current_user from PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { startTestStack, cleanPgEnv, type TestStack } from "../harness/stack.ts";
import { startConnectListener, type ConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { createIntruder, sh, type Intruder } from "../harness/intruder.ts";
import { eventually } from "./helpers.ts";

/** The squatter: tries every way to own <port> on IPv6 loopback; if one works, takes one client's password. */
const SQUATTER = `
import socket, struct, sys
port, out = int(sys.argv[1]), sys.argv[2]
def attempt(addr, v6only):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    try:
        s.bind((addr, port)); s.listen(1); return s
    except OSError as e:
        s.close(); return "refused %d" % e.errno
results = {}
sock = None
for addr, v6only in (("::1", 1), ("::", 1), ("::", 0)):
    r = attempt(addr, v6only)
    if isinstance(r, str): results["%s/%d" % (addr, v6only)] = r
    elif sock is None: sock = r; results["%s/%d" % (addr, v6only)] = "listening"
    else: r.close(); results["%s/%d" % (addr, v6only)] = "listening"
open(out + ".tmp", "w").write(repr(sorted(results.items()))); __import__("os").rename(out + ".tmp", out)
if sock is None: sys.exit(0)
sock.settimeout(60)
c, _ = sock.accept(); c.settimeout(10)
def n(k):
    b = b""
    while len(b) < k: b += c.recv(k - len(b))
    return b
n(struct.unpack("!i", n(4))[0] - 4)            # StartupMessage
c.sendall(b"R" + struct.pack("!ii", 8, 3))      # AuthenticationCleartextPassword
n(1); print(n(struct.unpack("!i", n(4))[0] - 4).rstrip(b"\\0").decode())
`;

describe("the listener's port on the other loopback address", () => {
  let stack: TestStack;
  let listener: ConnectListener;
  let intruder: Intruder;
  let scratch: string;

  beforeAll(async () => {
    intruder = await createIntruder();
    stack = await startTestStack({
      policyYaml: `
version: 1
rules:
  - { name: pg, effect: allow, subjects: any, resources: [demo-pg], actions: [connect, sql.read] }
`,
    });
    scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-twin-"));
    listener = await startConnectListener({
      gateway: stack.gatewayUrl,
      resource: "demo-pg",
      port: 0,
      stateDir: path.join(scratch, "state"),
      tokenSource: staticTokenSource(await stack.mintToken({ sub: "pipeline" }), "test"),
      log: () => {},
    });
  });

  afterAll(async () => {
    await listener?.close();
    await stack?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    intruder?.cleanup();
  });

  it("cannot be taken by another OS user, so the owner's `localhost` psql reaches the listener, not a squatter", async () => {
    const status = path.join(intruder.home, "bound");
    const squatter = intruder.run("python3", ["-c", SQUATTER, String(listener.port), status]);
    await eventually(async () => existsSync(status), "the squatter to try its binds");
    const binds = readFileSync(status, "utf8");

    // The owner, on a runner with Debian's /etc/hosts, with the listener's PGPASSFILE and host=localhost.
    const hosts = path.join(scratch, "hosts");
    writeFileSync(hosts, "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
    const url = (host: string) => `postgresql://pipeline@${host}:${listener.port}/demo-pg?sslmode=disable&connect_timeout=10`;
    const owner = await sh("unshare", ["-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec psql "$1" -X -w -A -t -c "select current_user"`, hosts, url("localhost")], { ...cleanPgEnv(), PGPASSFILE: listener.auth.files.pgpass! });

    // Whatever the squatter took, it cannot ride the listener with it.
    const captured = (await squatter).stdout.trim() || "nothing";
    const ride = await intruder.run("psql", [url("127.0.0.1").replace("pipeline@", `pipeline:${encodeURIComponent(captured)}@`), "-X", "-w", "-A", "-t", "-c", "select current_user"]);
    expect(ride.stdout, `the squatter captured ${captured}`).toBe("");
    expect(ride.code).toBe(2);
    expect(captured).not.toContain(listener.auth.password);

    expect(owner.stderr).toBe("");
    expect(owner.stdout.trim()).toBe(stack.pg.levels?.read.user ?? stack.pg.user);
    // Every way onto [::1]:<port> is taken by the listener itself.
    expect(binds).toBe(repr([["::/0", "refused 98"], ["::/1", "refused 98"], ["::1/1", "refused 98"]]));
  });

  it("refuses to start on a port someone already holds on ::1; --port 0 picks one free on both", async () => {
    const squat = createServer();
    await new Promise<void>((resolve) => squat.listen({ host: "::1", port: 0, ipv6Only: true }, resolve));
    const port = (squat.address() as AddressInfo).port;
    const token = await stack.mintToken({ sub: "pipeline" });
    try {
      const start = (p: number) => startConnectListener({ gateway: stack.gatewayUrl, resource: "demo-pg", type: "postgres", port: p, stateDir: path.join(scratch, "state"), tokenSource: staticTokenSource(token, "test"), log: () => {} });
      await expect(start(port)).rejects.toThrow(`port ${port} on ::1 is already in use by another process`);
      const free = await start(0);
      expect(free.port).not.toBe(port);
      await free.close();
    } finally {
      squat.close();
    }
  });
});

/** Python's repr of a sorted list of (str, str) pairs, as the squatter writes it. */
function repr(pairs: Array<[string, string]>): string {
  return `[${pairs.map(([a, b]) => `('${a}', '${b}')`).join(", ")}]`;
}
