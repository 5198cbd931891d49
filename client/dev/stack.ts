/**
 * The one-command local stack (`npm start`) and the engine of the end-to-end test harness
 * (test/harness/stack.ts): demo PostgreSQL + ⚠ development OIDC issuer + connector + worker
 * (wrangler dev), wired together exactly as a deployment would be, only on loopback.
 *
 *   client ──ws──▶ worker (wrangler dev :8787) ◀──ws── connector ──tcp──▶ demo PostgreSQL
 *                      │ verifies tokens against
 *                      ▼
 *               dev issuer (:8788, JWKS + discovery)
 */
import { rmSync } from "node:fs";
import { chmod, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { JWK } from "jose";
import { startConnector, type RunningConnector } from "../../connector/connector.ts";
import type { ConnectorConfig, PostgresResourceConfig, ResourceConfig } from "../../connector/config.ts";
import { generateConnectorKeyPair, parsePrivateJwk, publicJwkOf, type Ed25519PrivateJwk } from "../../connector/keys.ts";
import { silentLogger, createStderrLogger, type Logger } from "../../connector/logger.ts";
import { GatewayClient, parseGatewayUrl } from "../gateway/api.ts";
import { DEV_DEFAULT_AUDIENCE, DEV_ISSUER_ALG, DEV_ISSUER_DEFAULT_PORT, startDevIssuer, type DevIssuer } from "./issuer.ts";
import { startDemoPg, type DemoPg } from "./demo-pg.ts";
import { TRAVERSE_ONLY, demoServersDir, ensureDemoServersDir, ensureDir, makeTreePrivate, readIfExists, writeSecretFile } from "./home.ts";
import { freePort, portInUse } from "./ports.ts";
import { startWrangler, type RunningWorker, type WorkerVars } from "./wrangler.ts";
import { sshdResource, startDemoSshd } from "./sshd.ts";
import { startDemoHttp } from "./demo-http.ts";
import { startDemoMysql } from "./demo-mysql.ts";
import type { HttpResourceConfig } from "../../protocols/http/connector/config.ts";
import type { SshResourceConfig } from "../../protocols/ssh/connector/config.ts";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const DEFAULT_GATEWAY_PORT = 8787;
export const DEFAULT_DEMO_PG_PORT = 5434;
export const DEFAULT_POLICY_FILE = path.join(REPO_ROOT, "examples/policies/demo.yaml");
export const DEMO_RESOURCE = "demo-pg";
export const LOCAL_CONNECTOR_ID = "local";
/**
 * State only this OS user may read: issuer key, connector key, worker secrets. The wrangler
 * persistence tree (D1 with the audit signing key, R2 recordings, DO storage) is locked down by
 * startWrangler itself, wherever it is.
 */
const PRIVATE_SUBDIRS = ["dev", "connector", "worker"];

/** A PostgreSQL the stack does not manage (tests bring their own). */
export interface ExternalPg {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

export interface LocalStackOptions {
  /** State directory: issuer key, connector key, demo-pg data, wrangler persistence. */
  home: string;
  /** Delete `home` on stop (tests). Also makes the demo cluster skip fsync. */
  ephemeral?: boolean;
  /** Worker port (default 8787; 0 = any free port). */
  gatewayPort?: number;
  /** Dev issuer port (default 8788; 0 = any free port). */
  issuerPort?: number;
  /** Dev issuer identifier (`iss`); default: the URL it is served at. See DevIssuerOptions.issuer. */
  issuerId?: string;
  /** Demo PostgreSQL port (default 5434; 0 = any free port). Ignored with an external `pg`. */
  pgPort?: number;
  /** "embedded" (default): the demo cluster; or an existing server the connector should front as `demo-pg`. */
  pg?: "embedded" | ExternalPg;
  /** Copy the demo cluster from an initdb template kept here instead of running initdb (tests; DemoPgOptions.initdbTemplates). */
  initdbTemplates?: string;
  /** Policy text (wins over policyFile). */
  policyYaml?: string;
  /** Policy file (default examples/policies/demo.yaml). */
  policyFile?: string;
  /** More resources for the connector, besides demo-pg. */
  extraResources?: ResourceConfig[];
  /** Start the connector (default true). */
  connector?: boolean;
  /** Wait until the worker reports demo-pg online (default true). */
  waitForConnector?: boolean;
  /** wrangler dev --persist-to (default `<home>/wrangler`). */
  persistTo?: string;
  /** Extra worker vars (override the generated ones). */
  workerVars?: Record<string, string>;
  /** More worker vars that depend on the dev issuer (e.g. hosted mode's GATEHOUSE_PLATFORM_ISSUERS); given its GATEHOUSE_ISSUERS entry. */
  workerVarsWithIssuer?: (devIssuer: Record<string, unknown>) => Record<string, string>;
  /** wrangler.toml to run (default: the repo's). */
  wranglerConfig?: string;
  /** Stop and fail when the worker reports its configuration invalid (default true; see WranglerOptions). */
  requireReady?: boolean;
  /**
   * Another runtime for the worker instead of `wrangler dev` (the benchmark's standalone workerd
   * self-host build, bench/lib/selfhost.ts): given the port and the vars, resolves once it answers.
   */
  startWorker?: (o: { port: number; vars: WorkerVars }) => Promise<RunningWorker>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Connector logs (default: silent). */
  connectorLogger?: Logger;
  /** Worker (wrangler) output lines (default: none). */
  workerLog?: (line: string) => void;
}

export interface StackPg {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** Superuser credentials (embedded only) for server-side assertions in tests. */
  superuser?: { user: string; password: string };
  /** The read and write access levels' logins (embedded only); `user` is the admin level. */
  levels?: Record<"read" | "write", { user: string; password: string }>;
}

export interface MintTokenOptions {
  sub?: string;
  /** Extra claims; `groups` conventionally an array. */
  claims?: Record<string, unknown>;
  audience?: string | string[];
  ttlSeconds?: number;
}

export interface LocalStack {
  home: string;
  gatewayUrl: string;
  /** Where the dev issuer is served (discovery and JWKS live under it). */
  issuerUrl: string;
  /** The dev issuer identifier: `iss` of its tokens, what policies name. */
  issuerId: string;
  issuer: DevIssuer;
  pg: StackPg;
  /** The connector's id and public key as the worker knows it; `running` when started. */
  connector: { id: string; publicJwk: JWK; running?: RunningConnector };
  /** Resources the connector serves. */
  resources: string[];
  /** Where the policy came from (file path or "inline"). */
  policySource: string;
  /** The worker vars it was started with. */
  workerVars: WorkerVars;
  /** ⚠ Mint a development token trusted by this stack's worker. */
  mintToken(opts?: MintTokenOptions): Promise<string>;
  /** Stop everything (reverse order); idempotent. */
  stop(): Promise<void>;
}

async function loadPolicy(opts: LocalStackOptions): Promise<{ text: string; source: string; name: string }> {
  if (opts.policyYaml !== undefined) return { text: opts.policyYaml, source: "inline", name: "policy.yaml" };
  const file = path.resolve(opts.policyFile ?? DEFAULT_POLICY_FILE);
  const text = await readIfExists(file);
  if (text === undefined) {
    throw new Error(
      `policy file ${path.relative(process.cwd(), file) || file} does not exist.\n` +
        `Set GATEHOUSE_POLICY to a policy file (see docs/POLICY.md), or restore examples/policies/demo.yaml.`,
    );
  }
  return { text, source: file, name: path.basename(file) };
}

/** The local connector's key pair, generated once (private JWK, 0600). */
async function loadOrCreateConnectorKey(file: string): Promise<Ed25519PrivateJwk> {
  const existing = await readIfExists(file);
  if (existing) return parsePrivateJwk(file, existing);
  const { privateJwk } = await generateConnectorKeyPair();
  const jwk = { ...privateJwk, kid: LOCAL_CONNECTOR_ID };
  await writeSecretFile(file, `${JSON.stringify(jwk, null, 2)}\n`);
  return jwk;
}

/** The local tenant's masking HMAC key (hash-style masking rules), generated once (0600). */
async function loadOrCreateMaskingKey(file: string): Promise<string> {
  const existing = await readIfExists(file);
  if (existing?.trim()) return existing.trim();
  const key = randomBytes(32).toString("base64url");
  await writeSecretFile(file, `${key}\n`);
  return key;
}

async function choosePort(requested: number | undefined, fallback: number, what: string): Promise<number> {
  const port = requested ?? fallback;
  if (port === 0) return freePort();
  if (await portInUse(port)) throw new Error(`port ${port} (${what}) is already in use — is another stack running? (change it with the matching GATEHOUSE_*_PORT variable)`);
  return port;
}

/**
 * The SSH demo target: a throwaway OpenSSH sshd on a loopback port with its own user and key,
 * held only by the connector (`demo-ssh`). Started when sshd is installed and we may create the
 * demo account (root); otherwise the stack runs without it and says why.
 */
async function startSshDemo(home: string, log: (line: string) => void): Promise<{ resource: SshResourceConfig; stop: () => Promise<void> } | null> {
  // The demo account's home lives below: it must pass through, so as root it is outside the home.
  const servers = demoServersDir(home);
  const baseDir = servers ? path.join(servers, "demo-ssh") : path.join(home, "demo-ssh");
  await ensureDir(baseDir);
  await chmod(baseDir, TRAVERSE_ONLY);
  const sshd = await startDemoSshd({ baseDir }).catch((e: Error) => {
    log(`demo-ssh not started: ${e.message}`);
    return null;
  });
  if (!sshd) return null;
  log(`demo sshd on 127.0.0.1:${sshd.port} (host key ${sshd.hostFingerprint}, account ${sshd.user})`);
  return {
    stop: sshd.stop,
    resource: sshdResource(sshd, "demo-ssh", { labels: { env: "demo", owner: "gatehouse" } }),
  };
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  const home = path.resolve(opts.home);
  await ensureDir(home);
  // Private, even as root: the demo servers' own accounts keep their data outside it
  // (demoServersDir). Secrets left readable by an older version are locked down too.
  await chmod(home, 0o700);
  const servers = demoServersDir(home);
  if (servers) await ensureDemoServersDir(servers);
  for (const sub of PRIVATE_SUBDIRS) await makeTreePrivate(path.join(home, sub));
  const stops: Array<() => Promise<void>> = [];
  let stopped = false;
  // Best effort for a process that dies without stop(): never leave an ephemeral home behind.
  const removeHomeNow = () => rmSync(home, { recursive: true, force: true });
  if (opts.ephemeral) process.once("exit", removeHomeNow);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`stop: ${(err as Error).message}`));
    if (opts.ephemeral) {
      process.off("exit", removeHomeNow);
      await rm(home, { recursive: true, force: true });
      if (servers) await rm(servers, { recursive: true, force: true });
    }
  };

  try {
    const policy = await loadPolicy(opts);
    // A fixed gateway port is checked now (fail before starting anything); an automatic one is
    // picked right before wrangler binds it (below), so nothing started meanwhile can take it.
    const autoGatewayPort = (opts.gatewayPort ?? DEFAULT_GATEWAY_PORT) === 0;
    let gatewayPort = autoGatewayPort ? 0 : await choosePort(opts.gatewayPort, DEFAULT_GATEWAY_PORT, "gateway");

    // (a) demo PostgreSQL and (b) the dev issuer, concurrently.
    const issuerPort = await choosePort(opts.issuerPort, DEV_ISSUER_DEFAULT_PORT, "dev issuer");
    const pgPromise: Promise<DemoPg | ExternalPg> =
      opts.pg && opts.pg !== "embedded"
        ? Promise.resolve(opts.pg)
        : choosePort(opts.pgPort, DEFAULT_DEMO_PG_PORT, "demo PostgreSQL").then((port) =>
            startDemoPg({ dir: path.join(home, "demo-pg"), ...(servers ? { dataDir: path.join(servers, "demo-pg-data") } : {}), port, ephemeral: opts.ephemeral, initdbTemplates: opts.initdbTemplates, log }),
          );
    const [pgResult, issuerResult] = await Promise.allSettled([pgPromise, startDevIssuer({ port: issuerPort, issuer: opts.issuerId, keyFile: path.join(home, "dev", "issuer-key.json") })]);
    if (pgResult.status === "fulfilled" && "stop" in pgResult.value) stops.push((pgResult.value as DemoPg).stop);
    if (issuerResult.status === "fulfilled") stops.push(issuerResult.value.close);
    if (pgResult.status === "rejected") throw pgResult.reason;
    if (issuerResult.status === "rejected") throw issuerResult.reason;
    const pgInfo = pgResult.value;
    const issuer = issuerResult.value;
    log(`demo PostgreSQL on ${pgInfo.host}:${pgInfo.port} (database ${pgInfo.database}, role ${pgInfo.user})`);
    log(`DEVELOPMENT-ONLY OIDC issuer at ${issuer.url}${issuer.issuer !== issuer.url ? ` (issuer id ${issuer.issuer})` : ""}`);
    if (!policy.text.includes(issuer.issuer) && !/issuer:\s*dev\b/.test(policy.text)) {
      log(`note: the policy names neither 'issuer: dev' nor the dev issuer ${issuer.issuer}; its subjects may not match dev tokens`);
    }

    // Tests bring their own sshd; the demo target is for npm start.
    const sshDemo = opts.ephemeral ? null : await startSshDemo(home, log);
    if (sshDemo) stops.push(sshDemo.stop);
    // The MySQL demo target: a MariaDB with its own data directory, when the server is installed.
    const mysqlDemo = opts.ephemeral
      ? null
      : await startDemoMysql({
          dir: path.join(home, "demo-mysql"),
          dataDir: servers ? path.join(servers, "demo-mysql") : path.join(home, "demo-mysql", "server"),
          log,
        }).catch((e: Error) => {
          log(`demo-mysql not started: ${e.message}`);
          return null;
        });
    if (mysqlDemo) {
      stops.push(mysqlDemo.stop);
      log(`demo MariaDB on 127.0.0.1:${mysqlDemo.port} (database ${mysqlDemo.resource.database}, one account per access level, held by the connector)`);
    }
    // The HTTP demo target: a JSON API whose bearer token only the connector is given.
    const httpDemo = opts.ephemeral ? null : await startDemoHttp();
    let httpResource: HttpResourceConfig | null = null;
    if (httpDemo) {
      stops.push(httpDemo.stop);
      log(`demo HTTP API on ${httpDemo.url} (bearer token held by the connector only)`);
      httpResource = {
        name: "demo-http",
        type: "http",
        labels: { env: "demo", owner: "gatehouse" },
        url: new URL(httpDemo.url),
        credential: { kind: "bearer", token: () => httpDemo.token },
        dropCookies: true,
        identityHeaders: true,
      };
    }

    // (c) connector identity.
    const connectorKey = await loadOrCreateConnectorKey(path.join(home, "connector", "local-key.json"));
    const publicJwk = { ...publicJwkOf(connectorKey), kid: LOCAL_CONNECTOR_ID };

    // (d) the worker.
    const maskingKey = await loadOrCreateMaskingKey(path.join(home, "worker", "masking-key"));
    const devIssuer = {
      issuer: issuer.issuer,
      jwks_uri: issuer.jwksUri,
      audiences: [DEV_DEFAULT_AUDIENCE],
      algorithms: [DEV_ISSUER_ALG],
      max_token_lifetime_seconds: 3600,
      clock_skew_seconds: 30,
      dev: true,
    };
    const workerVarsFor = (gatewayUrl: string): WorkerVars => ({
      GATEHOUSE_ISSUERS: JSON.stringify([devIssuer]),
      GATEHOUSE_CONNECTORS: JSON.stringify([{ id: LOCAL_CONNECTOR_ID, public_key: publicJwk }]),
      GATEHOUSE_POLICY: policy.text,
      GATEHOUSE_POLICY_SOURCE: policy.name,
      GATEHOUSE_PUBLIC_URL: gatewayUrl,
      GATEHOUSE_MASKING_KEY: maskingKey,
      // People sign in to the console with the dev issuer's login page (client/dev/issuer-authorize.ts).
      GATEHOUSE_SIGNIN: JSON.stringify({
        oidc: [{ id: "dev", label: "the development issuer", issuer: issuer.issuer, client_id: DEV_DEFAULT_AUDIENCE, authorization_endpoint: `${issuer.url}/authorize`, token_endpoint: `${issuer.url}/token` }],
      }),
      ...opts.workerVars,
      ...opts.workerVarsWithIssuer?.(devIssuer),
    });
    let worker: RunningWorker | undefined;
    for (let attempt = 1; !worker; attempt++) {
      if (autoGatewayPort) gatewayPort = await freePort();
      try {
        worker = opts.startWorker
          ? await opts.startWorker({ port: gatewayPort, vars: workerVarsFor(`http://127.0.0.1:${gatewayPort}`) })
          : await startWrangler({
              port: gatewayPort,
              persistTo: opts.persistTo ?? path.join(home, "wrangler"),
              vars: workerVarsFor(`http://127.0.0.1:${gatewayPort}`),
              config: opts.wranglerConfig,
              requireReady: opts.requireReady,
              log: opts.workerLog,
            });
      } catch (err) {
        // A free port can be taken between asking the kernel and wrangler binding it (an outgoing
        // connection's ephemeral port, say): with automatic ports, ask again. workerd has also been
        // seen to exit with only "Workers runtime failed to start" on a heavily loaded machine (one
        // of its own ports taken, it does not say which): the same retry, on fresh ports.
        const retryable = /Address already in use|Workers runtime failed to start/.test((err as Error).message);
        if (!(autoGatewayPort && attempt < 3 && retryable)) throw err;
        log(`wrangler dev did not start on port ${gatewayPort} (${(err as Error).message.split("\n")[0]}); trying another`);
      }
    }
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const workerVars = workerVarsFor(gatewayUrl);
    stops.push(worker.stop);
    log(`worker (${opts.startWorker ? "custom runtime" : "wrangler dev"}) at ${gatewayUrl}`);

    const pg: StackPg = {
      host: pgInfo.host,
      port: pgInfo.port,
      database: pgInfo.database,
      user: pgInfo.user,
      password: pgInfo.password,
      ...("superuser" in pgInfo ? { superuser: pgInfo.superuser } : {}),
      ...("levels" in pgInfo ? { levels: { read: { user: pgInfo.levels.read.user, password: pgInfo.levels.read.password }, write: { user: pgInfo.levels.write.user, password: pgInfo.levels.write.password } } } : {}),
    };
    // By reference, as in a real deployment: the connector reads each secret when it dials.
    const fromFile = (file: string) => async () => (await readFile(file, "utf8")).trim();
    const demoResource: PostgresResourceConfig = {
      name: DEMO_RESOURCE,
      type: "postgres",
      labels: { env: "demo", owner: "gatehouse" },
      host: pg.host,
      port: pg.port,
      database: pg.database,
      // The demo cluster has one login per access level, so the database enforces the policy too;
      // an external server brings one role, used for every level.
      ...("levels" in pgInfo
        ? {
            credentials: {
              mode: "static" as const,
              levels: {
                read: { username: pgInfo.levels.read.user, password: fromFile(pgInfo.levels.read.passwordFile) },
                write: { username: pgInfo.levels.write.user, password: fromFile(pgInfo.levels.write.passwordFile) },
                admin: { username: pg.user, password: fromFile(pgInfo.passwordFile) },
              },
            },
          }
        : { username: pg.user, password: pg.password }),
      tls: { mode: "disable" },
    };
    const connectorConfig: ConnectorConfig = {
      gateway: gatewayUrl,
      id: LOCAL_CONNECTOR_ID,
      privateKey: connectorKey,
      resources: [demoResource, ...(sshDemo ? [sshDemo.resource] : []), ...(httpResource ? [httpResource] : []), ...(mysqlDemo ? [mysqlDemo.resource] : []), ...(opts.extraResources ?? [])],
    };

    const mintToken = (m: MintTokenOptions = {}) => issuer.mint({ sub: m.sub ?? "alice", claims: m.claims, audience: m.audience, ttlSeconds: m.ttlSeconds });

    let running: RunningConnector | undefined;
    if (opts.connector !== false) {
      running = await startConnector(connectorConfig, { logger: opts.connectorLogger ?? silentLogger });
      stops.push(() => running!.stop());
      if (opts.waitForConnector !== false) {
        await waitForOnline(running, gatewayUrl, await mintToken({ sub: "gatehouse-stack" }));
        log(`connector "${LOCAL_CONNECTOR_ID}" online, serving ${connectorConfig.resources.map((r) => r.name).join(", ")}`);
      }
    }

    return {
      home,
      gatewayUrl,
      issuerUrl: issuer.url,
      issuerId: issuer.issuer,
      issuer,
      pg,
      connector: { id: LOCAL_CONNECTOR_ID, publicJwk, running },
      resources: connectorConfig.resources.map((r) => r.name),
      policySource: policy.source,
      workerVars,
      mintToken,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The connector has said hello and the worker lists demo-pg as online. */
async function waitForOnline(connector: RunningConnector, gatewayUrl: string, token: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connector.online,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the connector did not connect to the worker within ${timeoutMs / 1000}s`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const gateway = new GatewayClient(parseGatewayUrl(gatewayUrl));
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await gateway.describeResource(DEMO_RESOURCE, token);
      if (r.online) return;
      last = "resource reported offline";
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the worker does not report ${DEMO_RESOURCE} online after ${timeoutMs / 1000}s (${last})`);
}

export { createStderrLogger };
