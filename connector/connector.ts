/**
 * The running connector: one control channel plus one TunnelStream per session. This is the
 * programmatic entry point (tests, the local stack); the CLI in main.ts wraps it.
 */
import { gatewayWebSocketBase, validateConnectorConfig, type ConnectorConfig, type ResourceConfig } from "./config.ts";
import { startControlChannel, type ControlEvent } from "./control-channel.ts";
import { importConnectorPrivateKey } from "./keys.ts";
import { createStderrLogger, type Logger } from "./logger.ts";
import type { StreamEvent, StreamStats } from "./stream-types.ts";
import type { TunnelStreamBase } from "./stream-base.ts";
import { RefusingStream, unservedResource } from "./refusing-stream.ts";
import { connectorProtocol } from "../protocols/registry-connector.ts";
import type { BackoffOptions } from "./backoff.ts";
import { TargetError } from "./errors.ts";

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
  /** Whether the control channel is up right now. */
  readonly connected: boolean;
  /** Snapshot of the live sessions. */
  streams(): StreamStats[];
  /** Close the control channel and every session (PostgreSQL gets Terminate). */
  stop(): Promise<void>;
}

export async function startConnector(config: ConnectorConfig, opts: StartConnectorOptions = {}): Promise<RunningConnector> {
  validateConnectorConfig(config);
  const logger = opts.logger ?? createStderrLogger();
  const wsBase = gatewayWebSocketBase("gateway", config.gateway);
  const privateKey = await importConnectorPrivateKey(config.privateKey);
  const resources = new Map<string, ResourceConfig>(config.resources.map((r) => [r.name, r]));
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

  const onOpen = (session: string, resource: string) => {
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

  // `credentials: dynamic`: drop per-session roles a previous run left behind (their session is over).
  // Per-protocol start-up work (PostgreSQL: drop dynamic roles an earlier run left behind).
  const sweeps = config.resources.map(async (r) => {
    await connectorProtocol(r.type)?.onConnectorStart?.(r, { connectTimeoutMs: opts.connectTimeoutMs ?? 10_000, startupTimeoutMs: opts.startupTimeoutMs ?? 30_000, logger });
  });

  const control = startControlChannel({
    wsBase,
    connectorId: config.id,
    privateKey,
    // Only what the worker needs to route sessions: never hosts, ports, users or credentials.
    resources: config.resources.map((r) => ({ name: r.name, type: r.type, labels: { ...r.labels } })),
    logger,
    onOpen,
    emit,
    pingIntervalMs: opts.pingIntervalMs ?? 20_000,
    stableAfterMs: opts.stableAfterMs ?? 10_000,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });

  let stopping: Promise<void> | undefined;
  return {
    online: control.online,
    get connected() {
      return control.connected;
    },
    streams: () => [...streams.values()].map((s) => s.stats()),
    stop() {
      stopping ??= (async () => {
        await control.stop();
        await Promise.all(sweeps);
        const all = [...streams.values(), ...refusals];
        for (const stream of all) stream.stop();
        await Promise.all(all.map((s) => s.finished));
      })();
      return stopping;
    },
  };
}
