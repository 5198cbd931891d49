/**
 * `gatehouse-connector` command line.
 *
 *   gatehouse-connector --config connector.yaml        run (until SIGINT/SIGTERM; SIGHUP reloads the file)
 *   gatehouse-connector check --config connector.yaml  validate the configuration and exit
 *   gatehouse-connector keygen --out key.jwk [--force] create the connector's Ed25519 key pair
 *   gatehouse-connector enroll --gateway URL --token T --out DIR   enrol with a one-time token
 *   gatehouse-connector rotate-key --config connector.yaml          replace the key (proving the old one)
 */
import { mkdir, open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConnectorConfig } from "./config.ts";
import { startConnector } from "./connector.ts";
import { ConfigError } from "./errors.ts";
import { generateConnectorKeyPair } from "./keys.ts";
import { enrolConnector, rotateConnectorKey } from "./enrolment.ts";
import { createJsonLogger, createStderrLogger, type LogLevel } from "./logger.ts";
import { ConnectorMetrics } from "./ops/metrics.ts";
import { parseListenAddress, startOpsServer } from "./ops/ops-server.ts";
import { CONNECTOR_VERSION } from "./version.ts";

export { startConnector } from "./connector.ts";
export type { StartConnectorOptions, RunningConnector, ConnectorEvent } from "./connector.ts";
export { loadConnectorConfig, parseConnectorConfig, validateConnectorConfig } from "./config.ts";
export type { ConnectorConfig, ResourceConfig, PostgresResourceConfig, PostgresTlsConfig, PostgresTlsMode, SecretSource } from "./config.ts";
export { generateConnectorKeyPair, publicJwkOf } from "./keys.ts";
export type { Ed25519PrivateJwk, Ed25519PublicJwk } from "./keys.ts";
export { signConnectorAssertion } from "./assertion.ts";
export type { StreamStats, StreamEvent } from "./stream-types.ts";
export { ConfigError, TargetError } from "./errors.ts";
export { silentLogger, createStderrLogger, type Logger } from "./logger.ts";

const USAGE = `usage:
  gatehouse-connector --config connector.yaml [--log-level debug|info|warn|error] [--log-format text|json]
                      [--ops-listen 127.0.0.1:9464]   health (/healthz) and Prometheus metrics (/metrics)
  gatehouse-connector check --config connector.yaml
  gatehouse-connector keygen --out connector-key.jwk [--force]
  gatehouse-connector enroll --gateway https://gatehouse.example.com --token <enrolment token> --out DIR
                      (token from \`gatehouse admin connectors enroll-token --id ID\`; or env GATEHOUSE_ENROLL_TOKEN)
  gatehouse-connector rotate-key --config connector.yaml
  gatehouse-connector --version

The connector dials out to the Gatehouse worker, keeps the target credentials on-prem and
dials the targets for each approved session. See docs/CONNECTOR.md.`;

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "version") {
    process.stdout.write(`${CONNECTOR_VERSION}\n`);
    return 0;
  }
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "run";
  const rest = command === "run" && argv[0] !== "run" ? argv : argv.slice(1);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: "string", short: "c" },
        out: { type: "string", short: "o" },
        gateway: { type: "string" },
        token: { type: "string" },
        force: { type: "boolean" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        "ops-listen": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`gatehouse-connector: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    switch (command) {
      case "keygen":
        return await keygen(values.out as string | undefined, values.force === true);
      case "enroll":
        return await enroll(values.gateway as string | undefined, (values.token as string | undefined) ?? process.env.GATEHOUSE_ENROLL_TOKEN, values.out as string | undefined);
      case "rotate-key":
        return await rotateKey(values.config as string | undefined);
      case "check":
      case "run":
        return await run(command, values.config as string | undefined, {
          level: values["log-level"] as string | undefined,
          format: values["log-format"] as string | undefined,
          opsListen: values["ops-listen"] as string | undefined,
        });
      default:
        process.stderr.write(`gatehouse-connector: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse-connector: invalid configuration: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    process.stderr.write(`gatehouse-connector: ${(err as Error).message}\n`);
    return 1;
  }
}

async function keygen(out: string | undefined, force: boolean): Promise<number> {
  if (!out) {
    process.stderr.write(`gatehouse-connector keygen: --out FILE is required\n${USAGE}\n`);
    return 2;
  }
  const path = resolve(out);
  const { privateJwk, publicJwk } = await generateConnectorKeyPair();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // O_EXCL unless --force: never silently replace a key a worker already trusts.
  const file = await open(path, force ? "w" : "wx", 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EEXIST") throw new Error(`${path} already exists (use --force to replace it)`);
    throw err;
  });
  try {
    await file.chmod(0o600);
    await file.writeFile(`${JSON.stringify(privateJwk)}\n`);
  } finally {
    await file.close();
  }
  process.stderr.write(`wrote the private key to ${path} (mode 0600); reference it as private_key: file:${out}\n`);
  process.stderr.write(`add this public key (stdout) to the worker's GATEHOUSE_CONNECTORS: [{ "id": "<connector id>", "public_key": <public JWK> }] — or skip keygen and use gatehouse-connector enroll with a one-time token\n`);
  process.stdout.write(`${JSON.stringify(publicJwk)}\n`);
  return 0;
}

async function enroll(gateway: string | undefined, token: string | undefined, out: string | undefined): Promise<number> {
  if (!gateway || !token || !out) {
    process.stderr.write(`gatehouse-connector enroll: --gateway URL, --token T (or GATEHOUSE_ENROLL_TOKEN) and --out DIR are required\n${USAGE}\n`);
    return 2;
  }
  const r = await enrolConnector({ gateway, token, outDir: out });
  process.stderr.write(`enrolled as connector ${r.id} (key sha256 thumbprint ${r.thumbprint})\n`);
  process.stderr.write(`wrote ${r.keyPath} and ${r.configPath} (mode 0600); add your resources to the configuration, then:\n`);
  process.stderr.write(`  gatehouse-connector check --config ${r.configPath}\n  gatehouse-connector --config ${r.configPath}\n`);
  process.stdout.write(`${JSON.stringify({ id: r.id, thumbprint: r.thumbprint, config: r.configPath, key: r.keyPath })}\n`);
  return 0;
}

async function rotateKey(configPath: string | undefined): Promise<number> {
  if (!configPath) {
    process.stderr.write(`gatehouse-connector rotate-key: --config FILE is required\n${USAGE}\n`);
    return 2;
  }
  const r = await rotateConnectorKey(configPath);
  process.stderr.write(`connector ${r.id}: new key registered (sha256 thumbprint ${r.thumbprint}) and written to ${r.keyPath}; the old key is no longer trusted — restart the connector (systemctl restart gatehouse-connector)\n`);
  process.stdout.write(`${JSON.stringify({ id: r.id, thumbprint: r.thumbprint })}\n`);
  return 0;
}

async function run(command: "run" | "check", configPath: string | undefined, opts: { level?: string; format?: string; opsListen?: string }): Promise<number> {
  if (!configPath) {
    process.stderr.write(`gatehouse-connector: --config FILE is required\n${USAGE}\n`);
    return 2;
  }
  const { level, format } = opts;
  if (level !== undefined && !["debug", "info", "warn", "error"].includes(level)) {
    process.stderr.write("gatehouse-connector: --log-level must be debug, info, warn or error\n");
    return 2;
  }
  if (format !== undefined && format !== "text" && format !== "json") {
    process.stderr.write("gatehouse-connector: --log-format must be text or json\n");
    return 2;
  }
  let opsAddress: { host: string; port: number } | undefined;
  try {
    opsAddress = opts.opsListen === undefined ? undefined : parseListenAddress(opts.opsListen);
  } catch (err) {
    process.stderr.write(`gatehouse-connector: ${(err as Error).message}\n`);
    return 2;
  }
  const config = await loadConnectorConfig(configPath);
  if (command === "check") {
    process.stdout.write(`configuration ok: connector ${config.id}, ${config.resources.length} resource(s): ${config.resources.map((r) => r.name).join(", ")}\n`);
    return 0;
  }
  const logger = format === "json" ? createJsonLogger((level ?? "info") as LogLevel) : createStderrLogger((level ?? "info") as LogLevel);
  const metrics = new ConnectorMetrics();
  const connector = await startConnector(config, { logger, onEvent: (event) => metrics.observe(event) });
  const ops = opsAddress
    ? await startOpsServer(opsAddress, metrics, () => ({ connected: connector.connected, liveSessions: connector.streams().length, connectorId: config.id, version: CONNECTOR_VERSION }))
    : undefined;
  if (ops) logger.info("operations endpoint listening", { url: `http://${ops.host.includes(":") ? `[${ops.host}]` : ops.host}:${ops.port}`, paths: "/healthz /metrics" });
  // SIGHUP: re-read the file and apply it without dropping live sessions; a bad file keeps the
  // running configuration (and says why).
  let reloading = Promise.resolve();
  const onHup = () => {
    reloading = reloading.then(async () => {
      try {
        await connector.reload(await loadConnectorConfig(configPath));
        metrics.reloaded(true);
      } catch (err) {
        metrics.reloaded(false);
        logger.error("configuration reload refused; the running configuration stays", { error: (err as Error).message });
      }
    });
  };
  process.on("SIGHUP", onHup);
  await new Promise<void>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info("shutting down", { signal });
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolveSignal();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  process.off("SIGHUP", onHup);
  await reloading;
  await ops?.close();
  await connector.stop();
  return 0;
}
