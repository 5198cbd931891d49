/**
 * A small X.509 v3 certificate builder (DER by hand, ECDSA P-256 / SHA-256 via node:crypto), so a
 * listener can have its own CA without the openssl CLI on the pipeline's machine. Enough for a
 * loopback HTTPS listener with client-certificate authentication: a CA, a server certificate for
 * 127.0.0.1/::1/localhost and a client certificate, all short-lived.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

// ------------------------------------------------------------------ DER

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const enc = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-12-03T12:00:00.000Z
  const y = d.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  return y < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

// ------------------------------------------------------------------ certificates

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const OID_CN = "2.5.4.3";
const OID_O = "2.5.4.10";

function name(cn: string, orgs: string[] = []): Buffer {
  return seq(...orgs.map((o) => set(seq(oid(OID_O), utf8(o)))), set(seq(oid(OID_CN), utf8(cn))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function ipBytes(ip: string): Buffer {
  if (ip === "::1") return Buffer.from([...new Array(15).fill(0), 1]);
  return Buffer.from(ip.split(".").map(Number));
}

export interface CertificateSpec {
  commonName: string;
  organizations?: string[];
  /** Signs other certificates (a CA). */
  ca?: boolean;
  /** serverAuth / clientAuth. */
  usage?: Array<"server" | "client">;
  ips?: string[];
  dnsNames?: string[];
  /** Validity from now (a minute of backdating absorbs clock skew). */
  validForMs: number;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  key: KeyObject;
}

/** Issue a certificate for a new P-256 key, signed by `issuer` (self-signed when absent). */
export function issueCertificate(spec: CertificateSpec, issuer?: { commonName: string; key: KeyObject }): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const now = Date.now();
  const exts: Buffer[] = [];
  exts.push(extension("2.5.29.19", true, spec.ca ? seq(bool(true)) : seq()));
  // keyUsage: CA = keyCertSign + cRLSign; leaf = digitalSignature.
  exts.push(extension("2.5.29.15", true, spec.ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)));
  if (spec.usage?.length) {
    const ids = spec.usage.map((u) => oid(u === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"));
    exts.push(extension("2.5.29.37", false, seq(...ids)));
  }
  const san = [...(spec.ips ?? []).map((ip) => tlv(0x87, ipBytes(ip))), ...(spec.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, "ascii")))];
  if (san.length) exts.push(extension("2.5.29.17", false, seq(...san)));
  const subject = name(spec.commonName, spec.organizations);
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    issuer ? name(issuer.commonName) : subject,
    seq(time(new Date(now - 60_000)), time(new Date(now + spec.validForMs))),
    subject,
    publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, issuer?.key ?? privateKey);
  const der = seq(tbs, ECDSA_SHA256, bits(signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { certPem, keyPem, key: createPrivateKey(keyPem) };
}

export interface ListenerTls {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

/**
 * A per-listener CA and the two certificates it signs: the listener's (127.0.0.1, ::1, localhost)
 * and the local user's client certificate. The CA key is dropped: nothing else is ever signed.
 */
export function listenerTls(user: string, validForMs = 7 * 24 * 3600_000): ListenerTls {
  const caName = `gatehouse listener CA ${randomBytes(4).toString("hex")}`;
  const ca = issueCertificate({ commonName: caName, ca: true, validForMs });
  const server = issueCertificate({ commonName: "gatehouse-listener", usage: ["server"], ips: ["127.0.0.1", "::1"], dnsNames: ["localhost"], validForMs }, { commonName: caName, key: ca.key });
  const client = issueCertificate({ commonName: user, usage: ["client"], validForMs }, { commonName: caName, key: ca.key });
  return { caPem: ca.certPem, serverCertPem: server.certPem, serverKeyPem: server.keyPem, clientCertPem: client.certPem, clientKeyPem: client.keyPem };
}
