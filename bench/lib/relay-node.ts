/**
 * The three processes of the bare two-hop WebSocket relay (see relay.ts), one role per process as
 * in Gatehouse (client CLI, worker, connector). No parsing anywhere: bytes in, bytes out.
 *
 *   relay-node.ts hub                               prints "port <n>"
 *   relay-node.ts listener <hubPort> [path]         prints "port <n>" (the client's local port); path default /client
 *   relay-node.ts forwarder <hubPort> <host> <port> prints "ready" (dials out to the hub, like the connector)
 */
import net from "node:net";
import { WebSocketServer, WebSocket, type RawData } from "ws";

/** Pause the reading side while the writing side has this much unsent. */
const HIGH_WATER = 1 << 20;
const WS_OPTS = { perMessageDeflate: false, maxPayload: 64 << 20 };

/** Forward every message of `from` to `to`, pausing `from` while `to` is backed up. */
function spliceWs(from: WebSocket, to: WebSocket): void {
  from.on("message", (data: RawData) => {
    to.send(data as Buffer, { binary: true }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER / 2) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER) from.pause();
  });
  from.on("close", () => to.close());
  from.on("error", () => to.terminate());
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

function hub(): void {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...WS_OPTS });
  let control: WebSocket | undefined;
  let nextId = 1;
  const waiting = new Map<string, { client: WebSocket; queued: RawData[]; early: (d: RawData) => void }>();
  wss.on("connection", (ws, req) => {
    const url = req.url ?? "";
    if (url === "/control") {
      control = ws;
      return;
    }
    if (url === "/client") {
      const id = String(nextId++);
      const queued: RawData[] = [];
      const early = (d: RawData) => void queued.push(d);
      ws.on("message", early);
      waiting.set(id, { client: ws, queued, early });
      if (!control) ws.close();
      else control.send(id);
      return;
    }
    const m = /^\/stream\/(\d+)$/.exec(url);
    const entry = m ? waiting.get(m[1]!) : undefined;
    if (!entry) {
      ws.close();
      return;
    }
    waiting.delete(m![1]!);
    entry.client.off("message", entry.early);
    for (const d of entry.queued) ws.send(d as Buffer, { binary: true });
    spliceWs(entry.client, ws);
    spliceWs(ws, entry.client);
  });
  wss.on("listening", () => {
    const addr = wss.address();
    console.log(`port ${addr !== null && typeof addr === "object" ? addr.port : addr}`);
  });
}

function listener(hubPort: number, clientPath = "/client"): void {
  const server = net.createServer((client) => spliceTcpWs(client, new WebSocket(`ws://127.0.0.1:${hubPort}${clientPath}`, WS_OPTS)));
  server.listen(0, "127.0.0.1", () => console.log(`port ${(server.address() as net.AddressInfo).port}`));
}

function forwarder(hubPort: number, host: string, port: number): void {
  const control = new WebSocket(`ws://127.0.0.1:${hubPort}/control`, WS_OPTS);
  control.on("open", () => console.log("ready"));
  control.on("close", () => process.exit(0));
  control.on("message", (id: RawData) => {
    spliceTcpWs(net.connect(port, host), new WebSocket(`ws://127.0.0.1:${hubPort}/stream/${id.toString()}`, WS_OPTS));
  });
}

const [role, a, b, c] = process.argv.slice(2);
if (role === "hub") hub();
else if (role === "listener") listener(Number(a), b);
else if (role === "forwarder") forwarder(Number(a), b!, Number(c));
else {
  console.error("usage: relay-node.ts hub | listener <hubPort> [path] | forwarder <hubPort> <host> <port>");
  process.exit(2);
}
process.on("SIGTERM", () => process.exit(0));
// Our parent holds our stdin: when it dies, so do we.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
