/**
 * A minimal PostgreSQL reader for throughput figures: the pg driver does the startup
 * (SCRAM when direct, the gateway's AuthenticationOk otherwise), then we take its socket, send
 * one simple Query and only walk message lengths until ReadyForQuery — no row decoding, so the
 * client is not what limits the figure.
 */
import type net from "node:net";
import pg from "pg";
import type { PgTarget } from "./pgbench.ts";

export interface StreamResult {
  bytes: number;
  seconds: number;
  messages: number;
}

export interface StreamOptions {
  /** Called with each received chunk's size; may return a promise to stall the reader (slow-reader tests). */
  onChunk?: (size: number, total: number) => Promise<void> | void;
  /** Stall before reading anything (ms). */
  initialStallMs?: number;
}

export async function connectPg(t: PgTarget): Promise<pg.Client> {
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password ?? "", database: t.database });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** Time from TCP connect to the first ReadyForQuery (pg's connect() resolves on it), in ms. */
export async function timeConnect(t: PgTarget): Promise<number> {
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password ?? "", database: t.database });
  // The gateway answers Terminate with a FATAL 08006 before closing; that is not our figure's business.
  client.on("error", () => undefined);
  const t0 = performance.now();
  await client.connect();
  const ms = performance.now() - t0;
  await client.end();
  return ms;
}

/**
 * Time from TCP connect to the answer of the first statement (`select 1`), in ms: what a client
 * waits before its first result. Differs from timeConnect by the work a session overlaps with the
 * client's first round trip (the masking catalogue read: docs/MASKING.md "Derived values").
 */
export async function timeConnectAndFirstQuery(t: PgTarget): Promise<number> {
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password ?? "", database: t.database });
  client.on("error", () => undefined);
  const t0 = performance.now();
  await client.connect();
  await client.query("select 1");
  const ms = performance.now() - t0;
  await client.end();
  return ms;
}

function queryMessage(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`, "utf8");
  const msg = Buffer.alloc(5 + body.length);
  msg[0] = 0x51; // 'Q'
  msg.writeUInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return msg;
}

/** Run `sql` and count the bytes of everything the server sends until ReadyForQuery. */
export async function streamQuery(t: PgTarget, sql: string, o: StreamOptions = {}): Promise<StreamResult> {
  const client = await connectPg(t);
  const socket = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
  // From here the socket is ours: pg must not parse, nor report the close we cause.
  client.on("error", () => undefined);
  for (const ev of ["data", "end", "error", "close"]) socket.removeAllListeners(ev);
  try {
    return await new Promise<StreamResult>((resolve, reject) => {
      let bytes = 0;
      let messages = 0;
      // Walk messages across chunk boundaries: `skip` body bytes left of the current message; header bytes gathered in `head`.
      let skip = 0;
      const head = Buffer.alloc(5);
      let headLen = 0;
      let errorText: string | undefined;
      let errorCollect: Buffer[] | undefined;
      let t0 = 0;
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        let i = 0;
        while (i < chunk.length) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.length - i);
            if (errorCollect) errorCollect.push(chunk.subarray(i, i + n));
            skip -= n;
            i += n;
            if (skip === 0 && errorCollect) {
              errorText = Buffer.concat(errorCollect).toString("utf8").replace(/\0/g, " ").trim();
              errorCollect = undefined;
            }
            continue;
          }
          head[headLen++] = chunk[i++]!;
          if (headLen === 5) {
            headLen = 0;
            messages++;
            const type = head[0]!;
            skip = head.readUInt32BE(1) - 4;
            if (type === 0x45) errorCollect = []; // 'E'
            if (type === 0x5a && skip === 1) {
              // ReadyForQuery: 1 status byte left; it's the end of our query.
              socket.off("data", onData);
              const seconds = (performance.now() - t0) / 1000;
              if (errorText) reject(new Error(`server error: ${errorText}`));
              else resolve({ bytes, seconds, messages });
              return;
            }
          }
        }
        const r = o.onChunk?.(chunk.length, bytes);
        if (r instanceof Promise) {
          socket.pause();
          void r.then(() => socket.resume());
        }
      };
      socket.on("error", reject);
      socket.on("close", () => reject(new Error(`connection closed after ${bytes} bytes${errorText ? `: ${errorText}` : ""}`)));
      const start = () => {
        t0 = performance.now();
        socket.on("data", onData);
      };
      socket.write(queryMessage(sql));
      if (o.initialStallMs) {
        socket.pause();
        setTimeout(() => {
          start();
          socket.resume();
        }, o.initialStallMs);
      } else start();
    });
  } finally {
    socket.destroy();
  }
}
