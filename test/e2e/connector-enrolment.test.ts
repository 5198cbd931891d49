/**
 * Connector enrolment end to end (issue 20): an administrator creates a one-time token with the
 * real CLI, the real `gatehouse-connector enroll` process registers a locally generated key, the
 * enrolled connector (a real process) serves real psql sessions through the real worker; its key
 * is rotated by proving the old one; revocation ends its live session, closes its channel and
 * refuses it from then on. And the ways around it: a reused token, an expired token, a
 * non-admin creating tokens, a token for a configured id, the old key after rotation, a revoked
 * connector reconnecting or re-enrolling. And bindings: a connector enrolled for `dev-*` announcing
 * another connector's resource is refused by the worker (the real process logs why), the resource
 * stays served by its own connector, and an administrator's rebind is what lets it in; narrowing a
 * binding ends the psql session the connector serves outside it (the target's backend is gone),
 * and the one inside goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";
import pg from "pg";
import { importJWK } from "jose";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CONNECTOR_BIN = path.join(ROOT, "bin/gatehouse-connector.mjs");

const POLICY = `
version: 1
roles:
  admin:
    - issuer: dev
      claims: { groups: admins }
rules:
  - name: read-both
    effect: allow
    subjects: any
    resources: [demo-pg, dc1-pg, dn-out-pg, dn-keep-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
`;

let stack: TestStack;
let tmp: string;
let adminToken: string;
/** Created first, so it has expired by the time its test runs (the shortest TTL is one minute). */
let shortToken: { token: string; expires_at: string };
const children: ChildProcess[] = [];

const cli = (args: string[], token = adminToken) => gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: token });

function connectorCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CONNECTOR_BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The real connector process; `log` collects its JSON log lines. */
function runConnector(config: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [CONNECTOR_BIN, "--config", config, "--log-format", "json"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  const state = { log: "" };
  child.stderr!.on("data", (d: Buffer) => (state.log += d.toString()));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return {
    state,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

interface Listed {
  id: string;
  source: string;
  status: string;
  online: boolean;
  thumbprint: string | null;
  resources?: string[] | null;
  bound_by?: string | null;
}

async function listConnectors(): Promise<Listed[]> {
  const r = await cli(["admin", "connectors", "list", "--json"]);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Listed[];
}

/** The same list straight from the admin API: cheap enough to poll while waiting for a connector. */
async function listedViaApi(id: string): Promise<Listed | undefined> {
  const res = await fetch(`${stack.gatewayUrl}/v1/admin/connectors`, { headers: { authorization: `Bearer ${adminToken}` } });
  return ((await res.json()) as { connectors: Listed[] }).connectors.find((c) => c.id === id);
}

async function enrolToken(id: string, ttl?: string): Promise<{ token: string; expires_at: string }> {
  const r = await cli(["admin", "connectors", "enroll-token", "--id", id, "--json", ...(ttl ? ["--ttl", ttl] : [])]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { token: string; expires_at: string };
}

/** Upgrade /v1/connector/control with an assertion signed by `jwk` as `id`: "open" or the refusal. */
async function dialControl(id: string, jwk: object): Promise<"open" | { status: number; reason: string }> {
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], "EdDSA");
  const assertion = await signConnectorAssertion(key as Parameters<typeof signConnectorAssertion>[0], id);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${stack.gatewayUrl.replace(/^http/, "ws")}/v1/connector/control`, ["gatehouse.v1"], { headers: { authorization: `Bearer ${assertion}` } });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: (JSON.parse(text) as { reason: string }).reason }));
    });
    ws.on("error", reject);
  });
}

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-enrol-"));
  adminToken = await stack.mintToken({ sub: "root-admin", claims: { groups: ["admins"] } });
  shortToken = await enrolToken("dc-late", "1m");
}, 400_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("connector enrolment", () => {
  const dir = () => path.join(tmp, "dc1");
  const config = () => path.join(dir(), "connector.yaml");
  const key = () => path.join(dir(), "connector-key.jwk");
  const level = () => stack.pg.levels?.read ?? { user: stack.pg.user, password: stack.pg.password };
  const env = () => ({ DC1_PG_PASSWORD: level().password });
  let token: string;

  it("only administrators create enrolment tokens, and not for connectors configured in GATEHOUSE_CONNECTORS", async () => {
    const outsider = await cli(["admin", "connectors", "enroll-token", "--id", "dc1"], await stack.mintToken({ sub: "mallory" }));
    expect(outsider.code).not.toBe(0);
    expect(outsider.stderr).toContain("does not hold the admin role");
    const configured = await cli(["admin", "connectors", "enroll-token", "--id", "local"]);
    expect(configured.code).not.toBe(0);
    expect(configured.stderr).toContain("connector local is configured in GATEHOUSE_CONNECTORS");
    const badTtl = await cli(["admin", "connectors", "enroll-token", "--id", "dc1", "--ttl", "48h"]);
    expect(badTtl.code).not.toBe(0);
    expect(badTtl.stderr).toContain("ttl_seconds must be an integer between 60 and 86400");
  }, 300_000);

  it("enrols: the key pair is generated locally, the worker keeps the public key, key and config are 0600", async () => {
    const created = await cli(["admin", "connectors", "enroll-token", "--id", "dc1", "--ttl", "15m"]);
    expect(created.code).toBe(0);
    token = created.stdout.trim();
    expect(token).toMatch(/^ghenrol_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("single use");

    const r = await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", token, "--out", dir()]);
    expect(r.stderr).toContain("enrolled as connector dc1");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; thumbprint: string };
    expect(out.id).toBe("dc1");
    for (const file of [key(), config()]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(await readFile(key(), "utf8")) as { d?: string; crv: string };
    expect(jwk.crv).toBe("Ed25519");
    expect(typeof jwk.d).toBe("string");
    const yaml = await readFile(config(), "utf8");
    expect(yaml).toContain("id: dc1");
    expect(yaml).toContain("private_key: file:./connector-key.jwk");
    expect(yaml).not.toContain(jwk.d!);

    const listed = (await listConnectors()).find((c) => c.id === "dc1");
    expect(listed).toMatchObject({ source: "enrolled", status: "active", online: false, thumbprint: out.thumbprint });
    expect((await listConnectors()).find((c) => c.id === "local")).toMatchObject({ source: "configuration", status: "active", online: true });
  }, 300_000);

  it("refuses a reused token, and leaves no key behind", async () => {
    const again = path.join(tmp, "dc1-again");
    const r = await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", token, "--out", again]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("this enrolment token was already used");
    expect(existsSync(path.join(again, "connector-key.jwk"))).toBe(false);
    const forged = await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", `${token.slice(0, -2)}AA`, "--out", path.join(tmp, "forged")]);
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain("unknown enrolment token");
  }, 300_000);

  it("refuses an enrolment whose key proof was not made with the key it registers", async () => {
    const fresh = await enrolToken("dc-proof");
    const { generateConnectorKeyPair } = await import("../../connector/keys.ts");
    const { publicJwk } = await generateConnectorKeyPair();
    const other = await generateConnectorKeyPair();
    const { SignJWT } = await import("jose");
    const { createHash } = await import("node:crypto");
    const proof = await new SignJWT({})
      .setProtectedHeader({ alg: "EdDSA", typ: "gatehouse-key-proof+jwt" })
      .setAudience("gatehouse-key-proof")
      .setSubject(`enrol:${createHash("sha256").update(fresh.token).digest("hex")}`)
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(await importJWK(other.privateJwk, "EdDSA"));
    const res = await fetch(`${stack.gatewayUrl}/v1/connector/enroll`, { method: "POST", body: JSON.stringify({ token: fresh.token, public_key: publicJwk, proof }) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toContain("key proof rejected");
  }, 300_000);

  it("serves sessions as an enrolled connector (a real process), after its resources are added", async () => {
    const l = level();
    await appendFile(
      config(),
      `  - { name: dc1-pg, type: postgres, host: ${stack.pg.host}, port: ${stack.pg.port}, database: ${stack.pg.database}, username: ${l.user}, password: env:DC1_PG_PASSWORD, tls: { mode: disable } }\n`,
    );
    const check = await connectorCli(["check", "--config", config()], env());
    expect(check.stdout).toContain("configuration ok: connector dc1, 1 resource(s): dc1-pg");
    const connector = runConnector(config(), env());
    await eventually(async () => (await listedViaApi("dc1"))?.online, "dc1 online", 600);
    const conn = await stack.connect("dc1-pg", { sub: "alice" });
    const r = await psql(conn.url, ["-At", "-c", "select current_user"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(l.user);
    await conn.stop();
    expect(await connector.stop()).toBe(0);
  }, 300_000);

  it("rotates its key by proving the old one; the old key is refused afterwards", async () => {
    const oldJwk = JSON.parse(await readFile(key(), "utf8")) as object;
    const before = (await listConnectors()).find((c) => c.id === "dc1")!.thumbprint;
    const r = await connectorCli(["rotate-key", "--config", config()]);
    expect(r.stderr).toContain("new key registered");
    expect(r.code).toBe(0);
    const newJwk = JSON.parse(await readFile(key(), "utf8")) as object;
    expect(newJwk).not.toEqual(oldJwk);
    expect((await stat(key())).mode & 0o777).toBe(0o600);
    const after = (await listConnectors()).find((c) => c.id === "dc1")!.thumbprint;
    expect(after).not.toBe(before);
    expect(after).toBe((JSON.parse(r.stdout) as { thumbprint: string }).thumbprint);

    const stale = await dialControl("dc1", oldJwk);
    // Refused either way: by the signature (an isolate that looked the new key up) or, where an
    // isolate still holds the old key in its cache (connectors/connector-keys.ts), by the registry.
    expect(stale).toMatchObject({ status: 401, reason: expect.stringMatching(/connector assertion rejected|dc1's key was rotated; this key is no longer trusted/) });
    // Rotating again with the old key (someone who kept a copy) is refused too.
    await writeFile(path.join(tmp, "old-key.jwk"), JSON.stringify(oldJwk), { mode: 0o600 });
    const oldConfig = path.join(tmp, "old.yaml");
    await writeFile(oldConfig, (await readFile(config(), "utf8")).replace("file:./connector-key.jwk", `file:${path.join(tmp, "old-key.jwk")}`));
    const replay = await connectorCli(["rotate-key", "--config", oldConfig]);
    expect(replay.code).not.toBe(0);
    expect(replay.stderr).toContain("the gateway refused (401");
    expect(await dialControl("dc1", newJwk)).toBe("open");
  }, 300_000);

  it("revocation ends the live session, closes the control channel and refuses the connector from then on", async () => {
    const connector = runConnector(config(), env());
    await eventually(async () => (await listedViaApi("dc1"))?.online, "dc1 online again with the rotated key", 600);
    const conn = await stack.connect("dc1-pg", { sub: "alice" });
    const client = new pg.Client({ connectionString: conn.url });
    const clientErrors: Error[] = [];
    client.on("error", (e) => clientErrors.push(e));
    await client.connect();
    expect((await client.query("select 41 + 1 as n")).rows).toEqual([{ n: 42 }]);

    const outsider = await cli(["admin", "connectors", "revoke", "dc1"], await stack.mintToken({ sub: "mallory" }));
    expect(outsider.code).not.toBe(0);
    expect(outsider.stderr).toContain("does not hold the admin role");

    const r = await cli(["admin", "connectors", "revoke", "dc1"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("connector dc1 revoked: 1 control channel(s) closed, 1 live session(s) ended; its key is refused from now on\n");
    // The live session ends with the client's own protocol error.
    const ended = await eventually(async () => clientErrors[0] ?? (await client.query("select 1").then(() => undefined, (e: Error) => e)), "the session to end");
    expect(ended.message).toMatch(/connector dc1 was revoked|Connection terminated/);

    // The running connector tries to come back and is refused, with the reason in its log.
    await eventually(async () => /connector dc1 was revoked/.test(connector.state.log), "the connector's refusal log line", 600);
    expect((await listConnectors()).find((c) => c.id === "dc1")).toMatchObject({ status: "revoked", online: false });
    expect(await dialControl("dc1", JSON.parse(await readFile(key(), "utf8")) as object)).toMatchObject({ status: 401, reason: expect.stringContaining("connector dc1 was revoked") });
    const refused = await psql(conn.url, ["-c", "select 1"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no connector online for resource dc1-pg|not available|offline/);

    // A new token for the revoked id is refused; a second revoke says it already happened.
    const reenrol = await cli(["admin", "connectors", "enroll-token", "--id", "dc1"]);
    expect(reenrol.code).not.toBe(0);
    expect(reenrol.stderr).toContain("connector dc1 was revoked; enrol the replacement under a new id");
    expect((await cli(["admin", "connectors", "revoke", "dc1"])).stdout).toMatch(/^connector dc1 was already revoked at /);
    await client.end().catch(() => {});
    await conn.stop();
    expect(await connector.stop()).toBe(0);
  }, 300_000);

  it("a connector bound to dev-* announcing demo-pg is refused (its process logs why), demo-pg stays served; a rebind by an administrator lets it in", async () => {
    const devDir = path.join(tmp, "dc-dev");
    const badBinding = await cli(["admin", "connectors", "enroll-token", "--id", "dc-dev", "--resources", " , "]);
    expect(badBinding.code).toBe(2);
    expect(badBinding.stderr).toContain("--resources is empty");
    const created = await cli(["admin", "connectors", "enroll-token", "--id", "dc-dev", "--resources", "dev-*"]);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain("connector dc-dev (serving only dev-*)");
    const enrolled = await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", created.stdout.trim(), "--out", devDir]);
    expect(enrolled.code).toBe(0);
    // The rogue configuration: the bootstrap connector's resource (same target here, so the name is what matters).
    const l = level();
    await appendFile(
      path.join(devDir, "connector.yaml"),
      `  - { name: demo-pg, type: postgres, host: ${stack.pg.host}, port: ${stack.pg.port}, database: ${stack.pg.database}, username: ${l.user}, password: env:DC1_PG_PASSWORD, tls: { mode: disable } }\n`,
    );
    const rogue = runConnector(path.join(devDir, "connector.yaml"), env());
    await eventually(async () => /closed by the gateway \(policy\)/.test(rogue.state.log) && /connector dc-dev is not bound to serve demo-pg/.test(rogue.state.log), "the connector's refusal log line", 600);
    expect(await listedViaApi("dc-dev")).toMatchObject({ online: false, resources: ["dev-*"] });
    const text = await cli(["admin", "connectors", "list"]);
    expect(text.stdout).toMatch(/^dc-dev\tenrolled\tactive\tno\tdev-\*\t/m);
    expect(text.stdout).toMatch(/^local\tconfiguration\tactive\tyes\tany\t/m);
    // demo-pg is still served by its own connector.
    const conn = await stack.connect("demo-pg", { sub: "alice" });
    const r = await psql(conn.url, ["-At", "-c", "select 1"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("1");
    await conn.stop();
    // Only administrators rebind; configured connectors are bound in GATEHOUSE_CONNECTORS.
    const outsider = await cli(["admin", "connectors", "bind", "dc-dev", "--any"], await stack.mintToken({ sub: "mallory" }));
    expect(outsider.stderr).toContain("does not hold the admin role");
    const configured = await cli(["admin", "connectors", "bind", "local", "--resources", "demo-*"]);
    expect(configured.code).not.toBe(0);
    expect(configured.stderr).toContain("configured in GATEHOUSE_CONNECTORS");
    // The administrator's rebind: recorded, and the still-retrying connector is admitted under it.
    const bound = await cli(["admin", "connectors", "bind", "dc-dev", "--resources", "dev-*,demo-pg"]);
    expect(bound.stderr).toBe("");
    expect(bound.stdout).toMatch(/^connector dc-dev may now serve dev-\*, demo-pg: \d+ control channel\(s\) closed/);
    await eventually(async () => (await listedViaApi("dc-dev"))?.online, "dc-dev online under its new binding", 600);
    expect(await listedViaApi("dc-dev")).toMatchObject({ resources: ["dev-*", "demo-pg"], bound_by: expect.stringContaining("root-admin") });
    expect(await rogue.stop()).toBe(0);
  }, 300_000);

  it("narrowing a binding ends the live session outside it (57P01, the target's backend gone); the session inside goes on", async () => {
    const dnDir = path.join(tmp, "dc-narrow");
    const created = await cli(["admin", "connectors", "enroll-token", "--id", "dc-narrow", "--resources", "dn-*"]);
    expect(created.code).toBe(0);
    expect((await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", created.stdout.trim(), "--out", dnDir])).code).toBe(0);
    const l = level();
    for (const name of ["dn-out-pg", "dn-keep-pg"]) {
      await appendFile(
        path.join(dnDir, "connector.yaml"),
        `  - { name: ${name}, type: postgres, host: ${stack.pg.host}, port: ${stack.pg.port}, database: ${stack.pg.database}, username: ${l.user}, password: env:DC1_PG_PASSWORD, tls: { mode: disable } }\n`,
      );
    }
    const connector = runConnector(path.join(dnDir, "connector.yaml"), env());
    await eventually(async () => (await listedViaApi("dc-narrow"))?.online, "dc-narrow online", 600);
    const su = stack.pg.superuser!;
    const target = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await target.connect();
    const backendAlive = async (pid: number) => Number((await target.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid])).rows[0].n) === 1;
    const open = async (resource: string) => {
      const conn = await stack.connect(resource, { sub: "alice" });
      const client = new pg.Client({ connectionString: conn.url });
      const errors: Error[] = [];
      client.on("error", (e) => errors.push(e));
      await client.connect();
      const pid = Number((await client.query("select pg_backend_pid() as pid")).rows[0].pid);
      return { conn, client, errors, pid };
    };
    const out = await open("dn-out-pg");
    const keep = await open("dn-keep-pg");
    expect(await backendAlive(out.pid)).toBe(true);
    expect(await backendAlive(keep.pid)).toBe(true);

    const bound = await cli(["admin", "connectors", "bind", "dc-narrow", "--resources", "dn-keep-pg"]);
    expect(bound.stderr).toBe("");
    expect(bound.stdout).toMatch(/^connector dc-narrow may now serve dn-keep-pg: \d+ control channel\(s\) closed, 1 live session\(s\) outside it ended;/);
    // The session outside ends with the client's own protocol error, and the target's backend goes with it.
    const ended = await eventually(async () => out.errors[0] ?? (await out.client.query("select 1").then(() => undefined, (e: Error) => e)), "the session outside the binding to end");
    expect(ended.message).toMatch(/connector dc-narrow is no longer bound to serve dn-out-pg|Connection terminated/);
    await eventually(async () => !(await backendAlive(out.pid)), "the ended session's backend to leave the target", 600);
    // The session inside goes on, on the same backend.
    expect((await keep.client.query("select pg_backend_pid() as pid")).rows).toEqual([{ pid: keep.pid }]);
    expect(keep.errors).toEqual([]);
    expect(await backendAlive(keep.pid)).toBe(true);

    await keep.client.end();
    await out.client.end().catch(() => {});
    await Promise.all([out.conn.stop(), keep.conn.stop()]);
    await target.end();
    expect(await connector.stop()).toBe(0);
  }, 300_000);

  it("revoking a bootstrap connector (GATEHOUSE_CONNECTORS) refuses it too", async () => {
    const jwk = JSON.parse(await readFile(path.join(stack.home, "connector", "local-key.json"), "utf8")) as object;
    expect(await dialControl("local", jwk)).toBe("open");
    const r = await cli(["admin", "connectors", "revoke", "local"]);
    expect(r.stdout).toMatch(/^connector local revoked: [1-9]\d* control channel\(s\) closed/);
    expect(await dialControl("local", jwk)).toMatchObject({ status: 401, reason: expect.stringContaining("connector local was revoked at ") });
    expect((await listConnectors()).find((c) => c.id === "local")).toMatchObject({ source: "configuration", status: "revoked", online: false });
  }, 300_000);

  it("refuses an expired token", async () => {
    const wait = Date.parse(shortToken.expires_at) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 1000));
    const r = await connectorCli(["enroll", "--gateway", stack.gatewayUrl, "--token", shortToken.token, "--out", path.join(tmp, "late")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("this enrolment token expired at");
    expect(existsSync(path.join(tmp, "late", "connector-key.jwk"))).toBe(false);
  }, 300_000);
});
