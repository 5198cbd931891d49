/**
 * The public key of an X.509 certificate, for WebCrypto: a minimal DER walk to
 * tbsCertificate.subjectPublicKeyInfo (RFC 5280 §4.1). Only the configured IdP certificate goes
 * through here (KeyInfo in a response is never trusted), so this reads, it does not validate chains.
 */
export class CertificateRefused extends Error {
  override name = "CertificateRefused";
}

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number): Tlv {
  if (at + 2 > der.length) throw new CertificateRefused("truncated certificate");
  const tag = der[at]!;
  let len = der[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3) throw new CertificateRefused("unsupported DER length");
    len = 0;
    for (let k = 0; k < n; k++) len = (len << 8) | der[p++]!;
  }
  if (p + len > der.length) throw new CertificateRefused("truncated certificate");
  return { tag, start: at, contentStart: p, end: p + len };
}

export function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----BEGIN CERTIFICATE-----|-----END CERTIFICATE-----|\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new CertificateRefused("certificate is not PEM or base64 DER");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

export function spkiOf(der: Uint8Array): Uint8Array {
  const cert = readTlv(der, 0);
  if (cert.tag !== 0x30) throw new CertificateRefused("not a certificate");
  const tbs = readTlv(der, cert.contentStart);
  if (tbs.tag !== 0x30) throw new CertificateRefused("not a certificate");
  let p = tbs.contentStart;
  let field = readTlv(der, p);
  if (field.tag === 0xa0) {
    p = field.end;
    field = readTlv(der, p);
  }
  // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
  for (let k = 0; k < 5; k++) {
    p = field.end;
    field = readTlv(der, p);
  }
  if (field.tag !== 0x30) throw new CertificateRefused("certificate has no subjectPublicKeyInfo");
  return der.slice(field.start, field.end);
}

const keys = new Map<string, Promise<CryptoKey>>();

export function rsaVerifyKey(certificate: string, hash: "SHA-256" | "SHA-512"): Promise<CryptoKey> {
  const k = `${hash}\u0000${certificate}`;
  let key = keys.get(k);
  if (!key) {
    key = crypto.subtle.importKey("spki", spkiOf(pemToDer(certificate)), { name: "RSASSA-PKCS1-v1_5", hash }, false, ["verify"]);
    keys.set(k, key);
    key.catch(() => keys.delete(k));
  }
  return key;
}
