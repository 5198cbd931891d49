/**
 * The production worker bundle (scripts/worker-bundle.ts: `wrangler deploy --dry-run --outdir`)
 * served by workerd through Miniflare's API — not `wrangler dev` of the sources — configured as in
 * production: TLS on the worker's own listener, outbound TLS trusting only the CA the test gives
 * (the worker fetches OIDC discovery and JWKS from an HTTPS issuer), D1, R2 and Durable Object
 * storage persisted in a directory, and no development issuer.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface ProductionWorkerOptions {
  bundleDir: string;
  persistDir: string;
  /** Worker variables and secrets (GATEHOUSE_*). */
  vars: Record<string, string>;
  /** PEM key and certificate for the worker's HTTPS listener. */
  tls: { key: string; cert: string };
  /** PEM CA certificates trusted for the worker's outbound HTTPS (the issuer's). */
  trustedCertificates: string[];
}

export interface ProductionWorker {
  /** https://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
  /** Dispose and start again on the same port with the same persisted state. */
  restart(): Promise<void>;
}

function moduleType(name: string): "ESModule" | "CompiledWasm" | "Text" | undefined {
  if (name.endsWith(".js")) return "ESModule";
  if (name.endsWith(".wasm")) return "CompiledWasm";
  if (name.endsWith(".sql")) return "Text";
  return undefined;
}

function tomlValue(key: string): string {
  const m = new RegExp(`^${key}\\s*=\\s*(.+)$`, "m").exec(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  if (!m) throw new Error(`wrangler.toml has no ${key}`);
  return m[1]!;
}

export async function startProductionWorker(opts: ProductionWorkerOptions): Promise<ProductionWorker> {
  // index.js first: the entry module.
  const files = readdirSync(opts.bundleDir)
    .filter((n) => moduleType(n) !== undefined)
    .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  const modules = files.map((n) => ({ type: moduleType(n)!, path: path.join(opts.bundleDir, n) }));
  const options = (port: number) => ({
    modules,
    modulesRoot: opts.bundleDir,
    compatibilityDate: JSON.parse(tomlValue("compatibility_date")) as string,
    compatibilityFlags: JSON.parse(tomlValue("compatibility_flags")) as string[],
    host: "127.0.0.1",
    port,
    https: true,
    httpsKey: opts.tls.key,
    httpsCert: opts.tls.cert,
    bindings: opts.vars,
    durableObjects: {
      SESSIONS: { className: "SessionObject", useSQLite: true },
      CONNECTOR_HUB: { className: "ConnectorHub", useSQLite: true },
      APPROVALS: { className: "ApprovalsObject", useSQLite: true },
      SESSION_LIMITER: { className: "SessionLimiter", useSQLite: true },
      EXPORTER: { className: "ExportObject", useSQLite: true },
    },
    d1Databases: ["DB"],
    r2Buckets: ["RECORDINGS"],
    defaultPersistRoot: opts.persistDir,
    // The worker's outbound fetches (OIDC discovery, JWKS, export sinks): TLS verified against
    // the given CAs only; loopback allowed because the test's issuer listens there.
    outboundService: { network: { allow: ["public", "private", "local"], tlsOptions: { trustedCertificates: opts.trustedCertificates } } },
  }) satisfies ConstructorParameters<typeof Miniflare>[0];
  let mf = new Miniflare(options(0));
  const url = await mf.ready;
  return {
    url: url.origin,
    stop: () => mf.dispose(),
    restart: async () => {
      await mf.dispose();
      mf = new Miniflare(options(Number(url.port)));
      await mf.ready;
    },
  };
}
