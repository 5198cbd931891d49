/**
 * BENCHMARK-ONLY worker: the platform floor of Gatehouse's middle hop (issue 18). Never deployed;
 * bench/lib/workerd-relay.ts builds it and runs it under the same standalone workerd, with the same
 * compatibility date and flags, as the self-host bundle the bench measures for gatehouse*.
 *
 * It does what the session Durable Object cannot avoid and nothing else: the client's WebSocket and
 * the connector's stream are accepted by one Durable Object per session (a WebSocketPair made in the
 * object and returned through the entry worker's stub.fetch, no hibernation, binaryType
 * arraybuffer — as worker/objects/gatehouse-object.ts does), and every binary message of one is sent
 * unchanged on the other. No frame decoding, no policy, no recording, no flow control. The Node
 * hops are the bare relay's (bench/lib/relay-node.ts listener and forwarder), so the only difference
 * from the `relay` path is the middle hop: this object on workerd instead of the Node hub.
 *
 *   /control          the forwarder's control socket (one hub object): session ids go out as text
 *   /client           a client tunnel: a new session object, which asks the forwarder to dial it
 *   /client-write     the same, plus one durable storage write per round trip (below)
 *   /stream/<id>      the forwarder's stream for session <id>
 *
 * `/client-write` (path workerd-relay+write) writes once per answer, before sending it on: one
 * INSERT of three rows into a table of the recorder's shape (seq, chunk, line, state — worker/audit/
 * recorder.ts), the lines and the state the sizes of a point select's query, decision and result
 * events and of the recorder's state (337, 289, 311 and 376 bytes; constants, nothing encoded or
 * hashed). The SQL write is synchronous and the send follows it in the same turn, so workerd's
 * output gate holds the answer until the write is durable: the product's commit-then-send.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  SESSIONS: DurableObjectNamespace<RelaySession>;
  HUB: DurableObjectNamespace<RelayHub>;
}

const SESSION_ID = /^\/stream\/([0-9a-f-]{36})$/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a websocket upgrade", { status: 426 });
    const url = new URL(request.url);
    if (url.pathname === "/control") return env.HUB.get(env.HUB.idFromName("hub")).fetch("https://hub/control", { headers: { upgrade: "websocket" } });
    if (url.pathname === "/client" || url.pathname === "/client-write") {
      const id = crypto.randomUUID();
      const write = url.pathname === "/client-write" ? "1" : "0";
      return env.SESSIONS.get(env.SESSIONS.idFromName(id)).fetch(`https://session/client?id=${id}&write=${write}`, { headers: { upgrade: "websocket" } });
    }
    const m = SESSION_ID.exec(url.pathname);
    if (m) return env.SESSIONS.get(env.SESSIONS.idFromName(m[1]!)).fetch("https://session/stream", { headers: { upgrade: "websocket" } });
    return new Response("not found", { status: 404 });
  },
};

/** A WebSocketPair accepted in the object, as the product's sessions accept theirs (no hibernation). */
function accept(onMessage: (data: ArrayBuffer | string) => void, onClose: () => void): { socket: WebSocket; response: Response } {
  const pair = new WebSocketPair();
  const server = pair[1];
  server.accept();
  (server as unknown as { binaryType: string }).binaryType = "arraybuffer";
  server.addEventListener("message", (event) => onMessage(event.data as ArrayBuffer | string));
  server.addEventListener("close", onClose);
  server.addEventListener("error", onClose);
  return { socket: server, response: new Response(null, { status: 101, webSocket: pair[0] }) };
}

function closeQuietly(ws: WebSocket | undefined): void {
  try {
    ws?.close(1000, "peer closed");
  } catch {
    // already closed
  }
}

/** Holds the forwarder's control socket; a session asks it to have the forwarder dial that session. */
export class RelayHub extends DurableObject<Env> {
  private control: WebSocket | undefined;

  override async fetch(): Promise<Response> {
    const { socket, response } = accept(
      () => undefined,
      () => {
        if (this.control === socket) this.control = undefined;
      },
    );
    this.control = socket;
    return response;
  }

  /** RPC: tell the forwarder to open session `id`'s stream. */
  async open(id: string): Promise<boolean> {
    if (!this.control) return false;
    this.control.send(id);
    return true;
  }
}

// The recorder's row shape and a point select's sizes (see the header): constants, written as they are.
const LINES = ["q".repeat(337), "d".repeat(289), "r".repeat(311)];
const STATE = "s".repeat(376);

/** One relayed session: the client tunnel and the forwarder's stream, bytes passed through unchanged. */
export class RelaySession extends DurableObject<Env> {
  private client: WebSocket | undefined;
  private stream: WebSocket | undefined;
  /** Client messages that arrived before the stream (the startup packet). */
  private early: Array<ArrayBuffer | string> = [];
  private write = false;
  private seq = 0;

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/client") return this.acceptClient(url.searchParams.get("id")!, url.searchParams.get("write") === "1");
    if (url.pathname === "/stream") return this.acceptStream();
    return new Response("not found", { status: 404 });
  }

  private async acceptClient(id: string, write: boolean): Promise<Response> {
    if (this.client) return new Response("session already has a client", { status: 409 });
    this.write = write;
    if (write) this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, line TEXT NOT NULL, state TEXT)");
    const { socket, response } = accept(
      (data) => {
        if (this.stream) this.stream.send(data);
        else this.early.push(data);
      },
      () => closeQuietly(this.stream),
    );
    this.client = socket;
    const asked = await this.env.HUB.get(this.env.HUB.idFromName("hub")).open(id);
    if (!asked) closeQuietly(socket);
    return response;
  }

  private acceptStream(): Response {
    if (!this.client || this.stream) return new Response("no session waiting for a stream", { status: 410 });
    const client = this.client;
    const { socket, response } = accept(
      this.write
        ? (data) => {
            const s = this.seq;
            this.seq += 3;
            this.ctx.storage.sql.exec("INSERT INTO events (seq, chunk, line, state) VALUES (?, 0, ?, NULL), (?, 0, ?, NULL), (?, 0, ?, ?)", s, LINES[0]!, s + 1, LINES[1]!, s + 2, LINES[2]!, STATE);
            client.send(data);
          }
        : (data) => client.send(data),
      () => closeQuietly(client),
    );
    this.stream = socket;
    for (const d of this.early.splice(0)) socket.send(d);
    return response;
  }
}
