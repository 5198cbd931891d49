/**
 * `npm start` — the whole Gatehouse data path on this machine, in one command:
 * demo PostgreSQL + ⚠ development OIDC issuer + connector + worker (wrangler dev).
 * State lives in .gatehouse/ (GATEHOUSE_HOME); Ctrl-C, SIGTERM, SIGHUP or the parent's exit stop everything.
 *
 * Environment: GATEHOUSE_PORT (worker, 8787), GATEHOUSE_ISSUER_PORT (8788),
 * GATEHOUSE_DEMO_PG_PORT (5434), GATEHOUSE_POLICY (policy file, examples/policies/demo.yaml),
 * GATEHOUSE_HOME (.gatehouse).
 */
import path from "node:path";
import { gatehouseHome } from "../client/dev/home.ts";
import { startDemoK8s, type DemoK8s } from "../test/kube-apiserver/demo.ts";
import { createStderrLogger, startLocalStack, DEFAULT_DEMO_PG_PORT, DEFAULT_GATEWAY_PORT, DEMO_RESOURCE, type LocalStack } from "../client/dev/stack.ts";
import { DEV_ISSUER_DEFAULT_PORT } from "../client/dev/issuer.ts";
import { nextSteps } from "../client/dev/next-steps.ts";
import { watchParent } from "../client/dev/parent-watch.ts";
import { defaultStateDir } from "../client/listener-auth/state-dir.ts";
import { DEFAULT_GATEWAY } from "../client/gateway/api.ts";

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`gatehouse: ${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const say = (line: string) => process.stderr.write(`[gatehouse] ${line}\n`);
const gatewayPort = portFromEnv("GATEHOUSE_PORT", DEFAULT_GATEWAY_PORT);
const issuerPort = portFromEnv("GATEHOUSE_ISSUER_PORT", DEV_ISSUER_DEFAULT_PORT);
const pgPort = portFromEnv("GATEHOUSE_DEMO_PG_PORT", DEFAULT_DEMO_PG_PORT);
const home = gatehouseHome();
/** Paths inside the working directory are shown relative, others absolute. */
const show = (p: string) => {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") ? rel : p;
};

say(`starting the local stack (state in ${show(home)}/) — DEVELOPMENT ONLY`);
let stack: LocalStack | undefined;
let starting: Promise<LocalStack | undefined> | undefined;
let stopping = false;
/** Stops everything started so far — also mid-start, once startLocalStack settles (it cleans up after itself when it fails). */
async function shutdown(code: number, why?: string) {
  if (stopping) return;
  stopping = true;
  say(`stopping${why ? ` (${why})` : ""}…`);
  await (stack ?? (await starting?.catch(() => undefined)))?.stop();
  await demoK8s?.stop().catch(() => {});
  say("stopped");
  process.exit(code);
}
// Ctrl-C (SIGINT to the whole foreground process group), `kill` (SIGTERM), a closed terminal
// (SIGHUP), and a parent that went away without telling us: all stop the stack.
process.on("SIGINT", () => void shutdown(0, "SIGINT"));
process.on("SIGTERM", () => void shutdown(0, "SIGTERM"));
process.on("SIGHUP", () => void shutdown(0, "SIGHUP"));
watchParent((why) => void shutdown(0, why));
// A closed terminal must not crash us before the children are stopped.
process.stdout.on("error", () => void shutdown(0, "stdout closed"));

// demo-k8s: the test API server as a stand-in cluster (DEVELOPMENT ONLY; docs/KUBERNETES.md).
let demoK8s: DemoK8s | undefined;
try {
  demoK8s = await startDemoK8s();
  say(`demo Kubernetes API (test API server, development only) on ${demoK8s.server.url}; its token is held by the connector only`);
} catch (err) {
  say(`demo-k8s not started: ${(err as Error).message}`);
}

try {
  starting = startLocalStack({
    extraResources: demoK8s ? [demoK8s.resource] : [],
    home,
    gatewayPort,
    issuerPort,
    pgPort,
    policyFile: process.env.GATEHOUSE_POLICY,
    log: say,
    connectorLogger: createStderrLogger("warn"),
    workerLog: (line) => process.stderr.write(`[worker] ${line}\n`),
  });
  stack = await starting;
} catch (err) {
  say(`could not start: ${(err as Error).message}`);
  await shutdown(1);
}

if (stack && !stopping) {
  process.stdout.write(`
Gatehouse is running (DEVELOPMENT stack — the issuer mints tokens for anyone):
  gateway (worker)   ${stack.gatewayUrl}
  dev OIDC issuer    ${stack.issuerUrl}  (DEVELOPMENT ONLY)
  demo PostgreSQL    ${stack.pg.host}:${stack.pg.port} (only the connector knows its password)
${demoK8s ? `  demo Kubernetes    ${demoK8s.server.url} (demo-k8s: a test API server, DEVELOPMENT ONLY; only the connector holds its token)\n` : ""}  policy             ${stack.policySource === "inline" ? "inline" : show(stack.policySource)}
  recordings         ${show(path.join(home, "wrangler"))}/ (worker storage: D1, R2, Durable Objects)

${nextSteps({
  gatewayUrl: stack.gatewayUrl,
  defaultGatewayUrl: DEFAULT_GATEWAY,
  home,
  defaultHome: gatehouseHome({}),
  stateDir: defaultStateDir(),
  defaultStateDir: defaultStateDir({}),
  resources: stack.resources,
  pgResource: DEMO_RESOURCE,
  pgListenPort: 5433,
  sshListenPort: 2222,
})}
Press Ctrl-C to stop.
`);
}
