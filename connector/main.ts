/**
 * `gatehouse-connector` command line.
 *
 *   gatehouse-connector --config connector.yaml        run (until SIGINT/SIGTERM)
 *   gatehouse-connector check --config connector.yaml  validate the configuration and exit
 *   gatehouse-connector keygen --out key.jwk [--force] create the connector's Ed25519 key pair
 */
import { mkdir, open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConnectorConfig } from "./config.ts";
import { startConnector } from "./connector.ts";
import { ConfigError } from "./errors.ts";
import { generateConnectorKeyPair } from "./keys.ts";
import { createStderrLogger, type LogLevel } from "./logger.ts";
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
  gatehouse-connector --config connector.yaml [--log-level debug|info|warn|error]
  gatehouse-connector check --config connector.yaml
  gatehouse-connector keygen --out connector-key.jwk [--force]
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
        force: { type: "boolean" },
        "log-level": { type: "string" },
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
      case "check":
      case "run":
        return await run(command, values.config as string | undefined, values["log-level"] as string | undefined);
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
  process.stderr.write(`add this public key (stdout) to the worker's GATEHOUSE_CONNECTORS: [{ "id": "<connector id>", "public_key": <public JWK> }]\n`);
  process.stdout.write(`${JSON.stringify(publicJwk)}\n`);
  return 0;
}

async function run(command: "run" | "check", configPath: string | undefined, level: string | undefined): Promise<number> {
  if (!configPath) {
    process.stderr.write(`gatehouse-connector: --config FILE is required\n${USAGE}\n`);
    return 2;
  }
  if (level !== undefined && !["debug", "info", "warn", "error"].includes(level)) {
    process.stderr.write("gatehouse-connector: --log-level must be debug, info, warn or error\n");
    return 2;
  }
  const config = await loadConnectorConfig(configPath);
  if (command === "check") {
    process.stdout.write(`configuration ok: connector ${config.id}, ${config.resources.length} resource(s): ${config.resources.map((r) => r.name).join(", ")}\n`);
    return 0;
  }
  const logger = createStderrLogger((level ?? "info") as LogLevel);
  const connector = await startConnector(config, { logger });
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
  await connector.stop();
  return 0;
}
