/**
 * A tenant's connector hub sharded within the tenant (docs/TENANCY.md "Sharding within a tenant",
 * docs/PROTOCOL.md "Hub shards"), end to end: one multi-tenant worker (wrangler dev), a tenant
 * "wide" with `shards.hub: 3` and a tenant "flat" without, embedded PostgreSQL with one database
 * per resource (so a row says which resource a session reached), the real connector as a process
 * (wide-main, resources on every shard) and in-process (wide-spare, for revocation), psql and pg.
 *
 * As the attacker: a shard asked to hold a resource it does not hold, a shard that does not exist,
 * an assertion replayed at another shard, a revoked connector at every shard, a connector whose
 * binding was narrowed still serving sessions on shards 0 and 1, one tenant's connector at the
 * other's shards, and `shards.hub` changed after creation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import WebSocket from "ws";
import { decodeFrame, encodeControl, FrameType, TUNNEL_SUBPROTOCOL, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import { startTestStack, runPsql, type TestStack } from "../harness/stack.ts";
import { TEST_LISTENER_CREDENTIALS, listenerUrl } from "../harness/listener-auth.ts";
import { startConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { startConnector, type RunningConnector } from "../../connector/connector.ts";
import { silentLogger } from "../../connector/logger.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey, type Ed25519PrivateJwk } from "../../connector/keys.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { hubShardOfResource } from "../../worker/connectors/hub-placement.ts";
import { eventually, gatehouse } from "./helpers.ts";
import { upgradeStatus } from "./support/tls-calls.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CONNECTOR_BIN = path.join(ROOT, "bin/gatehouse-connector.mjs");
const SHARDS = 3;

type Tenant = "wide" | "flat";

/** The first `prefix-<i>` name on each of the three shards, in shard order. */
function onEachShard(prefix: string): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < SHARDS; i++) {
    const name = `${prefix}-${i}`;
    const k = hubShardOfResource(name, SHARDS);
    if (!found.has(k)) found.set(k, name);
  }
  return [0, 1, 2].map((k) => found.get(k)!);
}

const MAIN = onEachShard("main");
const SPARE = onEachShard("spare");
const PROBE = onEachShard("probe");
const BOUND = onEachShard("bound");
const dbOf = (resource: string) => resource.replace(/-/g, "_");

let stack: TestStack;
let dir: string;
const keys = {} as Record<"wide-main" | "wide-spare" | "flat-main", Ed25519PrivateJwk>;
const closers: Array<() => Promise<void>> = [];
const children: ChildProcess[] = [];
let spare: RunningConnector;
/** wide-spare's control-channel events: which shard's channel went down or came up. */
const spareEvents: Array<{ type: string; shard?: number }> = [];
let platformToken: string;

const aud = (t: Tenant) => `gatehouse-${t}`;
const base = (t: Tenant) => `${stack.gatewayUrl}/t/${t}`;
const wsBase = (t: Tenant) => base(t).replace(/^http/, "ws");
const ciToken = (t: Tenant, sub = `ci-${t}`) => stack.mintToken({ sub, audience: aud(t), claims: { repository: `${t}/app` } });
const adminToken = (t: Tenant) => stack.mintToken({ sub: `${t}-root`, audience: aud(t), claims: { groups: [`${t}-admins`] } });

function policy(t: Tenant, issuer: string): string {
  return `version: 1
roles:
  admin: [{ issuer: "${issuer}", claims: { groups: ${t}-admins } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer}", claims: { repository: "${t}/*" } }]
    resources: ["*"]
    actions: [connect, sql.read, sql.transaction, sql.session]
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

/** A database for `resource` whose one row names it: ground truth for where a session went. */
async function databaseFor(resource: string): Promise<void> {
  await superuser("postgres", (c) => c.query(`CREATE DATABASE ${dbOf(resource)} OWNER shard_app`));
  await superuser(dbOf(resource), async (c) => {
    await c.query(`CREATE TABLE whoami (resource text NOT NULL)`);
    await c.query(`INSERT INTO whoami VALUES ('${resource}')`);
    await c.query(`ALTER TABLE whoami OWNER TO shard_app`);
  });
}

async function api(method: string, url: string, token: string | null, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, json: { text } };
  }
}

async function listen(t: Tenant, resource: string, token: string): Promise<string> {
  const listener = await startConnectListener({
    gateway: base(t),
    resource,
    port: 0,
    tokenSource: staticTokenSource(token, "test"),
    type: "postgres",
    log: () => {},
    credentials: TEST_LISTENER_CREDENTIALS,
    stateDir: path.join(dir, `listener-${closers.length}`),
  });
  closers.push(() => listener.close());
  return listenerUrl(listener.port, "ci", resource, listener.auth.password);
}

/**
 * A hand-made control channel: sends `hello` with `resources` then a ping, and reports every
 * message up to the pong (the hub answers in order, so whatever precedes the pong came first), or
 * the close that ended it.
 */
async function probeControl(url: string, assertion: string, connector: string, resources: string[]): Promise<{ messages: ControlMessage[]; close?: { code: number; reason: string } }> {
  const ws = new WebSocket(url, [TUNNEL_SUBPROTOCOL], { headers: { authorization: `Bearer ${assertion}` } });
  ws.binaryType = "nodebuffer";
  const messages: ControlMessage[] = [];
  return new Promise((resolve, reject) => {
    ws.on("error", reject);
    ws.on("open", () => {
      ws.send(encodeControl({ t: "hello", connector, version: 1, resources: resources.map((name) => ({ name, type: "postgres", labels: {} })) }));
      ws.send(encodeControl({ t: "ping" }));
    });
    ws.on("message", (data: Buffer) => {
      const frame = decodeFrame(data);
      if (frame.type !== FrameType.Control) return;
      messages.push(frame.message);
      if (frame.message.t === "pong") {
        ws.close();
        resolve({ messages });
      }
    });
    ws.on("close", (code, reason) => resolve({ messages, close: { code, reason: reason.toString("utf8") } }));
  });
}

async function describeResource(t: Tenant, name: string): Promise<Record<string, unknown>> {
  return (await api("GET", `${base(t)}/v1/resources/${name}`, await ciToken(t))).json;
}

async function createTenant(t: Tenant, connectors: Array<{ id: string; public_key: Record<string, unknown> }>, shards?: Record<string, number>): Promise<{ status: number; json: Record<string, unknown> }> {
  return api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, {
    name: t,
    issuers: [{ ...devIssuerEntry, dev: false, audiences: [aud(t)] }],
    connectors,
    policy: policy(t, stack.issuerId),
    policy_source: `${t}.yaml`,
    ...(shards ? { shards } : {}),
  });
}

let devIssuerEntry: Record<string, unknown>;

function resourceYaml(name: string): string {
  return `  - { name: ${name}, type: postgres, host: ${stack.pg.host}, port: ${stack.pg.port}, database: ${dbOf(name)}, username: shard_app, password: env:SHARD_APP_PASSWORD, tls: { mode: disable } }\n`;
}

/** The real connector process with `resources`. */
async function runConnectorProcess(t: Tenant, id: keyof typeof keys, resources: string[]): Promise<void> {
  const keyFile = path.join(dir, `${id}.jwk`);
  await writeFile(keyFile, JSON.stringify(keys[id]), { mode: 0o600 });
  const config = path.join(dir, `${id}.yaml`);
  await writeFile(config, `gateway: ${base(t)}\nid: ${id}\nprivate_key: file:${keyFile}\nresources:\n${resources.map(resourceYaml).join("")}`, { mode: 0o600 });
  const child = spawn(process.execPath, [CONNECTOR_BIN, "--config", config, "--log-format", "json"], { env: { ...process.env, SHARD_APP_PASSWORD: "shard-secret" }, stdio: ["ignore", "ignore", "ignore"] });
  children.push(child);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gatehouse-hub-shards-"));
  stack = await startTestStack({
    connector: false,
    waitForConnector: false,
    workerVars: { GATEHOUSE_TENANCY: "multi" },
    workerVarsWithIssuer: (issuer) => {
      devIssuerEntry = issuer;
      return {
        GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...issuer, audiences: ["gatehouse-platform"], dev: false }]),
        GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
      };
    },
  });
  platformToken = await stack.mintToken({ sub: "platform-root", audience: "gatehouse-platform" });
  await superuser("postgres", (c) => c.query(`CREATE ROLE shard_app LOGIN PASSWORD 'shard-secret'`));
  for (const r of [...MAIN, ...SPARE, "flat-db"]) await databaseFor(r);
  const pairs = {} as Record<keyof typeof keys, Record<string, unknown>>;
  for (const id of ["wide-main", "wide-spare", "flat-main"] as const) {
    const pair = await generateConnectorKeyPair();
    keys[id] = pair.privateJwk;
    pairs[id] = { ...pair.publicJwk, kid: id };
  }
  const wide = await createTenant("wide", [
    { id: "wide-main", public_key: pairs["wide-main"] },
    { id: "wide-spare", public_key: pairs["wide-spare"] },
  ], { hub: SHARDS });
  expect(wide.status).toBe(201);
  expect((await createTenant("flat", [{ id: "flat-main", public_key: pairs["flat-main"] }])).status).toBe(201);
  await runConnectorProcess("wide", "wide-main", MAIN);
  await runConnectorProcess("flat", "flat-main", ["flat-db"]);
  spare = await startConnector(
    {
      gateway: base("wide"),
      id: "wide-spare",
      privateKey: keys["wide-spare"],
      resources: SPARE.map((name) => ({ name, type: "postgres", labels: {}, host: stack.pg.host, port: stack.pg.port, database: dbOf(name), username: "shard_app", password: "shard-secret", tls: { mode: "disable" as const } })),
    },
    {
      logger: silentLogger,
      backoff: { initialMs: 200, maxMs: 1000 },
      onEvent: (e) => {
        if (e.type === "control-connected" || e.type === "control-disconnected") spareEvents.push({ type: e.type, ...(e.shard === undefined ? {} : { shard: e.shard }) });
      },
    },
  );
  for (const name of [...MAIN, ...SPARE]) await eventually(async () => (await describeResource("wide", name)).online === true, `${name} online`, 600);
  await eventually(async () => (await describeResource("flat", "flat-db")).online === true, "flat-db online", 600);
}, 240_000);

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  await spare?.stop().catch(() => {});
  for (const child of children) child.kill("SIGTERM");
  await stack?.stop();
});

describe("a tenant with shards.hub = 3", () => {
  it("spreads its resources over the three shards and serves a session on each", async () => {
    expect(MAIN.map((r) => hubShardOfResource(r, SHARDS))).toEqual([0, 1, 2]);
    const token = await ciToken("wide");
    const results = await Promise.all(MAIN.map(async (r) => runPsql(await listen("wide", r, token), ["-At", "-c", "select resource from whoami"])));
    expect(results.map((r) => [r.code, r.stdout])).toEqual(MAIN.map((r) => [0, `${r}\n`]));
    // The in-process connector is on every shard too.
    expect(spare.connected).toBe(true);
    const spareResults = await Promise.all(SPARE.map(async (r) => runPsql(await listen("wide", r, token), ["-At", "-c", "select resource from whoami"])));
    expect(spareResults.map((r) => r.stdout)).toEqual(SPARE.map((r) => `${r}\n`));
  });

  it("a configuration reload moves the connector's shard channels with its resources", async () => {
    const extra = onEachShard("extra")[1]!;
    const resource = (name: string) => ({ name, type: "postgres" as const, labels: {}, host: stack.pg.host, port: stack.pg.port, database: dbOf(name), username: "shard_app", password: "shard-secret", tls: { mode: "disable" as const } });
    const config = (names: string[]) => ({ gateway: base("wide"), id: "wide-spare", privateKey: keys["wide-spare"], resources: names.map(resource) });
    // Shard 1 keeps its channel, announcing a new set: the new name is served, the old one is not.
    await spare.reload(config([SPARE[0]!, extra, SPARE[2]!]));
    await eventually(async () => (await describeResource("wide", extra)).online === true && (await describeResource("wide", SPARE[1]!)).online === false, "shard 1 re-announced");
    // Nothing left on shard 1: its channel is closed.
    await spare.reload(config([SPARE[0]!, SPARE[2]!]));
    await eventually(async () => (await describeResource("wide", extra)).online === false, "shard 1 channel closed");
    expect((await describeResource("wide", SPARE[0]!)).online).toBe(true);
    // Back to the start: shard 1 is dialled again.
    await spare.reload(config(SPARE));
    await eventually(async () => (await describeResource("wide", SPARE[1]!)).online === true, "shard 1 channel back");
    expect(spare.connected).toBe(true);
  });

  it("shard 0 answers a hello with the placement; each other shard holds only its own resources", async () => {
    const key = await importConnectorPrivateKey(keys["wide-main"]);
    // A connector id of the tenant announcing names nobody serves: the probe does not take over
    // wide-main's resources (the newest channel for a resource gets its sessions).
    const primary = await probeControl(`${wsBase("wide")}/v1/connector/control`, await signConnectorAssertion(key, "wide-main"), "wide-main", PROBE);
    expect(primary.close).toBeUndefined();
    expect(primary.messages[0]).toEqual({ t: "shards", count: 3, map: Object.fromEntries(PROBE.map((r, k) => [r, k])) });
    expect(primary.messages[1]).toEqual({ t: "pong" });
    const own = await probeControl(`${wsBase("wide")}/v1/connector/control?shard=2`, await signConnectorAssertion(key, "wide-main"), "wide-main", [PROBE[2]!]);
    expect(own).toEqual({ messages: [{ t: "pong" }] });
  });

  it("a shard refuses a hello naming a resource it does not hold, and shards that do not exist are refused", async () => {
    const key = await importConnectorPrivateKey(keys["wide-main"]);
    for (const [shard, name] of [[1, PROBE[2]!], [2, PROBE[0]!], [1, PROBE[1]!]] as const) {
      // One foreign name among the shard's own refuses the whole hello.
      const announced = shard === 1 && name === PROBE[1] ? [PROBE[1]!, PROBE[0]!] : [name];
      const r = await probeControl(`${wsBase("wide")}/v1/connector/control?shard=${shard}`, await signConnectorAssertion(key, "wide-main"), "wide-main", announced);
      expect(r.close?.code).toBe(1008);
      expect(r.close?.reason).toMatch(new RegExp(`resource ${announced.find((n) => hubShardOfResource(n, SHARDS) !== shard)} is not held by hub shard ${shard}`));
      expect(r.messages.filter((m) => m.t === "pong")).toEqual([]);
    }
    for (const bad of ["3", "32", "-1", "01", "1.0", "x", ""]) {
      const res = await api("GET", `${base("wide")}/v1/connector/control?shard=${bad}`, await signConnectorAssertion(key, "wide-main"));
      expect([bad, res.status, res.json.error]).toEqual([bad, 400, "bad_request"]);
    }
    // The count is told to the tenant's connectors only: without a valid assertion, 401 first.
    expect((await api("GET", `${base("wide")}/v1/connector/control?shard=7`, null)).status).toBe(401);
    // An unsharded tenant has shard 0 only.
    const flatKey = await importConnectorPrivateKey(keys["flat-main"]);
    const flat = await api("GET", `${base("flat")}/v1/connector/control?shard=1`, await signConnectorAssertion(flatKey, "flat-main"));
    expect([flat.status, flat.json.reason]).toEqual([400, "shard must be an integer from 0 to 0 (this gateway's connector hub has 1 shard)"]);
    // The resources nobody serves were never taken from their real shard's view.
    expect(await describeResource("wide", PROBE[2]!)).toMatchObject({ name: PROBE[2], online: false });
    for (const r of MAIN) expect((await describeResource("wide", r)).online).toBe(true);
  });

  it("an assertion is one-use across shards: replayed at another shard it is refused", async () => {
    const key = await importConnectorPrivateKey(keys["wide-main"]);
    const first = await signConnectorAssertion(key, "wide-main");
    expect(await upgradeStatus(`${base("wide")}/v1/connector/control?shard=1`, first)).toBe(101);
    for (const shard of [0, 1, 2]) expect(await upgradeStatus(`${base("wide")}/v1/connector/control?shard=${shard}`, first)).toBe(401);
    const second = await signConnectorAssertion(key, "wide-main");
    expect(await upgradeStatus(`${base("wide")}/v1/connector/control`, second)).toBe(101);
    expect(await upgradeStatus(`${base("wide")}/v1/connector/control?shard=2`, second)).toBe(401);
    const res = await api("GET", `${base("wide")}/v1/connector/control?shard=2`, second);
    expect(res.json.reason).toBe("connector assertion was already used");
  });

  it("one tenant's connector reaches none of the other tenant's shards, under its own id or theirs", async () => {
    const flatKey = await importConnectorPrivateKey(keys["flat-main"]);
    for (const shard of [0, 1, 2]) {
      expect(await upgradeStatus(`${base("wide")}/v1/connector/control?shard=${shard}`, await signConnectorAssertion(flatKey, "flat-main"))).toBe(401);
      expect(await upgradeStatus(`${base("wide")}/v1/connector/control?shard=${shard}`, await signConnectorAssertion(flatKey, "wide-main"))).toBe(401);
    }
    const wideKey = await importConnectorPrivateKey(keys["wide-main"]);
    expect(await upgradeStatus(`${base("flat")}/v1/connector/control`, await signConnectorAssertion(wideKey, "wide-main"))).toBe(401);
    // wide's resource names mean nothing at flat.
    expect((await api("GET", `${base("flat")}/v1/resources/${MAIN[1]}`, await ciToken("flat"))).status).toBe(404);
  });

  it("suspension closes the tenant's control channels on every shard; after resume the connectors dial every shard again", async () => {
    const from = spareEvents.length;
    const suspended = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants/wide/suspend`, platformToken, { reason: "shard test" });
    expect(suspended.status).toBe(200);
    // wide-main's three and wide-spare's three at least (probe sockets closing late may add some).
    expect(suspended.json.closed_connectors).toBeGreaterThanOrEqual(6);
    const downs = await eventually(async () => {
      const shards = new Set(spareEvents.slice(from).filter((e) => e.type === "control-disconnected").map((e) => e.shard ?? 0));
      return shards.size === SHARDS ? [...shards].sort() : null;
    }, "wide-spare's channels closed on every shard");
    expect(downs).toEqual([0, 1, 2]);
    const resumed = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants/wide/resume`, platformToken, {});
    expect(resumed.status).toBe(200);
    for (const name of [...MAIN, ...SPARE]) await eventually(async () => (await describeResource("wide", name)).online === true, `${name} online again`, 600);
    expect(spare.connected).toBe(true);
    const r = await runPsql(await listen("wide", MAIN[1]!, await ciToken("wide")), ["-At", "-c", "select resource from whoami"]);
    expect(r.stdout).toBe(`${MAIN[1]}\n`);
  });

  it("narrowing an enrolled connector's binding ends its sessions outside it on every shard (the target's backends gone); the one inside goes on", async () => {
    for (const r of BOUND) await databaseFor(r);
    const admin = await adminToken("wide");
    const created = await api("POST", `${base("wide")}/v1/admin/connectors/enroll-tokens`, admin, { id: "wide-bound", resources: ["bound-*"] });
    expect(created.status).toBe(201);
    const boundDir = path.join(dir, "wide-bound");
    const enrolled = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CONNECTOR_BIN, "enroll", "--gateway", base("wide"), "--token", String(created.json.token), "--out", boundDir], (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr })),
    );
    expect(enrolled).toMatchObject({ code: 0 });
    const config = path.join(boundDir, "connector.yaml");
    await writeFile(config, `${await readFile(config, "utf8")}${BOUND.map(resourceYaml).join("")}`, { mode: 0o600 });
    children.push(spawn(process.execPath, [CONNECTOR_BIN, "--config", config, "--log-format", "json"], { env: { ...process.env, SHARD_APP_PASSWORD: "shard-secret" }, stdio: ["ignore", "ignore", "ignore"] }));
    for (const name of BOUND) await eventually(async () => (await describeResource("wide", name)).online === true, `${name} online`, 600);

    const token = await ciToken("wide", "ci-bound");
    const sessions: Array<{ client: pg.Client; pid: number; errors: Error[] }> = [];
    for (const r of BOUND) {
      const client = new pg.Client({ connectionString: await listen("wide", r, token) });
      const errors: Error[] = [];
      client.on("error", (e) => errors.push(e));
      await client.connect();
      expect((await client.query("select resource from whoami")).rows).toEqual([{ resource: r }]);
      sessions.push({ client, errors, pid: Number((await client.query("select pg_backend_pid() as pid")).rows[0].pid) });
    }
    const backendAlive = (pid: number) => superuser("postgres", async (c) => Number((await c.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid])).rows[0].n) === 1);

    // Narrowed to the resource on shard 2: the sessions on shards 0 and 1 end, each shard its own.
    const bound = await api("POST", `${base("wide")}/v1/admin/connectors/wide-bound/bind`, admin, { resources: [BOUND[2]] });
    expect(bound.status).toBe(200);
    expect(bound.json).toMatchObject({ id: "wide-bound", resources: [BOUND[2]], closed_control_channels: 3, ended_sessions: 2 });
    for (const s of sessions.slice(0, 2)) {
      const ended = await eventually(async () => s.errors[0] ?? (await s.client.query("select 1").then(() => undefined, (e: Error) => e)), "the session outside the binding to end");
      expect(ended.message).toMatch(/connector wide-bound is no longer bound to serve bound-|Connection terminated/);
      await eventually(async () => !(await backendAlive(s.pid)), "its backend to leave the target", 600);
      await s.client.end().catch(() => {});
    }
    const kept = sessions[2]!;
    expect((await kept.client.query("select resource from whoami")).rows).toEqual([{ resource: BOUND[2] }]);
    expect(kept.errors).toEqual([]);
    expect(await backendAlive(kept.pid)).toBe(true);
    await kept.client.end();
  }, 300_000);

  it("revocation takes effect on every shard: channels closed, live sessions ended, new assertions refused", async () => {
    const token = await ciToken("wide", "ci-live");
    const live: pg.Client[] = [];
    for (const r of SPARE) {
      const c = new pg.Client({ connectionString: await listen("wide", r, token) });
      c.on("error", () => {});
      await c.connect();
      expect((await c.query("select resource from whoami")).rows).toEqual([{ resource: r }]);
      live.push(c);
    }
    const revoked = await api("POST", `${base("wide")}/v1/admin/connectors/wide-spare/revoke`, await adminToken("wide"));
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: "wide-spare", status: "revoked", closed_control_channels: 3, ended_sessions: 3 });
    for (const c of live) {
      const after = await c.query("select 1").then(
        () => "ran",
        (e: Error) => e.message,
      );
      expect(after).not.toBe("ran");
      await c.end().catch(() => {});
    }
    const key = await importConnectorPrivateKey(keys["wide-spare"]);
    for (const shard of [0, 1, 2]) {
      const res = await api("GET", `${base("wide")}/v1/connector/control?shard=${shard}`, await signConnectorAssertion(key, "wide-spare"));
      expect(res.status).toBe(401);
      expect(res.json.reason).toMatch(/^connector wide-spare was revoked at /);
    }
    for (const r of SPARE) expect((await describeResource("wide", r)).online).toBe(false);
    // New sessions for its resources find no connector; the other connector's go on.
    const refused = await runPsql(await listen("wide", SPARE[2]!, token), ["-At", "-c", "select 1"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no connector online for resource|08001/);
    const fine = await runPsql(await listen("wide", MAIN[2]!, token), ["-At", "-c", "select resource from whoami"]);
    expect(fine.stdout).toBe(`${MAIN[2]}\n`);
  });

  it("shards.hub is fixed at creation: an update is refused, an out-of-range count too", async () => {
    const patch = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/wide`, platformToken, { shards: { hub: 1 } });
    expect([patch.status, patch.json.reason]).toEqual([422, 'cannot update "shards": only limits, issuers, secrets and signin change after creation']);
    const show = await gatehouse(["admin", "tenants", "show", "wide", "--json", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(show.code).toBe(0);
    expect((JSON.parse(show.stdout) as { tenant: Record<string, unknown> }).tenant.shards).toEqual({ approvals: 1, hub: 3 });
    for (const hub of [0, 33, "2"]) {
      const r = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, { name: "toomany", issuers: [{ ...devIssuerEntry, dev: false, audiences: ["gatehouse-toomany"] }], policy: policy("flat", stack.issuerId), shards: { hub } });
      expect([r.status, r.json.reason]).toEqual([422, "shards.hub must be an integer from 1 to 32"]);
    }
  });
});

describe("an unsharded tenant", () => {
  it("keeps one hub: no shards message, sessions as before", async () => {
    const key = await importConnectorPrivateKey(keys["flat-main"]);
    const probe = await probeControl(`${wsBase("flat")}/v1/connector/control`, await signConnectorAssertion(key, "flat-main"), "flat-main", ["flat-probe"]);
    expect(probe).toEqual({ messages: [{ t: "pong" }] });
    const r = await runPsql(await listen("flat", "flat-db", await ciToken("flat")), ["-At", "-c", "select resource from whoami"]);
    expect([r.code, r.stdout]).toEqual([0, "flat-db\n"]);
    const show = await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/flat`, platformToken);
    expect((show.json.tenant as Record<string, unknown>).shards).toEqual({ approvals: 1, hub: 1 });
  });
});
