/**
 * The `type: ssh` resource: where the host is, which account the connector logs in as, the
 * credential only the connector holds (by reference), and the host's public key pinned in the
 * configuration (no trust on first use: a mismatch refuses the connection).
 *
 *   - name: web-1
 *     type: ssh
 *     host: 10.0.0.5
 *     port: 22
 *     username: deploy
 *     private_key: file:/etc/gatehouse/web-1.key     # or password: env:WEB1_PASSWORD
 *     passphrase: env:WEB1_KEY_PASSPHRASE            # optional, for an encrypted private key
 *     host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…"   # or "SHA256:…" (ssh-keygen -lf)
 */
import { ConfigError } from "../../../connector/errors.ts";
import { expectLabels, expectOnlyKeys, expectPort, expectString } from "../../../connector/config-fields.ts";
import { parseSecretRef, type SecretRefContext, type SecretSource } from "../../../connector/secrets.ts";

export interface SshResourceConfig {
  name: string;
  type: "ssh";
  labels: Record<string, string>;
  host: string;
  port: number;
  username: string;
  /** OpenSSH/PEM private key text (by reference). */
  privateKey?: SecretSource;
  passphrase?: SecretSource;
  password?: SecretSource;
  /** The pinned host key: the raw public key blob, or its SHA-256 fingerprint. */
  hostKey: PinnedHostKey;
}

export type PinnedHostKey = { kind: "key"; algorithm: string; blob: Buffer } | { kind: "fingerprint"; sha256: string };

const FIELDS = ["name", "type", "labels", "host", "port", "username", "private_key", "passphrase", "password", "host_key"] as const;
const HOST = /^[A-Za-z0-9._:%\[\]-]+$/;
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;

export function parseSshResource(field: string, raw: Record<string, unknown>, name: string, ctx: SecretRefContext): SshResourceConfig {
  expectOnlyKeys(field, raw, FIELDS);
  const resource: SshResourceConfig = {
    name,
    type: "ssh",
    labels: expectLabels(`${field}.labels`, raw.labels),
    host: expectString(`${field}.host`, raw.host, { pattern: HOST, patternHint: "must be a host name or IP address" }),
    port: expectPort(`${field}.port`, raw.port, 22),
    username: expectString(`${field}.username`, raw.username, { pattern: USER, patternHint: "must be a user name (letters, digits, . _ -)" }),
    hostKey: parsePinnedHostKey(`${field}.host_key`, raw.host_key),
  };
  const hasKey = raw.private_key !== undefined && raw.private_key !== null;
  const hasPassword = raw.password !== undefined && raw.password !== null;
  if (hasKey === hasPassword) throw new ConfigError(field, "needs exactly one of private_key or password (each an env:NAME or file:/path reference)");
  if (hasKey) resource.privateKey = parseSecretRef(`${field}.private_key`, raw.private_key, ctx, "private key");
  if (hasPassword) resource.password = parseSecretRef(`${field}.password`, raw.password, ctx, "password");
  if (raw.passphrase !== undefined && raw.passphrase !== null) {
    if (!hasKey) throw new ConfigError(`${field}.passphrase`, "only applies with private_key");
    resource.passphrase = parseSecretRef(`${field}.passphrase`, raw.passphrase, ctx, "passphrase");
  }
  return resource;
}

/**
 * `ssh-ed25519 AAAA… [comment]` (an OpenSSH public key or a known_hosts line without the host
 * column) or `SHA256:<base64>` as printed by `ssh-keygen -lf`. Public data: inline is fine.
 */
export function parsePinnedHostKey(field: string, value: unknown): PinnedHostKey {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(field, "is required: the host's public key (\"ssh-ed25519 AAAA…\") or its fingerprint (\"SHA256:…\"), e.g. from ssh-keyscan or ssh-keygen -lf");
  }
  const text = value.trim();
  if (text.startsWith("SHA256:")) {
    const b64 = text.slice(7).replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]{43}$/.test(b64)) throw new ConfigError(field, "SHA256 fingerprint must be 43 base64 characters after 'SHA256:'");
    return { kind: "fingerprint", sha256: b64 };
  }
  const parts = text.split(/\s+/);
  // Accept a known_hosts line too: skip a leading host pattern column.
  const start = parts.length >= 3 && !parts[0]!.startsWith("ssh-") && !parts[0]!.startsWith("ecdsa-") ? 1 : 0;
  const algorithm = parts[start];
  const b64 = parts[start + 1];
  if (!algorithm || !b64 || !/^(ssh-|ecdsa-|sk-)/.test(algorithm) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new ConfigError(field, "must be an OpenSSH public key (\"ssh-ed25519 AAAA…\") or a fingerprint (\"SHA256:…\")");
  }
  const blob = Buffer.from(b64, "base64");
  // The blob starts with the algorithm name as an SSH string: a cheap consistency check.
  const nameLen = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (nameLen <= 0 || blob.length < 4 + nameLen || blob.subarray(4, 4 + nameLen).toString("latin1") !== algorithm) {
    throw new ConfigError(field, `the key data does not match its algorithm ${JSON.stringify(algorithm)}`);
  }
  return { kind: "key", algorithm, blob };
}
