/**
 * What `gatehouse login` accepts from a gateway's `/signin/providers` (gateway-providers.ts), with
 * a hostile or broken gateway played by a local HTTP server: every answer it cannot use is a clear
 * refusal before any browser is sent anywhere. (The real worker's answer, and the whole sign-in,
 * are tested in test/console/tenants.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { checkEndpoint, gatewayOidcProvider } from "./gateway-providers.ts";

const corp = { id: "corp", label: "Corp", issuer: "https://login.example", client_id: "c1", authorization_endpoint: "https://login.example/authorize", token_endpoint: "https://login.example/token" };
let answer: { status: number; body: string } = { status: 200, body: "{}" };
let server: http.Server;
let gateway: URL;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url !== "/t/acme/signin/providers") return void res.writeHead(404).end();
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  gateway = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/t/acme/`);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const serve = (doc: unknown, status = 200) => (answer = { status, body: typeof doc === "string" ? doc : JSON.stringify(doc) });

describe("the gateway's sign-in provider, as the CLI takes it", () => {
  it("takes the one OIDC provider, or the one --provider names", async () => {
    serve({ oidc: [corp], saml: [] });
    expect(await gatewayOidcProvider(gateway, undefined)).toEqual(corp);
    serve({ oidc: [corp, { ...corp, id: "other", client_id: "c2" }], saml: [] });
    expect((await gatewayOidcProvider(gateway, "other")).client_id).toBe("c2");
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("has several OIDC sign-in providers (corp, other): choose one with --provider");
    await expect(gatewayOidcProvider(gateway, "okta")).rejects.toThrow('has no OIDC sign-in provider "okta" (it has: corp, other)');
  });

  it("refuses what it cannot use: none, SAML only, plain-http endpoints, control characters, junk", async () => {
    serve({ oidc: [], saml: [] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("offers no OIDC sign-in: it has no sign-in provider for people");
    serve({ oidc: [], saml: [{ id: "okta", label: "Okta" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("its people sign in with SAML only (okta), which the CLI cannot use");
    serve({ oidc: [{ ...corp, authorization_endpoint: "http://login.example/authorize" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("refusing a non-https endpoint from the gateway's provider corp (authorization_endpoint)");
    serve({ oidc: [{ ...corp, token_endpoint: "javascript:alert(1)" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow(/non-https endpoint/);
    serve({ oidc: [{ ...corp, label: "Corp\u001b]8;;https://evil.example\u0007" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("control characters in label");
    serve({ oidc: [{ ...corp, client_id: "" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("lacks client_id");
    serve("<html>a proxy's page</html>");
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("are not JSON");
    serve({ error: "api_rate_limited", reason: "slow down" }, 429);
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("gateway answered HTTP 429: api_rate_limited (slow down)");
    serve({ oidc: [corp], pad: "x".repeat(70_000) });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow(/larger than 65536 bytes/);
    await expect(gatewayOidcProvider(new URL("/t/nobody/", gateway), undefined)).rejects.toThrow("does not publish its sign-in providers");
  });

  it("prints nothing of a hostile gateway's that could steer the terminal: no escape sequence in any id it lists, no bidi override in what it names", async () => {
    const esc = "x\u001b]0;owned\u0007\u001b[2J";
    const hidden = (e: unknown) => expect(String((e as Error).message)).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    serve({ oidc: [corp, { ...corp, id: esc }], saml: [] });
    await gatewayOidcProvider(gateway, undefined).then(() => expect.unreachable(), hidden);
    await gatewayOidcProvider(gateway, "okta").then(() => expect.unreachable(), hidden);
    serve({ oidc: [], saml: [{ id: esc, label: "Okta" }] });
    await gatewayOidcProvider(gateway, undefined).then(() => expect.unreachable(), hidden);
    // A right-to-left override makes "https://evil.example/…" print as something else.
    serve({ oidc: [{ ...corp, issuer: "https://evil.example/\u202eelgoog.stnuocca//:sptth" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("control characters in issuer");
    serve({ oidc: [{ ...corp, label: "Corp\u2028signing in with Google" }] });
    await expect(gatewayOidcProvider(gateway, undefined)).rejects.toThrow("control characters in label");
    // An endpoint that is not a URL is named in the error: C1 controls (U+009B opens an escape sequence) and separators shown as "?".
    expect(() => checkEndpoint("the gateway's token_endpoint", "not a url \u009b2J\u2028\u202e")).toThrow('the gateway\'s token_endpoint is not a URL: "not a url ?2J??"');
  });

  it("does not ask a gateway over plain http off loopback (the answer steers the browser and the refresh token)", async () => {
    await expect(gatewayOidcProvider(new URL("http://gate.example.test/t/acme/"), undefined)).rejects.toThrow("refusing a non-https endpoint from the gateway URL");
  });
});
