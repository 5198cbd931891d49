/**
 * The running connector: one control channel (plus one per other shard of a sharded hub, see
 * shard-channels.ts) and one TunnelStream per session. This is the
 * programmatic entry point (tests, the local stack); the CLI in main.ts wraps it.
 */
import { gatewayWebSocketBase, validateConnectorConfig, type ConnectorConfig, type ResourceConfig } from "./config.ts";
import { startControlChannel, type ControlEvent } from "./control-channel.ts";
import { startShardChannels } from "./shard-channels.ts";
import { importConnectorPrivateKey } from "./keys.ts";
import { createStderrLogger, type Logger } from "./logger.ts";
import type { StreamEvent, StreamStats } from "./stream-types.ts";
import type { TunnelStreamBase } from "./stream-base.ts";
import { RefusingStream, unservedResource } from "./refusing-stream.ts";
import { connectorProtocol } from "../protocols/registry-connector.ts";
import type { BackoffOptions } from "./backoff.ts";
import { ConfigError, TargetError } from "./errors.ts";

export type ConnectorEvent = ControlEvent | StreamEvent;

const MAX_CONCURRENT_REFUSALS = 16;

export interface StartConnectorOptions {
  logger?: Logger;
  /** Observe connection and stream life cycle (tests, metrics). Must not throw. */
  onEvent?: (event: ConnectorEvent) => void;
  /** Control-channel keepalive (default 20 000 ms, as the protocol says). */
  pingIntervalMs?: number;
  /** Reconnect delays (default 250 ms doubling up to 10 s, jittered). */
  backoff?: BackoffOptions;
  /** A control connection up this long resets the backoff (default 10 000 ms). */
  stableAfterMs?: number;
  /** TCP connect + TLS negotiation with a target (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Target authentication up to ReadyForQuery (default 30 000 ms). */
  startupTimeoutMs?: number;
  /** Wait for the worker's `open` on a new stream (default 10 000 ms). */
  openTimeoutMs?: number;
  /** Concurrent sessions; further `open`s are answered with error 53300 until some end (default 256). */
  maxStreams?: number;
}

export interface RunningConnector {
  /** Resolves once the first `hello` has been sent; rejects if stopped before that. */
  readonly online: Promise<void>;
  /** Whether the control channel is up right now (and, for a sharded hub, every shard's channel). */
  readonly connected: boolean;
  /** Snapshot of the live sessions. */
  streams(): StreamStats[];
  /**
   * Apply a changed configuration without dropping live sessions (SIGHUP): resources are added,
   * changed or removed for sessions opened from now on, and the new set is announced to the
   * worker. The gateway URL, id and key identify the connector: changing them needs a restart, so
   * such a configuration is refused whole (ConfigError) and the running one stays.
   */
  reload(next: ConnectorConfig): Promise<{ added: string[]; removed: string[]; changed: string[] }>;
  /** Close the control channel and every session (PostgreSQL gets Terminate). */
  stop(): Promise<void>;
}

export async function startConnector(config: ConnectorConfig, opts: StartConnectorOptions = {}): Promise<RunningConnector> {
  validateConnectorConfig(config);
  const logger = opts.logger ?? createStderrLogger();
  const wsBase = gatewayWebSocketBase("gateway", config.gateway);
  const privateKey = await importConnectorPrivateKey(config.privateKey);
  // Replaced (never mutated) on reload: each stream keeps the map it started with, so a live
  // session's cancel and close still reach its target after its resource changed or went away.
  let resources = new Map<string, ResourceConfig>(config.resources.map((r) => [r.name, r]));
  const maxStreams = opts.maxStreams ?? 256;
  const streams = new Map<string, TunnelStreamBase>();
  const refusals = new Set<TunnelStreamBase>();
  const emit = (event: ConnectorEvent) => {
    try {
      opts.onEvent?.(event);
    } catch (err) {
      logger.error("onEvent listener threw", { error: (err as Error).message });
    }
  };

  const onOpen = (session: string, resource: string, ticket?: string) => {
    if (streams.has(session)) {
      logger.warn("ignoring open for a session that already has a stream", { session });
      return;
    }
    let refusal: TargetError | undefined;
    if (streams.size >= maxStreams) {
      // Answer quickly with a clear SQLSTATE; refusals are short-lived, and beyond a few of them
      // we stop answering at all rather than grow without bound.
      if (refusals.size >= MAX_CONCURRENT_REFUSALS) {
        logger.warn("ignoring open: too many concurrent sessions", { session, maxStreams });
        return;
      }
      logger.warn("refusing open: too many concurrent sessions", { session, maxStreams });
      refusal = new TargetError("53300", `gatehouse: resource ${resource}: connector ${config.id} is at its limit of ${maxStreams} concurrent sessions`);
    }
    // Each resource type's stream comes from its protocol module (protocols/registry-connector.ts);
    // a resource this connector does not configure, or a type no module serves, is refused —
    // never relayed as some other protocol.
    const streamContext = {
      wsBase,
      connectorId: config.id,
      privateKey,
      resources,
      logger,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      startupTimeoutMs: opts.startupTimeoutMs ?? 30_000,
      openTimeoutMs: opts.openTimeoutMs ?? 10_000,
      emit,
      ...(ticket === undefined ? {} : { streamTicket: ticket }),
    };
    const type = resources.get(resource)?.type;
    const protocol = type === undefined ? undefined : connectorProtocol(type);
    let stream: TunnelStreamBase;
    if (protocol) stream = protocol.createStream(streamContext, session, resource, refusal);
    else {
      refusal ??= unservedResource(resource, config.id, type);
      stream = new RefusingStream(streamContext, session, resource, refusal);
    }
    if (refusal) {
      refusals.add(stream);
      void stream.finished.then(() => refusals.delete(stream));
    } else {
      streams.set(session, stream);
      void stream.finished.then(() => streams.delete(session));
    }
    void stream.start();
  };

  // Per-protocol start-up work (PostgreSQL: drop dynamic roles an earlier run left behind).
  const sweeps = config.resources.map(async (r) => {
    await connectorProtocol(r.type)?.onConnectorStart?.(r, { connectTimeoutMs: opts.connectTimeoutMs ?? 10_000, startupTimeoutMs: opts.startupTimeoutMs ?? 30_000, logger });
  });

  // Only what the worker needs to route sessions: never hosts, ports, users or credentials.
  const advertised = (list: readonly ResourceConfig[]) => list.map((r) => ({ name: r.name, type: r.type, labels: { ...r.labels } }));
  let announced = advertised(config.resources);
  const channelOptions = {
    wsBase,
    connectorId: config.id,
    privateKey,
    logger,
    onOpen,
    emit,
    pingIntervalMs: opts.pingIntervalMs ?? 20_000,
    stableAfterMs: opts.stableAfterMs ?? 10_000,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  };
  const shards = startShardChannels(channelOptions);
  // Shard 0 hears every announced resource and says where each lives; the others get their own.
  const control = startControlChannel({ ...channelOptions, resources: announced, onShards: (placement) => shards.place(placement, announced) });

  let current = config;

  let stopping: Promise<void> | undefined;
  return {
    online: control.online,
    get connected() {
      return control.connected && shards.connected;
    },
    streams: () => [...streams.values()].map((s) => s.stats()),
    async reload(next) {
      validateConnectorConfig(next);
      for (const [field, same] of [
        ["gateway", next.gateway === current.gateway],
        ["id", next.id === current.id],
        ["private_key", JSON.stringify(next.privateKey) === JSON.stringify(current.privateKey)],
      ] as const) {
        if (!same) throw new ConfigError(field, "changed: it identifies the connector to the gateway, so restart the connector to apply it (the running configuration stays)");
      }
      const before = resources;
      resources = new Map(next.resources.map((r) => [r.name, r]));
      const added = next.resources.filter((r) => !before.has(r.name)).map((r) => r.name);
      const removed = [...before.keys()].filter((name) => !resources.has(name));
      const changed = next.resources.filter((r) => before.has(r.name) && JSON.stringify(before.get(r.name)) !== JSON.stringify(r)).map((r) => r.name);
      current = next;
      announced = advertised(next.resources);
      control.announce(announced);
      logger.info("configuration reloaded", { added: added.join(","), removed: removed.join(","), changed: changed.join(","), liveSessions: streams.size });
      return { added, removed, changed };
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all([control.stop(), shards.stop()]);
        await Promise.all(sweeps);
        const all = [...streams.values(), ...refusals];
        for (const stream of all) stream.stop();
        await Promise.all(all.map((s) => s.finished));
      })();
      return stopping;
    },
  };
}
