/**
 * A bare PostgreSQL wire client for end-to-end tests that need message sequences no driver in
 * this repo sends (e.g. pgjdbc's Bind+Execute re-executions without Describe): raw frontend
 * messages over a real socket, backend messages read back one by one.
 */
import { connect, type Socket } from "node:net";
import { concat, cstring, encodeParse, encodeQuery, message } from "../../protocols/postgres/codec/codec.ts";
import { TEST_LISTENER_CREDENTIALS } from "../harness/listener-auth.ts";
import { scramClientFinal, scramClientFirst } from "../../client/testing/scram-client.ts";

export interface BackendMessage {
  type: string;
  body: Buffer;
}

export class PgWire {
  private buffer = Buffer.alloc(0);
  private readonly messages: BackendMessage[] = [];
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 5) {
        const len = this.buffer.readUInt32BE(1);
        if (this.buffer.length < 1 + len) break;
        this.messages.push({ type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, 1 + len) });
        this.buffer = this.buffer.subarray(1 + len);
      }
      this.waiter?.();
    });
    const end = (e?: Error) => {
      this.closed = e ?? new Error("connection closed");
      this.waiter?.();
    };
    socket.on("close", () => end());
    socket.on("error", end);
  }

  /**
   * Connects and completes the startup: SCRAM-SHA-256 with the listener's password (default: the
   * harness's), then the gateway's answer up to ReadyForQuery.
   */
  static async open(port: number, user: string, database: string, password = TEST_LISTENER_CREDENTIALS.password): Promise<PgWire> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const wire = new PgWire(socket);
    const params = concat([cstring("user"), cstring(user), cstring("database"), cstring(database), cstring("client_encoding"), cstring("UTF8"), new Uint8Array([0])]);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    startup.set(params, 8);
    socket.write(startup);
    await wire.authenticate(password);
    const first = await wire.untilReady();
    if (first.some((m) => m.type === "E")) throw new Error(`startup failed: ${first.map((m) => m.body.toString("latin1")).join(" ")}`);
    return wire;
  }

  /**
   * Connects to a harness connection URL (its port, user, database and password — never a URL
   * built by hand) with these startup parameters, and returns every message up to ReadyForQuery
   * or the startup's ErrorResponse (an open PgWire only when the startup succeeded).
   */
  static async start(url: string, parameters: Record<string, string> = {}): Promise<{ wire: PgWire | null; messages: BackendMessage[] }> {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const wire = new PgWire(socket);
    const all: Record<string, string> = { user: decodeURIComponent(u.username), database: decodeURIComponent(u.pathname.slice(1)), ...parameters };
    const params = concat([...Object.entries(all).flatMap(([k, v]) => [cstring(k), cstring(v)]), new Uint8Array([0])]);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    startup.set(params, 8);
    socket.write(startup);
    const messages: BackendMessage[] = [];
    for (;;) {
      let m: BackendMessage;
      try {
        m = await wire.next();
      } catch {
        return { wire: null, messages };
      }
      messages.push(m);
      // The listener's SCRAM-SHA-256 exchange, with the password the harness URL carries.
      if (m.type === "R" && m.body.readInt32BE(0) === 10) {
        try {
          await wire.scram(decodeURIComponent(u.password) || TEST_LISTENER_CREDENTIALS.password);
        } catch {
          return { wire: null, messages };
        }
        continue;
      }
      if (m.type === "E") return { wire: null, messages };
      if (m.type === "Z") return { wire, messages };
    }
  }

  /** The listener's SCRAM-SHA-256 exchange (AuthenticationSASL → Continue → Final). */
  private async authenticate(password: string): Promise<void> {
    await this.expectAuth(10);
    await this.scram(password);
  }

  private async expectAuth(code: number): Promise<Buffer> {
    const m = await this.next();
    if (m.type !== "R" || m.body.readInt32BE(0) !== code) throw new Error(`authentication failed: ${m.type} ${m.body.toString("latin1")}`);
    return m.body.subarray(4);
  }

  /** SCRAM-SHA-256 after AuthenticationSASL (already read): client-first → Continue → client-final → Final. */
  private async scram(password: string): Promise<void> {
    const expect = (code: number) => this.expectAuth(code);
    const first = scramClientFirst();
    this.send(message("p", concat([cstring("SCRAM-SHA-256"), int32(Buffer.byteLength(first.message)), Buffer.from(first.message)])));
    const serverFirst = (await expect(11)).toString("utf8");
    const final = scramClientFinal(first, serverFirst, password);
    this.send(message("p", Buffer.from(final.message)));
    const serverFinal = (await expect(12)).toString("utf8");
    if (serverFinal !== final.expectedServerFinal) throw new Error("the listener's SCRAM server signature is wrong");
  }

  send(...messages: Uint8Array[]): void {
    this.socket.write(concat(messages));
  }

  /** The next backend message (waits for it). */
  async next(): Promise<BackendMessage> {
    for (;;) {
      const m = this.messages.shift();
      if (m) return m;
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  /** Every backend message up to and including the next ReadyForQuery. */
  async untilReady(): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m.type === "Z") return out;
    }
  }

  close(): void {
    this.socket.end(message("X", new Uint8Array(0)));
  }
}

// ---- frontend messages

export { encodeParse as parse, encodeQuery as query };

/** Bind with text parameters and the given result-column format codes. */
export function bind(portal: string, statement: string, params: Array<string | null>, resultFormats: number[] = []): Uint8Array {
  const parts: Uint8Array[] = [cstring(portal), cstring(statement), int16(0), int16(params.length)];
  for (const p of params) {
    if (p === null) parts.push(int32(-1));
    else {
      const b = new TextEncoder().encode(p);
      parts.push(int32(b.length), b);
    }
  }
  parts.push(int16(resultFormats.length), ...resultFormats.map(int16));
  return message("B", concat(parts));
}

export const describe = (kind: "S" | "P", name: string): Uint8Array => message("D", concat([new Uint8Array([kind.charCodeAt(0)]), cstring(name)]));
export const execute = (portal: string, maxRows = 0): Uint8Array => message("E", concat([cstring(portal), int32(maxRows)]));
export const close = (kind: "S" | "P", name: string): Uint8Array => message("C", concat([new Uint8Array([kind.charCodeAt(0)]), cstring(name)]));
export const sync = (): Uint8Array => message("S", new Uint8Array(0));

// ---- backend messages

/** DataRow values: text as strings, NULL as null; binary columns (per `formats`) as Buffers. */
export function dataRow(m: BackendMessage, formats: number[] = []): Array<string | Buffer | null> {
  const n = m.body.readInt16BE(0);
  const out: Array<string | Buffer | null> = [];
  let off = 2;
  for (let k = 0; k < n; k++) {
    const len = m.body.readInt32BE(off);
    off += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    const v = m.body.subarray(off, off + len);
    out.push(formats[k] === 1 ? Buffer.from(v) : v.toString("utf8"));
    off += len;
  }
  return out;
}

/** An ErrorResponse's fields by code letter. */
export function errorFields(m: BackendMessage): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < m.body.length && m.body[off] !== 0) {
    const z = m.body.indexOf(0, off + 1);
    out[String.fromCharCode(m.body[off]!)] = m.body.subarray(off + 1, z).toString("utf8");
    off = z + 1;
  }
  return out;
}

function int16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, n);
  return b;
}

function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}
