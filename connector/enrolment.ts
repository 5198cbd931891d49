/**
 * `gatehouse-connector enroll` and `rotate-key` (docs/CONNECTOR.md §Enrolment): the key pair is
 * generated here and its private half never leaves this machine; the worker receives the public
 * key with a proof that we hold the private one (parsers/tunnel/enrolment.ts).
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { calculateJwkThumbprint, importJWK, SignJWT, type CryptoKey } from "jose";
import { parseDocument } from "yaml";
import { KEY_PROOF_AUDIENCE, KEY_PROOF_TYPE, enrolProofSubject, rotateProofSubject, type EnrolResponse } from "../parsers/tunnel/enrolment.ts";
import { signConnectorAssertion } from "./assertion.ts";
import { CONNECTOR_ID, gatewayWebSocketBase } from "./config.ts";
import { expectObject, expectString } from "./config-fields.ts";
import { ConfigError } from "./errors.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey, parsePrivateJwk, publicJwkOf, type Ed25519PrivateJwk } from "./keys.ts";
import { CONNECTOR_VERSION } from "./version.ts";

export const KEY_FILE = "connector-key.jwk";
export const CONFIG_FILE = "connector.yaml";

/** http(s) base of the worker for a configured gateway URL (ws(s) → http(s)); plaintext only to localhost. */
export function gatewayHttpBase(gateway: string): string {
  return gatewayWebSocketBase("gateway", gateway).replace(/^ws/, "http");
}

async function keyProof(key: CryptoKey, subject: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", typ: KEY_PROOF_TYPE })
    .setAudience(KEY_PROOF_AUDIENCE)
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(key);
}

/** Create a file that must not exist yet, mode 0600 (also when the umask is loose). */
async function writeNew(path: string, text: string): Promise<void> {
  const file = await open(path, "wx", 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EEXIST") throw new Error(`${path} already exists; enrol into an empty directory`);
    throw err;
  });
  try {
    await file.chmod(0o600);
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "user-agent": `gatehouse-connector/${CONNECTOR_VERSION}`, ...headers },
    body: JSON.stringify(body),
    redirect: "error",
  });
  const text = await res.text();
  let parsed: { reason?: string; error?: string } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw new Error(`the gateway refused (${res.status}${parsed?.error ? ` ${parsed.error}` : ""}): ${parsed?.reason ?? text.slice(0, 200)}`);
  return parsed;
}

export interface EnrolResult {
  id: string;
  thumbprint: string;
  configPath: string;
  keyPath: string;
}

/** Generate a key pair, register its public half with the token, write key + config skeleton (0600). */
export async function enrolConnector(opts: { gateway: string; token: string; outDir: string }): Promise<EnrolResult> {
  const base = gatewayHttpBase(opts.gateway);
  const dir = resolve(opts.outDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, KEY_FILE);
  const configPath = join(dir, CONFIG_FILE);
  const { privateJwk, publicJwk } = await generateConnectorKeyPair();
  // Key first, with O_EXCL: never overwrite a key some worker may already trust.
  await writeNew(keyPath, `${JSON.stringify(privateJwk)}\n`);
  let response: EnrolResponse;
  try {
    const tokenHash = createHash("sha256").update(opts.token).digest("hex");
    const proof = await keyProof(await importConnectorPrivateKey(privateJwk), enrolProofSubject(tokenHash));
    response = (await postJson(`${base}/v1/connector/enroll`, { token: opts.token, public_key: publicJwk, proof })) as EnrolResponse;
  } catch (err) {
    await rm(keyPath, { force: true });
    throw err;
  }
  if (!CONNECTOR_ID.test(response.id)) throw new Error(`the gateway answered an invalid connector id ${JSON.stringify(response.id)}`);
  await writeNew(configPath, configSkeleton(opts.gateway, response.id));
  return { id: response.id, thumbprint: response.thumbprint, configPath, keyPath };
}

function configSkeleton(gateway: string, id: string): string {
  return `# Written by \`gatehouse-connector enroll\` (docs/CONNECTOR.md). Add the resources this connector
# serves, then: gatehouse-connector check --config ${CONFIG_FILE}
gateway: ${JSON.stringify(gateway)}
id: ${id}
# The Ed25519 private key generated at enrolment; only its public half was sent to the gateway.
private_key: file:./${KEY_FILE}
resources:
  # - name: orders-pg
  #   type: postgres
  #   host: 127.0.0.1
  #   database: orders
  #   credentials:
  #     read: { username: gatehouse_reader, password: env:ORDERS_PG_READER_PASSWORD }
  #   tls: { mode: verify-full, ca: file:/etc/ssl/certs/db-ca.pem }
`;
}

/**
 * Rotate the connector's key: a new pair, registered with an assertion signed by the current key
 * (proof we are this connector) and a proof of the new key. The new key is written beside the
 * old one first and moved over it only once the worker accepted it, so a failure loses nothing.
 * The running connector keeps its old key until restarted (docs/CONNECTOR.md).
 */
export async function rotateConnectorKey(configPath: string): Promise<{ id: string; thumbprint: string; keyPath: string }> {
  const absolute = resolve(configPath);
  const doc = parseDocument(await readFile(absolute, "utf8"), { uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError("(yaml)", doc.errors[0]!.message);
  const root = expectObject("(top level)", doc.toJS());
  const gateway = expectString("gateway", root.gateway, { maxLength: 2048 });
  const id = expectString("id", root.id, { pattern: CONNECTOR_ID });
  const ref = expectString("private_key", root.private_key);
  if (!ref.startsWith("file:")) throw new ConfigError("private_key", "rotate-key needs a file: reference, so the new key can replace the old one");
  const keyPath = isAbsolute(ref.slice(5)) ? ref.slice(5) : resolve(dirname(absolute), ref.slice(5));
  const current: Ed25519PrivateJwk = parsePrivateJwk("private_key", await readFile(keyPath, "utf8"));
  const currentKey = await importConnectorPrivateKey(current);
  const oldThumbprint = await calculateJwkThumbprint(publicJwkOf(current), "sha256");

  const { privateJwk, publicJwk } = await generateConnectorKeyPair();
  const pending = `${keyPath}.new`;
  await rm(pending, { force: true });
  await writeNew(pending, `${JSON.stringify(privateJwk)}\n`);
  let response: EnrolResponse;
  try {
    const assertion = await signConnectorAssertion(currentKey, id);
    const proof = await keyProof((await importJWK(privateJwk, "EdDSA")) as CryptoKey, rotateProofSubject(id, oldThumbprint));
    response = (await postJson(`${gatewayHttpBase(gateway)}/v1/connector/rotate-key`, { public_key: publicJwk, proof }, { authorization: `Bearer ${assertion}` })) as EnrolResponse;
  } catch (err) {
    await rm(pending, { force: true });
    throw err;
  }
  await rename(pending, keyPath);
  return { id, thumbprint: response.thumbprint, keyPath };
}
