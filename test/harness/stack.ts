/**
 * End-to-end test harness: the real local stack (worker via wrangler dev, connector, dev issuer,
 * embedded PostgreSQL) on ephemeral ports in a temp dir, so test files can run in parallel.
 *
 *   const stack = await startTestStack();                       // demo policy, waits for the connector
 *   const r = await stack.psql("drop table customers");         // real psql through the gateway
 *   expect(r.stderr).toContain("demo-no-ddl");
 *   const conn = await stack.connect("demo-pg", { sub: "bob", claims: { groups: ["approvers"] } });
 *   // conn.url = postgresql://bob:<listener secret>@127.0.0.1:<port>/demo-pg?sslmode=disable  (pg driver, psql…)
 *   // Listeners require their secret (docs/CONFIGURATION.md); the harness's is in listener-auth.ts.
 *   await stack.stop();                                          // stops listeners too
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startLocalStack, type ExternalPg, type LocalStack, type LocalStackOptions, type MintTokenOptions, type StackPg } from "../../client/dev/stack.ts";
import type { ResourceConfig } from "../../connector/config.ts";
import { testTemplatesDir } from "../../client/dev/initdb-template.ts";
import { staticTokenSource, type TokenSource } from "../../client/auth/token-source.ts";
import { startConnectListener } from "../../client/listener.ts";
import type { ListenerCredentials } from "../../client/listener-auth/local-auth.ts";
import { TEST_LISTENER_CREDENTIALS, listenerUrl } from "./listener-auth.ts";

/** The development issuer's canonical identifier (npm start's default URL). */
export const DEV_ISSUER_ID = "http://127.0.0.1:8788";

export interface TestStackOptions {
  /** Policy text for the worker (wins over policyFile; default: examples/policies/demo.yaml). */
  policyYaml?: string;
  policyFile?: string;
  /** "embedded" (default): a fresh demo cluster with the demo schema; or an existing server. */
  pg?: "embedded" | ExternalPg;
  /** More connector resources (e.g. a second PostgreSQL). */
  extraResources?: ResourceConfig[];
  /** Start the connector (default true). */
  connector?: boolean;
  /** Wait until the worker reports demo-pg online (default true). */
  waitForConnector?: boolean;
  /** Extra worker vars. */
  workerVars?: Record<string, string>;
  /** Extra worker vars built from the dev issuer's GATEHOUSE_ISSUERS entry (its JWKS URL is only known at start). */
  workerVarsWithIssuer?: (devIssuer: Record<string, unknown>) => Record<string, string>;
  /** `iss` of minted tokens (default http://127.0.0.1:8788; null: the URL the issuer is served at, as npm start does). */
  issuerId?: string | null;
  /** Another wrangler config for the worker (benchmark builds, e.g. bench/recording-off/). */
  wranglerConfig?: string;
  /** Fail when the worker's configuration is invalid (default true); false keeps a misconfigured worker running. */
  requireReady?: boolean;
  /** Another runtime for the worker instead of wrangler dev (LocalStackOptions.startWorker; the benchmark's standalone workerd). */
  startWorker?: LocalStackOptions["startWorker"];
  /** Print worker/connector output to stderr (debugging). */
  verbose?: boolean;
}

export interface TestConnectOptions extends MintTokenOptions {
  /** Use this token instead of minting one. */
  token?: string;
  /** Or any token source (e.g. to test refresh). */
  tokenSource?: TokenSource;
  /** Skip the resource lookup. */
  type?: string;
  once?: boolean;
  /** Listener secrets (default: the harness's, TEST_LISTENER_CREDENTIALS). */
  credentials?: ListenerCredentials;
}

export interface TestConnection {
  port: number;
  /** postgresql://<sub>:<listener secret>@127.0.0.1:<port>/<resource>?sslmode=disable */
  url: string;
  /** The listener's password (in `url` already). */
  password: string;
  /** The client's per-connection log lines. */
  logs: string[];
  stop(): Promise<void>;
}

export interface PsqlResult {
  /** psql's exit code (0 ok, 1 query error, 2 connection failure, 3 script error). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface PsqlOptions extends TestConnectOptions {
  /** Resource to connect to (default demo-pg). */
  resource?: string;
  /** Extra psql arguments (default: -X -v ON_ERROR_STOP=1 are always passed). */
  args?: string[];
  timeoutMs?: number;
}

/** The environment minus PG* variables, so the developer's psql settings never leak into tests. */
export function cleanPgEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
}

/** Run the real psql (async: the gateway client may live in this very process). */
export function runPsql(url: string, args: string[], timeoutMs = 30_000): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile("psql", [url, "-X", "-v", "ON_ERROR_STOP=1", ...args], { env: cleanPgEnv(), timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export interface TestStack {
  gatewayUrl: string;
  /** Where the dev issuer is served (ephemeral port). */
  issuerUrl: string;
  /** `iss` of minted tokens. */
  issuerId: string;
  /** Connection info of the target PostgreSQL, password included, for server-side assertions. */
  pg: StackPg;
  /** Where wrangler persists D1/R2/DO state (recordings). */
  home: string;
  /** ⚠ A development token trusted by this stack (default sub "alice"). */
  mintToken(opts?: MintTokenOptions): Promise<string>;
  /** Start an in-process `gatehouse connect <resource> --port 0`. */
  connect(resource: string, opts?: TestConnectOptions): Promise<TestConnection>;
  /**
   * `psql -c <sql>` through the gateway: one connect listener per (resource, identity) is opened
   * on first use and reused. E.g. `const r = await stack.psql("drop table customers"); r.stderr`.
   */
  psql(sql: string, opts?: PsqlOptions): Promise<PsqlResult>;
  /** The underlying stack. */
  stack: LocalStack;
  stop(): Promise<void>;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const home = await mkdtemp(path.join(tmpdir(), "gatehouse-stack-"));
  const stack = await startLocalStack({
    home,
    ephemeral: true,
    gatewayPort: 0,
    issuerPort: 0,
    // Pinned so policies written for the development issuer (demo.yaml) match; served on an ephemeral port.
    issuerId: opts.issuerId === null ? undefined : (opts.issuerId ?? DEV_ISSUER_ID),
    pgPort: 0,
    pg: opts.pg,
    // initdb once per run, a copy per stack (each stack still has its own cluster, port and data).
    initdbTemplates: testTemplatesDir(),
    policyYaml: opts.policyYaml,
    policyFile: opts.policyFile,
    extraResources: opts.extraResources,
    connector: opts.connector,
    waitForConnector: opts.waitForConnector,
    workerVars: opts.workerVars,
    workerVarsWithIssuer: opts.workerVarsWithIssuer,
    requireReady: opts.requireReady,
    ...(opts.wranglerConfig ? { wranglerConfig: opts.wranglerConfig } : {}),
    ...(opts.startWorker ? { startWorker: opts.startWorker } : {}),
    ...(opts.verbose
      ? { log: (l: string) => process.stderr.write(`[stack] ${l}\n`), workerLog: (l: string) => process.stderr.write(`[worker] ${l}\n`) }
      : {}),
  });
  const connections = new Set<TestConnection>();
  // The client side's own state (listener files), private like a real user's (0700, mkdtemp).
  const clientState = await mkdtemp(path.join(tmpdir(), "gatehouse-client-"));

  const connect = async (resource: string, c: TestConnectOptions = {}): Promise<TestConnection> => {
    const tokenSource = c.tokenSource ?? staticTokenSource(c.token ?? (await stack.mintToken(c)), "test");
    const logs: string[] = [];
    const listener = await startConnectListener({
      gateway: stack.gatewayUrl,
      resource,
      port: 0,
      tokenSource,
      type: c.type,
      once: c.once,
      log: (l) => logs.push(l),
      credentials: c.credentials ?? TEST_LISTENER_CREDENTIALS,
      stateDir: path.join(clientState, "listeners-state"),
    });
    const sub = c.sub ?? "alice";
    const conn: TestConnection = {
      port: listener.port,
      url: listenerUrl(listener.port, sub, resource, listener.auth.password),
      password: listener.auth.password,
      logs,
      stop: async () => {
        connections.delete(conn);
        await listener.close();
      },
    };
    connections.add(conn);
    return conn;
  };

  const listeners = new Map<string, Promise<TestConnection>>();
  const psql = async (sql: string, o: PsqlOptions = {}): Promise<PsqlResult> => {
    const { resource = "demo-pg", args = [], timeoutMs, ...connectOpts } = o;
    const key = JSON.stringify([resource, connectOpts.sub, connectOpts.claims, connectOpts.audience, connectOpts.token]);
    let conn = listeners.get(key);
    if (!conn) {
      conn = connect(resource, connectOpts);
      listeners.set(key, conn);
    }
    return runPsql((await conn).url, [...args, "-c", sql], timeoutMs);
  };

  return {
    gatewayUrl: stack.gatewayUrl,
    issuerUrl: stack.issuerUrl,
    issuerId: stack.issuerId,
    pg: stack.pg,
    home,
    mintToken: stack.mintToken,
    connect,
    psql,
    stack,
    stop: async () => {
      for (const c of [...connections]) await c.stop();
      await stack.stop();
      await rm(clientState, { recursive: true, force: true });
    },
  };
}
