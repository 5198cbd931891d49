/**
 * The production-bundle suite's standalone-workerd run in hosted multi-tenant mode (docs/TENANCY.md
 * "Self-hosted multi-tenant"): the self-hosted build (worker/selfhost/) under standalone workerd
 * with the configuration scripts/selfhost-config.ts generates and GATEHOUSE_TENANCY=multi; two
 * tenants created by a platform administrator through `gatehouse admin tenants create`; each with
 * its own connector process in front of its own PostgreSQL database under the SAME resource name;
 * a psql session each through the real `gatehouse connect` process over HTTPS/WSS; every way
 * across the boundary refused; each tenant's trail verified with its own published keys and not
 * with the other's. Ground truth comes from PostgreSQL and from the SQLite files workerd wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey, type Ed25519PrivateJwk } from "../../connector/keys.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { parseKeySet, verifyTrailText } from "../../parsers/audit/index.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { startHttpsIssuer, type HttpsIssuer } from "../harness/https-issuer.ts";
import { startSelfhostWorker, type SelfhostWorker } from "../harness/selfhost-worker.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";
import { asSuperuser, httpsCall, upgradeStatus as upgradeStatusOverTls } from "./support/tls-calls.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TENANTS = ["acme", "beta"] as const;
type Tenant = (typeof TENANTS)[number];
const other = (t: Tenant): Tenant => (t === "acme" ? "beta" : "acme");
const BASE_DOMAIN = "gate.test";

let dir: string;
let ca: TestCa;
let issuer: HttpsIssuer;
let db: RunningPostgres;
let worker: SelfhostWorker;
let platformToken: string;
const keys = {} as Record<Tenant, Ed25519PrivateJwk>;
const connectorLogs = {} as Record<Tenant, string>;
const children: ChildProcess[] = [];

const tlsEnv = () => ({ NODE_EXTRA_CA_CERTS: ca.certFile });
const call = (method: string, url: string, opts: Parameters<typeof httpsCall>[3] = {}) => httpsCall(ca.cert, method, url, opts);
const upgradeStatus = (url: string, assertion: string) => upgradeStatusOverTls(url, assertion, ca.cert);
const superuser = <T>(database: string, fn: (c: pg.Client) => Promise<T>) => asSuperuser(db.superuserUrl, database, fn);
const aud = (t: Tenant) => `gatehouse-${t}`;
const base = (t: Tenant) => `${worker.url}/t/${t}`;
/** A pipeline of tenant `claimsOf` holding a token for tenant `audOf`'s audience. */
const ciToken = (audOf: Tenant, claimsOf: Tenant, sub = `${claimsOf}-pipeline`) => issuer.mint({ sub, repository: `${claimsOf}/app` }, aud(audOf));
const personToken = (t: Tenant, sub: string, groups: string[]) => issuer.mint({ sub, groups }, aud(t));

function policy(t: Tenant): string {
  return `version: 1
roles:
  admin: [{ issuer: "${issuer.issuer}", claims: { groups: ${t}-admins } }]
  auditor: [{ issuer: "${issuer.issuer}", claims: { groups: ${t}-auditors } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer.issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read, sql.transaction, sql.session]
`;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-prod-tenancy-"));
  ca = createTestCa();
  [issuer, db] = await Promise.all([startHttpsIssuer(ca.issue("issuer")), startPostgres()]);
  const bundleDir = path.join(dir, "bundle");
  await buildWorkerBundle(bundleDir, "worker/selfhost/index.ts");
  worker = await startSelfhostWorker({
    dir,
    bundleDir,
    vars: {
      GATEHOUSE_TENANCY: "multi",
      GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
      GATEHOUSE_PUBLIC_URL: "https://gate.test",
      GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ issuer: issuer.issuer, audiences: ["gatehouse-platform"], algorithms: ["ES256"] }]),
      GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
      GATEHOUSE_PLATFORM_SECRETS_KEY: randomBytes(32).toString("hex"),
    },
    tls: ca.issue("selfhost"),
    trustedCa: ca.cert,
    waitReady: (url) => eventually(async () => (await call("GET", `${url}/healthz`).catch(() => undefined)) !== undefined, "workerd to listen", 600).then(() => undefined),
  });
  platformToken = await issuer.mint({ sub: "platform-root" }, "gatehouse-platform");
  for (const t of TENANTS) {
    // Each tenant's own database and login: its connector's credentials reach only it.
    await superuser("postgres", async (c) => {
      await c.query(`CREATE ROLE ${t}_app LOGIN PASSWORD '${t}-secret'`);
      await c.query(`CREATE DATABASE ${t}_orders OWNER ${t}_app`);
    });
    await superuser(`${t}_orders`, async (c) => {
      await c.query("CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)");
      await c.query(`INSERT INTO orders VALUES (1, '${t}-only-item')`);
      await c.query(`ALTER TABLE orders OWNER TO ${t}_app`);
    });
    const pair = await generateConnectorKeyPair();
    keys[t] = pair.privateJwk;
    const file = path.join(dir, `${t}.json`);
    await writeFile(
      file,
      JSON.stringify({
        name: t,
        issuers: [{ issuer: issuer.issuer, audiences: [aud(t)], algorithms: ["ES256"] }],
        connectors: [{ id: `${t}-connector`, public_key: pair.publicJwk }],
        policy: policy(t),
        policy_source: `${t}.yaml`,
      }),
    );
    const created = await gatehouse(["admin", "tenants", "create", "--file", file, "--gateway", worker.url], { ...tlsEnv(), GATEHOUSE_TOKEN: platformToken });
    expect([created.code, created.stderr]).toEqual([0, ""]);
    expect(created.stdout).toContain(`tenant ${t} (created`);
    await writeFile(path.join(dir, `${t}-connector.jwk`), JSON.stringify(pair.privateJwk), { mode: 0o600 });
    await writeFile(
      path.join(dir, `${t}-connector.yaml`),
      `gateway: ${base(t)}\nid: ${t}-connector\nprivate_key: file:./${t}-connector.jwk\nresources:\n` +
        // The SAME resource name in both tenants.
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
}, 600_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await worker?.stop();
  await Promise.all([issuer?.close(), db?.stop()]);
  ca?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `gatehouse connect` as a real process against tenant `t`'s URL; the libpq URL and pgpass of its listener. */
async function connectCli(t: Tenant, token: string): Promise<{ url: string; pgpass: string; child: ChildProcess }> {
  const n = children.length;
  const ready = path.join(dir, `ready-${n}.json`);
  const child = spawn(process.execPath, [path.join(ROOT, "bin/gatehouse.mjs"), "connect", "orders", "--port", "0", "--gateway", base(t), "--ready-file", ready], {
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

describe("self-hosted multi-tenant: standalone workerd with the generated config", () => {
  const sessions = {} as Record<Tenant, string>;

  it("serves only the platform without a tenant, and lists the tenants a platform administrator created", async () => {
    expect((await call("GET", `${worker.url}/healthz`)).body).toMatchObject({ ok: true, tenancy: "multi" });
    const list = await gatehouse(["admin", "tenants", "list", "--gateway", worker.url], { ...tlsEnv(), GATEHOUSE_TOKEN: platformToken });
    expect(list.code).toBe(0);
    for (const t of TENANTS) expect(list.stdout).toMatch(new RegExp(`^${t}\\t`, "m"));
    expect((await call("GET", `${worker.url}/v1/resources/orders`, { token: await ciToken("acme", "acme") })).status).toBe(404);
  });

  it("each tenant's pipeline runs psql through the real CLI and its own connector, on its own database", async () => {
    for (const t of TENANTS) {
      const conn = await connectCli(t, await ciToken(t, t));
      const r = await psql(conn.url, ["-At", "-c", `select item, '${t}-statement' from orders order by id`], { env: { PGPASSFILE: conn.pgpass } });
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toBe(`${t}-only-item|${t}-statement\n`);
      conn.child.kill("SIGTERM");
    }
    // The same host name selects the tenant too.
    const viaHost = await call("GET", `${worker.url}/v1/resources/orders`, { token: await ciToken("beta", "beta"), host: `beta.${BASE_DOMAIN}` });
    expect(viaHost.status).toBe(200);
    expect(viaHost.body).toMatchObject({ online: true });
  }, 300_000);

  it("each tenant's trail verifies with its own published keys and not with the other's", async () => {
    const published = {} as Record<Tenant, Awaited<ReturnType<typeof parseKeySet>>>;
    const kids = {} as Record<Tenant, string[]>;
    for (const t of TENANTS) {
      const res = await call("GET", `${base(t)}/.well-known/gatehouse-audit-keys`);
      expect(res.status).toBe(200);
      published[t] = await parseKeySet(res.body);
      kids[t] = (res.body.keys as Array<{ kid: string }>).map((k) => k.kid);
      expect(kids[t].length).toBeGreaterThanOrEqual(1);
    }
    expect(kids.acme.filter((k) => kids.beta.includes(k))).toEqual([]);
    for (const t of TENANTS) {
      const auditor = await personToken(t, `${t}-auditor`, [`${t}-auditors`]);
      const ended = await eventually(async () => {
        const r = await call("GET", `${base(t)}/v1/sessions?resource=orders`, { token: auditor });
        return (r.body.sessions as Array<{ id: string; status: string }> | undefined)?.find((s) => s.status !== "open");
      }, `${t}'s ended session`, 600);
      sessions[t] = ended.id;
      const exported = await call("GET", `${base(t)}/v1/sessions/${ended.id}/export`, { token: auditor, raw: true });
      expect(exported.status).toBe(200);
      expect(exported.text).toContain(`${t}-statement`);
      const own = await verifyTrailText(exported.text, { keys: published[t] });
      expect([own.ok, own.error]).toEqual([true, undefined]);
      expect((await verifyTrailText(exported.text, { keys: published[other(t)] })).ok).toBe(false);
    }
  }, 300_000);

  describe("every way across the boundary is refused", () => {
    it("A's token at B's path and at B's host (401), and A's pipeline through B's URL gets no session", async () => {
      const token = await ciToken("acme", "acme", "acme-crossing");
      const atPath = await call("GET", `${base("beta")}/v1/resources/orders`, { token });
      expect(atPath.status).toBe(401);
      expect(String(atPath.body.reason)).toMatch(/\baud\b/);
      const atHost = await call("GET", `${worker.url}/v1/resources/orders`, { token, host: `beta.${BASE_DOMAIN}` });
      expect(atHost.status).toBe(401);
      // Host and path naming different tenants: refused, not guessed.
      const mixed = await call("GET", `${base("acme")}/v1/resources/orders`, { token, host: `beta.${BASE_DOMAIN}` });
      expect([mixed.status, mixed.body.error]).toEqual([404, "unknown_tenant"]);
      // A token for B's audience carrying A's claims: B's rules do not admit it.
      const conn = await connectCli("beta", await ciToken("beta", "acme", "acme-claims-at-beta"));
      const r = await psql(conn.url, ["-At", "-c", "select item from orders"], { env: { PGPASSFILE: conn.pgpass } });
      conn.child.kill("SIGTERM");
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain("beta-only-item");
      expect(r.stderr).toMatch(/denied|no rule|not allowed/i);
      const log = await eventually(async () => {
        const all = await call("GET", `${worker.url}/platform/v1/tenants/beta/refusals`, { token: platformToken });
        return (all.body.refusals as Array<Record<string, unknown>>).filter((x) => x.tokenSubject === "acme-crossing").length >= 2 ? all.body.refusals : null;
      }, "beta's recorded refusals");
      expect(log).toEqual(expect.arrayContaining([expect.objectContaining({ status: 401, tokenTenant: "acme", via: "path" }), expect.objectContaining({ status: 401, tokenTenant: "acme", via: "host" })]));
    }, 120_000);

    it("A's connector cannot attach at B, under its own id or B's, nor reach B's session through A", async () => {
      const key = await importConnectorPrivateKey(keys.acme);
      expect(await upgradeStatus(`${base("beta")}/v1/connector/control`, await signConnectorAssertion(key, "acme-connector"))).toBe(401);
      expect(await upgradeStatus(`${base("beta")}/v1/connector/control`, await signConnectorAssertion(key, "beta-connector"))).toBe(401);
      expect(await upgradeStatus(`${base("acme")}/v1/connector/streams/${sessions.beta}`, await signConnectorAssertion(key, "acme-connector", { sid: sessions.beta }))).toBe(410);
      // B's own connector is still attached: B's pipeline still reads B's database.
      const conn = await connectCli("beta", await ciToken("beta", "beta"));
      const r = await psql(conn.url, ["-At", "-c", "select count(*) from orders"], { env: { PGPASSFILE: conn.pgpass } });
      conn.child.kill("SIGTERM");
      expect([r.code, r.stdout]).toEqual([0, "1\n"]);
    }, 120_000);

    it("a tenant's auditor cannot read the other's session or recording, whatever the id is made of", async () => {
      const auditor = await personToken("acme", "acme-auditor", ["acme-auditors"]);
      for (const id of [sessions.beta, `..%2F..%2Ftenants%2Fbeta%2Fsessions%2F${sessions.beta}`, `..%2Fbeta%2Fsessions%2F${sessions.beta}`]) {
        for (const suffix of ["", "/export"]) {
          const r = await call("GET", `${base("acme")}/v1/sessions/${id}${suffix}`, { token: auditor, raw: true });
          expect([404, 400], `${id}${suffix}: ${r.status}`).toContain(r.status);
          expect(r.text).not.toContain("beta-statement");
        }
      }
    });

    it("the platform API is not reachable from a tenant's host or path, and the platform holds no role in a tenant", async () => {
      const byHost = await call("GET", `${worker.url}/platform/v1/tenants`, { token: platformToken, host: `acme.${BASE_DOMAIN}` });
      expect(byHost.status).toBe(404);
      expect(JSON.stringify(byHost.body)).not.toContain("beta");
      const byPath = await call("GET", `${base("acme")}/platform/v1/tenants`, { token: platformToken });
      expect(byPath.status).toBe(404);
      expect((await call("GET", `${base("acme")}/v1/admin/policy`, { token: platformToken })).status).toBe(401);
      // A tenant's administrator is no platform administrator.
      const tenantAdmin = await personToken("acme", "acme-root", ["acme-admins"]);
      expect((await call("GET", `${worker.url}/platform/v1/tenants`, { token: tenantAdmin })).status).toBe(401);
    });

    it("tenant names that would collide with the platform's store or escape an object or key prefix are refused", async () => {
      for (const name of ["platform", "store:x", "tenant:acme", "acme:hub", "acme/../beta", "../beta", "Acme", "acme--x"]) {
        const r = await call("POST", `${worker.url}/platform/v1/tenants`, { token: platformToken, body: { name, issuers: [{ issuer: issuer.issuer, audiences: [`fresh-${randomBytes(4).toString("hex")}`] }], policy: policy("acme") } });
        expect([name, r.status]).toEqual([name, 422]);
      }
      for (const spelled of ["platform", "acme%3Ahub", "acme%2F..%2Fbeta"]) {
        const r = await call("GET", `${worker.url}/t/${spelled}/v1/resources/orders`, { token: await ciToken("acme", "acme") });
        expect([spelled, r.status, r.body.error]).toEqual([spelled, 404, "unknown_tenant"]);
      }
      const list = await call("GET", `${worker.url}/platform/v1/tenants`, { token: platformToken });
      expect((list.body.tenants as Array<{ name: string }>).map((x) => x.name).sort()).toEqual(["acme", "beta"]);
    });

    it("tenants share no database or recording store: workerd's SQLite files hold one tenant's rows each", async () => {
      const state = path.join(dir, "state");
      const files = (ns: string) =>
        existsSync(path.join(state, ns))
          ? readdirSync(path.join(state, ns))
              // One database per object (plus its write-ahead log), named by the object's id; workerd's own metadata.sqlite aside.
              .filter((f) => /^[0-9a-f]{64}\.sqlite(-wal)?$/.test(f))
              .map((f) => ({ object: f.replace(/-wal$/, ""), bytes: readFileSync(path.join(state, ns, f)).toString("latin1") }))
          : [];
      const objectsHolding = (ns: string, marker: string) => new Set(files(ns).filter((f) => f.bytes.includes(marker)).map((f) => f.object));
      for (const t of TENANTS) {
        // The tenant's session index (its D1 stand-in) names its pipeline; the other tenant's database does not.
        const own = objectsHolding("gatehouse-TenantStore", `${t}-pipeline`);
        const theirs = objectsHolding("gatehouse-TenantStore", `${other(t)}-pipeline`);
        expect(own.size).toBeGreaterThanOrEqual(1);
        expect([...own].filter((o) => theirs.has(o))).toEqual([]);
        // Its recordings are in a store object of its own.
        const recorded = objectsHolding("gatehouse-SelfHostStore", `${t}-statement`);
        expect(recorded.size).toBe(1);
        expect([...recorded].filter((o) => objectsHolding("gatehouse-SelfHostStore", `${other(t)}-statement`).has(o))).toEqual([]);
      }
      // One recording store per tenant, and no shared single-tenant store was ever created.
      expect(new Set(files("gatehouse-SelfHostStore").map((f) => f.object)).size).toBe(2);
    });
  });
});

describe("self-hosted multi-tenant: deleting a tenant", () => {
  it("purges its sessions and its own recording store, and leaves the other tenant's sessions and trails alone", async () => {
    const acmeAuditor = await personToken("acme", "acme-auditor", ["acme-auditors"]);
    const acmeTrails = async () => {
      const r = await call("GET", `${base("acme")}/v1/sessions?resource=orders`, { token: acmeAuditor });
      return (r.body.sessions as Array<{ id: string }>).map((x) => x.id).sort();
    };
    const acmeBefore = await acmeTrails();
    const suspended = await call("POST", `${worker.url}/platform/v1/tenants/beta/suspend`, { token: platformToken, body: { reason: "self-host delete test" } });
    expect(suspended.status).toBe(200);
    const deleted = await call("DELETE", `${worker.url}/platform/v1/tenants/beta`, { token: platformToken, body: { reason: "self-host delete test" } });
    expect(deleted.status).toBe(200);
    const purged = deleted.body.purged as { sessions: number; recordings: number };
    // beta's sessions (its index, in its own database) and their recording chunks (in its own store object).
    expect(purged.sessions).toBeGreaterThanOrEqual(2);
    expect(purged.recordings).toBeGreaterThanOrEqual(purged.sessions);
    const gone = await call("GET", `${base("beta")}/.well-known/gatehouse-audit-keys`, { raw: true });
    expect([gone.status, gone.text]).toEqual([410, expect.stringContaining("tenant_deleted")]);
    // acme: the same sessions, each trail still there and verifying with acme's keys.
    expect(await acmeTrails()).toEqual(acmeBefore);
    const keys = await parseKeySet((await call("GET", `${base("acme")}/.well-known/gatehouse-audit-keys`)).body);
    for (const id of acmeBefore) {
      const trail = await call("GET", `${base("acme")}/v1/sessions/${id}/export`, { token: acmeAuditor, raw: true });
      expect(trail.status).toBe(200);
      expect((await verifyTrailText(trail.text, { keys })).ok).toBe(true);
    }
    // And acme's pipeline still runs.
    const conn = await connectCli("acme", await ciToken("acme", "acme"));
    const r = await psql(conn.url, ["-At", "-c", "select item from orders"], { env: { PGPASSFILE: conn.pgpass } });
    conn.child.kill("SIGTERM");
    expect([r.code, r.stdout]).toEqual([0, "acme-only-item\n"]);
  }, 180_000);
});

describe("self-hosted multi-tenant: a restart (standalone workerd is killed)", () => {
  it("keeps the platform's registry, the deletion, and each remaining tenant's database, keys and recordings", async () => {
    const acmeAuditor = await personToken("acme", "acme-auditor", ["acme-auditors"]);
    const sessionsOf = async () => ((await call("GET", `${base("acme")}/v1/sessions?resource=orders`, { token: acmeAuditor })).body.sessions as Array<{ id: string }>).map((x) => x.id).sort();
    const before = await sessionsOf();
    const keysBefore = (await call("GET", `${base("acme")}/.well-known/gatehouse-audit-keys`)).text;
    await worker.restart();
    const listed = await call("GET", `${worker.url}/platform/v1/tenants`, { token: platformToken });
    expect((listed.body.tenants as Array<{ name: string; status: string }>).map((x) => [x.name, x.status]).sort()).toEqual([
      ["acme", "active"],
      ["beta", "deleted"],
    ]);
    expect((await call("GET", `${base("beta")}/v1/resources/orders`, { token: await ciToken("beta", "beta") })).status).toBe(410);
    expect(await sessionsOf()).toEqual(before);
    const keysAfter = await call("GET", `${base("acme")}/.well-known/gatehouse-audit-keys`);
    expect(keysAfter.text).toBe(keysBefore);
    const trail = await call("GET", `${base("acme")}/v1/sessions/${before[0]}/export`, { token: acmeAuditor, raw: true });
    expect((await verifyTrailText(trail.text, { keys: parseKeySet(keysAfter.body) })).ok).toBe(true);
  }, 180_000);
});

