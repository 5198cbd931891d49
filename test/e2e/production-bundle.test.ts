/**
 * The production bundle, production-shaped (issue 20): the exact bundle `wrangler deploy` would
 * upload (scripts/worker-bundle.ts) runs under workerd (Miniflare's API, test/harness/
 * production-worker.ts) with TLS on its own listener, no development issuer, an HTTPS OIDC issuer
 * whose discovery and JWKS the worker fetches over TLS trusting only the test's CA, and D1/R2/DO
 * state persisted on disk. The same suite runs the self-hosted build (worker/selfhost/) under
 * standalone workerd with the configuration scripts/selfhost-config.ts generates. A real psql
 * session runs through the real `gatehouse connect` process and the real connector process, both
 * reaching the worker over HTTPS/WSS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { generateAuditKey } from "../../parsers/audit/index.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { startHttpsIssuer, type HttpsIssuer } from "../harness/https-issuer.ts";
import { startProductionWorker } from "../harness/production-worker.ts";
import { startSelfhostWorker } from "../harness/selfhost-worker.ts";
import { request as httpsRequest } from "node:https";
import { eventually, psql } from "./helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

let dir: string;
let ca: TestCa;
let rogueCa: TestCa;
let issuer: HttpsIssuer;
let rogueIssuer: HttpsIssuer;
let db: RunningPostgres;
const children: ChildProcess[] = [];

/** Every Node process of ours trusts the test CA the way an operator would configure it. */
const tlsEnv = () => ({ NODE_EXTRA_CA_CERTS: ca.certFile });

const policy = (iss: string, rule = "ci-read-orders") => `
version: 1
roles:
  admin:
    - issuer: ${iss}
      claims: { groups: admins }
rules:
  - name: ${rule}
    effect: allow
    subjects: any
    resources: [orders-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-prod-"));
  ca = createTestCa();
  rogueCa = createTestCa("Someone else's CA");
  [issuer, rogueIssuer, db] = await Promise.all([startHttpsIssuer(ca.issue("issuer")), startHttpsIssuer(rogueCa.issue("rogue")), startPostgres()]);
}, 300_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all([issuer?.close(), rogueIssuer?.close(), db?.stop()]);
  ca?.dispose();
  rogueCa?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Deployment {
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * Two ways the same worker code runs in production: the Cloudflare bundle under workerd (through
 * Miniflare's API, which provides D1 and R2), and the self-hosted build under standalone workerd
 * with the generated configuration (D1/R2 stand-ins in Durable Object storage on disk).
 */
const DEPLOYMENTS: Array<{ name: string; entry?: string; start(bundleDir: string, vars: Record<string, string>, home: string): Promise<Deployment> }> = [
  {
    name: "Cloudflare production bundle under workerd (Miniflare API)",
    start: (bundleDir, vars, home) =>
      startProductionWorker({ bundleDir, persistDir: path.join(home, "state"), tls: ca.issue("gateway"), trustedCertificates: [ca.cert], vars }),
  },
  {
    name: "self-hosted: standalone workerd with the generated config",
    entry: "worker/selfhost/index.ts",
    start: (bundleDir, vars, home) =>
      startSelfhostWorker({
        dir: home,
        bundleDir,
        vars,
        tls: ca.issue("selfhost"),
        trustedCa: ca.cert,
        waitReady: (url) => eventually(async () => (await fetchWithCa(`${url}/healthz`).catch(() => undefined)) !== undefined, "workerd to listen", 600).then(() => undefined),
      }),
  },
];

describe.each(DEPLOYMENTS)("$name", (deployment) => {
  let worker: Deployment;
  let home: string;
  let connectorLog = "";

  beforeAll(async () => {
    home = await mkdtemp(path.join(dir, "deployment-"));
    const bundleDir = path.join(home, "bundle");
    const bundle = buildWorkerBundle(bundleDir, deployment.entry);
    const { privateJwk, publicJwk } = await generateConnectorKeyPair();
    await writeFile(path.join(home, "connector-key.jwk"), JSON.stringify(privateJwk), { mode: 0o600 });
    await bundle;
    worker = await deployment.start(bundleDir, {
      GATEHOUSE_ISSUERS: JSON.stringify([issuer, rogueIssuer].map((i) => ({ issuer: i.issuer, audiences: ["gatehouse"], algorithms: ["ES256"] }))),
      GATEHOUSE_CONNECTORS: JSON.stringify([{ id: "dc1", public_key: publicJwk }]),
      GATEHOUSE_POLICY: policy(issuer.issuer),
      GATEHOUSE_POLICY_SOURCE: "production.yaml",
      GATEHOUSE_PUBLIC_URL: "https://gatehouse.test",
      GATEHOUSE_AUDIT_KEYS: JSON.stringify([await generateAuditKey("prod-1")]),
      GATEHOUSE_MASKING_KEY: "a-production-masking-key-of-32-bytes!",
    }, home);
    await writeFile(
      path.join(home, "connector.yaml"),
      `gateway: ${worker.url}\nid: dc1\nprivate_key: file:./connector-key.jwk\nresources:\n` +
        `  - { name: orders-pg, type: postgres, host: ${db.host}, port: ${db.port}, database: ${db.database}, username: ${db.user}, password: env:ORDERS_PG_PASSWORD, tls: { mode: disable } }\n`,
    );
    const connector = spawn(process.execPath, [path.join(ROOT, "bin/gatehouse-connector.mjs"), "--config", path.join(home, "connector.yaml"), "--log-format", "json"], {
      env: { ...process.env, ...tlsEnv(), ORDERS_PG_PASSWORD: db.password },
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(connector);
    connector.stderr!.on("data", (d: Buffer) => (connectorLog += d.toString()));
  }, 600_000);

  afterAll(async () => {
    await worker?.stop();
  });

  /** `gatehouse connect` as a real process; resolves with the ready file's port and pgpass. */
  async function connectCli(token: string): Promise<{ port: number; pgpass: string; user: string; child: ChildProcess }> {
    const ready = path.join(home, `ready-${children.length}.json`);
    const child = spawn(process.execPath, [path.join(ROOT, "bin/gatehouse.mjs"), "connect", "orders-pg", "--port", "0", "--gateway", worker.url, "--ready-file", ready], {
      env: { ...process.env, ...tlsEnv(), GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: path.join(home, `client-${children.length}`) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    await eventually(async () => existsSync(ready) || child.exitCode !== null, "the connect listener", 1200).catch(() => undefined);
    if (!existsSync(ready)) throw new Error(`gatehouse connect did not become ready: ${stderr}`);
    const info = JSON.parse(await readFile(ready, "utf8")) as { port: number; files: { pgpass: string } };
    const line = (await readFile(info.files.pgpass, "utf8")).trim().split(":");
    return { port: info.port, pgpass: info.files.pgpass, user: line[3]!, child };
  }

  it("serves /healthz over TLS with a certificate from the configured CA, ready, with no development issuer", async () => {
    expect(worker.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetchWithCa(`${worker.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true, ready: true, protocol: "gatehouse.v1" });
    // Without the CA the listener's certificate is not trusted: it really is TLS, with our certificate.
    await expect(fetch(`${worker.url}/healthz`)).rejects.toThrow();
    // The admin API answers over the same listener: an identity from the HTTPS issuer holding the admin role.
    const admin = await fetchWithCa(`${worker.url}/v1/admin/policy`, await issuer.mint({ sub: "ops", groups: ["admins"] }));
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({ source: "production.yaml", origin: "configuration" });
  }, 300_000);

  it("runs a real psql session through the real CLI and connector; the issuer's keys were fetched over TLS", async () => {
    await eventually(async () => connectorLog.includes("control channel: online"), "the connector to connect", 1200);
    const token = await issuer.mint({ sub: "ci-bot", groups: ["ci"] });
    const conn = await connectCli(token);
    const url = `host=127.0.0.1 port=${conn.port} dbname=orders-pg user=${conn.user} sslmode=disable`;
    const r = await psql(url, ["-At", "-c", "select current_user, 40 + 2"], { env: { PGPASSFILE: conn.pgpass } });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`${db.user}|42`);
    // The policy decides: writes are not allowed for anyone.
    const denied = await psql(url, ["-c", "create table gatehouse_probe (id int)"], { env: { PGPASSFILE: conn.pgpass } });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("gatehouse");
    expect(issuer.requests).toEqual(expect.arrayContaining(["/.well-known/openid-configuration", "/jwks"]));
    conn.child.kill("SIGTERM");
  }, 300_000);

  it("refuses tokens from an issuer whose TLS certificate the worker does not trust (outbound TLS is verified)", async () => {
    const token = await rogueIssuer.mint({ sub: "intruder" });
    const res = await fetchWithCa(`${worker.url}/v1/resources/orders-pg`, token);
    expect(res.status).toBe(401);
    // The TLS handshake failed before any request reached the rogue issuer.
    expect(rogueIssuer.requests).toEqual([]);
  }, 120_000);

  it("refuses a token no trusted issuer signed", async () => {
    const { SignJWT, generateKeyPair } = await import("jose");
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer.issuer).setAudience("gatehouse").setIssuedAt().setExpirationTime("5m").sign(privateKey);
    const res = await fetchWithCa(`${worker.url}/v1/resources/orders-pg`, forged);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: "unauthorized" });
  }, 120_000);

  it("keeps what the admin API stored (D1) across a restart of the server (standalone workerd is killed)", async () => {
    const admin = await issuer.mint({ sub: "ops", groups: ["admins"] });
    const put = await requestWithCa("PUT", `${worker.url}/v1/admin/policy?source=applied.yaml`, admin, policy(issuer.issuer, "applied-over-the-api"));
    expect(put.status).toBe(200);
    await worker.restart();
    const shown = await fetchWithCa(`${worker.url}/v1/admin/policy`, admin);
    expect(shown.body).toMatchObject({ source: "applied.yaml", origin: "admin-api", version: 1 });
    expect(String(shown.body.text)).toContain("applied-over-the-api");
  }, 300_000);
});

/** GET trusting the test CA (as NODE_EXTRA_CA_CERTS does for the CLI and connector processes). */
function fetchWithCa(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return requestWithCa("GET", url, token);
}

function requestWithCa(method: string, url: string, token?: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca: ca.cert, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end(body);
  });
}
