/**
 * `gatehouse connect <mysql-resource> --port N`: the local MySQL listener. It terminates the
 * connection phase itself (local-handshake.ts: the per-listener password, never the database's),
 * then hands the command phase to a backend — the tunnel to the gateway in production, or an
 * in-process gateway in tests — which opens the real session with the client's negotiated
 * capabilities and collation, so the server answers in exactly the format the client expects.
 */
import net from "node:net";
import { PacketFramer } from "../codec/packets.ts";
import { refusal } from "../codec/responses.ts";
import { encodePacket } from "../codec/packets.ts";
import { LocalHandshake, doubleSha1, type LocalHandshakeResult } from "./local-handshake.ts";

export interface MysqlBackendSession {
  /** Command-phase bytes from the client. */
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface MysqlBackend {
  /** Server version and capabilities to greet clients with (from the resource's last login). */
  greeting(): { serverVersion: string; capabilities: number };
  /** Open the session for an authenticated client; bytes for the client go to `toClient`. */
  open(client: LocalHandshakeResult, toClient: (bytes: Uint8Array) => void, end: () => void): Promise<MysqlBackendSession>;
}

export interface MysqlListener {
  port: number;
  close(): Promise<void>;
}

export async function startMysqlListener(opts: { port?: number; host?: string; password: string; backend: MysqlBackend }): Promise<MysqlListener> {
  const stored = doubleSha1(opts.password);
  let nextId = 1;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    // Request/response protocol of small packets: Nagle + delayed ACK would add ~40 ms per query.
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const { serverVersion, capabilities } = opts.backend.greeting();
    const hs = new LocalHandshake(stored, serverVersion, capabilities, nextId++);
    const framer = new PacketFramer(1 << 20);
    let session: MysqlBackendSession | null = null;
    let opening = false;
    const early: Uint8Array[] = [];
    socket.write(hs.greeting());
    socket.on("data", (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk);
      if (session) return session.write(bytes);
      if (opening) return void early.push(bytes);
      let packets;
      try {
        packets = framer.push(bytes);
      } catch (e) {
        socket.end(encodePacket(2, refusal("malformed", (e as Error).message)));
        return;
      }
      for (const p of packets) {
        let step;
        try {
          step = hs.onPacket(p);
        } catch (e) {
          socket.end(encodePacket((p.lastSeq + 1) & 0xff, refusal("malformed", (e as Error).message)));
          return;
        }
        if (step.fail) {
          socket.end(step.send[0]);
          return;
        }
        if (!step.done) {
          for (const s of step.send) socket.write(s);
          continue;
        }
        opening = true;
        socket.pause();
        opts.backend
          .open(step.done, (b) => socket.write(b), () => socket.end())
          .then((s) => {
            session = s;
            opening = false;
            for (const b of step.send) socket.write(b);
            socket.on("close", () => s.close());
            socket.resume();
            const leftover = framer.buffered;
            if (leftover) socket.destroy(); // the client pipelined past the handshake: not something clients do
            for (const b of early) s.write(b);
          })
          .catch((e: Error) => {
            socket.end(encodePacket((p.lastSeq + 1) & 0xff, refusal("connection", `cannot open the session: ${e.message}`)));
          });
        return;
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
