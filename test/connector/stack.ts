/** Wiring for connector tests: a real PostgreSQL, the harness worker and a real connector between them. */
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startConnector, type ConnectorEvent, type RunningConnector, type StartConnectorOptions } from "../../connector/connector.ts";
import type { ConnectorConfig, PostgresResourceConfig } from "../../connector/config.ts";
import { silentLogger } from "../../connector/logger.ts";
import type { ControlMessage } from "../../parsers/tunnel/frames.ts";
import { startHarnessWorker, type HarnessPeer, type HarnessWorker } from "./harness-worker.ts";

export interface ConnectorStack {
  worker: HarnessWorker;
  connector: RunningConnector;
  control: HarnessPeer;
  hello: ControlMessage;
  events: ConnectorEvent[];
  /** The configuration the connector started with (reload tests change it). */
  config: ConnectorConfig;
  stop(): Promise<void>;
}

export async function startConnectorStack(
  resources: PostgresResourceConfig[],
  opts: StartConnectorOptions & { id?: string } = {},
): Promise<ConnectorStack> {
  const id = opts.id ?? "test-connector";
  const { privateJwk, publicJwk } = await generateConnectorKeyPair();
  const worker = await startHarnessWorker({ connectors: { [id]: publicJwk } });
  const events: ConnectorEvent[] = [];
  const config: ConnectorConfig = { gateway: worker.url, id, privateKey: privateJwk, resources };
  const connector = await startConnector(config, {
    logger: silentLogger,
    ...opts,
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  await connector.online;
  const { peer: control, hello } = await worker.controls.next();
  return {
    worker,
    connector,
    control,
    hello,
    events,
    config,
    async stop() {
      await connector.stop();
      await worker.stop();
    },
  };
}

export function pgResource(name: string, db: { host: string; port: number; database: string; user: string; password: string }, extra: Partial<PostgresResourceConfig> = {}): PostgresResourceConfig {
  return {
    name,
    type: "postgres",
    labels: { env: "test" },
    host: db.host,
    port: db.port,
    database: db.database,
    username: db.user,
    password: db.password,
    tls: { mode: "disable" },
    ...extra,
  };
}

/** Wait until `events` holds one matching `pred` (events are pushed synchronously by the connector). */
export async function waitForEvent<T extends ConnectorEvent>(events: ConnectorEvent[], pred: (e: ConnectorEvent) => e is T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(pred);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("timed out waiting for a connector event");
    await new Promise((r) => setTimeout(r, 10));
  }
}
