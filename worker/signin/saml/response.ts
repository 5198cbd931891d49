/**
 * SAML 2.0 Web Browser SSO, service-provider side: builds the AuthnRequest (HTTP-Redirect
 * binding) and checks a Response (HTTP-POST binding). What is checked, on the signed assertion
 * only (facts are never read from outside the element whose signature verified):
 *   - signature: enveloped, by the configured IdP certificate (xmldsig.ts); an unsigned assertion,
 *     an encrypted one, or more than one assertion is refused
 *   - Issuer = the IdP's entity id; Status = Success
 *   - SubjectConfirmation bearer: Recipient = our ACS URL, InResponseTo = the request we sent,
 *     NotOnOrAfter in the future
 *   - Conditions: NotBefore / NotOnOrAfter, AudienceRestriction naming our entity id
 * Replay (the same assertion twice) is refused by the caller's cache, keyed by assertion ID.
 */
import type { Identity } from "../../../parsers/identity.ts";
import { assertSingleIds, verifyEnvelopedSignature, SignatureRefused } from "./xmldsig.ts";
import { allElements, attr, childElements, onlyChild, optionalChild, parseXml, textOf, XmlRefused, type XmlElement } from "./xml.ts";

export const SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol";
export const SAML = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SKEW_MS = 60_000;

export class SamlRefused extends Error {
  override name = "SamlRefused";
}

function escXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function newRequestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(20));
  return `_${[...b].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

export function authnRequestXml(o: { id: string; issueInstant: Date; destination: string; acsUrl: string; spEntityId: string }): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${escXml(o.id)}" Version="2.0" IssueInstant="${o.issueInstant.toISOString()}" ` +
    `Destination="${escXml(o.destination)}" AssertionConsumerServiceURL="${escXml(o.acsUrl)}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">` +
    `<saml:Issuer>${escXml(o.spEntityId)}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>`
  );
}

/** HTTP-Redirect binding: DEFLATE (raw), base64, as the SAMLRequest query parameter. */
export async function redirectBindingUrl(ssoUrl: string, xml: string, relayState: string): Promise<string> {
  const deflated = new Uint8Array(await new Response(new Blob([xml]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer());
  let bin = "";
  for (const b of deflated) bin += String.fromCharCode(b);
  const u = new URL(ssoUrl);
  u.searchParams.set("SAMLRequest", btoa(bin));
  u.searchParams.set("RelayState", relayState);
  return u.toString();
}

export function spMetadataXml(spEntityId: string, acsUrl: string): string {
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${escXml(spEntityId)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="${SAMLP}">` +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escXml(acsUrl)}" index="0" isDefault="true"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

export interface SamlExpectations {
  idpEntityId: string;
  certificate: string;
  spEntityId: string;
  acsUrl: string;
  requestId: string;
  now?: number;
}

export interface SamlSignIn {
  identity: Identity;
  assertionId: string;
  /** Until when the assertion could be replayed (the replay cache keeps it that long). */
  notOnOrAfter: number;
}

function instant(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) throw new SamlRefused(`${what} is not a UTC timestamp`);
  return Date.parse(value);
}

export async function checkSamlResponse(base64: string, x: SamlExpectations): Promise<SamlSignIn> {
  const now = x.now ?? Date.now();
  let xml: string;
  try {
    const clean = base64.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) throw new Error();
    xml = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(clean), (c) => c.charCodeAt(0)));
  } catch {
    throw new SamlRefused("SAMLResponse is not base64 UTF-8");
  }
  try {
    const root = parseXml(xml);
    if (root.ns !== SAMLP || root.local !== "Response") throw new SamlRefused("not a SAML Response");
    if (attr(root, "Version") !== "2.0") throw new SamlRefused("not SAML 2.0");
    assertSingleIds(root);
    const status = onlyChild(onlyChild(root, SAMLP, "Status"), SAMLP, "StatusCode");
    if (attr(status, "Value") !== SUCCESS) throw new SamlRefused(`the IdP answered ${attr(status, "Value")}`);
    const responseIssuer = optionalChild(root, SAML, "Issuer");
    if (responseIssuer && textOf(responseIssuer).trim() !== x.idpEntityId) throw new SamlRefused("the response comes from another issuer");
    if (childElements(root, SAML, "EncryptedAssertion").length) throw new SamlRefused("encrypted assertions are not supported");
    // Exactly one Assertion in the whole document, a direct child of the Response.
    const everywhere = [...allElements(root)].filter((e) => e.ns === SAML && e.local === "Assertion");
    const assertion = onlyChild(root, SAML, "Assertion");
    if (everywhere.length !== 1) throw new SamlRefused("more than one assertion in the response");
    await verifyEnvelopedSignature(assertion, x.certificate);
    return readAssertion(assertion, x, now);
  } catch (e) {
    if (e instanceof XmlRefused || e instanceof SignatureRefused) throw new SamlRefused(e.message);
    throw e;
  }
}

function readAssertion(a: XmlElement, x: SamlExpectations, now: number): SamlSignIn {
  const id = attr(a, "ID")!;
  if (attr(a, "Version") !== "2.0") throw new SamlRefused("assertion is not SAML 2.0");
  if (textOf(onlyChild(a, SAML, "Issuer")).trim() !== x.idpEntityId) throw new SamlRefused("the assertion's issuer is not the configured IdP");
  const subject = onlyChild(a, SAML, "Subject");
  const nameIdEl = onlyChild(subject, SAML, "NameID");
  const nameId = textOf(nameIdEl).trim();
  if (!nameId) throw new SamlRefused("the assertion names no subject");
  const bearer = childElements(subject, SAML, "SubjectConfirmation").filter((s) => attr(s, "Method") === BEARER);
  if (bearer.length !== 1) throw new SamlRefused("expected exactly one bearer SubjectConfirmation");
  const data = onlyChild(bearer[0]!, SAML, "SubjectConfirmationData");
  if (attr(data, "Recipient") !== x.acsUrl) throw new SamlRefused(`the assertion is for recipient ${attr(data, "Recipient")}, not ${x.acsUrl}`);
  if (attr(data, "InResponseTo") !== x.requestId) throw new SamlRefused("the assertion answers another sign-in request (InResponseTo)");
  const scNotOnOrAfter = instant(attr(data, "NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter");
  if (scNotOnOrAfter === undefined) throw new SamlRefused("SubjectConfirmationData has no NotOnOrAfter");
  if (now >= scNotOnOrAfter + SKEW_MS) throw new SamlRefused("the assertion expired (SubjectConfirmationData NotOnOrAfter)");
  const scNotBefore = instant(attr(data, "NotBefore"), "SubjectConfirmationData NotBefore");
  if (scNotBefore !== undefined && now + SKEW_MS < scNotBefore) throw new SamlRefused("the assertion is not valid yet");
  const conditions = onlyChild(a, SAML, "Conditions");
  const notBefore = instant(attr(conditions, "NotBefore"), "Conditions NotBefore");
  const notOnOrAfter = instant(attr(conditions, "NotOnOrAfter"), "Conditions NotOnOrAfter");
  if (notBefore !== undefined && now + SKEW_MS < notBefore) throw new SamlRefused("the assertion is not valid yet (Conditions NotBefore)");
  if (notOnOrAfter !== undefined && now >= notOnOrAfter + SKEW_MS) throw new SamlRefused("the assertion expired (Conditions NotOnOrAfter)");
  const restrictions = childElements(conditions, SAML, "AudienceRestriction");
  if (restrictions.length === 0) throw new SamlRefused("the assertion has no AudienceRestriction");
  for (const r of restrictions) {
    if (!childElements(r, SAML, "Audience").some((aud) => textOf(aud).trim() === x.spEntityId)) throw new SamlRefused(`the assertion is not for audience ${x.spEntityId}`);
  }
  const claims: Record<string, unknown> = {};
  for (const statement of childElements(a, SAML, "AttributeStatement")) {
    for (const at of childElements(statement, SAML, "Attribute")) {
      const name = attr(at, "Name");
      if (!name || name.length > 200) continue;
      const values = childElements(at, SAML, "AttributeValue").map((v) => textOf(v));
      const previous = claims[name];
      const merged = [...(Array.isArray(previous) ? previous : previous === undefined ? [] : [previous]), ...values];
      claims[name] = merged.length === 1 ? merged[0] : merged;
    }
  }
  const format = attr(nameIdEl, "Format");
  if (format) claims.saml_nameid_format = format;
  claims.iss = x.idpEntityId;
  claims.sub = nameId;
  const until = Math.min(scNotOnOrAfter, notOnOrAfter ?? scNotOnOrAfter) + SKEW_MS;
  return { identity: { issuer: x.idpEntityId, subject: nameId, claims }, assertionId: id, notOnOrAfter: until };
}
