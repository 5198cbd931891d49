/**
 * Per-tenant secrets for notification targets and SIEM export sinks (hosted mode). A tenant's
 * policy and export config name secrets exactly as a single-tenant deployment does
 * (`secret: env:GATEHOUSE_WEBHOOK_OPS`, `authorization_secret: GATEHOUSE_EXPORT_SPLUNK_AUTH`);
 * in hosted mode those names are looked up in the tenant's own secrets and nowhere else:
 *
 *  - set by platform administrators (`secrets` at creation, or PATCH with a value / null to
 *    remove), never shown back — only their names;
 *  - stored in the registry encrypted with AES-256-GCM under GATEHOUSE_PLATFORM_SECRETS_KEY (a
 *    platform secret, 64 hex characters); without that key secrets are refused, never stored in clear;
 *  - decrypted into the tenant's Env only (tenant-env.ts): a name another tenant set is simply not
 *    there, so tenant A cannot reach B's secrets by naming them, and platform variables are never
 *    in a tenant's Env at all.
 */
import { ConfigurationError } from "../errors.ts";
import { base64Decode, base64Encode, hexToBytes } from "../../parsers/encoding/hex-base64.ts";

/**
 * The tenant's sign-in client secrets (OIDC `client_secret`, docs/TENANCY.md "Sign-in and the
 * console") are sealed in the same blob under `signin:<provider id>`: a name no secret can be
 * given by hand and that is never a variable of the tenant's Env (tenant-env.ts puts them back
 * into its GATEHOUSE_SIGNIN only).
 */
export const SIGNIN_SECRET_PREFIX = "signin:";

/** The sealed map split into the secrets set by name and the sign-in client secrets. */
export function splitSecrets(all: Record<string, string>): { own: Record<string, string>; signin: Record<string, string> } {
  const own: Record<string, string> = {};
  const signin: Record<string, string> = {};
  for (const [name, value] of Object.entries(all)) (name.startsWith(SIGNIN_SECRET_PREFIX) ? signin : own)[name] = value;
  return { own, signin };
}

/** The names a secret may have: the prefixes notification targets and export sinks may name. */
export const TENANT_SECRET_NAME = /^GATEHOUSE_(WEBHOOK|SLACK|NOTIFY|EXPORT)_[A-Z0-9_]{1,48}$/;
const MAX_SECRETS = 32;
const MAX_VALUE = 4096;

async function key(hex: string | undefined): Promise<CryptoKey> {
  if (!hex || !/^[0-9a-fA-F]{64}$/.test(hex.trim())) {
    throw new ConfigurationError("secrets: this platform has no GATEHOUSE_PLATFORM_SECRETS_KEY (64 hex characters), so tenant secrets cannot be stored encrypted");
  }
  return crypto.subtle.importKey("raw", hexToBytes(hex.trim()), "AES-GCM", false, ["encrypt", "decrypt"]);
}

const b64 = base64Encode;
const unb64 = base64Decode;

/** Applies a change ({NAME: value | null}) to the current secrets; validated whole. */
export function changedSecrets(current: Record<string, string>, change: unknown): Record<string, string> {
  if (typeof change !== "object" || change === null || Array.isArray(change)) throw new ConfigurationError("secrets must be an object of NAME: value (null removes one)");
  const next = { ...current };
  for (const [name, value] of Object.entries(change)) {
    if (!TENANT_SECRET_NAME.test(name)) throw new ConfigurationError(`secrets: ${JSON.stringify(name.slice(0, 80))} is not a secret name (GATEHOUSE_WEBHOOK_…, GATEHOUSE_SLACK_…, GATEHOUSE_NOTIFY_… or GATEHOUSE_EXPORT_…, capitals, digits and _)`);
    if (value === null) delete next[name];
    else if (typeof value !== "string" || value === "" || value.length > MAX_VALUE) throw new ConfigurationError(`secrets.${name} must be a non-empty string of at most ${MAX_VALUE} characters`);
    else next[name] = value;
  }
  if (Object.keys(next).length > MAX_SECRETS) throw new ConfigurationError(`secrets: at most ${MAX_SECRETS} per tenant`);
  return next;
}

/** The tenant name is bound into the ciphertext: a blob copied onto another tenant's record does not decrypt. */
export async function sealSecrets(platformKey: string | undefined, tenant: string, secrets: Record<string, string>): Promise<string | null> {
  if (Object.keys(secrets).length === 0) return null;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(JSON.stringify(secrets));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(`gatehouse-tenant:${tenant}`) }, await key(platformKey), data));
  return `v1.${b64(iv)}.${b64(sealed)}`;
}

const opened = new Map<string, Promise<Record<string, string>>>();

export function openSecrets(platformKey: string | undefined, tenant: string, sealed: string | null | undefined): Promise<Record<string, string>> {
  if (!sealed) return Promise.resolve({});
  const cacheKey = `${platformKey ?? ""}\n${tenant}\n${sealed}`;
  let p = opened.get(cacheKey);
  if (!p) {
    p = (async () => {
      const [v, iv, ct] = sealed.split(".");
      if (v !== "v1" || !iv || !ct) throw new ConfigurationError(`tenant ${tenant}: stored secrets are unreadable`);
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(iv), additionalData: new TextEncoder().encode(`gatehouse-tenant:${tenant}`) }, await key(platformKey), unb64(ct));
      return JSON.parse(new TextDecoder().decode(plain)) as Record<string, string>;
    })();
    if (opened.size > 1000) opened.clear();
    opened.set(cacheKey, p);
    p.catch(() => opened.delete(cacheKey));
  }
  return p;
}
