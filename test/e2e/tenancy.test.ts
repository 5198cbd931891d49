/**
 * Hosted multi-tenant mode end to end (docs/TENANCY.md): one worker (wrangler dev), two tenants
 * created through `gatehouse admin tenants create`, each with its own connector fronting its own
 * PostgreSQL database under the SAME resource name, the same flow side by side (read, held write
 * approved by the tenant's approver, recorded trail verified with the tenant's published keys),
 * and every way across the boundary refused and recorded in the target tenant's refusal log.
 * Both tenants trust the same issuer (the development issuer stands in for GitHub), with their
 * own audiences and their own claim rules. Ground truth comes from PostgreSQL itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { startTestStack, runPsql, type TestStack } from "../harness/stack.ts";
import { TEST_LISTENER_CREDENTIALS, listenerUrl } from "../harness/listener-auth.ts";
import { startConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { startConnector, type RunningConnector } from "../../connector/connector.ts";
import { silentLogger } from "../../connector/logger.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey, type Ed25519PrivateJwk } from "../../connector/keys.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { parseKeySet, verifyTrailText } from "../../parsers/audit/index.ts";
import { eventually, gatehouse } from "./helpers.ts";
import { upgradeStatus } from "./support/tls-calls.ts";

const TENANTS = ["acme", "beta"] as const;
/**
 * "tiny": small limits; "mute": may store no recording bytes at all; "rated": a request rate and a
 * session start rate; "chatty": a small API rate (calls outside sessions).
 */
type Tenant = (typeof TENANTS)[number] | "tiny" | "mute" | "rated" | "doomed" | "chatty";
const RATED_LIMITS = { max_requests_per_second: 2, request_burst: 4, max_session_starts_per_minute: 6 };

let stack: TestStack;
let dir: string;
const keys = {} as Record<Tenant, Ed25519PrivateJwk>;
const connectors: RunningConnector[] = [];
const closers: Array<() => Promise<void>> = [];
let platformToken: string;

const aud = (t: Tenant) => `gatehouse-${t}`;
const base = (t: Tenant) => `${stack.gatewayUrl}/t/${t}`;
/** A pipeline of tenant `claimsOf`, with a token for tenant `audOf`'s audience. */
const ciToken = (audOf: Tenant, claimsOf: Tenant, sub = `ci-${claimsOf}`) => stack.mintToken({ sub, audience: aud(audOf), claims: { repository: `${claimsOf}/app` } });
const personToken = (t: Tenant, sub: string, groups: string[]) => stack.mintToken({ sub, audience: aud(t), claims: { groups } });

function policy(t: Tenant, issuer: string): string {
  return `version: 1
roles:
  admin: [{ issuer: "${issuer}", claims: { groups: ${t}-admins } }]
  approver: [{ issuer: "${issuer}", claims: { groups: ${t}-approvers } }]
  auditor: [{ issuer: "${issuer}", claims: { groups: ${t}-auditors } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read, sql.transaction, sql.session]
  - name: ${t}-writes-need-approval
    effect: approve
    subjects: [{ issuer: "${issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [sql.write]
    approvers: [{ issuer: "${issuer}", claims: { groups: ${t}-approvers } }]
    timeout: 15m
`;
}

async function superuser<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const su = stack.pg.superuser!;
  const c = new pg.Client({ host: stack.pg.host, port: stack.pg.port, user: su.user, password: su.password, database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function api(method: string, url: string, token: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

/** A `gatehouse connect` listener for tenant `t` (gateway URL with the /t/<tenant> prefix). */
async function listen(t: Tenant, token: string): Promise<string> {
  const listener = await startConnectListener({
    gateway: base(t),
    resource: "orders",
    port: 0,
    tokenSource: staticTokenSource(token, "test"),
    type: "postgres",
    log: () => {},
    credentials: TEST_LISTENER_CREDENTIALS,
    stateDir: path.join(dir, `listener-${t}-${closers.length}`),
  });
  closers.push(() => listener.close());
  return listenerUrl(listener.port, "ci", "orders", listener.auth.password);
}

async function refusals(t: Tenant): Promise<Array<Record<string, unknown>>> {
  const r = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/${t}/refusals`, platformToken);
  expect(r.status).toBe(200);
  return r.json.refusals as Array<Record<string, unknown>>;
}

async function createTenant(t: Tenant, connectorPublic: Record<string, unknown>, limits: Record<string, number | null> = { max_sessions: 20, max_approval_requests: 50 }): Promise<void> {
  const file = path.join(dir, `${t}.json`);
  await writeFile(
    file,
    JSON.stringify({
      name: t,
      // The same issuer for both tenants (as GitHub would be), each with its own audience.
      issuers: [{ ...devIssuer(), audiences: [aud(t)] }],
      connectors: [{ id: `${t}-connector`, public_key: connectorPublic }],
      policy: policy(t, stack.issuerId),
      policy_source: `${t}.yaml`,
      limits,
      // acme's approvals are spread over three objects (docs/TENANCY.md "Sharding within a tenant"):
      // its approval and grant flows below run across shards, beta's on its one object.
      ...(t === "acme" ? { shards: { approvals: 3 } } : {}),
    }),
  );
  const r = await gatehouse(["admin", "tenants", "create", "--file", file, "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`tenant ${t} (created`);
}

let devIssuerEntry: Record<string, unknown>;
const devIssuer = () => ({ ...devIssuerEntry, dev: false });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gatehouse-tenancy-"));
  stack = await startTestStack({
    connector: false,
    waitForConnector: false,
    workerVars: { GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLATFORM_SECRETS_KEY: randomBytes(32).toString("hex") },
    workerVarsWithIssuer: (issuer) => {
      devIssuerEntry = issuer;
      return {
        GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...issuer, audiences: ["gatehouse-platform"], dev: false }]),
        GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
      };
    },
  });
  platformToken = await stack.mintToken({ sub: "platform-root", audience: "gatehouse-platform" });
  for (const t of [...TENANTS, "tiny", "rated", "doomed"] as const) {
    // Each tenant's own database and login: the connector's credentials reach only it.
    await superuser("postgres", async (c) => {
      await c.query(`CREATE ROLE ${t}_app LOGIN PASSWORD '${t}-secret'`);
      await c.query(`CREATE DATABASE ${t}_orders OWNER ${t}_app`);
    });
    await superuser(`${t}_orders`, async (c) => {
      await c.query(`CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)`);
      await c.query(`INSERT INTO orders VALUES (1, '${t}-only-item')`);
      await c.query(`ALTER TABLE orders OWNER TO ${t}_app`);
    });
    const pair = await generateConnectorKeyPair();
    keys[t] = pair.privateJwk;
    await createTenant(t, { ...pair.publicJwk, kid: `${t}-connector` }, t === "tiny" ? { max_sessions: 1, max_approval_requests: 1 } : t === "rated" ? RATED_LIMITS : undefined);
    const running = await startConnector(
      {
        gateway: base(t),
        id: `${t}-connector`,
        privateKey: pair.privateJwk,
        // The SAME resource name in both tenants.
        resources: [{ name: "orders", type: "postgres", labels: {}, host: stack.pg.host, port: stack.pg.port, database: `${t}_orders`, username: `${t}_app`, password: `${t}-secret`, tls: { mode: "disable" } }],
      },
      // Short backoff: the lifecycle tests suspend and resume a tenant under its running connector.
      { logger: silentLogger, backoff: { initialMs: 200, maxMs: 1000 } },
    );
    connectors.push(running);
    await running.online;
  }
  await createTenant("mute", { kty: "OKP", crv: "Ed25519", x: keys.acme.x, kid: "mute-connector" }, { max_recording_bytes: 0 });
  for (const t of [...TENANTS, "tiny", "rated", "doomed"] as const) {
    const token = await ciToken(t, t);
    await eventually(async () => (await api("GET", `${base(t)}/v1/resources/orders`, token)).json.online === true, `${t}'s orders online`);
  }
}, 240_000);

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  for (const c of connectors) await c.stop().catch(() => {});
  await stack?.stop();
});

describe("platform administration (gatehouse admin tenants)", () => {
  it("lists and shows tenants to a platform administrator", async () => {
    const env = { GATEHOUSE_TOKEN: platformToken };
    const list = await gatehouse(["admin", "tenants", "list", "--gateway", stack.gatewayUrl], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^acme\t/m);
    expect(list.stdout).toMatch(/^beta\t/m);
    const show = await gatehouse(["admin", "tenants", "show", "acme", "--json", "--gateway", stack.gatewayUrl], env);
    expect(show.code).toBe(0);
    const view = JSON.parse(show.stdout) as { tenant: Record<string, unknown>; usage: Record<string, number> };
    expect(view.tenant).toMatchObject({ name: "acme", connectors: ["acme-connector"], audit_keys: "generated", limits: { max_sessions: 20 }, shards: { approvals: 3 } });
    // Secrets are never shown.
    expect(show.stdout).not.toMatch(/masking|"d"/);
  });

  it("refuses a tenant whose issuer + audience another tenant already trusts, and a taken name", async () => {
    const r = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, {
      name: "gamma",
      issuers: [{ ...devIssuer(), audiences: [aud("acme")] }],
      policy: policy("acme", stack.issuerId),
    });
    expect(r.status).toBe(422);
    expect(r.json.reason).toMatch(/already trusted by tenant acme/);
    const again = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, { name: "acme", issuers: [{ ...devIssuer(), audiences: ["fresh"] }], policy: policy("acme", stack.issuerId) });
    expect(again.status).toBe(409);
  });

  it("a tenant administrator is not a platform administrator, and the platform serves no tenant routes", async () => {
    const tenantAdmin = await personToken("acme", "acme-root", ["acme-admins"]);
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants`, tenantAdmin)).status).toBe(401);
    // Even with the platform's audience, a subject not listed as platform admin is refused.
    const stranger = await stack.mintToken({ sub: "acme-root", audience: "gatehouse-platform", claims: { groups: ["acme-admins"] } });
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants`, stranger)).status).toBe(403);
    const cli = await gatehouse(["admin", "tenants", "list", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: tenantAdmin });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/401|not trusted|audience/i);
    // Without a tenant in host or path there is no gateway to reach.
    expect((await api("GET", `${stack.gatewayUrl}/v1/resources/orders`, await ciToken("acme", "acme"))).status).toBe(404);
    expect((await api("GET", `${stack.gatewayUrl}/t/nosuch/v1/resources/orders`, await ciToken("acme", "acme"))).json.error).toBe("unknown_tenant");
  });
});

describe("the same PostgreSQL flow in two tenants side by side", () => {
  const sessions = {} as Record<Tenant, string>;

  it("each tenant's pipeline reads its own database under the same resource name", async () => {
    const [a, b] = await Promise.all(TENANTS.map(async (t) => runPsql(await listen(t, await ciToken(t, t)), ["-At", "-c", "select item from orders order by id"])));
    expect(a).toMatchObject({ code: 0, stdout: "acme-only-item\n" });
    expect(b).toMatchObject({ code: 0, stdout: "beta-only-item\n" });
  });

  it("a write is held for the tenant's own approver, runs once approved, and lands in the tenant's database only", async () => {
    await Promise.all(
      TENANTS.map(async (t) => {
        const url = await listen(t, await ciToken(t, t));
        const write = runPsql(url, ["-c", `insert into orders values (2, '${t}-approved')`], 90_000);
        const approver = await personToken(t, `${t}-approver`, [`${t}-approvers`]);
        const pending = await eventually(async () => {
          const r = await api("GET", `${base(t)}/v1/approvals?status=pending`, approver);
          return (r.json.requests as Array<{ id: string; statement?: { text?: string } }> | undefined)?.find((q) => JSON.stringify(q).includes(`${t}-approved`));
        }, `${t}'s held write`);
        const voted = await api("POST", `${base(t)}/v1/approvals/${pending.id}/approve`, approver, {});
        expect(voted.status).toBe(200);
        expect((await write).code).toBe(0);
      }),
    );
    for (const t of TENANTS) {
      const rows = await superuser(`${t}_orders`, (c) => c.query("select item from orders order by id"));
      expect(rows.rows.map((r) => r.item)).toEqual([`${t}-only-item`, `${t}-approved`]);
    }
  });

  it("each tenant's trail verifies with its own published keys and never with the other's", async () => {
    const published = {} as Record<Tenant, Awaited<ReturnType<typeof parseKeySet>>>;
    const kids = {} as Record<Tenant, string[]>;
    for (const t of TENANTS) {
      const res = await fetch(`${base(t)}/.well-known/gatehouse-audit-keys`);
      expect(res.status).toBe(200);
      const text = await res.text();
      published[t] = parseKeySet(JSON.parse(text));
      kids[t] = (JSON.parse(text) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    }
    expect(kids.acme.filter((k) => kids.beta.includes(k))).toEqual([]);
    for (const t of TENANTS) {
      const auditor = await personToken(t, `${t}-auditor`, [`${t}-auditors`]);
      const list = await eventually(async () => {
        const r = await api("GET", `${base(t)}/v1/sessions?resource=orders`, auditor);
        const ended = (r.json.sessions as Array<{ id: string; status: string }> | undefined)?.filter((s) => s.status !== "open");
        return ended && ended.length >= 2 ? ended : null;
      }, `${t}'s ended sessions`);
      sessions[t] = list[0]!.id;
      const exported = await fetch(`${base(t)}/v1/sessions/${sessions[t]}/export`, { headers: { authorization: `Bearer ${auditor}` } });
      expect(exported.status).toBe(200);
      const trail = await exported.text();
      const own = await verifyTrailText(trail, { keys: published[t] });
      expect([own.ok, own.error]).toEqual([true, undefined]);
      const other: Tenant = t === "acme" ? "beta" : "acme";
      const foreign = await verifyTrailText(trail, { keys: published[other] });
      expect(foreign.ok).toBe(false);
    }
  });

  it("counts each tenant's usage separately", async () => {
    for (const t of TENANTS) {
      const r = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/${t}`, platformToken);
      const usage = r.json.usage as Record<string, number>;
      expect(usage.sessions_started).toBeGreaterThanOrEqual(2);
      expect(usage.recording_bytes).toBeGreaterThan(0);
      // Per billing period (calendar month, UTC): the periods' session starts add up to the total
      // (no session of this tenant starts meanwhile; recording bytes may still be flushing), read
      // by the platform and by the tenant's own admin alike.
      const report = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/${t}/usage`, platformToken);
      expect(report.status).toBe(200);
      const periods = report.json.periods as Array<{ period: string; counters: Record<string, number> }>;
      const started = (report.json.totals as Record<string, number>).sessions_started;
      expect(periods.reduce((sum, p) => sum + p.counters.sessions_started!, 0)).toBe(started);
      expect(periods.reduce((sum, p) => sum + p.counters.recording_bytes!, 0)).toBeGreaterThan(0);
      const own = await api("GET", `${base(t)}/v1/admin/usage`, await personToken(t, `${t}-root`, [`${t}-admins`]));
      expect(own.status).toBe(200);
      expect(own.json).toMatchObject({ tenant: t, period_kind: "calendar month, UTC", totals: { sessions_started: started } });
    }
  });

  describe("every way across the boundary is refused and recorded", () => {
    it("a token for A's audience is refused at B, and B's log names A as the token's tenant", async () => {
      const token = await ciToken("acme", "acme", "ci-crossing");
      const r = await api("GET", `${base("beta")}/v1/resources/orders`, token);
      expect(r.status).toBe(401);
      expect(r.json.reason).toMatch(/\baud\b/);
      const psql = await runPsql(await listen("beta", token), ["-c", "select item from orders"]);
      expect(psql.code).not.toBe(0);
      expect(psql.stdout).not.toContain("beta-only-item");
      const log = await eventually(async () => (await refusals("beta")).filter((x) => x.tokenSubject === "ci-crossing"), "recorded refusals");
      expect(log[0]).toMatchObject({ status: 401, tokenTenant: "acme", tokenAudience: aud("acme"), via: "path" });
    });

    it("a token valid at B but with A's claims (the issuer both trust) is refused by B's claim rules", async () => {
      const token = await ciToken("beta", "acme", "ci-acme-at-beta");
      const psql = await runPsql(await listen("beta", token), ["-At", "-c", "select item from orders"]);
      expect(psql.code).not.toBe(0);
      expect(psql.stdout).not.toContain("beta-only-item");
      expect(psql.stderr).toMatch(/denied|no rule|not allowed/i);
    });

    it("B's approvers and auditors cannot see, decide or read A's approvals, grants or sessions", async () => {
      // A real grant request and session of A.
      const holder = await ciToken("acme", "acme", "ci-grant-holder");
      const grant = await api("POST", `${base("acme")}/v1/grants`, holder, { resource: "orders", duration: "10m", reason: "tenancy test" });
      expect(grant.status).toBe(201);
      const grantId = (grant.json.request as { id: string }).id;
      const betaApprover = await personToken("beta", "beta-approver", ["beta-approvers", "beta-auditors", "beta-admins"]);
      for (const [method, p] of [
        ["GET", `/v1/grants/${grantId}`],
        ["POST", `/v1/grants/${grantId}/approve`],
        ["GET", `/v1/approvals/${grantId}`],
        ["GET", `/v1/sessions/${sessions.acme}`],
        ["GET", `/v1/sessions/${sessions.acme}/export`],
      ] as const) {
        const r = await api(method, `${base("beta")}${p}`, betaApprover, method === "POST" ? {} : undefined);
        expect([p, r.status]).toEqual([p, 404]);
      }
      const listed = await api("GET", `${base("beta")}/v1/grants`, betaApprover);
      expect(JSON.stringify(listed.json)).not.toContain(grantId);
      // And A's approver, with A's token, at B: not even authenticated.
      const acmeApprover = await personToken("acme", "acme-approver", ["acme-approvers", "beta-approvers"]);
      expect((await api("POST", `${base("beta")}/v1/grants/${grantId}/approve`, acmeApprover, {})).status).toBe(401);
      // The grant is still pending in A: nothing B did touched it.
      const acmeView = await api("GET", `${base("acme")}/v1/grants/${grantId}`, acmeApprover);
      expect((acmeView.json.request as { status: string }).status).toBe("pending");
      const log = await eventually(async () => {
        const all = await refusals("beta");
        return all.filter((x) => String(x.path).includes(grantId)).length >= 4 ? all : null;
      }, "recorded refusals of grant access");
      expect(log.some((x) => x.path === `/v1/sessions/${sessions.acme}` && x.status === 404)).toBe(true);
      expect(log.some((x) => String(x.path).endsWith(`${grantId}/approve`) && x.status === 401 && x.tokenTenant === "acme")).toBe(true);
    });

    it("A's administrator cannot read or change B's policy, nor B's connectors", async () => {
      const acmeAdmin = await personToken("acme", "acme-root", ["acme-admins", "beta-admins"]);
      expect((await api("GET", `${base("beta")}/v1/admin/policy`, acmeAdmin)).status).toBe(401);
      expect((await api("GET", `${base("beta")}/v1/admin/connectors`, acmeAdmin)).status).toBe(401);
      const put = await fetch(`${base("beta")}/v1/admin/policy`, { method: "PUT", headers: { authorization: `Bearer ${acmeAdmin}` }, body: policy("acme", stack.issuerId) });
      expect(put.status).toBe(401);
      // The platform administrator holds no role inside a tenant either.
      expect((await api("GET", `${base("acme")}/v1/admin/policy`, platformToken)).status).toBe(401);
      const betaAdmin = await personToken("beta", "beta-root", ["beta-admins"]);
      const shown = await api("GET", `${base("beta")}/v1/admin/policy`, betaAdmin);
      expect(shown.status).toBe(200);
      expect(shown.json.text).toContain("beta-read");
    });

    it("A's connector cannot attach to B, nor join B's sessions, by assertion or by session id", async () => {
      const key = await importConnectorPrivateKey(keys.acme);
      const control = await upgradeStatus(`${base("beta")}/v1/connector/control`, await signConnectorAssertion(key, "acme-connector"));
      expect(control).toBe(401);
      // A connector of A calling itself by B's connector id: its key is not B's.
      const spoof = await upgradeStatus(`${base("beta")}/v1/connector/control`, await signConnectorAssertion(key, "beta-connector"));
      expect(spoof).toBe(401);
      // B's session id through A's own tenant: A's namespace has no such session.
      const stream = await upgradeStatus(`${base("acme")}/v1/connector/streams/${sessions.beta}`, await signConnectorAssertion(key, "acme-connector", { sid: sessions.beta }));
      expect(stream).toBe(410);
      const betaLog = await eventually(async () => {
        const all = (await refusals("beta")).filter((x) => x.path === "/v1/connector/control");
        return all.length >= 2 ? all : null;
      }, "recorded connector refusals");
      expect(betaLog.map((x) => x.connector).sort()).toEqual(["acme-connector", "beta-connector"]);
      const acmeLog = await eventually(async () => (await refusals("acme")).filter((x) => x.path === `/v1/connector/streams/${sessions.beta}`), "recorded stream refusal");
      expect(acmeLog[0]).toMatchObject({ status: 410, connector: "acme-connector" });
      // B's pipeline still reaches B's database through B's own connector.
      const b = await runPsql(await listen("beta", await ciToken("beta", "beta")), ["-At", "-c", "select count(*) from orders"]);
      expect(b).toMatchObject({ code: 0, stdout: "2\n" });
    });
  });
});

describe("per-tenant limits", () => {
  it("max_sessions caps the tenant's live sessions (PostgreSQL 53300), whoever opens them", async () => {
    const first = new pg.Client({ connectionString: await listen("tiny", await ciToken("tiny", "tiny", "ci-first")) });
    await first.connect();
    try {
      expect((await first.query("select item from orders")).rows).toEqual([{ item: "tiny-only-item" }]);
      const second = await runPsql(await listen("tiny", await ciToken("tiny", "tiny", "ci-second")), ["-c", "select 1"]);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(/too many sessions: the tenant already has 1 open session \(tenant limit max_sessions: 1\)/);
      // Other tenants are not affected by tiny's cap.
      expect((await runPsql(await listen("acme", await ciToken("acme", "acme")), ["-At", "-c", "select 1"])).stdout).toBe("1\n");
    } finally {
      await first.end();
    }
  });

  it("max_approval_requests refuses the request past the limit, and nothing runs", async () => {
    const url = await listen("tiny", await ciToken("tiny", "tiny"));
    const approver = await personToken("tiny", "tiny-approver", ["tiny-approvers"]);
    const write = runPsql(url, ["-c", "insert into orders values (7, 'first-held')"], 90_000);
    const pending = await eventually(async () => {
      const r = await api("GET", `${base("tiny")}/v1/approvals?status=pending`, approver);
      return (r.json.requests as Array<{ id: string }> | undefined)?.[0];
    }, "tiny's first held write");
    expect((await api("POST", `${base("tiny")}/v1/approvals/${pending.id}/deny`, approver, { reason: "limit test" })).status).toBe(200);
    expect((await write).code).not.toBe(0);
    const second = await runPsql(url, ["-c", "insert into orders values (8, 'second-held')"], 30_000);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/limit of 1 approval requests is reached/);
    const rows = await superuser("tiny_orders", (c) => c.query("select id from orders order by id"));
    expect(rows.rows).toEqual([{ id: 1 }]);
    const shown = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/tiny`, platformToken);
    expect((shown.json.usage as Record<string, number>).approval_requests).toBe(1);
  });

  it("max_recording_bytes: a session that cannot be recorded does not start", async () => {
    const r = await runPsql(await listen("mute", await ciToken("mute", "mute")), ["-c", "select 1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/recording limit \(0 bytes\) is reached/);
  });
});

describe("per-tenant API rate (calls outside sessions: max_api_requests_per_minute)", () => {
  it("a tenant flooding its API gets 429 + Retry-After while another tenant's API calls succeed; outsiders and the platform spend nothing of it", async () => {
    const pair = await generateConnectorKeyPair();
    await createTenant("chatty", { ...pair.publicJwk, kid: "chatty-connector" }, { max_api_requests_per_minute: 2 });
    const chattyAdmin = await personToken("chatty", "chatty-admin", ["chatty-admins"]);
    const betaAdmin = await personToken("beta", "beta-admin-beside", ["beta-admins"]);
    const betaApprover = await personToken("beta", "beta-approver-beside", ["beta-approvers"]);

    // Outsiders first: no token, a token for another tenant's audience — refused (401) and not
    // charged, so they cannot lock the tenant's administrators out.
    for (let i = 0; i < 8; i++) {
      expect((await api("GET", `${base("chatty")}/v1/admin/policy`, null)).status).toBe(401);
      expect((await api("GET", `${base("chatty")}/v1/admin/policy`, await personToken("beta", "beta-admin-beside", ["chatty-admins"]))).status).toBe(401);
    }

    // The tenant's own admin floods: its minute's worth (2; one more token every 30 s) is served, the rest refused with 429 —
    // while tenant beta, in the same moment on the same deployment, is served every time.
    const statuses: number[] = [];
    const betaStatuses: number[] = [];
    let refused: { status: number; json: Record<string, unknown> } | undefined;
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${base("chatty")}/v1/admin/policy`, { headers: { authorization: `Bearer ${chattyAdmin}` } });
      statuses.push(res.status);
      if (res.status === 429 && !refused) {
        retryAfter = res.headers.get("retry-after");
        refused = { status: res.status, json: (await res.json()) as Record<string, unknown> };
      } else await res.arrayBuffer();
      betaStatuses.push((await api("GET", `${base("beta")}/v1/admin/policy`, betaAdmin)).status, (await api("GET", `${base("beta")}/v1/approvals`, betaApprover)).status);
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual(Array(10).fill(429));
    expect(betaStatuses).toEqual(Array(24).fill(200));
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused!.json).toMatchObject({ error: "api_rate_limited", retry_after_seconds: Number(retryAfter) });
    expect(String(refused!.json.reason)).toBe(`gatehouse: API request refused: the tenant's API rate limit is reached (max_api_requests_per_minute: 2); retry in ${retryAfter} s`);
    // Other routes of the same tenant draw on the same budget (an auditor listing sessions).
    expect((await api("GET", `${base("chatty")}/v1/sessions`, await personToken("chatty", "chatty-auditor", ["chatty-auditors"]))).status).toBe(429);
    // The unauthenticated routes have a bucket of their own: the published audit keys are still served.
    expect((await api("GET", `${base("chatty")}/.well-known/gatehouse-audit-keys`, null)).status).toBe(200);

    // The platform's API is no tenant's: it is served, and shows the limit — and how often it refused (10 + 1 above, coalesced writes).
    const shown = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/chatty`, platformToken);
    expect(shown.status).toBe(200);
    expect(shown.json.tenant).toMatchObject({ limits: { max_api_requests_per_minute: 2 } });
    await eventually(
      async () => ((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/chatty`, platformToken)).json.usage as Record<string, number>).api_requests_refused === 11,
      "chatty's api_requests_refused counts its 11 refusals",
      50,
      100,
    );
    // Other tenants run with the default.
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken)).json.tenant).toMatchObject({ limits: { max_api_requests_per_minute: 1200 } });
    // Raised by the platform: applies to the next calls, without waiting for the old Retry-After.
    expect((await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/chatty`, platformToken, { limits: { max_api_requests_per_minute: 6000 } })).status).toBe(200);
    await eventually(async () => (await api("GET", `${base("chatty")}/v1/admin/policy`, chattyAdmin)).status === 200, "chatty's API served again after the raise", 50, 100);
  });
});

describe("per-tenant rates (requests per second, session starts per minute)", () => {
  /** Runs `n` queries back to back on one session; the SQLSTATE of each (null = ran). */
  async function burst(client: pg.Client, n: number, sql = "select item from orders"): Promise<Array<string | null>> {
    const out: Array<string | null> = [];
    for (let i = 0; i < n; i++) out.push(await client.query(sql).then(() => null, (e: { code?: string }) => e.code ?? "?"));
    return out;
  }

  it("a tenant past its request rate gets 53400 per statement, the session stays usable, and another tenant is not touched", async () => {
    // Its connector online first (once, under load, it was between two control channels here: that is not what this test is about).
    const probe = await ciToken("rated", "rated", "ci-rated-probe");
    await eventually(async () => (await api("GET", `${base("rated")}/v1/resources/orders`, probe)).json.online === true, "rated's orders online");
    const rated = new pg.Client({ connectionString: await listen("rated", await ciToken("rated", "rated", "ci-rated")) });
    const acme = new pg.Client({ connectionString: await listen("acme", await ciToken("acme", "acme", "ci-acme-beside")) });
    await Promise.all([rated.connect(), acme.connect()]);
    try {
      const [r, a] = await Promise.all([burst(rated, 12), burst(acme, 12)]);
      expect(a).toEqual(Array(12).fill(null));
      expect(r.filter((c) => c === null).length).toBeGreaterThanOrEqual(1);
      expect(r.filter((c) => c === "53400").length).toBeGreaterThanOrEqual(4);
      expect(r.every((c) => c === null || c === "53400")).toBe(true);
      const refused = await rated.query("select 1").catch((e: Error) => e);
      if (refused instanceof Error) expect(refused.message).toMatch(/tenant's request rate limit is reached \(max_requests_per_second: 2, burst 4\); retry in \d+ s/);
      // The session survives: once tokens are back the same session runs statements again.
      await eventually(async () => (await rated.query("select item from orders").then((x) => x.rows, () => null)) ?? null, "the rated session runs again");
      // A second session of the same tenant shares the bucket: opening sessions is no way around it.
      const second = new pg.Client({ connectionString: await listen("rated", await ciToken("rated", "rated", "ci-rated-2")) });
      await second.connect();
      try {
        const both = await Promise.all([burst(rated, 6), burst(second, 6)]);
        expect(both.flat().filter((c) => c === "53400").length).toBeGreaterThanOrEqual(4);
      } finally {
        await second.end();
      }
    } finally {
      await Promise.all([rated.end(), acme.end()]);
    }
    // Several statements in one simple query cost each of them: more than the burst is refused whole.
    // Right after the bursts above the bucket may still be empty (then the refusal is the rate's, before parsing):
    // a full burst comes back in 2 s at 2 a second. One session start only (the tenant's starts are capped too).
    await new Promise((r) => setTimeout(r, 2_500));
    const many = await runPsql(await listen("rated", await ciToken("rated", "rated", "ci-rated-many")), ["-c", "select 1; select 2; select 3; select 4; select 5"]);
    expect(many.code).not.toBe(0);
    expect(many.stderr).toMatch(/its 5 statements are more than the tenant's request burst \(4\)/);
    const shown = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/rated`, platformToken);
    expect((shown.json.usage as Record<string, number>).requests_rate_limited).toBeGreaterThanOrEqual(4);
    expect(shown.json.tenant).toMatchObject({ limits: RATED_LIMITS });
    expect(((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/acme`, platformToken)).json.usage as Record<string, number>).requests_rate_limited).toBe(0);
    const log = await eventually(async () => (await refusals("rated")).filter((x) => x.error === "rate_limited" && x.tokenSubject === "ci-rated"), "rate refusals logged");
    expect(log[0]).toMatchObject({ status: 429, method: "postgres" });
    expect(String(log[0]!.reason)).toMatch(/request rate limit is reached/);
    // Bounded: far fewer log rows than refusals (one per session per second at most).
    expect(log.length).toBeLessThanOrEqual(6);
  });

  it("refusals before parsing are counted in rate.refused events; a session that ignores Retry-After is ended and that is recorded", async () => {
    const hasty = new pg.Client({ connectionString: await listen("rated", await ciToken("rated", "rated", "ci-rated-hasty")) });
    // The FATAL may arrive between two statements (as a server's own termination would): then pg emits it here.
    const errors: Array<{ code?: string; message?: string }> = [];
    hasty.on("error", (e: { code?: string; message?: string }) => void errors.push(e));
    await hasty.connect();
    let refusedSeen = 0;
    let admittedSeen = 0;
    let ended: { code?: string; message?: string } | null = null;
    // A hostile loop: the next statement at once after each 53400, never waiting for Retry-After.
    for (let i = 0; i < 150 && !ended; i++) {
      const err = await hasty.query("select item from orders").then(
        () => null,
        (e: { code?: string; message?: string }) => e,
      );
      if (err?.code === "53400") refusedSeen++;
      else if (err) ended = err;
      else admittedSeen++;
    }
    await hasty.end().catch(() => {});
    expect(ended).not.toBeNull();
    // PostgreSQL's too_many_connections, as FATAL: the session is over, not just one statement.
    const fatal = [ended!, ...errors].find((e) => e.code === "53300");
    expect(fatal?.message).toMatch(/session ended: it sent 20 requests in a row before the Retry-After of the tenant's request rate limit \(max_requests_per_second: 2\)/);
    // The trail says why it ended and counts every refusal the client saw, per window, not per message.
    const auditor = await personToken("rated", "rated-auditor", ["rated-auditors"]);
    const session = await eventually(async () => {
      const r = await api("GET", `${base("rated")}/v1/sessions?resource=orders`, auditor);
      return (r.json.sessions as Array<{ id: string; end_reason?: string | null }> | undefined)?.find((x) => /Retry-After/.test(x.end_reason ?? "")) ?? null;
    }, "the ended session in the index");
    const exported = await fetch(`${base("rated")}/v1/sessions/${session.id}/export`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(exported.status).toBe(200);
    const events = (await exported.text())
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { type?: string; data?: Record<string, unknown> })
      .filter((e) => typeof e.type === "string");
    const windows = events.filter((e) => e.type === "rate.refused").map((e) => e.data as { count: number; reason: string });
    const lateRefusals = events.filter((e) => e.type === "decision" && e.data?.rule === "gatehouse:tenant-rate-limit").length;
    expect(windows.reduce((n, w) => n + w.count, 0) + lateRefusals).toBe(refusedSeen);
    // (This client waits for each answer, so each window holds one refusal; pipelined refusals share
    // one: worker/limits/refusal-trail.test.ts.)
    expect(windows.every((w) => w.count >= 1)).toBe(true);
    expect(windows[0]!.reason).toMatch(/request rate limit is reached/);
    // The refused statements were never parsed: the only query events are the admitted ones.
    expect(events.filter((e) => e.type === "query").length).toBe(admittedSeen + lateRefusals);
    const end = events.find((e) => e.type === "session.end");
    expect(String(end?.data?.reason)).toMatch(/session ended: it sent 20 requests in a row before the Retry-After/);
  });

  it("identities the tenant's policy cannot admit do not use up its session starts (a token for the audience alone locks nobody out)", async () => {
    // Anyone who can mint a token for the tenant's audience (any CI job of a shared issuer) tries
    // more tunnels than the whole per-minute budget; the policy admits none of them (repository acme/*).
    for (let i = 0; i < 8; i++) {
      const c = new pg.Client({ connectionString: await listen("rated", await ciToken("rated", "acme", `outsider-${i}`)) });
      const err = await c.connect().then(
        () => null,
        (e: { code?: string }) => e,
      );
      await c.end().catch(() => {});
      // Refused by the session (recorded there) as before, not by the start limit.
      expect(err?.code).toBe("28000");
    }
    // The tenant's own pipeline still starts a session.
    expect((await runPsql(await listen("rated", await ciToken("rated", "rated", "ci-after-outsiders")), ["-At", "-c", "select 1"])).stdout).toBe("1\n");
  });

  it("past max_session_starts_per_minute a new session is refused with 53300 and logged; live sessions go on", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 8 && !codes.includes("53300"); i++) {
      const c = new pg.Client({ connectionString: await listen("rated", await ciToken("rated", "rated", `ci-start-${i}`)) });
      const err = await c.connect().then(
        () => null,
        (e: { code?: string; message?: string }) => e,
      );
      if (err) {
        codes.push(err.code ?? "?");
        expect(err.message).toMatch(/the tenant started \d+ sessions in the last minute \(tenant limit max_session_starts_per_minute: 6\); retry in \d+ s/);
      } else {
        codes.push("ok");
        await c.query("select 1").catch(() => {});
        await c.end();
      }
    }
    expect(codes.at(-1)).toBe("53300");
    // Another tenant still starts sessions.
    expect((await runPsql(await listen("beta", await ciToken("beta", "beta")), ["-At", "-c", "select 1"])).stdout).toBe("1\n");
    const log = await eventually(async () => (await refusals("rated")).filter((x) => x.error === "session_starts_limited"), "start refusals logged");
    expect(log[0]).toMatchObject({ status: 429 });
    const usage = (await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/rated`, platformToken)).json.usage as Record<string, number>;
    expect(usage.session_starts_rate_limited).toBeGreaterThanOrEqual(1);
  });
});

describe("tenant lifecycle: update, suspend, resume, delete (platform administrators only)", () => {
  const cli = (args: string[], token = platformToken) => gatehouse(["admin", "tenants", ...args, "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: token });
  const status = async (t: Tenant) => ((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/${t}`, platformToken)).json.tenant as { status: string }).status;

  it("update changes limits and issuers only, validated like a creation; a tenant admin cannot", async () => {
    const file = path.join(dir, "doomed-change.json");
    const before = (await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken)).json.tenant as { version: number };
    await writeFile(file, JSON.stringify({ limits: { max_sessions: 7, max_requests_per_second: 500 } }));
    const r = await cli(["update", "doomed", "--file", file]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/max_sessions=7 .*max_requests_per_second=500/);
    for (const [body, why] of [
      [{ masking_key: "x".repeat(32) }, /cannot update "masking_key"/],
      [{ name: "other" }, /cannot update "name"/],
      [{ limits: { max_sesions: 1 } }, /unknown limit "max_sesions"/],
      [{ issuers: [{ ...devIssuer(), audiences: [aud("acme")] }] }, /already trusted by tenant acme/],
      [{ issuers: [{ ...devIssuer(), audiences: ["gatehouse-platform"] }] }, /already trusted by the platform/],
      [{}, /nothing to update/],
    ] as const) {
      const bad = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken, body);
      expect([bad.status, String(bad.json.reason)]).toEqual([422, expect.stringMatching(why)]);
    }
    // A tenant's own administrator (even of this tenant) is not a platform administrator.
    const doomedAdmin = await personToken("doomed", "doomed-root", ["doomed-admins"]);
    expect((await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, doomedAdmin, { limits: {} })).status).toBe(401);
    expect((await api("POST", `${stack.gatewayUrl}/platform/v1/tenants/doomed/suspend`, doomedAdmin, {})).status).toBe(401);
    expect((await api("DELETE", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, doomedAdmin)).status).toBe(401);
    // Nor are the platform routes reachable through a tenant's prefix.
    expect((await api("POST", `${base("doomed")}/platform/v1/tenants/doomed/suspend`, platformToken, {})).status).toBe(404);
    const shown = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken);
    expect(shown.json.tenant).toMatchObject({ status: "active", limits: { max_sessions: 7, max_requests_per_second: 500 } });
    // The update was told to every piece of the tenant — its database, limiter, hub, approvals and
    // exporter objects, which reload the record — and none is left pending.
    expect((shown.json.tenant as { version: number }).version).toBe(before.version + 1);
    expect(shown.json.tenant).not.toHaveProperty("pending");
  });

  it("secrets are set by name, sealed, never shown back, and only under the names notifications and exports use", async () => {
    const value = `hook-secret-${randomBytes(8).toString("hex")}`;
    const set = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { secrets: { GATEHOUSE_WEBHOOK_OPS: value, GATEHOUSE_EXPORT_SIEM: "Bearer x" } });
    expect(set.status).toBe(200);
    expect((set.json.tenant as { secrets: string[] }).secrets).toEqual(["GATEHOUSE_EXPORT_SIEM", "GATEHOUSE_WEBHOOK_OPS"]);
    expect(set.json.tenant).not.toHaveProperty("pending"); // every piece told (and reloaded) before the answer
    for (const bad of [{ GATEHOUSE_MASKING_KEY: "x" }, { DB: "x" }, { GATEHOUSE_WEBHOOK_OPS: "" }, ["GATEHOUSE_WEBHOOK_OPS"]]) {
      expect((await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { secrets: bad })).status).toBe(422);
    }
    const removed = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { secrets: { GATEHOUSE_EXPORT_SIEM: null } });
    expect((removed.json.tenant as { secrets: string[] }).secrets).toEqual(["GATEHOUSE_WEBHOOK_OPS"]);
    // The value appears nowhere a platform administrator (or the audit log) can read.
    const everywhere = [await cli(["show", "beta", "--json"]), await cli(["list", "--json"]), await cli(["audit", "--json"])].map((r) => r.stdout).join("\n");
    expect(everywhere).toContain("GATEHOUSE_WEBHOOK_OPS");
    expect(everywhere).not.toContain(value);
    // The tenant still serves (its secrets open with the platform key).
    expect((await runPsql(await listen("beta", await ciToken("beta", "beta", "ci-after-secrets")), ["-At", "-c", "select 1"])).stdout).toBe("1\n");
  });

  it("delete refuses a tenant that is not suspended", async () => {
    const r = await cli(["delete", "doomed", "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/must be suspended before it is deleted/);
    const noYes = await cli(["delete", "doomed"]);
    expect(noYes.code).not.toBe(0);
    expect(noYes.stderr).toMatch(/--yes/);
    expect(await status("doomed")).toBe("active");
  });

  it("suspend ends the live session (recorded), refuses new sessions, API calls and the tenant's connector; others go on", async () => {
    const live = new pg.Client({ connectionString: await listen("doomed", await ciToken("doomed", "doomed", "ci-live")) });
    live.on("error", () => {});
    await live.connect();
    expect((await live.query("select item from orders")).rows).toEqual([{ item: "doomed-only-item" }]);
    const r = await cli(["suspend", "doomed", "--reason", "unpaid invoice"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/status +suspended .*\(unpaid invoice\)/);
    expect(r.stdout).toMatch(/ended +1 live session\(s\), 1 connector channel\(s\)/);
    const after = await live.query("select 1").then(
      () => "ran",
      (e: Error) => e.message,
    );
    expect(after).not.toBe("ran");
    await live.end().catch(() => {});
    // New sessions, API calls and the connector's reconnection are refused.
    const psql = await runPsql(await listen("doomed", await ciToken("doomed", "doomed", "ci-after")), ["-c", "select 1"]);
    expect(psql.code).not.toBe(0);
    const call = await api("GET", `${base("doomed")}/v1/resources/orders`, await ciToken("doomed", "doomed", "ci-api"));
    expect([call.status, call.json.error]).toEqual([403, "tenant_suspended"]);
    const key = await importConnectorPrivateKey(keys.doomed);
    expect(await upgradeStatus(`${base("doomed")}/v1/connector/control`, await signConnectorAssertion(key, "doomed-connector"))).toBe(403);
    // Another tenant's token at the suspended tenant is refused the same way (nothing is served).
    expect((await api("GET", `${base("doomed")}/v1/resources/orders`, await ciToken("acme", "acme"))).status).toBe(403);
    // The ended session is recorded as ended (the trail's index), by the platform.
    const auditorLog = await eventually(async () => {
      const all = await refusals("doomed");
      return all.filter((x) => x.error === "tenant_suspended").length >= 3 ? all : null;
    }, "suspension refusals logged");
    expect(auditorLog.some((x) => x.path === "/v1/connector/control" && x.connector === "doomed-connector")).toBe(true);
    // Other tenants are untouched.
    expect((await runPsql(await listen("acme", await ciToken("acme", "acme")), ["-At", "-c", "select 1"])).stdout).toBe("1\n");
    expect(await status("doomed")).toBe("suspended");
  });

  it("resume serves the tenant again: its connector comes back and sessions start", async () => {
    const r = await cli(["resume", "doomed"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    // Active only once every piece admitted it again: nothing is left pending.
    const shown = (await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken)).json.tenant;
    expect(shown).toMatchObject({ status: "active", lifecycle: "resume" });
    expect(shown).not.toHaveProperty("pending");
    const token = await ciToken("doomed", "doomed");
    await eventually(async () => (await api("GET", `${base("doomed")}/v1/resources/orders`, token)).json.online === true, "doomed's connector back", 300);
    const psql = await runPsql(await listen("doomed", token), ["-At", "-c", "select item from orders"]);
    expect(psql).toMatchObject({ code: 0, stdout: "doomed-only-item\n" });
    // The session ended by the suspension is in the tenant's own index, ended, not open.
    const auditor = await personToken("doomed", "doomed-auditor", ["doomed-auditors"]);
    const sessions = (await api("GET", `${base("doomed")}/v1/sessions?resource=orders`, auditor)).json.sessions as Array<{ status: string; end_reason?: string }>;
    expect(sessions.some((x) => x.status !== "open" && /suspended by the platform \(unpaid invoice\)/.test(JSON.stringify(x)))).toBe(true);
  });

  it("delete erases a suspended tenant; its name answers 410 and is never given to another organisation", async () => {
    expect((await cli(["suspend", "doomed"])).code).toBe(0);
    const r = await cli(["delete", "doomed", "--yes", "--reason", "contract ended"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/tenant doomed deleted .*"sessions":[1-9]/);
    const gone = await api("GET", `${base("doomed")}/v1/resources/orders`, await ciToken("doomed", "doomed"));
    expect([gone.status, gone.json.error]).toEqual([410, "tenant_deleted"]);
    expect((await fetch(`${base("doomed")}/.well-known/gatehouse-audit-keys`)).status).toBe(410);
    // The name cannot be taken again, in any spelling that reaches the same tenant.
    const again = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, { name: "doomed", issuers: [{ ...devIssuer(), audiences: ["new-org"] }], policy: policy("acme", stack.issuerId) });
    expect([again.status, String(again.json.reason)]).toEqual([409, expect.stringMatching(/belonged to a deleted tenant and is never reused/)]);
    for (const name of ["Doomed", "DOOMED", "doomed ", "döömed", "doomed\u200b"]) {
      const spelled = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, { name, issuers: [{ ...devIssuer(), audiences: ["new-org"] }], policy: policy("acme", stack.issuerId) });
      expect([name, spelled.status]).toEqual([name, 422]);
    }
    // Nothing of it is shown any more but the tombstone; its refusal log went with it.
    const shown = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken);
    expect(shown.json).toMatchObject({ tenant: { name: "doomed", status: "deleted", issuers: [], connectors: [], reason: "contract ended" }, usage: null });
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/doomed/refusals`, platformToken)).status).toBe(410);
    expect((await cli(["resume", "doomed"])).code).not.toBe(0);
    expect((await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/doomed`, platformToken, { limits: {} })).status).toBe(410);
    // Its database is gone: the trail index it had is empty (read through the platform's view of usage: none).
    const list = await cli(["list"]);
    expect(list.stdout).toMatch(/^doomed\t.*\tdeleted$/m);
    // Ten CLI processes one after another: 13 s idle, over 60 s at load 25.
  }, 180_000);

  it("every platform action is in the platform audit log, refused ones too", async () => {
    const r = await cli(["audit", "--json"]);
    expect(r.code).toBe(0);
    const actions = (JSON.parse(r.stdout) as { actions: Array<{ action: string; tenant: string; outcome: string; actor: string }> }).actions.filter((x) => x.tenant === "doomed");
    const seen = actions.map((x) => `${x.action}:${x.outcome}`);
    for (const want of ["tenant.create:ok", "tenant.update:ok", "tenant.update:invalid_tenant", "tenant.delete:conflict", "tenant.suspend:ok", "tenant.resume:ok", "tenant.delete:ok", "tenant.create:conflict"]) expect(seen).toContain(want);
    expect(actions.every((x) => x.actor.endsWith(" platform-root"))).toBe(true);
    // A tenant administrator cannot read it.
    expect((await cli(["audit"], await personToken("acme", "acme-root", ["acme-admins"]))).code).not.toBe(0);
  });

  it("requests naming no existing tenant are logged at the platform, bounded and counted", async () => {
    const token = await ciToken("acme", "acme");
    for (let i = 0; i < 3; i++) await api("GET", `${stack.gatewayUrl}/t/nosuch-org/v1/resources/orders`, token);
    await api("GET", `${stack.gatewayUrl}/t/ACME/v1/resources/orders`, token);
    await api("GET", `${stack.gatewayUrl}/t/%61cme%E2%80%8B/v1/resources/orders`, token);
    await api("GET", `${stack.gatewayUrl}/t/doomed/v1/resources/orders`, token);
    const seen = await eventually(async () => {
      const r = await api("GET", `${stack.gatewayUrl}/platform/v1/unknown-tenants`, platformToken);
      const rows = r.json.requests as Array<{ kind: string; name: string; count: number }>;
      // Each request is in some flush within a second, not necessarily the same one: wait for all of them.
      const all = rows.find((x) => x.name === "nosuch-org")?.count === 3 && rows.some((x) => x.kind === "deleted") && rows.some((x) => x.name === "ACME") && rows.some((x) => x.name.includes("%E2%80%8B"));
      return all && rows.some((x) => x.kind === "platform-auth") ? rows : null;
    }, "unknown tenant names logged");
    expect(seen.find((x) => x.name === "nosuch-org")).toMatchObject({ kind: "unknown", count: 3 });
    expect(seen.find((x) => x.name === "ACME")).toMatchObject({ kind: "invalid" });
    expect(seen.some((x) => x.kind === "invalid" && x.name.includes("%E2%80%8B"))).toBe(true);
    expect(seen.find((x) => x.kind === "deleted")).toMatchObject({ name: "doomed" });
    // Refused platform administration (a tenant's administrator trying it, earlier in this file) is there too.
    expect(seen.some((x) => x.kind === "platform-auth" && x.name.endsWith(" acme-root"))).toBe(true);
    // Platform administrators only.
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/unknown-tenants`, token)).status).toBe(401);
  });
});
