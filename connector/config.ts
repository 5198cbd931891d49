/**
 * Connector configuration: the YAML file an operator writes, validated into `ConnectorConfig`.
 *
 *   gateway: https://gatehouse.example.com   # worker base URL; wss:// is derived
 *   id: dc1                                  # must match the worker's connector entry
 *   private_key: file:./connector-key.jwk    # Ed25519 private JWK, by reference
 *   resources: [...]                         # see postgres/config.ts
 *
 * Secrets are only accepted by reference (env:NAME, file:/path); inline values are refused.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { ConfigError } from "./errors.ts";
import { expectObject, expectOnlyKeys, expectString } from "./config-fields.ts";
import { parsePrivateJwk, assertEd25519PrivateJwk, type Ed25519PrivateJwk } from "./keys.ts";
import { parseSecretRef, type SecretRefContext } from "./secrets.ts";
import { parsePostgresResource, type PostgresResourceConfig } from "../protocols/postgres/connector/config.ts";
import { parseSshResource, type SshResourceConfig } from "../protocols/ssh/connector/config.ts";
import { RESOURCE_NAME_PATTERN, RESOURCE_NAME_RULE } from "../parsers/resource-name.ts";
import { parseHttpResource, type HttpResourceConfig } from "../protocols/http/connector/config.ts";
import { parseMysqlResource, type MysqlResourceConfig } from "../protocols/mysql/connector/config.ts";
import { parseKubernetesResource, type KubernetesResourceConfig } from "../protocols/kubernetes/connector/config.ts";

export type { PostgresResourceConfig, PostgresTlsConfig, PostgresTlsMode } from "../protocols/postgres/connector/config.ts";
export type { SecretSource } from "./secrets.ts";

/** Every resource type this connector can serve. */
export type ResourceConfig = PostgresResourceConfig | SshResourceConfig | HttpResourceConfig | MysqlResourceConfig | KubernetesResourceConfig;
export type { MysqlResourceConfig } from "../protocols/mysql/connector/config.ts";
export type { KubernetesResourceConfig } from "../protocols/kubernetes/connector/config.ts";
export type { HttpResourceConfig } from "../protocols/http/connector/config.ts";
export type { SshResourceConfig } from "../protocols/ssh/connector/config.ts";

export interface ConnectorConfig {
  /** Worker base URL: http(s):// or ws(s)://, optionally with a path prefix. */
  gateway: string;
  /** Connector id; the `kid`/`iss` of its assertions. */
  id: string;
  /** Ed25519 private JWK. */
  privateKey: Ed25519PrivateJwk;
  resources: ResourceConfig[];
}

export const CONNECTOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const RESOURCE_NAME = RESOURCE_NAME_PATTERN;
const RESOURCE_TYPES = ["postgres", "ssh", "http", "mysql", "kubernetes"] as const;
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Hosts where a plaintext ws:// connection never leaves the machine. */
function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The WebSocket base URL for a gateway URL (http → ws, https → wss), without a trailing slash.
 * Plaintext is refused unless the worker is on this machine: database traffic and assertions
 * would otherwise cross the network in clear.
 */
export function gatewayWebSocketBase(field: string, gateway: string): string {
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new ConfigError(field, `is not a valid URL: ${JSON.stringify(gateway)}`);
  }
  const scheme = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[url.protocol];
  if (!scheme) throw new ConfigError(field, "must be an http://, https://, ws:// or wss:// URL");
  if (url.username || url.password) throw new ConfigError(field, "must not contain credentials");
  if (url.search || url.hash) throw new ConfigError(field, "must not contain a query or fragment");
  if (scheme === "ws:" && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(field, "plaintext http:// / ws:// is only allowed for a worker on this machine (localhost); use https://");
  }
  return `${scheme}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

/** Validate a parsed YAML document. `ctx.baseDir` anchors relative `file:` references. */
export function parseConnectorConfig(raw: unknown, ctx: SecretRefContext): ConnectorConfig {
  const root = expectObject("(top level)", raw);
  expectOnlyKeys("", root, ["gateway", "id", "private_key", "resources"]);
  const gateway = expectString("gateway", root.gateway, { maxLength: 2048 });
  gatewayWebSocketBase("gateway", gateway);
  const id = expectString("id", root.id, { pattern: CONNECTOR_ID, patternHint: "letters, digits, . _ - (max 64), starting with a letter or digit" });
  const privateKey = parsePrivateJwk("private_key", parseSecretRef("private_key", root.private_key, ctx, "private key")());

  if (!Array.isArray(root.resources) || root.resources.length === 0) throw new ConfigError("resources", "must be a non-empty list");
  if (root.resources.length > 1000) throw new ConfigError("resources", "at most 1000 resources");
  const seen = new Set<string>();
  const resources = root.resources.map((entry, i): ResourceConfig => {
    const field = `resources[${i}]`;
    const obj = expectObject(field, entry);
    const name = expectString(`${field}.name`, obj.name, { pattern: RESOURCE_NAME, patternHint: RESOURCE_NAME_RULE });
    if (seen.has(name)) throw new ConfigError(`${field}.name`, `duplicate resource name ${JSON.stringify(name)}`);
    seen.add(name);
    const type = obj.type;
    if (type === "postgres") return parsePostgresResource(field, obj, name, ctx);
    if (type === "ssh") return parseSshResource(field, obj, name, ctx);
    if (type === "http") return parseHttpResource(field, obj, name, ctx);
    if (type === "mysql") return parseMysqlResource(field, obj, name, ctx);
    if (type === "kubernetes") return parseKubernetesResource(field, obj, name, ctx);
    throw new ConfigError(`${field}.type`, `${type === undefined ? "is required" : `unsupported type ${JSON.stringify(type)}`} (supported: ${RESOURCE_TYPES.join(", ")})`);
  });
  return { gateway, id, privateKey, resources };
}

/** Read, parse and validate a YAML configuration file. Throws ConfigError naming the field. */
export async function loadConnectorConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ConnectorConfig> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (err) {
    throw new ConfigError("(file)", `cannot read ${absolute} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError("(file)", `${absolute} is larger than ${MAX_CONFIG_BYTES} bytes`);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError("(yaml)", doc.errors[0]!.message);
  return parseConnectorConfig(doc.toJS({ maxAliasCount: 100 }), { baseDir: dirname(absolute), env });
}

/**
 * Checks for a programmatically built config (tests, the local stack): the same invariants the
 * loader enforces, minus reference resolution.
 */
export function validateConnectorConfig(config: ConnectorConfig): void {
  gatewayWebSocketBase("gateway", config.gateway);
  expectString("id", config.id, { pattern: CONNECTOR_ID });
  assertEd25519PrivateJwk("privateKey", config.privateKey);
  if (!Array.isArray(config.resources) || config.resources.length === 0) throw new ConfigError("resources", "must be a non-empty list");
  const seen = new Set<string>();
  config.resources.forEach((r, i) => {
    expectString(`resources[${i}].name`, r.name, { pattern: RESOURCE_NAME });
    if (seen.has(r.name)) throw new ConfigError(`resources[${i}].name`, `duplicate resource name ${JSON.stringify(r.name)}`);
    seen.add(r.name);
    const type: string = r.type;
    if (!(RESOURCE_TYPES as readonly string[]).includes(type)) throw new ConfigError(`resources[${i}].type`, `unsupported type ${JSON.stringify(type)}`);
    if ("password" in r && typeof r.password === "string" && r.password.length === 0) throw new ConfigError(`resources[${i}].password`, "must not be empty");
  });
}

export type { SecretRefContext };
