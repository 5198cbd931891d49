/**
 * Reference paths for the benchmark, written for it and deliberately dumb (no parsing):
 *   - a plain TCP pipe (one hop: client → pipe → PostgreSQL);
 *   - a bare two-hop WebSocket relay with Gatehouse's topology: client → local listener ──ws──▶
 *     hub (its own process, bench/lib/relay-hub.ts) ◀──ws── forwarder (dials out, like the
 *     connector) → PostgreSQL. One WebSocket per client connection, binary messages, ws backpressure.
 * This is the cost floor of our topology in Node + ws.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { WebSocket, type RawData } from "ws";

const HIGH_WATER = 1 << 20;
const REPO = path.resolve(import.meta.dirname, "../..");

export interface RunningPath {
  port: number;
  stop(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}

/** One-hop TCP pipe in this process. */
export async function startTcpPipe(target: { host: string; port: number }): Promise<RunningPath> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await listen(server);
  return { port, stop: () => closeServer(server, sockets) };
}

/** Splice a TCP socket and a WebSocket both ways, with backpressure on both sides. */
function spliceTcpWs(socket: net.Socket, ws: WebSocket): void {
  socket.setNoDelay(true);
  const pending: Buffer[] = [];
  const sendWs = (b: Buffer) => {
    ws.send(b, { binary: true }, () => {
      if (socket.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) socket.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) socket.pause();
  };
  socket.on("data", (b: Buffer) => (ws.readyState === WebSocket.OPEN ? sendWs(b) : pending.push(b)));
  ws.on("open", () => {
    for (const b of pending.splice(0)) sendWs(b);
  });
  ws.on("message", (d: RawData) => {
    if (!socket.write(d as Buffer)) {
      ws.pause();
      socket.once("drain", () => ws.resume());
    }
  });
  const end = () => {
    socket.destroy();
    ws.terminate();
  };
  socket.on("close", end);
  socket.on("error", end);
  ws.on("close", end);
  ws.on("error", end);
}

/** The hub in a child process, plus client listener and forwarder in this process (as the stack's client and connector are). */
export async function startTwoHopRelay(target: { host: string; port: number }): Promise<RunningPath & { hubPid: number }> {
  const hub: ChildProcess = spawn(process.execPath, [path.join(REPO, "bin/run-ts.mjs"), path.join(REPO, "bench/lib/relay-hub.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  // Never outlive the benchmark: the hub also exits when its stdin closes (we died).
  const killNow = () => hub.kill("SIGKILL");
  process.once("exit", killNow);
  const hubPort = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: hub.stdout! });
    rl.once("line", (l) => resolve(Number(l)));
    hub.once("exit", (c) => reject(new Error(`relay hub exited (${c})`)));
  });
  const base = `ws://127.0.0.1:${hubPort}`;
  const opts = { perMessageDeflate: false, maxPayload: 64 << 20 };

  // Forwarder: control channel out to the hub; per client, a stream out to the hub and a TCP connection to PostgreSQL.
  const control = new WebSocket(`${base}/control`, opts);
  await new Promise<void>((resolve, reject) => {
    control.once("open", () => resolve());
    control.once("error", reject);
  });
  const sockets = new Set<net.Socket>();
  control.on("message", (id: RawData) => {
    const ws = new WebSocket(`${base}/stream/${id.toString()}`, opts);
    const db = net.connect(target.port, target.host);
    sockets.add(db);
    db.on("close", () => sockets.delete(db));
    spliceTcpWs(db, ws);
  });

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    spliceTcpWs(client, new WebSocket(`${base}/client`, opts));
  });
  const port = await listen(server);
  return {
    port,
    hubPid: hub.pid!,
    stop: async () => {
      await closeServer(server, sockets);
      control.terminate();
      process.off("exit", killNow);
      hub.kill("SIGTERM");
    },
  };
}
