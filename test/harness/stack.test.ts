import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { mintDevToken } from "../../client/dev/issuer.ts";
import pg from "pg";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { startTestStack, type TestStack } from "./stack.ts";
import { startLocalStack } from "../../client/dev/stack.ts";

// The local stack harness itself: real wrangler dev + dev issuer + embedded PostgreSQL with the
// demo schema, on ephemeral ports in a temp dir; and a clean stop.
describe("local stack harness", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs the worker (GET /healthz 200) on an ephemeral port", async () => {
    expect(stack.gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.gatewayUrl).not.toBe("http://127.0.0.1:8787");
    const res = await fetch(`${stack.gatewayUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, ready: true, protocol: "gatehouse.v1" });
  });

  it("runs the dev issuer, whose tokens verify against its discovery document", async () => {
    const discovery = (await (await fetch(`${stack.issuerUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    // The identifier is pinned to the development issuer's canonical URL so demo.yaml matches.
    expect(stack.issuerId).toBe("http://127.0.0.1:8788");
    expect(discovery.issuer).toBe(stack.issuerId);
    expect(discovery.jwks_uri).toBe(`${stack.issuerUrl}/.well-known/jwks.json`);
    const token = await stack.mintToken({ sub: "carol", claims: { groups: ["approvers"] } });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: stack.issuerId, audience: "gatehouse" });
    expect(payload).toMatchObject({ sub: "carol", groups: ["approvers"] });
  });

  it("runs the demo PostgreSQL with a generated password and the demo schema loaded", async () => {
    expect(stack.pg.password.length).toBeGreaterThanOrEqual(24);
    const client = new pg.Client({ host: stack.pg.host, port: stack.pg.port, user: stack.pg.user, password: stack.pg.password, database: stack.pg.database });
    await client.connect();
    try {
      const who = await client.query("select current_user as u, current_database() as d");
      expect(who.rows[0]).toEqual({ u: "gatehouse_demo", d: "demo" });
      const customers = await client.query("select count(*)::int as n from customers");
      expect(customers.rows[0].n).toBeGreaterThanOrEqual(200);
      const first = await client.query("select name, email, card_number, password_hash, api_token from customers where id = 1");
      expect(first.rows[0].card_number).toBe("4111111111111111");
      expect(first.rows[0].email).toMatch(/@example\.(com|org|net)$/);
      expect(first.rows[0].password_hash).toMatch(/^\$2b\$12\$[./A-Za-z0-9]{53}$/);
      expect(first.rows[0].api_token).toMatch(/^ghp_[A-Za-z0-9]{36}$/);
      const orders = await client.query("select count(*)::int as n, count(distinct customer_id)::int as c from orders");
      expect(orders.rows[0].n).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
    const wrong = new pg.Client({ host: stack.pg.host, port: stack.pg.port, user: stack.pg.user, password: "wrong", database: stack.pg.database });
    await expect(wrong.connect()).rejects.toMatchObject({ code: "28P01" });
  });

  it("brings the connector online: the worker lists demo-pg as online", async () => {
    expect(stack.stack.connector.running?.connected).toBe(true);
    const res = await fetch(`${stack.gatewayUrl}/v1/resources/demo-pg`, { headers: { authorization: `Bearer ${await stack.mintToken()}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: "demo-pg", type: "postgres", online: true });
  });

  it("psql through the gateway with an untrusted token gets the worker's 401 reason", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "gh-untrusted-"));
    try {
      // Same issuer name, different key: the worker must refuse it.
      const forged = await mintDevToken({ sub: "mallory", issuer: stack.issuerId, keyFile: path.join(dir, "k.json") });
      const r = await stack.psql("select 1", { token: forged, type: "postgres" });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/FATAL: {2}gatehouse: unauthorized: \S/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops everything and removes its temp dir", async () => {
    const s = await startTestStack({ waitForConnector: false, connector: false });
    const health = await fetch(`${s.gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
    await s.stop();
    await expect(fetch(`${s.gatewayUrl}/healthz`)).rejects.toThrow();
    await expect(fetch(`${s.issuerUrl}/.well-known/jwks.json`)).rejects.toThrow();
    await expect(access(s.home)).rejects.toThrow();
  });
});

describe("local stack configuration errors", () => {
  it("fails with a clear message when the policy file is missing, before starting anything", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "gh-nopolicy-"));
    try {
      await expect(startLocalStack({ home, policyFile: path.join(home, "missing.yaml"), gatewayPort: 0, issuerPort: 0, pgPort: 0 })).rejects.toThrow(
        /policy file .*missing\.yaml does not exist\.\nSet GATEHOUSE_POLICY/,
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
