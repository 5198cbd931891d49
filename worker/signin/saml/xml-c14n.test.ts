/**
 * The SAML SP's XML pieces on their own: the parser refuses every construct it does not need
 * (each is a known attack surface), and exclusive canonicalization renders namespaces, attribute
 * order and escapes as the W3C recommendation says. The whole flow, with an independent IdP
 * signing real responses, is test/console/saml.test.ts.
 */
import { describe, expect, it } from "vitest";
import { exclusiveC14n } from "./c14n.ts";
import { childElements, parseXml, XmlRefused } from "./xml.ts";
import { assertSingleIds, SignatureRefused } from "./xmldsig.ts";
import { pemToDer, spkiOf, CertificateRefused } from "./x509.ts";
import { parseSigninConfig, signinIssuerProblems } from "../config.ts";

describe("strict XML parser", () => {
  it.each([
    ['<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>', /DOCTYPE/],
    ["<r><!-- c --></r>", /comments/],
    ["<r><![CDATA[x]]></r>", /CDATA/],
    ['<?xml-stylesheet href="x"?><r/>', /processing instructions/],
    ["<r><?pi x?></r>", /processing instructions/],
    ["<p:r/>", /undeclared prefix p/],
    ['<r a="1" a="2"/>', /duplicate attribute/],
    ['<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>', /duplicate attribute/],
    ["<r>&unknown;</r>", /entity/],
    ["<r><a></b></r>", /mismatched/],
    ["<r/><r/>", /more than one root/],
    ["<r>", /unterminated/],
  ])("refuses %s", (xml, why) => {
    expect(() => parseXml(xml)).toThrow(XmlRefused);
    expect(() => parseXml(xml)).toThrow(why);
  });

  it("decodes entities and character references and normalizes attribute whitespace", () => {
    const r = parseXml('<r a="x\ty&#10;z">&lt;&amp;&#x41;&#66;</r>');
    expect(r.attrs[0]!.value).toBe("x y\nz");
    expect(r.children).toEqual([{ kind: "text", value: "<&AB" }]);
  });
});

describe("exclusive c14n", () => {
  const doc = parseXml('<a:root xmlns:a="urn:a" xmlns:b="urn:b" b:y="2" z="1"><a:child xmlns:c="urn:c">t&amp;&lt;&gt;\r\n<c:x/></a:child></a:root>');
  it("renders only visibly used namespaces, sorted attributes, start/end pairs and escapes", () => {
    expect(exclusiveC14n(doc)).toBe('<a:root xmlns:a="urn:a" xmlns:b="urn:b" z="1" b:y="2"><a:child>t&amp;&lt;&gt;\n<c:x xmlns:c="urn:c"></c:x></a:child></a:root>');
  });
  it("canonicalizes a subtree as its own apex (namespaces from ancestors re-declared where used)", () => {
    expect(exclusiveC14n(childElements(doc)[0]!)).toBe('<a:child xmlns:a="urn:a">t&amp;&lt;&gt;\n<c:x xmlns:c="urn:c"></c:x></a:child>');
  });
  it("leaves out the excluded element (enveloped signature) and honours InclusiveNamespaces", () => {
    const child = childElements(doc)[0]!;
    expect(exclusiveC14n(doc, { exclude: child })).toBe('<a:root xmlns:a="urn:a" xmlns:b="urn:b" z="1" b:y="2"></a:root>');
    expect(exclusiveC14n(child, { inclusivePrefixes: ["c"] })).toBe('<a:child xmlns:a="urn:a" xmlns:c="urn:c">t&amp;&lt;&gt;\n<c:x></c:x></a:child>');
  });
});

describe("signature-wrapping and certificate guards", () => {
  it("refuses a document where an ID names two elements", () => {
    expect(() => assertSingleIds(parseXml('<r><a ID="_1"/><b><c ID="_1"/></b></r>'))).toThrow(SignatureRefused);
    expect(() => assertSingleIds(parseXml('<r><a ID="_1"/><c ID="_2"/></r>'))).not.toThrow();
  });
  it("refuses what is not a certificate", () => {
    expect(() => spkiOf(pemToDer("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"))).toThrow(CertificateRefused);
    expect(() => pemToDer("not base64 !")).toThrow(CertificateRefused);
  });
});

describe("GATEHOUSE_SIGNIN", () => {
  it("refuses plain-http endpoints off loopback, duplicate ids and bad session lengths", () => {
    const oidc = (over: Record<string, unknown>) => JSON.stringify({ oidc: [{ id: "corp", issuer: "https://idp", client_id: "c", authorization_endpoint: "https://idp/a", token_endpoint: "https://idp/t", ...over }] });
    expect(parseSigninConfig(oidc({})).oidc[0]!.clientId).toBe("c");
    expect(() => parseSigninConfig(oidc({ token_endpoint: "http://idp.example/t" }))).toThrow(/https/);
    expect(parseSigninConfig(oidc({ token_endpoint: "http://127.0.0.1:9/t" })).oidc[0]!.tokenEndpoint).toBe("http://127.0.0.1:9/t");
    expect(() => parseSigninConfig(JSON.stringify({ oidc: JSON.parse(oidc({})).oidc, saml: [{ id: "corp", idp_entity_id: "x", sso_url: "https://idp/sso", certificate: "x" }] }))).toThrow(/twice/);
    expect(() => parseSigninConfig(JSON.stringify({ session_hours: 48 }))).toThrow(/session_hours/);
  });

  it("cross-checks providers against the trusted issuers", () => {
    const config = parseSigninConfig(
      JSON.stringify({
        oidc: [{ id: "corp", issuer: "https://idp", client_id: "console", authorization_endpoint: "https://idp/a", token_endpoint: "https://idp/t" }],
        saml: [{ id: "gh", idp_entity_id: "https://token.actions.githubusercontent.com", sso_url: "https://idp/sso", certificate: "x" }],
      }),
    );
    const github = { issuer: "https://token.actions.githubusercontent.com", audiences: ["gatehouse"] };
    expect(signinIssuerProblems(config, [github])).toEqual([
      "GATEHOUSE_SIGNIN: oidc provider corp: issuer https://idp is not in GATEHOUSE_ISSUERS",
      expect.stringContaining("saml provider gh: idp_entity_id https://token.actions.githubusercontent.com is also a trusted OIDC issuer"),
    ]);
    expect(signinIssuerProblems(config, [{ issuer: "https://idp", audiences: ["gatehouse"] }])[0]).toContain("does not list client_id console");
    expect(signinIssuerProblems(config, [{ issuer: "https://idp", audiences: ["console"] }])).toEqual([]);
  });
});
