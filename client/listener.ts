/**
 * `gatehouse connect` as a library: a loopback listener whose every accepted connection becomes
 * one tunnel to the gateway. Used by the CLI command and by the end-to-end test harness.
 */
import net from "node:net";
import type { TokenSource } from "./auth/token-source.ts";
import { tokenSubject } from "./auth/token-source.ts";
import { CliError, describeError } from "./errors.ts";
import { GatewayClient, checkResourceName, parseGatewayUrl, tunnelUrl } from "./gateway/api.ts";
import { engineFor } from "./engines/registry.ts";
import type { Engine, ListenerInfo } from "./engines/engine.ts";
import { openTunnel } from "./tunnel/open.ts";
import { watchTokenRenewals } from "./auth/token-renewal.ts";
import { CLIENT_VERSION } from "./version.ts";
import { createLocalAuth, type ListenerCredentials, type LocalAuth } from "./listener-auth/local-auth.ts";
import { createListenerDir, defaultStateDir, removeListenerDir } from "./listener-auth/state-dir.ts";
import { listenLoopbackTwins } from "./listener-auth/twin-listen.ts";

export interface ConnectOptions {
  /** Gateway base URL (http/https). */
  gateway: string;
  resource: string;
  tokenSource: TokenSource;
  /** Local port; 0 picks a free one. */
  port: number;
  /** Loopback only: 127.0.0.1 (default) or ::1; the port is held on the other one too (twin-listen.ts). */
  host?: "127.0.0.1" | "::1" | "localhost";
  /** Skip `GET /v1/resources/:name` and use this engine type. */
  type?: string;
  /** Accept exactly one connection, then stop listening; `done` resolves when it ends. */
  once?: boolean;
  /** Where per-connection log lines go (default: stderr). */
  log?: (line: string) => void;
  /**
   * The listener's secrets (password, SSH key); generated per start when absent — test harnesses
   * supply their own. Local clients must always prove them; there is no unauthenticated mode.
   */
  credentials?: ListenerCredentials;
  /** Where the listener's private directory is created (default: defaultStateDir()). */
  stateDir?: string;
}

export interface ConnectListener {
  host: string;
  port: number;
  resource: string;
  type: string;
  /** Whether the gateway reported a connector online for the resource (undefined with `type`). */
  online?: boolean;
  /** Lines telling the user how to use the listener (connection string, psql line). */
  usage: string[];
  /** The secrets local clients must prove (password, SSH key) and the files written for the user. */
  auth: LocalAuth;
  /** Resolves when the listener has stopped and every connection has ended. */
  done: Promise<void>;
  /** Stop accepting, end live connections, resolve when all is closed. */
  close(): Promise<void>;
}

export async function startConnectListener(opts: ConnectOptions): Promise<ConnectListener> {
  const gatewayUrl = parseGatewayUrl(opts.gateway);
  const resource = checkResourceName(opts.resource);
  const host = opts.host ?? "127.0.0.1";
  if (!["127.0.0.1", "::1", "localhost"].includes(host)) throw new CliError("the local listener only binds to loopback");
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const gateway = new GatewayClient(gatewayUrl);

  let type = opts.type;
  let online: boolean | undefined;
  if (!type) {
    const description = await gateway.describeResource(resource, await opts.tokenSource.getToken());
    type = description.type;
    online = description.online;
  }
  const engine: Engine = engineFor(type);
  // Secrets exist before the port does: no connection is ever served without them.
  const localAuth = createLocalAuth(opts.credentials);

  const sockets = new Set<net.Socket>();
  const live = new Set<Promise<void>>();
  let connSeq = 0;
  // The port on 127.0.0.1 and on ::1 (twin-listen.ts): every connection, on either, is served alike.
  const servers: net.Server[] = [];
  const stopListening = () => {
    for (const s of servers) if (s.listening) s.close();
  };

  // --once serves the first connection that authenticates, not the first that connects: another
  // local user's unauthenticated connection must not use up the pipeline's one connection.
  let onceTaken = false;
  const onConnection = (socket: net.Socket) => {
    if (opts.once && onceTaken) {
      socket.destroy();
      return;
    }
    const connId = ++connSeq;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const started = Date.now();
    const connLog = (line: string) => log(`gatehouse: conn #${connId} from ${peer} → ${resource}: ${line.replace(/^gatehouse: /, "")}`);
    let tunnelToken: string | undefined;
    const run = engine
      .serve(socket, {
        resource,
        connId,
        gateway,
        getToken: () => opts.tokenSource.getToken(),
        openTunnel: async () => {
          tunnelToken = await opts.tokenSource.getToken();
          return openTunnel({ url: tunnelUrl(gatewayUrl, resource), token: tunnelToken, clientVersion: CLIENT_VERSION });
        },
        watchToken: (send) => watchTokenRenewals(opts.tokenSource, tunnelToken, send, connLog),
        log: connLog,
        localAuth,
        authenticated: () => {
          if (!opts.once) return true;
          if (onceTaken) return false;
          onceTaken = true;
          stopListening();
          // The others have not authenticated (none had before this one): they are not waited for.
          for (const other of sockets) if (other !== socket) other.destroy();
          return true;
        },
      })
      .catch((err: unknown) => {
        socket.destroy();
        return { outcome: "failed", detail: describeError(err), bytesUp: 0, bytesDown: 0, sessionId: undefined };
      })
      .then((s) => {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        log(
          `gatehouse: conn #${connId} from ${peer} → ${resource}${s.sessionId ? ` session ${s.sessionId}` : ""}: ${s.outcome}` +
            `${s.detail ? ` — ${s.detail}` : ""} (${s.bytesUp} B up, ${s.bytesDown} B down, ${secs}s)`,
        );
      })
      .finally(() => {
        // The engine has ended the socket; it may still be flushing its last bytes (an
        // ErrorResponse…), so it is not destroyed here — the engine's own timer does that.
        live.delete(run);
      });
    live.add(run);
  };

  servers.push(...(await listenLoopbackTwins(host, opts.port, onConnection)));
  const address = servers[0]!.address() as net.AddressInfo;
  // As soon as the port exists (no one has been told it yet): connections wait for what start() learns.
  engine.start?.({
    resource,
    localAuth,
    log: (line) => log(`gatehouse: ${resource}: ${line.replace(/^gatehouse: /, "")}`),
    openTunnel: async () => openTunnel({ url: tunnelUrl(gatewayUrl, resource), token: await opts.tokenSource.getToken(), clientVersion: CLIENT_VERSION }),
  });

  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.once("close", () => resolve())))).then(() => undefined);
  const done = closed.then(async () => {
    while (live.size > 0) await Promise.allSettled([...live]);
  });

  let token: string | undefined;
  try {
    token = await opts.tokenSource.getToken();
  } catch {
    token = undefined;
  }
  const displayHost = address.address.includes(":") ? `[${address.address}]` : address.address;
  let dir: string;
  let usage: string[];
  try {
    dir = await createListenerDir(opts.stateDir ?? defaultStateDir(), resource, address.port);
    const info: ListenerInfo = { host: displayHost, port: address.port, resource, user: (token && tokenSubject(token)) ?? "gatehouse", dir };
    await engine.writeLocalAuthFiles(info, localAuth);
    usage = engine.usage(info, localAuth);
  } catch (err) {
    stopListening();
    for (const s of sockets) s.destroy();
    throw err;
  }
  // The secrets die with the listener.
  const cleaned = done.then(() => removeListenerDir(dir));

  return {
    host: address.address,
    port: address.port,
    resource,
    type,
    online,
    usage,
    auth: localAuth,
    done: cleaned,
    async close() {
      stopListening();
      for (const s of sockets) s.destroy();
      await cleaned;
    },
  };
}
