/**
 * Tenant placement across standalone workerd processes (docs/TENANCY.md "Placement across workerd
 * processes"): the self-hosted build, two workerd processes with the configs scripts/selfhost-config.ts
 * generates from ONE placement file (`--placement … --process p0|p1`), each with its own storage
 * directory; acme placed on p0, beta on p1. Each tenant is created on its own process by a platform
 * administrator with `gatehouse admin tenants create`, its connector process attaches there and a
 * psql session runs through the real `gatehouse connect`. Every request for a tenant at the other
 * process — API, connector, platform API — is refused with JSON (421 naming the right process; 404
 * for a tenant placed nowhere), and the SQLite files each workerd wrote hold its own tenant only.
 * Reuses the harness of production-bundle-tenancy.test.ts (TLS listener, HTTPS issuer, test CA).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { placementVar } from "../../scripts/selfhost-config.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey } from "../../connector/keys.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { startHttpsIssuer, type HttpsIssuer } from "../harness/https-issuer.ts";
import { startSelfhostWorker, type SelfhostWorker } from "../harness/selfhost-worker.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";
import { asSuperuser, httpsCall, upgradeStatus as upgradeStatusOverTls } from "./support/tls-calls.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TENANTS = ["acme", "beta"] as const;
type Tenant = (typeof TENANTS)[number];
const PLACED: Record<Tenant, "p0" | "p1"> = { acme: "p0", beta: "p1" };
const other = (t: Tenant): Tenant => (t === "acme" ? "beta" : "acme");
const BASE_DOMAIN = "gate.test";

let dir: string;
let ca: TestCa;
let issuer: HttpsIssuer;
let db: RunningPostgres;
const workers = {} as Record<"p0" | "p1", SelfhostWorker>;
let platformToken: string;
const connectorKeys = {} as Record<Tenant, Awaited<ReturnType<typeof generateConnectorKeyPair>>>;
const connectorLogs = {} as Record<Tenant, string>;
const children: ChildProcess[] = [];

const tlsEnv = () => ({ NODE_EXTRA_CA_CERTS: ca.certFile });
const call = (method: string, url: string, opts: Parameters<typeof httpsCall>[3] = {}) => httpsCall(ca.cert, method, url, opts);
const upgradeStatus = (url: string, assertion: string) => upgradeStatusOverTls(url, assertion, ca.cert);
const superuser = <T>(database: string, fn: (c: pg.Client) => Promise<T>) => asSuperuser(db.superuserUrl, database, fn);
const aud = (t: Tenant) => `gatehouse-${t}`;
const own = (t: Tenant) => workers[PLACED[t]];
const away = (t: Tenant) => workers[PLACED[other(t)]];
const ciToken = (t: Tenant, sub = `${t}-pipeline`) => issuer.mint({ sub, repository: `${t}/app` }, aud(t));

function policy(t: Tenant): string {
  return `version: 1
roles:
  auditor: [{ issuer: "${issuer.issuer}", claims: { groups: ${t}-auditors } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer.issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read, sql.transaction, sql.session]
`;
}

const tenantBody = (t: Tenant, audiences = [aud(t)]) => ({
  name: t,
  issuers: [{ issuer: issuer.issuer, audiences, algorithms: ["ES256"] }],
  connectors: [{ id: `${t}-connector`, public_key: connectorKeys[t].publicJwk }],
  policy: policy(t),
  policy_source: `${t}.yaml`,
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-placement-"));
  ca = createTestCa();
  [issuer, db] = await Promise.all([startHttpsIssuer(ca.issue("issuer")), startPostgres()]);
  const bundleDir = path.join(dir, "bundle");
  await buildWorkerBundle(bundleDir, "worker/selfhost/index.ts");
  const platformIssuers = JSON.stringify([{ issuer: issuer.issuer, audiences: ["gatehouse-platform"], algorithms: ["ES256"] }]);
  // One placement file for the deployment; each process's config is generated from it.
  const placementFile = JSON.stringify({ tenants: Object.fromEntries(TENANTS.map((t) => [t, { process: PLACED[t], audiences: [aud(t)] }])) });
  const secretsKey = randomBytes(32).toString("hex");
  for (const p of ["p0", "p1"] as const) {
    await mkdir(path.join(dir, p));
    workers[p] = await startSelfhostWorker({
      dir: path.join(dir, p),
      bundleDir,
      vars: {
        GATEHOUSE_TENANCY: "multi",
        GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
        GATEHOUSE_PUBLIC_URL: "https://gate.test",
        GATEHOUSE_PLATFORM_ISSUERS: platformIssuers,
        GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
        GATEHOUSE_PLATFORM_SECRETS_KEY: secretsKey,
        GATEHOUSE_PLACEMENT: placementVar(placementFile, p, platformIssuers),
      },
      tls: ca.issue("selfhost"),
      trustedCa: ca.cert,
      waitReady: (url) => eventually(async () => (await call("GET", `${url}/healthz`).catch(() => undefined)) !== undefined, "workerd to listen", 600).then(() => undefined),
    });
  }
  platformToken = await issuer.mint({ sub: "platform-root" }, "gatehouse-platform");
  for (const t of TENANTS) {
    await superuser("postgres", async (c) => {
      await c.query(`CREATE ROLE ${t}_app LOGIN PASSWORD '${t}-secret'`);
      await c.query(`CREATE DATABASE ${t}_orders OWNER ${t}_app`);
    });
    await superuser(`${t}_orders`, async (c) => {
      await c.query("CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)");
      await c.query(`INSERT INTO orders VALUES (1, '${t}-only-item')`);
      await c.query(`ALTER TABLE orders OWNER TO ${t}_app`);
    });
    connectorKeys[t] = await generateConnectorKeyPair();
  }
}, 600_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all(Object.values(workers).map((w) => w.stop()));
  await Promise.all([issuer?.close(), db?.stop()]);
  ca?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tenants placed on two standalone workerd processes", () => {
  it("a process's platform API creates only the tenants placed on it, with only their declared audiences", async () => {
    for (const t of TENANTS) {
      // At the other process: refused with the process that holds it, and nothing stored there.
      const elsewhere = await call("POST", `${away(t).url}/platform/v1/tenants`, { token: platformToken, body: tenantBody(t) });
      expect([elsewhere.status, elsewhere.body.error]).toEqual([421, "tenant_not_placed_here"]);
      expect(String(elsewhere.body.reason)).toContain(`served by process ${PLACED[t]}`);
      // An audience the map does not declare for it (here: the other tenant's, which this process's registry never sees).
      const stolen = await call("POST", `${own(t).url}/platform/v1/tenants`, { token: platformToken, body: tenantBody(t, [aud(t), aud(other(t))]) });
      expect([stolen.status, stolen.body.error]).toEqual([422, "invalid_tenant"]);
      expect(String(stolen.body.reason)).toContain(`audience ${aud(other(t))}`);
      const file = path.join(dir, `${t}.json`);
      await writeFile(file, JSON.stringify(tenantBody(t)));
      const created = await gatehouse(["admin", "tenants", "create", "--file", file, "--gateway", own(t).url], { ...tlsEnv(), GATEHOUSE_TOKEN: platformToken });
      expect([created.code, created.stderr]).toEqual([0, ""]);
      expect(created.stdout).toContain(`tenant ${t} (created`);
    }
    // A tenant placed nowhere is created nowhere.
    const gamma = await call("POST", `${workers.p0.url}/platform/v1/tenants`, { token: platformToken, body: { ...tenantBody("acme", ["gatehouse-gamma"]), name: "gamma" } });
    expect([gamma.status, gamma.body.error]).toEqual([404, "unknown_tenant"]);
    for (const t of TENANTS) {
      const list = await gatehouse(["admin", "tenants", "list", "--gateway", own(t).url], { ...tlsEnv(), GATEHOUSE_TOKEN: platformToken });
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`^${t}\\t`, "m"));
      expect(list.stdout).not.toContain(other(t));
      // The other tenant's record, usage and refusal log are not read here.
      for (const suffix of ["", "/usage", "/refusals"]) {
        const r = await call("GET", `${own(t).url}/platform/v1/tenants/${other(t)}${suffix}`, { token: platformToken });
        expect([suffix, r.status, r.body.error]).toEqual([suffix, 421, "tenant_not_placed_here"]);
      }
      const suspend = await call("POST", `${own(t).url}/platform/v1/tenants/${other(t)}/suspend`, { token: platformToken, body: { reason: "wrong process" } });
      expect(suspend.status).toBe(421);
    }
  }, 120_000);

  it("each tenant's connector and pipeline run on its own process, psql on its own database", async () => {
    for (const t of TENANTS) {
      await writeFile(path.join(dir, `${t}-connector.jwk`), JSON.stringify(connectorKeys[t].privateJwk), { mode: 0o600 });
      await writeFile(
        path.join(dir, `${t}-connector.yaml`),
        `gateway: ${own(t).url}/t/${t}\nid: ${t}-connector\nprivate_key: file:./${t}-connector.jwk\nresources:\n` +
          `  - { name: orders, type: postgres, host: ${db.host}, port: ${db.port}, database: ${t}_orders, username: ${t}_app, password: env:ORDERS_PASSWORD, tls: { mode: disable } }\n`,
      );
      connectorLogs[t] = "";
      const connector = spawn(process.execPath, [path.join(ROOT, "bin/gatehouse-connector.mjs"), "--config", path.join(dir, `${t}-connector.yaml`), "--log-format", "json"], {
        env: { ...process.env, ...tlsEnv(), ORDERS_PASSWORD: `${t}-secret` },
        stdio: ["ignore", "ignore", "pipe"],
      });
      children.push(connector);
      connector.stderr!.on("data", (d: Buffer) => (connectorLogs[t] += d.toString()));
    }
    for (const t of TENANTS) await eventually(async () => connectorLogs[t].includes("control channel: online"), `${t}'s connector online`, 1200);
    for (const t of TENANTS) {
      const conn = await connectCli(`${own(t).url}/t/${t}`, await ciToken(t));
      const r = await psql(conn.url, ["-At", "-c", `select item, '${t}-statement' from orders order by id`], { env: { PGPASSFILE: conn.pgpass } });
      conn.child.kill("SIGTERM");
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toBe(`${t}-only-item|${t}-statement\n`);
    }
  }, 300_000);

  it("a request for a tenant at the process it is not placed on is refused with JSON, by path and by host, whatever it carries", async () => {
    for (const t of TENANTS) {
      const token = await ciToken(t);
      // Its own process serves it…
      const served = await call("GET", `${own(t).url}/t/${t}/v1/resources/orders`, { token });
      expect([served.status, served.body.online]).toEqual([200, true]);
      // …the other refuses it: a valid token of the tenant, by path and by host, API and audit keys alike.
      for (const [url, host] of [
        [`${away(t).url}/t/${t}/v1/resources/orders`, undefined],
        [`${away(t).url}/v1/resources/orders`, `${t}.${BASE_DOMAIN}`],
        [`${away(t).url}/t/${t}/.well-known/gatehouse-audit-keys`, undefined],
        [`${away(t).url}/t/${t}/v1/sessions?resource=orders`, undefined],
      ] as const) {
        const r = await call("GET", url, { token, host });
        expect([url, r.status, r.body.error, r.body.process]).toEqual([url, 421, "tenant_not_placed_here", PLACED[t]]);
      }
      // Its connector, with its own valid assertion, cannot attach at the other process.
      const key = await importConnectorPrivateKey(connectorKeys[t].privateJwk);
      expect(await upgradeStatus(`${away(t).url}/t/${t}/v1/connector/control`, await signConnectorAssertion(key, `${t}-connector`))).toBe(421);
      // And the pipeline through the wrong process gets no session: the CLI stops at the gateway's answer.
      await expect(connectCli(`${away(t).url}/t/${t}`, token)).rejects.toThrow(`gateway answered HTTP 421: tenant_not_placed_here (tenant ${t} is served by process ${PLACED[t]}`);
    }
    // A token of acme (placed on p0) presented to beta on p1: refused by beta's issuers, and beta's
    // log names acme although p1's registry never held it (the map's declared audiences do).
    const stray = await call("GET", `${own("beta").url}/t/beta/v1/resources/orders`, { token: await ciToken("acme", "acme-stray") });
    expect(stray.status).toBe(401);
    const logged = await eventually(async () => {
      const r = await call("GET", `${own("beta").url}/platform/v1/tenants/beta/refusals`, { token: platformToken });
      return (r.body.refusals as Array<Record<string, unknown>>).find((x) => x.tokenSubject === "acme-stray");
    }, "beta's recorded refusal");
    expect(logged).toMatchObject({ status: 401, tokenTenant: "acme" });
    // A tenant placed nowhere: 404 at every process, noted in each process's log of unknown names…
    for (const w of Object.values(workers)) {
      const r = await call("GET", `${w.url}/t/gamma/v1/resources/orders`, { token: await ciToken("acme") });
      expect([r.status, r.body.error]).toEqual([404, "unknown_tenant"]);
      const noted = await eventually(async () => {
        const log = await call("GET", `${w.url}/platform/v1/unknown-tenants`, { token: platformToken });
        return (log.body.requests as Array<{ kind: string; name: string }>).find((x) => x.name === "gamma");
      }, "gamma in the unknown-tenant log");
      expect(noted).toMatchObject({ kind: "unknown", name: "gamma", via: "path" });
    }
    // …while a request misrouted to the other process is not an unknown name there.
    for (const t of TENANTS) {
      const log = await call("GET", `${away(t).url}/platform/v1/unknown-tenants`, { token: platformToken });
      expect((log.body.requests as Array<{ name: string }>).map((x) => x.name)).not.toContain(t);
    }
  }, 180_000);

  it("each process's storage directory holds its own tenant only (workerd's SQLite files)", async () => {
    const filesUnder = (root: string): string[] =>
      readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(root, e.name)) : /\.sqlite(-wal)?$/.test(e.name) ? [path.join(root, e.name)] : []));
    for (const t of TENANTS) {
      const state = path.join(dir, PLACED[t], "state");
      const bytes = filesUnder(state).map((f) => readFileSync(f).toString("latin1"));
      // Its own tenant's registry record, session index and recordings are here…
      expect(bytes.some((b) => b.includes(`${t}-pipeline`))).toBe(true);
      expect(bytes.some((b) => b.includes(`${t}-statement`))).toBe(true);
      // …and nothing of the other tenant: no record, no session, no recording, no object named for it.
      const theirs = other(t);
      for (const marker of [`${theirs}-pipeline`, `${theirs}-statement`, `${theirs}-only-item`, `tenant:${theirs}:`, `${theirs}-connector`]) {
        expect([marker, bytes.some((b) => b.includes(marker))]).toEqual([marker, false]);
      }
      expect(existsSync(state)).toBe(true);
    }
  });
});

/** `gatehouse connect` as a real process against `gateway`; the libpq URL and pgpass of its listener. */
async function connectCli(gateway: string, token: string): Promise<{ url: string; pgpass: string; child: ChildProcess }> {
  const n = children.length;
  const ready = path.join(dir, `ready-${n}.json`);
  const child = spawn(process.execPath, [path.join(ROOT, "bin/gatehouse.mjs"), "connect", "orders", "--port", "0", "--gateway", gateway, "--ready-file", ready], {
    env: { ...process.env, ...tlsEnv(), GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: path.join(dir, `client-${n}`) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  await eventually(async () => existsSync(ready) || child.exitCode !== null, "the connect listener", 1200).catch(() => undefined);
  if (!existsSync(ready)) throw new Error(`gatehouse connect did not become ready: ${stderr}`);
  const info = JSON.parse(await readFile(ready, "utf8")) as { port: number; files: { pgpass: string } };
  const user = (await readFile(info.files.pgpass, "utf8")).trim().split(":")[3]!;
  return { url: `host=127.0.0.1 port=${info.port} dbname=orders user=${user} sslmode=disable`, pgpass: info.files.pgpass, child };
}

