/**
 * Reference paths for the benchmark, written for it and deliberately dumb (no parsing):
 *   - a plain TCP pipe (one hop: client → pipe → PostgreSQL), in its own process;
 *   - a bare two-hop WebSocket relay with Gatehouse's topology, three processes (relay-node.ts):
 *     client → listener ──ws──▶ hub ◀──ws── forwarder (dials out, like the connector) → PostgreSQL.
 *     One WebSocket per client connection, binary messages, ws backpressure.
 * This is the cost floor of our topology in Node + ws.
 */
import { startChild, runTs, type Child } from "./child.ts";

export interface RunningPath {
  port: number;
  /** Processes of this path by role, for RSS. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

async function stopAll(children: Child[]): Promise<void> {
  for (const c of children.reverse()) await c.stop();
}

/** One-hop TCP pipe in its own process. */
export async function startTcpPipe(target: { host: string; port: number }): Promise<RunningPath> {
  const pipe = await startChild([...runTs("bench/lib/tcp-pipe.ts"), target.host, String(target.port)], /^port (\d+)$/, { name: "tcp pipe" });
  return { port: Number(pipe.match[1]), pids: { pipe: pipe.pid }, stop: () => pipe.stop() };
}

export async function startTwoHopRelay(target: { host: string; port: number }): Promise<RunningPath> {
  const children: Child[] = [];
  try {
    const hub = await startChild([...runTs("bench/lib/relay-node.ts"), "hub"], /^port (\d+)$/, { name: "relay hub" });
    children.push(hub);
    const hubPort = hub.match[1]!;
    const forwarder = await startChild([...runTs("bench/lib/relay-node.ts"), "forwarder", hubPort, target.host, String(target.port)], /^ready$/, { name: "relay forwarder" });
    children.push(forwarder);
    const listener = await startChild([...runTs("bench/lib/relay-node.ts"), "listener", hubPort], /^port (\d+)$/, { name: "relay listener" });
    children.push(listener);
    return {
      port: Number(listener.match[1]),
      pids: { hub: hub.pid, forwarder: forwarder.pid, listener: listener.pid },
      stop: () => stopAll(children),
    };
  } catch (err) {
    await stopAll(children);
    throw err;
  }
}
