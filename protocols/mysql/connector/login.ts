/**
 * The connector's MySQL/MariaDB login: dial the target, TLS when configured (SSLRequest then
 * upgrade; the server must offer CLIENT_SSL or the login fails — no silent plaintext), authenticate
 * with the access level's credential (auth.ts), then read the session settings the worker pins
 * (sql_mode, character sets; docs/MYSQL.md §Session state). Read-level sessions are also put in
 * read-only transaction mode: a second wall behind the database account's own grants.
 *
 * Only capabilities the gateway decodes are requested (codec/constants.ts GATEWAY_CAPABILITIES):
 * no compression, no query attributes, no session tracking.
 */
import net from "node:net";
import tls from "node:tls";
import { PacketFramer, encodePacket, type Packet } from "../codec/packets.ts";
import { CLIENT, FORMAT_CAPABILITIES, GATEWAY_CAPABILITIES, UTF8MB4_GENERAL_CI } from "../codec/constants.ts";
import { decodeAuthSwitchRequest, decodeHandshakeV10, encodeHandshakeResponse41, encodeSslRequest, type HandshakeV10 } from "../codec/handshake.ts";
import { decodeErr, isErr, isOk, isEof } from "../codec/responses.ts";
import { encodeQuery } from "../codec/commands.ts";
import { decodeColumnCount, decodeTextRow } from "../codec/resultset.ts";
import { utf8Text } from "../codec/bytes.ts";
import { cachingSha2Response, cachingSha2RsaResponse, ed25519Response, nativePasswordResponse } from "./auth.ts";
import type { PinnedState } from "../sql/session.ts";

export interface MysqlTlsOptions {
  /** PEM of trusted CAs; without it the server certificate is not verified (mode `require`). */
  ca?: string;
  servername?: string;
  /** verify-full: check the host name too. */
  verifyHost?: boolean;
}

export interface MysqlLoginOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  tls?: MysqlTlsOptions;
  /** caching_sha2_password full path without TLS: the server's RSA public key (PEM). */
  serverPublicKey?: string;
  /** Put the session in read-only transaction mode (access level `read`). */
  readOnly?: boolean;
  /** Capabilities the client negotiated with the local listener (default: everything the gateway decodes). */
  capabilities?: number;
  /** Collation id for the session (utf8mb4 only; default utf8mb4_general_ci). */
  collation?: number;
  timeoutMs?: number;
  /** The policy's statement timeout: the server enforces it (MariaDB max_statement_time, MySQL max_execution_time). */
  statementTimeoutMs?: number | null;
}

export class MysqlLoginError extends Error {
  constructor(message: string, readonly serverCode?: number, readonly sqlState?: string) {
    super(message);
    this.name = "MysqlLoginError";
  }
}

export interface MysqlSession {
  socket: net.Socket | tls.TLSSocket;
  handshake: HandshakeV10;
  /** Capabilities both sides agreed on. */
  capabilities: number;
  pinned: PinnedState;
  /** Bytes read after login that belong to the session (normally none). */
  leftover: Uint8Array[];
}

/** Reads whole packets from a socket (login phase only; the session then streams raw bytes). */
class PacketReader {
  private framer = new PacketFramer(16 * 1024 * 1024);
  private queue: Packet[] = [];
  private waiting: ((p: Packet | Error) => void) | null = null;
  private failed: Error | null = null;
  private onData = (chunk: Buffer) => {
    try {
      this.queue.push(...this.framer.push(new Uint8Array(chunk)));
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.flush();
  };
  private onEnd = () => this.fail(new MysqlLoginError("the server closed the connection during login"));
  private onError = (e: Error) => this.fail(new MysqlLoginError(`connection to the server failed: ${e.message}`));

  constructor(public socket: net.Socket) {
    this.attach(socket);
  }
  attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
  }
  detach(): void {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("error", this.onError);
  }
  private fail(e: Error) {
    this.failed = e;
    this.flush();
  }
  private flush() {
    if (!this.waiting) return;
    const w = this.waiting;
    if (this.queue.length) {
      this.waiting = null;
      w(this.queue.shift()!);
    } else if (this.failed) {
      this.waiting = null;
      w(this.failed);
    }
  }
  next(): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.waiting = (p) => (p instanceof Error ? reject(p) : resolve(p));
      this.flush();
    });
  }
  get pendingBytes(): number {
    return this.framer.buffered;
  }
}

function serverError(p: Uint8Array, during: string): MysqlLoginError {
  const e = decodeErr(p);
  return new MysqlLoginError(`${during}: ${e.message}`, e.code, e.sqlState);
}

export async function mysqlLogin(opts: MysqlLoginOptions): Promise<MysqlSession> {
  const raw = net.connect({ host: opts.host, port: opts.port });
  raw.setNoDelay(true); // small request/response packets: no Nagle delay
  const timer = setTimeout(() => raw.destroy(new Error("login timed out")), opts.timeoutMs ?? 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once("connect", resolve);
      raw.once("error", reject);
    });
    let socket: net.Socket = raw;
    const reader = new PacketReader(raw);
    const greeting = await reader.next();
    if (isErr(greeting.payload)) throw serverError(greeting.payload, "server refused the connection");
    const hs = decodeHandshakeV10(greeting.payload);
    if (!(hs.capabilities & CLIENT.PROTOCOL_41) || !(hs.capabilities & CLIENT.SECURE_CONNECTION)) throw new MysqlLoginError("server does not speak protocol 4.1 with secure connection");
    // Command-phase format flags (DEPRECATE_EOF, MULTI_*, FOUND_ROWS…) must be exactly the ones the
    // client negotiated with the listener, or the server would answer in a format the client does not expect.
    // Flags that change no format (LONG_PASSWORD, which MariaDB reuses as CLIENT_MYSQL and does not
    // offer; INTERACTIVE…) are simply not requested when the server lacks them.
    const requested = ((opts.capabilities ?? GATEWAY_CAPABILITIES & hs.capabilities) & GATEWAY_CAPABILITIES) >>> 0;
    const missing = (requested & ~hs.capabilities & FORMAT_CAPABILITIES) >>> 0;
    if (missing) throw new MysqlLoginError(`the server does not offer capabilities the client negotiated (0x${missing.toString(16)})`);
    const wanted = (requested & (hs.capabilities | CLIENT.CONNECT_WITH_DB)) >>> 0;
    let caps = wanted | CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | (hs.capabilities & (CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_ATTRS));
    caps &= ~CLIENT.LOCAL_FILES; // the connector never reads local files; LOAD DATA LOCAL is refused by the worker anyway
    if (opts.database) caps |= CLIENT.CONNECT_WITH_DB;
    else caps &= ~CLIENT.CONNECT_WITH_DB;
    caps >>>= 0;
    const collation = opts.collation ?? UTF8MB4_GENERAL_CI;
    let seq = greeting.seq + 1;
    let secure = false;
    if (opts.tls) {
      if (!(hs.capabilities & CLIENT.SSL)) throw new MysqlLoginError("TLS is configured but the server does not offer it");
      caps = (caps | CLIENT.SSL) >>> 0;
      raw.write(encodePacket(seq++, encodeSslRequest(caps, 1 << 24, collation)));
      reader.detach();
      const t = tls.connect({
        socket: raw,
        ca: opts.tls.ca,
        servername: opts.tls.servername ?? (net.isIP(opts.host) ? undefined : opts.host),
        rejectUnauthorized: opts.tls.ca !== undefined,
        checkServerIdentity: opts.tls.verifyHost ? tls.checkServerIdentity : () => undefined,
      });
      await new Promise<void>((resolve, reject) => {
        t.once("secureConnect", resolve);
        t.once("error", (e) => reject(new MysqlLoginError(`TLS to the server failed: ${e.message}`)));
      });
      socket = t;
      reader.attach(t);
      secure = true;
    }
    const respond = (plugin: string, scramble: Uint8Array): Uint8Array => {
      switch (plugin) {
        case "mysql_native_password":
          return nativePasswordResponse(opts.password, scramble);
        case "caching_sha2_password":
          return cachingSha2Response(opts.password, scramble);
        case "client_ed25519":
          return ed25519Response(opts.password, scramble);
        default:
          throw new MysqlLoginError(`authentication plugin ${plugin} is not supported by the connector`);
      }
    };
    let plugin = hs.authPlugin;
    let scramble = hs.scramble;
    const first = ["mysql_native_password", "caching_sha2_password", "client_ed25519"].includes(plugin) ? plugin : "mysql_native_password";
    plugin = first;
    socket.write(
      encodePacket(
        seq,
        encodeHandshakeResponse41({ capabilities: caps, maxPacket: 1 << 24, charset: collation, user: opts.user, authResponse: respond(plugin, scramble), database: opts.database ?? null, authPlugin: plugin, attributes: new Map([["_client_name", "gatehouse-connector"]]) }),
      ),
    );
    for (;;) {
      const p = await reader.next();
      seq = p.seq + 1;
      const b = p.payload;
      if (isOk(b)) break;
      if (isErr(b)) throw serverError(b, "authentication failed");
      if (b[0] === 0xfe) {
        const sw = decodeAuthSwitchRequest(b);
        plugin = sw.plugin;
        scramble = sw.data;
        socket.write(encodePacket(seq, respond(plugin, scramble)));
        continue;
      }
      if (b[0] === 0x01 && plugin === "caching_sha2_password") {
        if (b[1] === 0x03) continue; // fast path succeeded; OK follows
        if (b[1] === 0x04) {
          // full authentication
          if (secure) socket.write(encodePacket(seq, Buffer.concat([Buffer.from(opts.password, "utf8"), Buffer.from([0])])));
          else if (opts.serverPublicKey) socket.write(encodePacket(seq, cachingSha2RsaResponse(opts.password, scramble, opts.serverPublicKey)));
          else throw new MysqlLoginError("caching_sha2_password full authentication needs TLS or the server's public key (serverPublicKey)");
          continue;
        }
      }
      throw new MysqlLoginError(`unexpected packet 0x${b[0]?.toString(16)} during authentication (${plugin})`);
    }
    // Settings the worker pins, read from the server itself.
    const query = async (sql: string): Promise<(string | null)[][]> => {
      socket.write(encodePacket(0, encodeQuery(sql)));
      const head = await reader.next();
      if (isErr(head.payload)) throw serverError(head.payload, sql);
      if (isOk(head.payload)) return [];
      const cols = decodeColumnCount(head.payload);
      for (let i = 0; i < cols; i++) await reader.next();
      if (!(caps & CLIENT.DEPRECATE_EOF)) await reader.next();
      const rows: (string | null)[][] = [];
      for (;;) {
        const r = await reader.next();
        if (isErr(r.payload)) throw serverError(r.payload, sql);
        if (isEof(r.payload)) break;
        rows.push(decodeTextRow(r.payload, cols).map((c) => (c === null ? null : utf8Text(c))));
      }
      return rows;
    };
    if (opts.readOnly) await query("SET SESSION TRANSACTION READ ONLY");
    if (opts.statementTimeoutMs) {
      // MySQL has no in-band cancel the gateway can send; the server itself stops long statements.
      if (/mariadb/i.test(hs.serverVersion)) await query(`SET SESSION max_statement_time = ${(opts.statementTimeoutMs / 1000).toFixed(3)}`);
      else await query(`SET SESSION max_execution_time = ${Math.floor(opts.statementTimeoutMs)}`);
    }
    const [row] = await query("SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.character_set_results, @@SESSION.character_set_connection");
    const pinned: PinnedState = { sqlMode: row[0] ?? "", charsetClient: row[1] ?? "", charsetResults: row[2] ?? "", charsetConnection: row[3] ?? "" };
    if (reader.pendingBytes) throw new MysqlLoginError("server sent unexpected bytes after login");
    reader.detach();
    return { socket, handshake: hs, capabilities: caps, pinned, leftover: [] };
  } catch (e) {
    raw.destroy();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
