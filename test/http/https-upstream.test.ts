/**
 * The connector's upstream trust and credentials, checked by the upstreams themselves:
 *
 *   - HTTPS with a custom CA: the connector trusts only that CA; an upstream whose certificate
 *     another CA signed is refused with a 502 problem+json that says why, nothing forwarded.
 *   - Mutual TLS: a Node https server (requestCert + rejectUnauthorized) and Debian's nginx
 *     (ssl_verify_client on) see the connector's client certificate; without it, no request.
 *   - `jwt` credential: the connector signs a short-lived JWT per request asserting the pipeline's
 *     identity; the upstream verifies it with the connector's public key (node:crypto, not the
 *     library that signed it) and checks iss/sub/aud/exp.
 *
 * Ground truth is what each upstream recorded; the client side is byte-captured to prove the
 * credentials (JWTs, the client key) never reach it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, verify as verifySignature, type KeyObject } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import path from "node:path";
import { startTestStack, DEV_ISSUER_ID, type TestConnection, type TestStack } from "../harness/stack.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { startTcpCapture } from "../harness/tcp-capture.ts";
import { startConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { TEST_LISTENER_CREDENTIALS } from "../harness/listener-auth.ts";
import { freePort } from "../../client/dev/ports.ts";
import { eventually } from "../e2e/helpers.ts";
import type { HttpResourceConfig } from "../../connector/config.ts";

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** What an upstream saw: the request line, its headers, and (TLS) the client certificate's subject. */
interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  peerCn?: string;
  authorized?: boolean;
  jwt?: JwtCheck;
}

interface JwtCheck {
  ok: boolean;
  why?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  token?: string;
}

interface Upstream {
  port: number;
  seen: Seen[];
  handshakeErrors: string[];
  close(): Promise<void>;
}

function listen(server: http.Server | https.Server, seen: Seen[], handshakeErrors: string[]): Promise<Upstream> {
  server.on("tlsClientError", (err: NodeJS.ErrnoException) => handshakeErrors.push(err.code ?? err.message));
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        seen,
        handshakeErrors,
        close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
      }),
    ),
  );
}

function answer(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** An https upstream; with `clientCa` it demands a client certificate signed by that CA. */
function httpsUpstream(tls: { key: string; cert: string }, clientCa?: string): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = https.createServer({ ...tls, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const cn = socket.getPeerCertificate()?.subject?.CN;
    const peerCn = Array.isArray(cn) ? cn.join(",") : cn;
    seen.push({ url: req.url!, headers: req.headers, peerCn, authorized: socket.authorized });
    answer(res, 200, { ok: true, path: req.url, client: peerCn ?? null });
  });
  return listen(server, seen, []);
}

/**
 * An upstream that accepts only an ES256 JWT signed by the connector's key, with the expected
 * issuer and audience, unexpired and short-lived — verified here with node:crypto directly.
 */
function jwtUpstream(publicKey: KeyObject, expect: { iss: string; aud: string; maxTtl: number }): Promise<Upstream> {
  const seen: Seen[] = [];
  const check = (authorization: string | undefined): JwtCheck => {
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? "");
    if (!m) return { ok: false, why: "no bearer JWT" };
    const [token, h, p, s] = m as unknown as [string, string, string, string];
    const header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const base = { header, claims, token: token.slice("Bearer ".length) };
    if (header.alg !== "ES256") return { ...base, ok: false, why: `alg ${String(header.alg)}` };
    if (!verifySignature("sha256", Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"))) return { ...base, ok: false, why: "bad signature" };
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== expect.iss) return { ...base, ok: false, why: "wrong issuer" };
    if (claims.aud !== expect.aud) return { ...base, ok: false, why: "wrong audience" };
    if (typeof claims.sub !== "string" || claims.sub === "") return { ...base, ok: false, why: "no subject" };
    if (typeof claims.exp !== "number" || claims.exp <= now) return { ...base, ok: false, why: "expired" };
    if (typeof claims.iat !== "number" || claims.exp - claims.iat > expect.maxTtl) return { ...base, ok: false, why: "lifetime too long" };
    return { ...base, ok: true };
  };
  const server = http.createServer((req, res) => {
    const jwt = check(req.headers.authorization);
    seen.push({ url: req.url!, headers: req.headers, jwt });
    if (!jwt.ok) return answer(res, 401, { error: "invalid token", why: jwt.why });
    answer(res, 200, { hello: jwt.claims!.sub });
  });
  return listen(server, seen, []);
}

const pem = (k: KeyObject) => k.export({ format: "pem", type: "pkcs8" }).toString();

let serverCa: TestCa;
let otherCa: TestCa;
let clientCa: TestCa;
let clientCert: { key: string; cert: string };
let trusted: Upstream;
let untrusted: Upstream;
let mtls: Upstream;
let jwtApi: Upstream;
let jwtKey: KeyObject;
let nginx: ChildProcess | undefined;
let nginxDir: string;
let nginxPort: number;
let stack: TestStack;
const conns = new Map<string, TestConnection>();

const JWT_TTL = 30;

function resource(name: string, url: string, extra: Partial<HttpResourceConfig> = {}): HttpResourceConfig {
  return { name, type: "http", labels: {}, url: new URL(url), credential: { kind: "none" }, dropCookies: true, identityHeaders: false, ...extra };
}

async function startNginxMtls(): Promise<void> {
  nginxDir = mkdtempSync(path.join(tmpdir(), "gatehouse-nginx-tls-"));
  mkdirSync(path.join(nginxDir, "www"));
  writeFileSync(path.join(nginxDir, "www", "hello.json"), '{"hello":"from nginx"}');
  const server = serverCa.issue("nginx-upstream");
  writeFileSync(path.join(nginxDir, "server.pem"), server.cert);
  writeFileSync(path.join(nginxDir, "server.key"), server.key);
  writeFileSync(path.join(nginxDir, "clients.pem"), clientCa.cert);
  nginxPort = await freePort();
  writeFileSync(
    path.join(nginxDir, "nginx.conf"),
    `daemon off;
master_process off;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log;
events {}
http {
  log_format gatehouse '$request|$ssl_client_verify|$ssl_client_s_dn|$status';
  access_log ${nginxDir}/access.log gatehouse;
  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy; fastcgi_temp_path ${nginxDir}/fcgi; uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;
  types { application/json json; }
  server {
    listen 127.0.0.1:${nginxPort} ssl;
    ssl_certificate ${nginxDir}/server.pem;
    ssl_certificate_key ${nginxDir}/server.key;
    ssl_client_certificate ${nginxDir}/clients.pem;
    ssl_verify_client on;
    root ${nginxDir}/www;
  }
}
`,
  );
  nginx = spawn("nginx", ["-p", nginxDir, "-c", path.join(nginxDir, "nginx.conf")], { stdio: "ignore" });
  // Without a client certificate nginx answers 400 ("No required SSL certificate was sent").
  await eventually(async () => (await curl(["-o", "/dev/null", "-w", "%{http_code}", "--cacert", serverCa.certFile, `https://127.0.0.1:${nginxPort}/hello.json`])).stdout === "400", "nginx up");
}

function nginxLog(): string[] {
  return readFileSync(path.join(nginxDir, "access.log"), "utf8").trim().split("\n").filter(Boolean);
}

beforeAll(async () => {
  serverCa = createTestCa("Upstream CA");
  otherCa = createTestCa("Some other CA");
  clientCa = createTestCa("Connector client CA");
  clientCert = clientCa.issue("gatehouse-connector", "client");
  trusted = await httpsUpstream(serverCa.issue("trusted-upstream"));
  untrusted = await httpsUpstream(otherCa.issue("impostor-upstream"));
  mtls = await httpsUpstream(serverCa.issue("mtls-upstream"), clientCa.cert);
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  jwtKey = pair.privateKey;
  jwtApi = await jwtUpstream(pair.publicKey, { iss: "gatehouse-connector", aud: "billing", maxTtl: JWT_TTL });
  await startNginxMtls();
  const ca = () => serverCa.cert;
  const jwt = (key: KeyObject) => ({ kind: "jwt" as const, privateKey: () => pem(key), alg: "ES256" as const, audience: "billing", issuer: "gatehouse-connector", ttlSeconds: JWT_TTL });
  stack = await startTestStack({
    policyYaml: `
version: 1
rules:
  - name: http-upstreams
    effect: allow
    subjects: any
    resources: { type: http }
    actions: [connect, http.get]
`,
    extraResources: [
      resource("tls-trusted", `https://127.0.0.1:${trusted.port}/api`, { ca }),
      resource("tls-untrusted", `https://127.0.0.1:${untrusted.port}`, { ca }),
      resource("tls-system-roots", `https://127.0.0.1:${trusted.port}`),
      resource("mtls", `https://127.0.0.1:${mtls.port}`, { ca, clientCert: () => clientCert.cert, clientKey: () => clientCert.key }),
      resource("mtls-no-cert", `https://127.0.0.1:${mtls.port}`, { ca }),
      resource("nginx-mtls", `https://127.0.0.1:${nginxPort}`, { ca, clientCert: () => clientCert.cert, clientKey: () => clientCert.key }),
      resource("jwt-api", `http://127.0.0.1:${jwtApi.port}`, { credential: jwt(jwtKey) }),
      resource("jwt-wrong-key", `http://127.0.0.1:${jwtApi.port}`, { credential: jwt(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey) }),
    ],
    verbose: !!process.env.GATEHOUSE_TEST_VERBOSE,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  for (const u of [trusted, untrusted, mtls, jwtApi]) await u?.close();
  nginx?.kill("SIGTERM");
  for (const ca of [serverCa, otherCa, clientCa]) ca?.dispose();
  if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
});

async function through(resourceName: string, p: string, sub = "pipeline-tls"): Promise<{ status: number; type: string; body: string }> {
  let conn = conns.get(`${resourceName}:${sub}`);
  if (!conn) {
    conn = await stack.connect(resourceName, { sub });
    conns.set(`${resourceName}:${sub}`, conn);
  }
  const r = await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, "-w", "\n%{http_code} %{content_type}", `http://127.0.0.1:${conn.port}${p}`]);
  const lines = r.stdout.split("\n");
  const [status, type] = lines.pop()!.split(" ");
  return { status: Number(status), type: type ?? "", body: lines.join("\n") };
}

describe("HTTPS upstream with a custom CA", () => {
  it("an upstream whose certificate the configured CA signed is reached (the path under the base URL)", async () => {
    const r = await through("tls-trusted", "/orders?x=1");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, path: "/api/orders?x=1" });
    expect(trusted.seen.at(-1)!.url).toBe("/api/orders?x=1");
  });

  it("an upstream with a certificate from another CA is refused: 502 problem+json naming the trust failure, nothing forwarded", async () => {
    const r = await through("tls-untrusted", "/orders");
    expect(r.status).toBe(502);
    expect(r.type).toBe("application/problem+json");
    const problem = JSON.parse(r.body);
    expect(problem.status).toBe(502);
    expect(problem.detail).toMatch(/tls-untrusted/);
    expect(problem.detail).toMatch(/certificate is not trusted/);
    expect(untrusted.seen).toHaveLength(0);
  });

  it("the custom CA replaces the system roots, it does not add to them: without `ca` the test CA's upstream is untrusted", async () => {
    const before = trusted.seen.length;
    const r = await through("tls-system-roots", "/orders");
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).detail).toMatch(/certificate is not trusted/);
    expect(trusted.seen.length).toBe(before);
  });
});

describe("upstreams that require a client certificate", () => {
  it("Node https (requestCert, rejectUnauthorized): the upstream saw the connector's certificate, verified", async () => {
    const r = await through("mtls", "/whoami");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, client: "gatehouse-connector" });
    expect(mtls.seen.at(-1)).toMatchObject({ url: "/whoami", peerCn: "gatehouse-connector", authorized: true });
  });

  it("without the client certificate the upstream never gets the request; the client gets a 502 about the TLS handshake", async () => {
    const before = mtls.seen.length;
    const r = await through("mtls-no-cert", "/whoami");
    expect(r.status).toBe(502);
    expect(r.type).toBe("application/problem+json");
    expect(JSON.parse(r.body).detail).toMatch(/mtls-no-cert.*TLS/);
    expect(mtls.seen.length).toBe(before);
  });

  it("nginx with ssl_verify_client on: nginx verified the connector's certificate (its own access log)", async () => {
    const r = await through("nginx-mtls", "/hello.json");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ hello: "from nginx" });
    const [request, verified, dn, status] = nginxLog().at(-1)!.split("|");
    expect(request).toBe("GET /hello.json HTTP/1.1");
    expect(verified).toBe("SUCCESS");
    expect(dn).toContain("CN=gatehouse-connector");
    expect(status).toBe("200");
  });
});

describe("the jwt credential", () => {
  it("the upstream verifies a fresh ES256 JWT per request with the connector's public key; sub is the pipeline identity", async () => {
    const a = await through("jwt-api", "/me", "pipeline-deploy");
    const b = await through("jwt-api", "/me", "pipeline-deploy");
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({ hello: "pipeline-deploy" });
    expect(b.status).toBe(200);
    const [first, second] = jwtApi.seen.slice(-2).map((s) => s.jwt!);
    for (const jwt of [first!, second!]) {
      expect(jwt.ok, jwt.why).toBe(true);
      expect(jwt.header).toMatchObject({ alg: "ES256", typ: "JWT" });
      expect(jwt.claims).toMatchObject({ iss: "gatehouse-connector", sub: "pipeline-deploy", aud: "billing", gatehouse_resource: "jwt-api", gatehouse_issuer: DEV_ISSUER_ID });
      expect((jwt.claims!.exp as number) - (jwt.claims!.iat as number)).toBe(JWT_TTL);
      expect(typeof jwt.claims!.gatehouse_session).toBe("string");
    }
    // Signed per request, not replayed: a new token id each time.
    expect(first!.claims!.jti).not.toBe(second!.claims!.jti);
    expect(first!.token).not.toBe(second!.token);
  });

  it("another pipeline identity is asserted as itself", async () => {
    const r = await through("jwt-api", "/me", "pipeline-nightly");
    expect(JSON.parse(r.body)).toEqual({ hello: "pipeline-nightly" });
    expect(jwtApi.seen.at(-1)!.jwt!.claims!.sub).toBe("pipeline-nightly");
  });

  it("a JWT signed with a key the upstream does not know is rejected by the upstream (the verifier is real)", async () => {
    const r = await through("jwt-wrong-key", "/me");
    expect(r.status).toBe(401);
    expect(jwtApi.seen.at(-1)!.jwt).toMatchObject({ ok: false, why: "bad signature" });
  });

  it("the JWTs and the client key never cross to the client side (byte capture of the client ↔ gateway hop and of curl's output)", async () => {
    const capture = await startTcpCapture(Number(new URL(stack.gatewayUrl).port));
    const listeners = await Promise.all(
      ["jwt-api", "mtls"].map(async (name) =>
        startConnectListener({
          gateway: `http://127.0.0.1:${capture.port}`,
          resource: name,
          port: 0,
          tokenSource: staticTokenSource(await stack.mintToken({ sub: "capture" }), "test"),
          log: () => {},
          credentials: TEST_LISTENER_CREDENTIALS,
        }),
      ),
    );
    try {
      const [jwtListener, mtlsListener] = listeners as [(typeof listeners)[0], (typeof listeners)[0]];
      const seenBefore = jwtApi.seen.length;
      const a = await curl(["-i", "-H", `X-Gatehouse-Listener-Token: ${jwtListener.auth.password}`, `http://127.0.0.1:${jwtListener.port}/me`, `http://127.0.0.1:${jwtListener.port}/me`]);
      const b = await curl(["-i", "-H", `X-Gatehouse-Listener-Token: ${mtlsListener.auth.password}`, `http://127.0.0.1:${mtlsListener.port}/whoami`]);
      expect(a.stdout).toContain('{"hello":"capture"}');
      expect(b.stdout).toContain('"client":"gatehouse-connector"');
      const tokens = jwtApi.seen.slice(seenBefore).map((s) => s.jwt!.token!);
      expect(tokens).toHaveLength(2);
      const bytes = capture.bytes().toString("latin1");
      expect(bytes).toContain("/whoami");
      const keyBody = (k: string) => k.split("\n").filter((l) => l && !l.startsWith("-----"))[0]!;
      for (const where of [bytes, a.stdout, a.stderr, b.stdout, b.stderr]) {
        for (const t of tokens) {
          expect(where).not.toContain(t);
          expect(where).not.toContain(t.split(".")[2]!);
        }
        expect(where).not.toContain(keyBody(pem(jwtKey)));
        expect(where).not.toContain(keyBody(clientCert.key));
      }
    } finally {
      for (const l of listeners) await l.close();
      await capture.stop();
    }
  });
});
