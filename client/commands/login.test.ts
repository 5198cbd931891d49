/**
 * `gatehouse login --gateway` signs in only at the endpoints the issuer itself publishes
 * (client/signin/issuer-discovery.ts): the gateway names the issuer, the issuer's discovery
 * document names where the browser and the authorization code go. The identity provider is the
 * real development issuer; the gateway and an attacker's endpoint are local HTTP servers, and a
 * "browser" follows the sign-in URL the CLI prints — so a code the CLI would hand to the gateway's
 * endpoint really reaches it, and the attacker's request log shows whether it did.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { startDevIssuer, type DevIssuer } from "../dev/issuer.ts";
import { issuerEndpoint } from "../signin/issuer-discovery.ts";
import type { GatewayOidcProvider } from "../signin/gateway-providers.ts";
import { loginCommand } from "./login.ts";

type Provider = GatewayOidcProvider;

let dir: string;
let idp: DevIssuer;
/** The development issuer pinned to another identifier than the URL it is served at (as the test harness runs it). */
let pinned: DevIssuer;
let gateway: { url: string; close: () => Promise<void> };
let attacker: { url: string; requests: string[]; close: () => Promise<void> };
let providers: Provider[] = [];
/** What the attacker's server answers at /.well-known/openid-configuration. */
let attackerDiscovery: unknown = {};

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-login-"));
  idp = await startDevIssuer({ port: 0, keyFile: path.join(dir, "idp", "issuer-key.json") });
  pinned = await startDevIssuer({ port: 0, issuer: "http://127.0.0.1:8788", keyFile: path.join(dir, "pinned", "issuer-key.json") });
  gateway = await serve((req, res) => {
    if (req.url !== "/signin/providers") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ oidc: providers, saml: [] }));
  });
  const requests: string[] = [];
  const server = await serve((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url} ${body}`);
      if (req.url === "/.well-known/openid-configuration") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(attackerDiscovery));
      if (req.url?.endsWith("/openid-configuration")) return void res.writeHead(404).end();
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_grant" }));
    });
  });
  attacker = { ...server, requests };
}, 60_000);

afterAll(async () => {
  await Promise.all([idp?.close(), pinned?.close(), gateway?.close(), attacker?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The provider as the real issuer publishes it (client id "gatehouse", which the development issuer accepts). */
const genuine = (i: DevIssuer = idp): Provider => ({ id: "corp", label: "Corp SSO", issuer: i.issuer, client_id: "gatehouse", authorization_endpoint: `${i.url}/authorize`, token_endpoint: `${i.url}/token` });

/** A person's browser at the printed sign-in URL: the development issuer's login page, signing in as `sub`, back to the CLI's loopback listener. */
async function browserSignsIn(signinUrl: string, sub: string): Promise<void> {
  const page = await fetch(signinUrl);
  expect(page.status).toBe(200);
  const form = new URL(signinUrl).searchParams;
  form.set("sub", sub);
  const back = await fetch(new URL("/authorize", signinUrl), { method: "POST", body: form, redirect: "manual" });
  expect(back.status).toBe(302);
  await fetch(back.headers.get("location")!);
}

/**
 * Runs `gatehouse login --no-browser` in process, the gateway in GATEHOUSE_URL; if it prints a sign-in URL, a
 * browser signs in there as lena (so a code really is issued and sent wherever the CLI sends it).
 */
async function login(argv: string[] = [], env: Record<string, string> = {}): Promise<{ result: number | Error; stderr: string; credentials: string }> {
  const credentials = path.join(dir, `credentials-${Math.random().toString(36).slice(2)}.json`);
  let stderr = "";
  let printed: (url: string) => void;
  const signinUrl = new Promise<string>((r) => (printed = r));
  const io = {
    stdout: () => {},
    stderr: (t: string) => {
      stderr += t;
      const m = /^\s+(http:\/\/\S+\/authorize\?\S+)$/m.exec(stderr);
      if (m) printed(m[1]!);
    },
    env: { GATEHOUSE_URL: gateway.url, GATEHOUSE_CREDENTIALS: credentials, ...env },
  };
  const run = loginCommand([...argv, "--no-browser"], io).then(
    (code) => code,
    (e: Error) => e,
  );
  // A failing browser fails the test at once instead of leaving the CLI waiting for the redirect.
  const result = await Promise.race([run, signinUrl.then((u) => browserSignsIn(u, "lena")).then(() => run)]);
  return { result, stderr, credentials };
}

const refusal = (r: { result: number | Error }): string => {
  expect(r.result).toBeInstanceOf(Error);
  return (r.result as Error).message;
};

describe("gatehouse login --gateway: the issuer's own endpoints only", () => {
  it("signs in when the gateway's endpoints are the ones the issuer publishes", async () => {
    providers = [genuine()];
    const r = await login();
    expect(r.result, r.stderr).toBe(0);
    expect(r.stderr).toContain(`signing in with Corp SSO (issuer ${idp.issuer} at host ${new URL(idp.issuer).host}, client gatehouse)`);
    expect(r.stderr).toContain("signed in as lena");
    const stored = JSON.parse(await readFile(r.credentials, "utf8")) as { token_endpoint: string; id_token: string };
    expect(stored.token_endpoint).toBe(`${idp.url}/token`);
    expect(decodeJwt(stored.id_token)).toMatchObject({ sub: "lena", iss: idp.issuer, aud: "gatehouse" });
  });

  it("refuses a gateway that names another token_endpoint or authorization_endpoint; the attacker's endpoint gets nothing, the browser is sent nowhere", async () => {
    for (const k of ["token_endpoint", "authorization_endpoint"] as const) {
      attacker.requests.length = 0;
      providers = [{ ...genuine(), [k]: `${attacker.url}/${k === "token_endpoint" ? "token" : "authorize"}` }];
      const r = await login();
      const message = refusal(r);
      expect(message).toContain(`refusing to sign in with the gateway's sign-in provider corp (issuer ${idp.issuer}): the gateway names ${k} ${attacker.url}/`);
      expect(message).toContain(`but the issuer publishes ${idp.url}/`);
      expect(message).toContain(`sign in with --issuer ${idp.issuer} --client-id gatehouse`);
      expect(attacker.requests).toEqual([]);
      expect(r.stderr).not.toContain("/authorize?");
    }
  });

  it("refuses a discovery document that is another issuer's (OIDC Discovery §4.3), printing its issuer without control characters", async () => {
    // Served at one URL, claiming another identifier: the gateway names the URL as the issuer.
    providers = [genuine(pinned)].map((p) => ({ ...p, issuer: pinned.url }));
    let r = await login();
    expect(refusal(r)).toContain(`the discovery document at ${pinned.url}/.well-known/openid-configuration is for issuer "http://127.0.0.1:8788", not "${pinned.url}"`);
    expect(r.stderr).not.toContain("/authorize?");

    attacker.requests.length = 0;
    attackerDiscovery = { issuer: "https://login.example\u001b]8;;https://evil.example\u0007\u202e", authorization_endpoint: `${attacker.url}/authorize`, token_endpoint: `${attacker.url}/token` };
    providers = [{ ...genuine(), issuer: attacker.url, authorization_endpoint: `${attacker.url}/authorize`, token_endpoint: `${attacker.url}/token` }];
    r = await login();
    const message = refusal(r);
    expect(message).toContain(`is for issuer "https://login.example?]8;;https://evil.example??", not "${attacker.url}"`);
    expect(message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    expect(attacker.requests).toEqual(["GET /.well-known/openid-configuration "]);
  });

  it("refuses with a clear error when the issuer's discovery document cannot be read", async () => {
    const gone = await serve(() => {});
    await gone.close();
    providers = [{ ...genuine(), issuer: gone.url }];
    let r = await login();
    expect(refusal(r)).toMatch(
      new RegExp(`^refusing to sign in with the gateway's sign-in provider corp \\(issuer ${gone.url}\\): cannot reach the issuer's discovery document at ${gone.url}/\\.well-known/openid-configuration: .*ECONNREFUSED; the CLI signs in only at the endpoints the issuer itself publishes$`),
    );
    expect(r.stderr).not.toContain("/authorize?");

    providers = [{ ...genuine(), issuer: `${attacker.url}/no-idp-here` }];
    r = await login();
    expect(refusal(r)).toContain(`issuer discovery failed: HTTP 404 from ${attacker.url}/no-idp-here/.well-known/openid-configuration`);

    // A plain-http issuer off loopback is not asked at all (its answer could be anyone's).
    providers = [{ ...genuine(), issuer: "http://login.example" }];
    r = await login();
    expect(refusal(r)).toContain("refusing a non-https endpoint from the issuer: http://login.example/");
  });

  it("does not follow a redirect of the discovery document, and refuses an issuer with a fragment, a query or user info", async () => {
    // The issuer's host answers with a redirect to a document someone else serves (here the real
    // issuer's own, which would otherwise match): the CLI takes documents only from the issuer itself.
    const redirecting = await serve((_req, res) => void res.writeHead(302, { location: `${idp.url}/.well-known/openid-configuration` }).end());
    try {
      providers = [{ ...genuine(), issuer: redirecting.url }];
      const r = await login();
      expect(refusal(r)).toContain(`cannot reach the issuer's discovery document at ${redirecting.url}/.well-known/openid-configuration`);
      expect(r.stderr).not.toContain("/authorize?");
    } finally {
      await redirecting.close();
    }
    for (const issuer of [`${idp.issuer}#`, `${idp.issuer}?x=1`, idp.issuer.replace("http://", "http://user:pw@")]) {
      providers = [{ ...genuine(), issuer }];
      const r = await login();
      expect(refusal(r), issuer).toContain("is not an issuer identifier: it may not have a query, a fragment or user info");
      expect(r.stderr).not.toContain("/authorize?");
    }
  });

  it("with GATEHOUSE_LOGIN_ISSUERS, refuses a gateway that names another issuer — even one whose own document agrees — before asking it anything", async () => {
    // A hostile gateway names an issuer it controls whose discovery document matches what it names
    // (the real IdP's authorize page, its own token endpoint): every endpoint check passes.
    attackerDiscovery = { issuer: attacker.url, authorization_endpoint: `${idp.url}/authorize`, token_endpoint: `${attacker.url}/token` };
    providers = [{ ...genuine(), issuer: attacker.url, token_endpoint: `${attacker.url}/token` }];
    attacker.requests.length = 0;
    const r = await login([], { GATEHOUSE_LOGIN_ISSUERS: `${idp.issuer}, https://login.example.com` });
    expect(refusal(r)).toContain(`its issuer ${attacker.url} is not one of GATEHOUSE_LOGIN_ISSUERS (${idp.issuer}, https://login.example.com)`);
    expect(attacker.requests).toEqual([]);
    expect(r.stderr).not.toContain("/authorize?");
    // The issuer on the list signs in as before, and its host is printed.
    providers = [genuine()];
    const ok = await login([], { GATEHOUSE_LOGIN_ISSUERS: idp.issuer });
    expect(ok.result).toBe(0);
    expect(ok.stderr).toContain(`at host ${new URL(idp.issuer).host}`);
  });

  it("takes a person's own --issuer as typed (no gateway involved): the development issuer served elsewhere than its identifier still signs in", async () => {
    providers = [];
    const r = await login(["--issuer", pinned.url]);
    expect(r.result, r.stderr).toBe(0);
    expect(r.stderr).toContain("signed in as lena (http://127.0.0.1:8788)");
  });
});

describe("endpoints from a discovery document", () => {
  const https = new URL("https://login.example");
  it("are https, or plain http on loopback for a loopback issuer only", () => {
    expect(issuerEndpoint(https, "token_endpoint", "https://login.example/oauth/token")).toBe("https://login.example/oauth/token");
    expect(issuerEndpoint(new URL("http://127.0.0.1:8788"), "token_endpoint", "http://127.0.0.1:8788/token")).toBe("http://127.0.0.1:8788/token");
    expect(() => issuerEndpoint(https, "token_endpoint", "http://127.0.0.1:9/token")).toThrow("refusing a non-https token_endpoint from the discovery document of an issuer off loopback: http://127.0.0.1:9/token");
    expect(() => issuerEndpoint(new URL("http://127.0.0.1:8788"), "authorization_endpoint", "http://login.example/authorize")).toThrow("refusing a non-https endpoint from the issuer's discovery document (authorization_endpoint)");
  });
});
