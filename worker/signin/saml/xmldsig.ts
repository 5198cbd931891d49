/**
 * XML-DSig verification of ONE shape, refusing every other: an enveloped signature that is a
 * direct child of the signed element, whose single Reference points (URI="#ID") at that very
 * element, with exactly the transforms enveloped-signature + exclusive c14n, digest SHA-256
 * (or SHA-512), signature RSA-SHA256 (or RSA-SHA512), canonicalization exclusive c14n. The key
 * is the configured IdP certificate; KeyInfo is ignored. Verification returns the element it
 * verified — callers read facts only from that element (signature wrapping defence), and
 * assertSingleIds refuses documents where an ID could name two elements.
 */
import { exclusiveC14n } from "./c14n.ts";
import { allElements, attr, childElements, onlyChild, optionalChild, textOf, XmlRefused, type XmlElement } from "./xml.ts";
import { rsaVerifyKey } from "./x509.ts";

export const DSIG = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const DIGESTS: Record<string, "SHA-256" | "SHA-512"> = {
  "http://www.w3.org/2001/04/xmlenc#sha256": "SHA-256",
  "http://www.w3.org/2001/04/xmlenc#sha512": "SHA-512",
};
const SIGNATURES: Record<string, "SHA-256" | "SHA-512"> = {
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "SHA-256",
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "SHA-512",
};

export class SignatureRefused extends Error {
  override name = "SignatureRefused";
}

function b64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) throw new SignatureRefused("base64 value expected");
  return Uint8Array.from(atob(clean), (c) => c.charCodeAt(0));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Every ID-like attribute value appears once in the whole document. */
export function assertSingleIds(root: XmlElement): void {
  const seen = new Set<string>();
  for (const el of allElements(root)) {
    for (const a of el.attrs) {
      if (a.ns !== "" || !/^(ID|Id|id|AssertionID)$/.test(a.local)) continue;
      if (seen.has(a.value)) throw new SignatureRefused(`ID ${a.value} appears more than once (signature wrapping)`);
      seen.add(a.value);
    }
  }
}

function c14nMethod(el: XmlElement): string[] {
  if (attr(el, "Algorithm") !== EXC_C14N) throw new SignatureRefused(`unsupported canonicalization ${attr(el, "Algorithm")}`);
  const kids = childElements(el);
  if (kids.length === 0) return [];
  if (kids.length === 1 && kids[0]!.ns === EXC_C14N && kids[0]!.local === "InclusiveNamespaces") {
    return (attr(kids[0]!, "PrefixList") ?? "").split(/\s+/).filter(Boolean);
  }
  throw new SignatureRefused("unexpected content in the canonicalization method");
}

/** Verifies the enveloped signature of `signed` (its direct child ds:Signature) with `certificate`. */
export async function verifyEnvelopedSignature(signed: XmlElement, certificate: string): Promise<void> {
  const id = attr(signed, "ID");
  if (!id) throw new SignatureRefused(`${signed.local} has no ID`);
  const signatures = childElements(signed, DSIG, "Signature");
  if (signatures.length !== 1) throw new SignatureRefused(`${signed.local} must carry exactly one signature (found ${signatures.length})`);
  const signature = signatures[0]!;
  try {
    const signedInfo = onlyChild(signature, DSIG, "SignedInfo");
    const signatureValue = b64(textOf(onlyChild(signature, DSIG, "SignatureValue")));
    const kids = childElements(signedInfo);
    const [cm, sm, ...refs] = kids;
    if (!cm || cm.ns !== DSIG || cm.local !== "CanonicalizationMethod") throw new SignatureRefused("SignedInfo must start with CanonicalizationMethod");
    if (!sm || sm.ns !== DSIG || sm.local !== "SignatureMethod" || childElements(sm).length) throw new SignatureRefused("SignedInfo must have a SignatureMethod");
    const signedInfoPrefixes = c14nMethod(cm);
    const hash = SIGNATURES[attr(sm, "Algorithm") ?? ""];
    if (!hash) throw new SignatureRefused(`unsupported signature method ${attr(sm, "Algorithm")}`);
    if (refs.length !== 1 || refs[0]!.ns !== DSIG || refs[0]!.local !== "Reference") throw new SignatureRefused("exactly one Reference is accepted");
    const ref = refs[0]!;
    if (attr(ref, "URI") !== `#${id}`) throw new SignatureRefused(`the signature references ${attr(ref, "URI")}, not the element it is in (#${id})`);
    const transforms = childElements(onlyChild(ref, DSIG, "Transforms"));
    if (transforms.length !== 2 || transforms.some((t) => t.ns !== DSIG || t.local !== "Transform")) throw new SignatureRefused("transforms must be enveloped-signature then exclusive c14n");
    if (attr(transforms[0]!, "Algorithm") !== ENVELOPED || childElements(transforms[0]!).length) throw new SignatureRefused("first transform must be enveloped-signature");
    const refPrefixes = c14nMethod(transforms[1]!);
    const digestMethod = onlyChild(ref, DSIG, "DigestMethod");
    const digestHash = DIGESTS[attr(digestMethod, "Algorithm") ?? ""];
    if (!digestHash) throw new SignatureRefused(`unsupported digest ${attr(digestMethod, "Algorithm")}`);
    const digestValue = b64(textOf(onlyChild(ref, DSIG, "DigestValue")));
    if (childElements(ref).length !== 3) throw new SignatureRefused("unexpected content in Reference");
    optionalChild(signature, DSIG, "KeyInfo");
    if (childElements(signature).some((c) => c.ns !== DSIG || !["SignedInfo", "SignatureValue", "KeyInfo"].includes(c.local))) throw new SignatureRefused("unexpected content in Signature");

    const digest = new Uint8Array(await crypto.subtle.digest(digestHash, new TextEncoder().encode(exclusiveC14n(signed, { exclude: signature, inclusivePrefixes: refPrefixes }))));
    if (!sameBytes(digest, digestValue)) throw new SignatureRefused("digest mismatch: the signed element was altered");
    const key = await rsaVerifyKey(certificate, hash);
    const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signatureValue, new TextEncoder().encode(exclusiveC14n(signedInfo, { inclusivePrefixes: signedInfoPrefixes })));
    if (!ok) throw new SignatureRefused("signature does not verify with the IdP certificate");
  } catch (e) {
    if (e instanceof XmlRefused) throw new SignatureRefused(e.message);
    throw e;
  }
}
