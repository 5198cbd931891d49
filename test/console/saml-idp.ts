/**
 * An independent SAML 2.0 identity provider for the console tests: samlify (with its xmllint
 * schema validator) signs assertions with an RSA key and a self-signed certificate made by
 * openssl. Gatehouse's SP code (worker/signin/saml/) is only ever on the other side.
 *
 *   GET  /sso     parses our AuthnRequest (HTTP-Redirect), shows a login form (name, groups)
 *   POST /login   builds the signed Response and a form that posts it to our ACS
 * `lastResponse` keeps the last base64 Response so tests can replay or tamper with it.
 */
import http from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as samlify from "samlify";
import * as validator from "@authenio/samlify-node-xmllint";

samlify.setSchemaValidator(validator);

export const IDP_ENTITY_ID = "https://idp.example.test/saml";

export interface TestSamlIdp {
  url: string;
  certificate: string;
  /** The signing key (PEM), for tests that sign a tampered document with the real key's enemy. */
  privateKey: string;
  /** The SP as samlify sees it (built from Gatehouse's metadata). */
  useSpMetadata(xml: string): void;
  lastResponse(): { samlResponse: string; relayState: string; acs: string } | undefined;
  close(): Promise<void>;
}

function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`], { stdio: "ignore" });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** A key pair that is NOT the IdP's: a forger's. */
export function forgerKeyPair(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-forger-"));
  try {
    return selfSigned(dir, "forger");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startSamlIdp(): Promise<TestSamlIdp> {
  // The xmllint validator compiles its WebAssembly on first use (~15 s on a busy machine): do it
  // here, in the suite's setup, not inside the first browser step's timeout.
  await validator.validate(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_warm" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>warm-up</saml:Issuer></samlp:AuthnRequest>`);
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-idp-"));
  const { key, cert } = selfSigned(dir, "test-idp");
  let url = "";
  let sp: ReturnType<typeof samlify.ServiceProvider> | undefined;
  let last: { samlResponse: string; relayState: string; acs: string } | undefined;
  let idp: ReturnType<typeof samlify.IdentityProvider>;
  const pendingRequests = new Map<string, { extract: unknown; relayState: string }>();

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", url);
    const page = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP</title></head><body>${body}</body></html>`);
    };
    try {
      if (req.method === "GET" && u.pathname === "/sso") {
        const parsed = await idp.parseLoginRequest(sp!, "redirect", { query: Object.fromEntries(u.searchParams), octetString: "" } as never);
        const ticket = Math.random().toString(36).slice(2);
        pendingRequests.set(ticket, { extract: parsed.extract, relayState: u.searchParams.get("RelayState") ?? "" });
        return page(200, `<h1>Test IdP sign-in</h1><form method="post" action="/login"><input type="hidden" name="ticket" value="${ticket}">
<label for="user">User</label><input id="user" name="user"><label for="groups">Groups</label><input id="groups" name="groups"><button type="submit">Sign in at IdP</button></form>`);
      }
      if (req.method === "POST" && u.pathname === "/login") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        const pending = pendingRequests.get(form.get("ticket") ?? "");
        if (!pending) return page(400, "unknown ticket");
        pendingRequests.delete(form.get("ticket") ?? "");
        const user = form.get("user") ?? "";
        const groups = form.get("groups") ?? "";
        const { context } = await idp.createLoginResponse(sp!, { extract: pending.extract } as never, "post", { email: user }, {
          relayState: pending.relayState,
          customTagReplacement: (template: string) => {
            const now = new Date();
            const later = new Date(now.getTime() + 5 * 60_000);
            const acs = sp!.entityMeta.getAssertionConsumerService(samlify.Constants.wording.binding.post) as string;
            const id = `_${Math.random().toString(16).slice(2)}${Date.now()}`;
            const values: Record<string, string> = {
              ID: id,
              AssertionID: `_a${Math.random().toString(16).slice(2)}${Date.now()}`,
              Destination: acs,
              Audience: sp!.entityMeta.getEntityID(),
              EntityID: sp!.entityMeta.getEntityID(),
              SubjectRecipient: acs,
              Issuer: IDP_ENTITY_ID,
              IssueInstant: now.toISOString(),
              AssertionConsumerServiceURL: acs,
              StatusCode: "urn:oasis:names:tc:SAML:2.0:status:Success",
              ConditionsNotBefore: now.toISOString(),
              ConditionsNotOnOrAfter: later.toISOString(),
              SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
              NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
              NameID: user,
              InResponseTo: (pending.extract as { request: { id: string } }).request.id,
              AuthnStatement: "",
              attrGroups: groups,
              attrEmail: `${user}@example.test`,
            };
            return { id, context: samlify.SamlLib.replaceTagsByValue(template, values) };
          },
        } as never);
        const acs = sp!.entityMeta.getAssertionConsumerService(samlify.Constants.wording.binding.post) as string;
        last = { samlResponse: context, relayState: pending.relayState, acs };
        return page(200, `<form method="post" action="${esc(acs)}"><input type="hidden" name="SAMLResponse" value="${esc(context)}"><input type="hidden" name="RelayState" value="${esc(pending.relayState)}"><button type="submit">Continue to Gatehouse</button></form>`);
      }
      page(404, "not found");
    } catch (e) {
      page(500, `IdP error: ${esc((e as Error).message)}`);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`;
  idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: key,
    signingCert: cert,
    isAssertionEncrypted: false,
    wantAuthnRequestsSigned: false,
    nameIDFormat: ["urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"],
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${url}/sso` }],
    loginResponseTemplate: {
      context: samlify.SamlLib.defaultLoginResponseTemplate.context,
      attributes: [
        { name: "groups", valueTag: "groups", nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", valueXsiType: "xs:string" },
        { name: "email", valueTag: "email", nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", valueXsiType: "xs:string" },
      ],
    },
  } as never);
  return {
    url,
    certificate: cert,
    privateKey: key,
    useSpMetadata: (xml) => {
      sp = samlify.ServiceProvider({ metadata: xml });
    },
    lastResponse: () => last,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
