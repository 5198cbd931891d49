/**
 * `GATEHOUSE_EXPORT`: where verified trails are shipped (docs/EXPORT.md). A JSON array of sinks:
 *
 *   [{ "name": "splunk", "kind": "http", "url": "https://siem.example/ingest", "format": "ocsf",
 *      "authorization_secret": "GATEHOUSE_EXPORT_SPLUNK_AUTH" },
 *    { "name": "archive", "kind": "r2", "prefix": "export/", "format": "jsonl" }]
 *
 * Secrets are never in the variable: `authorization_secret` names another worker secret whose value
 * is sent as the Authorization header (e.g. "Splunk <HEC token>", "Bearer …", "ApiKey …").
 * HTTP sinks must be https:// (http:// only to loopback, for local receivers and tests).
 */
import { SIEM_FORMATS, type SiemFormat } from "../../parsers/audit/siem.ts";
import { ConfigurationError } from "../errors.ts";

export interface HttpSink {
  name: string;
  kind: "http";
  format: SiemFormat;
  url: string;
  authorizationSecret?: string;
  batchRecords: number;
}

export interface R2Sink {
  name: string;
  kind: "r2";
  format: SiemFormat;
  prefix: string;
  batchRecords: number;
}

export type ExportSink = HttpSink | R2Sink;

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const SECRET = /^GATEHOUSE_EXPORT_[A-Z0-9_]{1,64}$/;
const DEFAULT_BATCH = 500;

export function parseExportConfig(text: string | undefined): ExportSink[] {
  if (text === undefined || text.trim() === "") return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigurationError("GATEHOUSE_EXPORT is not valid JSON");
  }
  if (!Array.isArray(raw)) throw new ConfigurationError("GATEHOUSE_EXPORT must be a JSON array of sinks");
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const where = `GATEHOUSE_EXPORT[${i}]`;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) throw new ConfigurationError(`${where} must be an object`);
    const e = entry as Record<string, unknown>;
    const known = new Set(["name", "kind", "format", "url", "authorization_secret", "prefix", "batch_records"]);
    for (const k of Object.keys(e)) if (!known.has(k)) throw new ConfigurationError(`${where}.${k} is not a sink field (known: ${[...known].join(", ")})`);
    if (typeof e.name !== "string" || !NAME.test(e.name)) throw new ConfigurationError(`${where}.name must match ${NAME}`);
    if (seen.has(e.name)) throw new ConfigurationError(`${where}.name ${e.name} is used twice`);
    seen.add(e.name);
    const format = (e.format ?? "jsonl") as SiemFormat;
    if (!SIEM_FORMATS.includes(format)) throw new ConfigurationError(`${where}.format must be one of ${SIEM_FORMATS.join(", ")}`);
    const batch = e.batch_records ?? DEFAULT_BATCH;
    if (!Number.isInteger(batch) || (batch as number) < 1 || (batch as number) > 5000) throw new ConfigurationError(`${where}.batch_records must be 1..5000`);
    if (e.kind === "http") {
      if (e.prefix !== undefined) throw new ConfigurationError(`${where}.prefix is for r2 sinks`);
      let url: URL;
      try {
        url = new URL(String(e.url));
      } catch {
        throw new ConfigurationError(`${where}.url is not a URL`);
      }
      const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
      if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new ConfigurationError(`${where}.url must be https:// (http:// only to loopback)`);
      if (url.username || url.password) throw new ConfigurationError(`${where}.url must not carry credentials: use authorization_secret`);
      if (e.authorization_secret !== undefined && (typeof e.authorization_secret !== "string" || !SECRET.test(e.authorization_secret))) {
        throw new ConfigurationError(`${where}.authorization_secret must name a worker secret GATEHOUSE_EXPORT_<NAME>`);
      }
      return { name: e.name, kind: "http", format, url: url.toString(), batchRecords: batch as number, ...(e.authorization_secret ? { authorizationSecret: e.authorization_secret as string } : {}) };
    }
    if (e.kind === "r2") {
      if (e.url !== undefined || e.authorization_secret !== undefined) throw new ConfigurationError(`${where}: url and authorization_secret are for http sinks`);
      const prefix = e.prefix ?? "export/";
      // Recordings live in the same bucket under other prefixes: an export must never overwrite them.
      if (typeof prefix !== "string" || !/^[a-z0-9][a-z0-9/_-]{0,63}\/$/.test(prefix) || prefix.startsWith("sessions/")) {
        throw new ConfigurationError(`${where}.prefix must be a path ending in / (not sessions/)`);
      }
      return { name: e.name, kind: "r2", format, prefix, batchRecords: batch as number };
    }
    throw new ConfigurationError(`${where}.kind must be http or r2`);
  });
}
