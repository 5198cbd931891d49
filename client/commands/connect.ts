/**
 * `gatehouse connect <resource> [--port 5433] [--gateway URL] [--audience A] [--once] ...`
 * Opens a loopback listener; each accepted connection becomes one tunnel to the gateway.
 */
import { parseArgs, parsePort } from "../args.ts";
import { UsageError } from "../errors.ts";
import { resolveTokenSource } from "../auth/token-source.ts";
import { DEFAULT_GATEWAY } from "../gateway/api.ts";
import { startConnectListener } from "../listener.ts";
import type { CommandIO } from "./io.ts";
import { CliError } from "../errors.ts";
import { describeListener, removeReadyFile, writeReadyFile } from "../listener-ready.ts";

export const CONNECT_USAGE = `usage: gatehouse connect <resource> [options]

Opens a local listener on 127.0.0.1; every connection to it is tunnelled through the gateway.

options:
  --port <n>                 local port (default 5433 for postgres; 0 = pick a free port)
  --gateway <url>            gateway URL (env GATEHOUSE_URL, default ${DEFAULT_GATEWAY})
  --audience <aud>           audience to request from the CI OIDC provider (env GATEHOUSE_AUDIENCE, default gatehouse)
  --gitlab-id-token-var <v>  GitLab CI id_tokens variable to read (env GATEHOUSE_GITLAB_ID_TOKEN_VAR, default GATEHOUSE_ID_TOKEN)
  --type <type>              skip the resource lookup and use this protocol (postgres)
  --once                     accept exactly one connection, then exit when it ends
  --ready-file <path>        once the listener accepts connections, write its details there as JSON
                             (0600; host, port, type, the local credential files); removed on exit.
                             A pipeline step waits for this file instead of racing the listener.

identity token: GATEHOUSE_TOKEN, else GitHub Actions OIDC, else the GitLab id_tokens variable.
`;

export const DEFAULT_LOCAL_PORT = 5433;

export async function connectCommand(argv: string[], io: CommandIO, signal?: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    port: { kind: "string", short: "p" },
    gateway: { kind: "string" },
    audience: { kind: "string" },
    "gitlab-id-token-var": { kind: "string" },
    type: { kind: "string" },
    once: { kind: "boolean" },
    "ready-file": { kind: "string" },
    help: { kind: "boolean", short: "h" },
  });
  if (args.booleans.has("help")) {
    io.stdout(CONNECT_USAGE);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("connect needs exactly one resource name");
  const resource = args.positionals[0]!;
  const port = args.strings.has("port") ? parsePort(args.strings.get("port")!, "--port") : DEFAULT_LOCAL_PORT;
  const gateway = args.strings.get("gateway") ?? io.env.GATEHOUSE_URL ?? DEFAULT_GATEWAY;
  const tokenSource = resolveTokenSource({
    env: io.env,
    audience: args.strings.get("audience"),
    gitlabIdTokenVar: args.strings.get("gitlab-id-token-var"),
  });

  const listener = await startConnectListener({
    gateway,
    resource,
    tokenSource,
    port,
    type: args.strings.get("type"),
    once: args.booleans.has("once"),
    log: (line) => io.stderr(`${line}\n`),
  });
  // Handlers first: whoever reads the banner may signal us right away.
  const stop = () => void listener.close();
  const onSignal = () => {
    io.stderr("gatehouse: stopping\n");
    stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  signal?.addEventListener("abort", stop, { once: true });
  io.stdout(
    `gatehouse: listening on ${listener.host}:${listener.port} for ${listener.resource} (${listener.type}) via ${gateway} [token: ${tokenSource.kind}]\n` +
      listener.usage.map((l) => `  ${l}\n`).join(""),
  );
  if (listener.online === false) io.stderr(`gatehouse: warning: no connector is online for ${resource} right now\n`);
  const readyFile = args.strings.get("ready-file");
  if (readyFile !== undefined) {
    try {
      await writeReadyFile(readyFile, { gateway, pid: process.pid, ...describeListener(listener) });
    } catch (err) {
      await listener.close();
      throw new CliError(`--ready-file ${readyFile}: ${(err as Error).message}`);
    }
  }

  try {
    await listener.done;
  } finally {
    if (readyFile !== undefined) await removeReadyFile(readyFile);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    signal?.removeEventListener("abort", stop);
  }
  return 0;
}
