/**
 * Where a browser is sent after sign-in (`return_to`), through the worker's own /signin page in
 * workerd: a path that a browser resolves outside /console/ — `..` spelled as the WHATWG URL dot
 * segments `.%2e`, `%2e.`, `%2E%2e` — is replaced by /console/, and what is kept is the form the
 * browser will ask for (checked against the WHATWG URL resolution a browser applies).
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { Env } from "../env.ts";
import worker from "../index.ts";

const ISSUER = "https://login.return-to.test";
const e: Env = {
  ...(env as unknown as Env),
  GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: ISSUER, audiences: ["return-to-console"], jwks_uri: `${ISSUER}/jwks` }]),
  GATEHOUSE_SIGNIN: JSON.stringify({ oidc: [{ id: "corp", label: "Corp", issuer: ISSUER, client_id: "return-to-console", authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token` }] }),
};

/** The return_to the /signin page hands on to the provider's start link. */
async function keptReturnTo(returnTo: string): Promise<string> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://127.0.0.1/signin?return_to=${encodeURIComponent(returnTo)}`), e, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  const href = /href="(\/signin\/oidc\/corp\?return_to=[^"]*)"/.exec(await res.text())?.[1];
  expect(href).toBeDefined();
  return new URL(href!.replace(/&amp;/g, "&"), "https://gw.example").searchParams.get("return_to")!;
}

/** The path a browser requests for a root-relative Location (WHATWG URL resolution). */
const browserPath = (location: string) => new URL(location, "https://gw.example").pathname;

describe("return_to after sign-in", () => {
  it("refuses paths a browser resolves outside /console/ (percent-encoded dot segments)", async () => {
    for (const attack of [
      "/console/.%2e/.%2e/.%2e/t/evil/signin/oidc/corp",
      "/console/%2e./v1/approvals",
      "/console/sessions/.%2E/.%2e/signin/oidc/corp",
      "/console/%2e/.%2e/x",
    ]) {
      // The premise: a browser leaves /console/ on this path.
      expect(browserPath(attack)).not.toMatch(/^\/console\//);
      const kept = await keptReturnTo(attack);
      expect(kept).toBe("/console/");
    }
  });

  it("keeps console paths (their query too), in the form the browser resolves", async () => {
    expect(await keptReturnTo("/console/approvals/apr_abcdefghijk23456")).toBe("/console/approvals/apr_abcdefghijk23456");
    expect(await keptReturnTo("/console/sessions?identity=alice%40example.com&limit=5")).toBe("/console/sessions?identity=alice%40example.com&limit=5");
    // A dot segment that stays inside the console is resolved, not passed on.
    expect(await keptReturnTo("/console/sessions/%2e/x")).toBe("/console/sessions/x");
    for (const plain of ["/elsewhere", "//evil.example/console/", "/console/../v1", "/console/\\evil", "https://evil.example/console/"]) {
      expect(await keptReturnTo(plain)).toBe("/console/");
    }
  });
});
