/**
 * Fail at start, loudly: an invalid policy, issuer list, connector list or masking configuration
 * stops the stack with every error (file:line:col for the policy); a worker left running in that
 * state reports not ready on /healthz and answers every client `503 misconfigured` naming the
 * problem — never a 500 — while the CLI says what is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse } from "./helpers.ts";

const BAD_POLICY = `version: 1
rules:
  - name: r
    effect: alow
    subjects: any
    resources: any
    actions: [connect]
`;

const HASHING_POLICY = `version: 1
rules:
  - { name: r, effect: allow, subjects: any, resources: any, actions: [connect, sql.read] }
masking:
  rules:
    - { name: h, resources: any, columns: [email], style: hash }
`;

describe("a misconfigured worker", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ policyYaml: BAD_POLICY, requireReady: false, waitForConnector: false });
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("reports not ready on /healthz with the policy's file:line:col", async () => {
    const res = await fetch(`${stack.gatewayUrl}/healthz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ready: boolean; error: string; errors: string[] };
    expect(body.ready).toBe(false);
    expect(body.error).toBe("misconfigured");
    expect(body.errors.join("\n")).toMatch(/policy\.yaml:4:\d+: .*alow/);
  });

  it("answers clients 503 misconfigured naming the problem, not 500", async () => {
    const token = await stack.mintToken({ sub: "alice" });
    for (const path of ["/v1/resources/demo-pg", "/v1/approvals", "/v1/sessions", "/v1/tunnel/demo-pg"]) {
      const res = await fetch(`${stack.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).toBe(503);
      const body = (await res.json()) as { error: string; reason: string };
      expect(body.error).toBe("misconfigured");
      expect(body.reason).toMatch(/policy\.yaml:4:\d+/);
    }
  });

  it("makes the CLI say so: connect exits 1, exec 255", async () => {
    const env = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "alice" }) };
    const connect = await gatehouse(["connect", "demo-pg", "--port", "0", "--once"], env);
    expect(connect.code).toBe(1);
    expect(connect.stderr).toMatch(/HTTP 503: misconfigured .*policy\.yaml:4/);
    const exec = await gatehouse(["exec", "demo-ssh", "--", "true"], env);
    expect(exec.code).toBe(255);
    expect(exec.stderr).toContain("misconfigured");
  });
});

describe("starting with an invalid configuration", () => {
  it("stops and lists every problem: issuers, connectors, masking key, sign-in providers", async () => {
    const err = await startTestStack({
      policyYaml: HASHING_POLICY,
      connector: false,
      waitForConnector: false,
      workerVars: { GATEHOUSE_CONNECTORS: '[{"id":"c"}]', GATEHOUSE_MASKING_KEY: "short", GATEHOUSE_ISSUERS: '[{"issuer":"https://x"}]', GATEHOUSE_SIGNIN: '{"oidc":[{"id":"corp","issuer":"https://x","client_id":"c","authorization_endpoint":"http://idp.example/a","token_endpoint":"https://x/t"}]}' },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe("WorkerMisconfiguredError");
    expect(err?.message).toContain("GATEHOUSE_ISSUERS[0].audiences must list at least one audience");
    expect(err?.message).toContain("GATEHOUSE_CONNECTORS[0].public_key must be an Ed25519 public JWK");
    expect(err?.message).toMatch(/hash rules need a hashKey.*set GATEHOUSE_MASKING_KEY/);
    expect(err?.message).toContain("GATEHOUSE_SIGNIN: oidc[0].authorization_endpoint must be https");
  }, 240_000);

  it("stops on an invalid policy with file:line:col", async () => {
    const err = await startTestStack({ policyYaml: BAD_POLICY, connector: false, waitForConnector: false }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/policy\.yaml:4:\d+: .*alow/);
  }, 240_000);
});
