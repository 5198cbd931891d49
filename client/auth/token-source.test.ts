import { afterEach, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { mintDevToken } from "../dev/issuer.ts";
import { cachingTokenSource, resolveTokenSource } from "./token-source.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function mint(sub: string, ttlSeconds: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-tok-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return mintDevToken({ sub, ttlSeconds, keyFile: path.join(dir, "k.json"), issuer: "https://token.actions.githubusercontent.com" });
}

/** Our own test peer playing the GitHub Actions ID-token endpoint. */
async function actionsTokenEndpoint(respond: (n: number) => Promise<{ status: number; body: string }>) {
  const requests: Array<{ url: URL; authorization?: string }> = [];
  const server = http.createServer(async (req, res) => {
    requests.push({ url: new URL(req.url!, "http://x"), authorization: req.headers.authorization });
    const r = await respond(requests.length);
    res.writeHead(r.status, { "content-type": "application/json" });
    res.end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  // The runner hands out a URL that already carries a query string.
  return { requests, url: `http://127.0.0.1:${port}/_apis/pipelines/1/runs/2/idtoken?api-version=2.0` };
}

describe("identity token sources", () => {
  it("GitHub Actions: requests the configured audience with the runner's bearer token", async () => {
    const token = await mint("repo:acme/app:ref:refs/heads/main", 600);
    const ep = await actionsTokenEndpoint(async () => ({ status: 200, body: JSON.stringify({ count: 1, value: token }) }));
    const source = resolveTokenSource({
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: ep.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "runner-request-token" },
      audience: "gatehouse-prod",
    });
    expect(source.kind).toBe("GitHub Actions OIDC");
    expect(await source.getToken()).toBe(token);
    expect(await source.getToken()).toBe(token); // cached while fresh
    expect(ep.requests).toHaveLength(1);
    expect(ep.requests[0]!.url.searchParams.get("audience")).toBe("gatehouse-prod");
    expect(ep.requests[0]!.url.searchParams.get("api-version")).toBe("2.0");
    expect(ep.requests[0]!.authorization).toBe("bearer runner-request-token");
  });

  it("GitHub Actions: default audience from GATEHOUSE_AUDIENCE, retries a 5xx, explains a 403", async () => {
    const token = await mint("ci", 600);
    const ep = await actionsTokenEndpoint(async (n) => (n === 1 ? { status: 503, body: "{}" } : { status: 200, body: JSON.stringify({ value: token }) }));
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: ep.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t", GATEHOUSE_AUDIENCE: "aud-from-env" };
    expect(await resolveTokenSource({ env }).getToken()).toBe(token);
    expect(ep.requests.map((r) => r.url.searchParams.get("audience"))).toEqual(["aud-from-env", "aud-from-env"]);

    const denied = await actionsTokenEndpoint(async () => ({ status: 403, body: "{}" }));
    const source = resolveTokenSource({ env: { ACTIONS_ID_TOKEN_REQUEST_URL: denied.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" } });
    await expect(source.getToken()).rejects.toThrow(/HTTP 403 .*id-token: write/);
  });

  it("re-requests a token that nears expiry, so new connections never carry an expired one", async () => {
    let now = Math.floor(Date.now() / 1000);
    const tokens = [await mint("a", 120), await mint("b", 120)];
    let fetches = 0;
    const source = cachingTokenSource("test", async () => tokens[fetches++]!, { now: () => now });
    expect(await source.getToken()).toBe(tokens[0]);
    now += 30; // 90 s left: still above the 60 s margin
    expect(await source.getToken()).toBe(tokens[0]);
    now += 31; // 59 s left: refresh
    expect(await source.getToken()).toBe(tokens[1]);
    expect(fetches).toBe(2);
  });

  it("GitLab CI: reads the id_tokens variable (default GATEHOUSE_ID_TOKEN, or the configured one)", async () => {
    const token = await mint("project_path:acme/app:ref_type:branch:ref:main", 600);
    expect(await resolveTokenSource({ env: { GITLAB_CI: "true", GATEHOUSE_ID_TOKEN: token } }).getToken()).toBe(token);
    const custom = resolveTokenSource({ env: { GITLAB_CI: "true", MY_OIDC: token }, gitlabIdTokenVar: "MY_OIDC" });
    expect(custom.kind).toBe("GitLab id_tokens variable MY_OIDC");
    expect(await custom.getToken()).toBe(token);
    expect(await resolveTokenSource({ env: { GATEHOUSE_GITLAB_ID_TOKEN_VAR: "OTHER", OTHER: token } }).getToken()).toBe(token);
    expect(() => resolveTokenSource({ env: { GITLAB_CI: "true" } })).toThrow(/running in GitLab CI but \$GATEHOUSE_ID_TOKEN is not set/);
  });

  it("GATEHOUSE_TOKEN wins and must look like a JWT", async () => {
    const token = await mint("local", 600);
    expect(await resolveTokenSource({ env: { GATEHOUSE_TOKEN: token, GATEHOUSE_ID_TOKEN: "x.y.z" } }).getToken()).toBe(token);
    expect(() => resolveTokenSource({ env: { GATEHOUSE_TOKEN: "not a jwt" } })).toThrow(/does not hold a JWT/);
  });
});
