/**
 * Issue 19: SAML 2.0 sign-in to the console, SP-initiated, in a real browser (Debian Chromium),
 * against an independent IdP (samlify + its xmllint schema validator, test/console/saml-idp.ts).
 * Policy roles match SAML attributes like OIDC claims. Negative, each through the real browser
 * flow with the IdP's genuine response altered before it is posted: altered subject (digest),
 * signature by another key, signature wrapping (a second, unsigned assertion; a duplicated ID),
 * a response replayed into another sign-in, an unsigned assertion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenshotPath } from "./screenshots.ts";
import type { Page } from "playwright-core";
import { SignedXml } from "xml-crypto";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { startBrowser, type TestBrowser } from "./browser.ts";
import { forgerKeyPair, IDP_ENTITY_ID, startSamlIdp, type TestSamlIdp } from "./saml-idp.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - issuer: ${IDP_ENTITY_ID}
      claims: { groups: auditors }
  approver:
    - issuer: ${IDP_ENTITY_ID}
      claims: { groups: approvers }
rules:
  - name: pg-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read]
`;

let idp: TestSamlIdp;
let stack: TestStack;
let browser: TestBrowser;

beforeAll(async () => {
  [idp, browser] = await Promise.all([startSamlIdp(), startBrowser()]);
  stack = await startTestStack({
    policyYaml: POLICY,
    workerVars: { GATEHOUSE_SIGNIN: JSON.stringify({ saml: [{ id: "test-idp", label: "Test IdP", idp_entity_id: IDP_ENTITY_ID, sso_url: `${idp.url}/sso`, certificate: idp.certificate }] }) },
  });
  const metadata = await fetch(`${stack.gatewayUrl}/signin/saml/test-idp/metadata`);
  expect(metadata.status).toBe(200);
  idp.useSpMetadata(await metadata.text());
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await idp?.close();
});

/** Through our sign-in page and the IdP's login form, up to the IdP's "Continue" (the POST to our ACS). */
async function toAcs(page: Page, user: string, groups: string, path = "/console/sessions"): Promise<void> {
  await page.goto(`${stack.gatewayUrl}${path}`);
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Groups").fill(groups);
  await page.getByRole("button", { name: "Sign in at IdP" }).click();
  await page.getByRole("button", { name: "Continue to Gatehouse" }).waitFor();
}

/** Replaces the response the IdP is about to post with `alter(xml)`, then posts it. */
async function postAltered(page: Page, alter: (xml: string) => string): Promise<string> {
  const original = Buffer.from(idp.lastResponse()!.samlResponse, "base64").toString("utf8");
  const altered = Buffer.from(alter(original), "utf8").toString("base64");
  await page.locator('input[name="SAMLResponse"]').evaluate((el, v) => ((el as HTMLInputElement).value = v), altered);
  await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
  await page.waitForLoadState();
  return (await page.locator("body").textContent()) ?? "";
}

const ASSERTION = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/;

describe("SAML sign-in", () => {
  it("signs an auditor in with a signed assertion; roles come from SAML attributes", async () => {
    const { page, context } = await browser.person();
    await toAcs(page, "sam", "auditors");
    await page.screenshot({ path: screenshotPath("saml-idp.png") });
    await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
    await page.waitForURL(`${stack.gatewayUrl}/console/sessions`);
    expect(await page.locator("header").textContent()).toContain("sam@example.test (auditor)");
    expect(await page.locator("h1").textContent()).toBe("Sessions");
    const cookie = (await context.cookies()).find((c) => c.name === "gatehouse_console")!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe("Lax");
    // The same (genuine) response posted again: its sign-in was used, it signs nobody in.
    const last = idp.lastResponse()!;
    const again = await context.request.post(last.acs, { form: { SAMLResponse: last.samlResponse, RelayState: last.relayState }, maxRedirects: 0 });
    expect(again.status()).toBe(400);
    expect(await again.text()).toMatch(/unknown, expired or already used/);
  });

  it("refuses an assertion whose subject was altered after signing", async () => {
    const { page } = await browser.person();
    await toAcs(page, "sam", "auditors");
    const text = await postAltered(page, (xml) => xml.replace(/(<saml:NameID[^>]*>)sam(<\/saml:NameID>)/, "$1admin$2"));
    expect(text).toContain("digest mismatch");
    expect(page.url()).not.toContain("/console/");
  });

  it("refuses an assertion signed by another key", async () => {
    const { page } = await browser.person();
    await toAcs(page, "sam", "auditors");
    const forger = forgerKeyPair();
    const text = await postAltered(page, (xml) => {
      const unsigned = xml.replace(/<ds:Signature\b[\s\S]*<\/ds:Signature>/, "").replace(/(<saml:NameID[^>]*>)sam(<\/saml:NameID>)/, "$1admin$2");
      const sig = new SignedXml({ privateKey: forger.key, publicCert: forger.cert, signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#" });
      sig.addReference({ xpath: "//*[local-name(.)='Assertion']", transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"], digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256" });
      sig.computeSignature(unsigned, { prefix: "ds", location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: "after" } });
      return sig.getSignedXml();
    });
    expect(text).toContain("signature does not verify with the IdP certificate");
  });

  it("refuses signature wrapping: a second, unsigned assertion beside the signed one", async () => {
    const { page } = await browser.person();
    await toAcs(page, "sam", "auditors");
    const text = await postAltered(page, (xml) => {
      const signed = ASSERTION.exec(xml)![0];
      const evil = signed.replace(/<ds:Signature\b[\s\S]*<\/ds:Signature>/, "").replace(/ID="[^"]+"/, 'ID="_evil"').replace(/(<saml:NameID[^>]*>)sam(<\/saml:NameID>)/, "$1admin$2");
      return xml.replace(signed, evil + signed);
    });
    expect(text).toMatch(/more than one assertion|exactly one Assertion/);
  });

  it("refuses signature wrapping: the signed assertion moved, a forged one carrying its ID", async () => {
    const { page } = await browser.person();
    await toAcs(page, "sam", "auditors");
    const text = await postAltered(page, (xml) => {
      const signed = ASSERTION.exec(xml)![0];
      const evil = signed.replace(/<ds:Signature\b[\s\S]*<\/ds:Signature>/, "").replace(/(<saml:NameID[^>]*>)sam(<\/saml:NameID>)/, "$1admin$2");
      // The genuine assertion hidden in an Extensions element, the forged one (same ID) in its place.
      return xml.replace(signed, evil).replace("<samlp:Status>", `<samlp:Extensions>${signed}</samlp:Extensions><samlp:Status>`);
    });
    expect(text).toMatch(/appears more than once|more than one assertion/);
  });

  it("refuses an unsigned assertion and a response answering another sign-in", async () => {
    const { page } = await browser.person();
    await toAcs(page, "sam", "auditors");
    const stale = idp.lastResponse()!.samlResponse;
    const unsigned = await postAltered(page, (xml) => xml.replace(/<ds:Signature\b[\s\S]*<\/ds:Signature>/, ""));
    expect(unsigned).toContain("exactly one signature");
    // A new sign-in, answered with the (genuine, signed) response of the previous one.
    const second = await browser.person();
    await toAcs(second.page, "sam", "auditors");
    const replayed = await postAltered(second.page, () => Buffer.from(stale, "base64").toString("utf8"));
    expect(replayed).toContain("answers another sign-in request");
  });

  it("a person without a console role is signed in but sees no sessions", async () => {
    const { page } = await browser.person();
    await toAcs(page, "nobody", "guests");
    await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
    await page.waitForURL(`${stack.gatewayUrl}/console/sessions`);
    expect(await page.locator("main").textContent()).toContain("needs the auditor role");
  });
});
