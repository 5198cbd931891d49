/**
 * Secret references: `env:NAME` or `file:/path`. Secrets are never written inline in the
 * configuration (it ends up in repositories, tickets and screenshots); the file only says where
 * the secret lives.
 *
 * A reference becomes a provider that is asked again on every use, so a rotated file (Kubernetes
 * secret volume, Vault agent) is picked up by the next connection without a restart.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "./errors.ts";

/** A secret as the running connector sees it: the value itself (programmatic use) or a provider. */
export type SecretSource = string | (() => string | Promise<string>);

/** Largest secret we read from a file; a password or a JWK is far smaller. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
/**
 * Largest CA bundle we read: a CA bundle is public and can be big (Debian's system bundle,
 * /etc/ssl/certs/ca-certificates.crt, is ~220 KB), so it gets its own bound.
 */
export const MAX_CA_BUNDLE_BYTES = 4 * 1024 * 1024;

export interface SecretRefContext {
  /** Directory that relative `file:` paths are resolved against (the config file's directory). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

export function isSecretRef(value: string): boolean {
  return value.startsWith("env:") || value.startsWith("file:");
}

/** Read a file secret, dropping one trailing newline (what `echo` and most editors add). */
function readSecretFile(field: string, path: string, maxBytes = MAX_SECRET_FILE_BYTES): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(field, `cannot read secret file ${path} (${code})`);
  }
  if (raw.length > maxBytes) throw new ConfigError(field, `secret file ${path} is larger than ${maxBytes} bytes`);
  const text = raw.toString("utf8").replace(/\r?\n$/, "");
  if (text.length === 0) throw new ConfigError(field, `secret file ${path} is empty`);
  return text;
}

function readSecretEnv(field: string, name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name];
  if (value === undefined || value === "") throw new ConfigError(field, `environment variable ${name} is not set`);
  return value;
}

/**
 * Validate a reference and check that it resolves now (fail at startup, not at the first
 * session). Returns a provider that resolves it again on every call.
 */
export function parseSecretRef(field: string, value: unknown, ctx: SecretRefContext, what = "secret", maxFileBytes = MAX_SECRET_FILE_BYTES): () => string {
  if (typeof value !== "string" || value.length === 0) throw new ConfigError(field, `must be a reference to the ${what}: env:NAME or file:/path`);
  if (value.startsWith("env:")) {
    const name = value.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(field, `invalid environment variable name in ${JSON.stringify(value)}`);
    readSecretEnv(field, name, ctx.env);
    return () => readSecretEnv(field, name, ctx.env);
  }
  if (value.startsWith("file:")) {
    const raw = value.slice(5);
    if (raw.length === 0) throw new ConfigError(field, "file: reference without a path");
    const path = isAbsolute(raw) ? raw : resolve(ctx.baseDir, raw);
    readSecretFile(field, path, maxFileBytes);
    return () => readSecretFile(field, path, maxFileBytes);
  }
  // Deliberately do not echo the value: it is probably the secret itself.
  throw new ConfigError(
    field,
    `inline ${what}s are refused — the configuration file is not a safe place for them. ` +
      `Put the ${what} in an environment variable or a file readable only by the connector and write env:NAME or file:/path here`,
  );
}

/**
 * A CA bundle for verifying a target (`tls.ca` of every resource type): inline PEM (it is public,
 * so the configuration may hold it), or an env:/file: reference, re-read on every use like a
 * secret. Every read must hold at least one PEM certificate.
 */
export function parseCaBundle(field: string, value: unknown, ctx: SecretRefContext): () => string {
  const checked = (pem: string): string => {
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(field, "is not a PEM certificate bundle");
    return pem;
  };
  if (typeof value === "string" && value.trimStart().startsWith("-----BEGIN")) {
    const pem = checked(value);
    return () => pem;
  }
  const read = parseSecretRef(field, value, ctx, "CA certificate", MAX_CA_BUNDLE_BYTES);
  checked(read());
  return () => checked(read());
}

export async function resolveSecret(source: SecretSource | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  return typeof source === "string" ? source : await source();
}
