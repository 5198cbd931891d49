/** The connector's `kubernetes` resource: only an https API server, only the connector's credential, impersonation it can fill. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../connector/errors.ts";
import { parseKubernetesResource } from "./config.ts";

const ctx = { baseDir: "/nonexistent", env: { K8S_TOKEN: "t0ken" } };
const parse = (raw: Record<string, unknown>) => parseKubernetesResource("resources[0]", { name: "k", type: "kubernetes", credential: { bearer: "env:K8S_TOKEN" }, ...raw }, "k", ctx);

describe("kubernetes connector resource", () => {
  it("takes an https API server and a bearer token reference, never cookies or identity headers", async () => {
    const r = parse({ url: "https://10.0.0.1:6443" });
    expect(r.url.href).toBe("https://10.0.0.1:6443/");
    expect(r.credential.kind).toBe("bearer");
    expect(r.credential.kind === "bearer" && (await r.credential.token())).toBe("t0ken");
    expect(r.dropCookies).toBe(true);
    expect(r.identityHeaders).toBe(false);
  });

  it.each([
    ["plain http", "http://10.0.0.1:6443", /must be an https:\/\/ URL/],
    ["credentials in the URL", "https://admin:pw@10.0.0.1:6443", /must not contain credentials/],
    ["a query", "https://10.0.0.1:6443/?as=admin", /query or fragment/],
    ["a fragment", "https://10.0.0.1:6443/#x", /query or fragment/],
    ["not a URL", "10.0.0.1:6443 x", /is not a valid URL|must be an https/],
  ])("refuses %s", (_what, url, message) => {
    expect(() => parse({ url })).toThrow(ConfigError);
    expect(() => parse({ url })).toThrow(message);
  });

  it("wants exactly one credential: a bearer token, or a client certificate with its key", () => {
    expect(() => parse({ url: "https://k:6443", credential: {} })).toThrow(/exactly one of bearer/);
    expect(() => parse({ url: "https://k:6443", credential: { bearer: "env:K8S_TOKEN", client_cert: "env:K8S_TOKEN" } })).toThrow(/exactly one of bearer/);
    expect(() => parse({ url: "https://k:6443", credential: { client_cert: "env:K8S_TOKEN" } })).toThrow(/exactly one of bearer/);
    expect(() => parse({ url: "https://k:6443", credential: { bearer: "t0ken-inline" } })).toThrow(/inline/);
    const r = parse({ url: "https://k:6443", credential: { client_cert: "env:K8S_TOKEN", client_key: "env:K8S_TOKEN" } });
    expect(r.credential.kind).toBe("none");
    expect(r.clientCert && r.clientKey).toBeTruthy();
  });

  it("refuses impersonation templates the connector cannot fill and keys it does not know", () => {
    expect(() => parse({ url: "https://k:6443", impersonate: { user: "{claims.email}" } })).toThrow(ConfigError);
    expect(() => parse({ url: "https://k:6443", client_cert: "env:K8S_TOKEN" })).toThrow(ConfigError);
  });
});
