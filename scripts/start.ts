/**
 * `npm start` — the whole Gatehouse data path on this machine, in one command:
 * demo PostgreSQL + ⚠ development OIDC issuer + connector + worker (wrangler dev).
 * State lives in .gatehouse/ (GATEHOUSE_HOME); Ctrl-C stops everything.
 *
 * Environment: GATEHOUSE_PORT (worker, 8787), GATEHOUSE_ISSUER_PORT (8788),
 * GATEHOUSE_DEMO_PG_PORT (5434), GATEHOUSE_POLICY (policy file, examples/policies/demo.yaml),
 * GATEHOUSE_HOME (.gatehouse).
 */
import path from "node:path";
import { gatehouseHome } from "../client/dev/home.ts";
import { createStderrLogger, startLocalStack, DEFAULT_DEMO_PG_PORT, DEFAULT_GATEWAY_PORT, DEMO_RESOURCE, type LocalStack } from "../client/dev/stack.ts";
import { DEV_ISSUER_DEFAULT_PORT } from "../client/dev/issuer.ts";

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
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say("stopping…");
  await stack?.stop();
  say("stopped");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  stack = await startLocalStack({
    home,
    gatewayPort,
    issuerPort,
    pgPort,
    policyFile: process.env.GATEHOUSE_POLICY,
    log: say,
    connectorLogger: createStderrLogger("warn"),
    workerLog: (line) => process.stderr.write(`[worker] ${line}\n`),
  });
} catch (err) {
  say(`could not start: ${(err as Error).message}`);
  await shutdown(1);
}

if (stack && !stopping) {
  const portArg = 5433;
  // The issuer key file records the issuer URL, so `dev token` needs no port here.
  const tokenCmd = "npx gatehouse dev token --sub alice";
  const gatewayEnv = gatewayPort === DEFAULT_GATEWAY_PORT ? "" : `GATEHOUSE_URL=${stack.gatewayUrl} `;
  process.stdout.write(`
Gatehouse is running (DEVELOPMENT stack — the issuer mints tokens for anyone):
  gateway (worker)   ${stack.gatewayUrl}
  dev OIDC issuer    ${stack.issuerUrl}  (DEVELOPMENT ONLY)
  demo PostgreSQL    ${stack.pg.host}:${stack.pg.port} (only the connector knows its password)
  policy             ${stack.policySource === "inline" ? "inline" : show(stack.policySource)}
  recordings         ${show(path.join(home, "wrangler"))}/ (worker storage: D1, R2, Durable Objects)

In another terminal:
  export GATEHOUSE_TOKEN=$(${tokenCmd})
  ${gatewayEnv}npx gatehouse connect ${DEMO_RESOURCE} --port ${portArg}

And in a third (only your OS user can use the listener: it prints its password file):
  export PGPASSFILE=~/.local/state/gatehouse/listeners/${DEMO_RESOURCE}-${portArg}/pgpass
  psql "postgresql://alice@127.0.0.1:${portArg}/${DEMO_RESOURCE}?sslmode=disable" -c "select * from customers limit 5"
${
  stack.resources.includes("demo-ssh")
    ? `
SSH (demo-ssh: the connector holds the host's key and pins its host key):
  ${gatewayEnv}npx gatehouse exec demo-ssh -- uname -a
  ${gatewayEnv}npx gatehouse connect demo-ssh --port 2222     # then use plain ssh/scp as it prints
`
    : ""
}
Press Ctrl-C to stop.
`);
}
