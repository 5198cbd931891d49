/**
 * The middle hop of the bare two-hop WebSocket relay (bench/lib/relay.ts): the benchmark's stand-in
 * for the worker, with no parsing at all. Runs in its own process (as workerd does), prints its
 * port on stdout. Paths: /control (the forwarder's control channel), /client (one per client TCP
 * connection), /stream/<id> (the forwarder's data stream for that client).
 *
 *   node bin/run-ts.mjs bench/lib/relay-hub.ts
 */
import { WebSocketServer, WebSocket, type RawData } from "ws";

/** Pause the reading side while the writing side has this much unsent. */
const HIGH_WATER = 1 << 20;

/** Forward every message of `from` to `to`, with backpressure (pause `from` while `to` is backed up). */
export function splice(from: WebSocket, to: WebSocket): void {
  from.on("message", (data: RawData) => {
    to.send(data as Buffer, { binary: true }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER / 2) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER) from.pause();
  });
  from.on("close", () => to.close());
  from.on("error", () => to.terminate());
}

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 64 << 20 });
let control: WebSocket | undefined;
let nextId = 1;
interface Waiting {
  client: WebSocket;
  /** Client messages that arrived before the forwarder's stream did. */
  queued: RawData[];
  early: (d: RawData) => void;
}
const waiting = new Map<string, Waiting>();

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
  splice(entry.client, ws);
  splice(ws, entry.client);
});

wss.on("listening", () => {
  const addr = wss.address();
  process.stdout.write(`${addr !== null && typeof addr === "object" ? addr.port : addr}\n`);
});
process.on("SIGTERM", () => process.exit(0));
// Our parent holds our stdin: when it dies, so do we.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
