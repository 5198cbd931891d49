/**
 * Connection phase: the server's Initial Handshake (protocol v10), the client's
 * HandshakeResponse41 (and the SSLRequest prefix), AuthSwitchRequest, AuthMoreData.
 * Pre-4.1 handshakes (HandshakeResponse320) are refused: every supported server speaks 4.1.
 */
import { Reader, Writer, utf8Text } from "./bytes.ts";
import { CLIENT } from "./constants.ts";
import { MysqlCodecError } from "./errors.ts";

export interface HandshakeV10 {
  serverVersion: string;
  connectionId: number;
  /** 20-byte scramble (auth-plugin-data parts 1 and 2, without the trailing NUL). */
  scramble: Uint8Array;
  /** Lower 32 bits of the server's capabilities. */
  capabilities: number;
  /** MariaDB: extended capabilities (upper 32 bits), when the server does not set CLIENT_MYSQL (bit 0). */
  mariadbCapabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
}

export function decodeHandshakeV10(payload: Uint8Array): HandshakeV10 {
  const r = new Reader(payload);
  const protocol = r.u8("protocol version");
  if (protocol === 0xff) throw new MysqlCodecError("malformed", "server refused the connection before the handshake");
  if (protocol !== 10) throw new MysqlCodecError("unsupported", `handshake protocol version ${protocol}`);
  const serverVersion = utf8Text(r.nulBytes("server version"));
  const connectionId = r.u32("connection id");
  const part1 = r.bytes(8, "auth-plugin-data part 1");
  r.u8("filler");
  let capabilities = r.u16("capability flags");
  let charset = 0;
  let status = 0;
  let authDataLen = 0;
  let mariadbCapabilities = 0;
  let part2: Uint8Array = new Uint8Array(0);
  let authPlugin = "mysql_native_password";
  if (r.remaining > 0) {
    charset = r.u8("charset");
    status = r.u16("status");
    capabilities |= r.u16("capability flags (upper)") << 16;
    capabilities >>>= 0;
    authDataLen = r.u8("auth-plugin-data length");
    r.bytes(6, "reserved");
    const ext = r.u32("MariaDB extended capabilities");
    if (!(capabilities & CLIENT.LONG_PASSWORD)) mariadbCapabilities = ext;
    if (capabilities & CLIENT.SECURE_CONNECTION) {
      const n = Math.max(13, authDataLen - 8);
      part2 = r.bytes(n, "auth-plugin-data part 2");
      if (part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & CLIENT.PLUGIN_AUTH) {
      const rest = r.rest();
      const nul = rest.indexOf(0);
      authPlugin = utf8Text(nul >= 0 ? rest.subarray(0, nul) : rest);
    }
  }
  const scramble = new Uint8Array(part1.length + part2.length);
  scramble.set(part1);
  scramble.set(part2, 8);
  return { serverVersion, connectionId, scramble, capabilities, mariadbCapabilities, charset, status, authPlugin };
}

export function encodeHandshakeV10(h: HandshakeV10): Uint8Array {
  if (h.scramble.length !== 20) throw new MysqlCodecError("malformed", "scramble must be 20 bytes");
  const w = new Writer();
  w.u8(10).nulString(h.serverVersion).u32(h.connectionId).bytes(h.scramble.subarray(0, 8)).u8(0);
  w.u16(h.capabilities & 0xffff).u8(h.charset).u16(h.status).u16(h.capabilities >>> 16);
  w.u8(21).zeros(6).u32(h.mariadbCapabilities);
  w.bytes(h.scramble.subarray(8)).u8(0);
  w.nulString(h.authPlugin);
  return w.finish();
}

export interface HandshakeResponse41 {
  capabilities: number;
  maxPacket: number;
  charset: number;
  /** True when this packet is only an SSLRequest (32 bytes): TLS follows, then the full response. */
  sslRequest: boolean;
  user: string;
  authResponse: Uint8Array;
  database: string | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

export function decodeHandshakeResponse41(payload: Uint8Array): HandshakeResponse41 {
  const r = new Reader(payload);
  if (payload.length < 4) throw new MysqlCodecError("truncated", "handshake response too short");
  const capabilities = r.u32("client capabilities");
  if (!(capabilities & CLIENT.PROTOCOL_41)) throw new MysqlCodecError("unsupported", "pre-4.1 client handshake");
  const maxPacket = r.u32("max packet size");
  const charset = r.u8("client charset");
  r.bytes(23, "filler");
  const base = { capabilities, maxPacket, charset, attributes: new Map<string, string>() };
  if (r.remaining === 0) return { ...base, sslRequest: true, user: "", authResponse: new Uint8Array(0), database: null, authPlugin: null };
  const user = utf8Text(r.nulBytes("user name"));
  let authResponse: Uint8Array;
  if (capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes("auth response") ?? new Uint8Array(0);
  else if (capabilities & CLIENT.SECURE_CONNECTION) authResponse = r.bytes(r.u8("auth response length"), "auth response");
  else authResponse = r.nulBytes("auth response");
  let database: string | null = null;
  if (capabilities & CLIENT.CONNECT_WITH_DB && r.remaining > 0) database = utf8Text(r.nulBytes("database"));
  let authPlugin: string | null = null;
  if (capabilities & CLIENT.PLUGIN_AUTH && r.remaining > 0) authPlugin = utf8Text(r.nulBytes("auth plugin"));
  if (capabilities & CLIENT.CONNECT_ATTRS && r.remaining > 0) {
    const len = r.lenenc("attributes length") ?? 0;
    const end = r.pos + len;
    if (end > payload.length) throw new MysqlCodecError("truncated", "connection attributes run past the packet");
    while (r.pos < end) {
      const k = utf8Text(r.lenencBytes("attribute key") ?? new Uint8Array(0));
      const v = utf8Text(r.lenencBytes("attribute value") ?? new Uint8Array(0));
      base.attributes.set(k, v);
    }
  }
  return { ...base, sslRequest: false, user, authResponse, database, authPlugin };
}

export function encodeHandshakeResponse41(h: Omit<HandshakeResponse41, "sslRequest">): Uint8Array {
  const w = new Writer();
  w.u32(h.capabilities).u32(h.maxPacket).u8(h.charset).zeros(23);
  w.nulString(h.user);
  if (h.capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(h.authResponse);
  else w.u8(h.authResponse.length).bytes(h.authResponse);
  if (h.capabilities & CLIENT.CONNECT_WITH_DB) w.nulString(h.database ?? "");
  if (h.capabilities & CLIENT.PLUGIN_AUTH) w.nulString(h.authPlugin ?? "");
  if (h.capabilities & CLIENT.CONNECT_ATTRS) {
    const a = new Writer();
    for (const [k, v] of h.attributes) a.lenencBytes(new TextEncoder().encode(k)).lenencBytes(new TextEncoder().encode(v));
    w.lenencBytes(a.finish());
  }
  return w.finish();
}

export function encodeSslRequest(capabilities: number, maxPacket: number, charset: number): Uint8Array {
  return new Writer().u32(capabilities | CLIENT.SSL).u32(maxPacket).u8(charset).zeros(23).finish();
}

/** 0xfe during authentication: switch to `plugin` with new plugin data. */
export interface AuthSwitchRequest {
  plugin: string;
  data: Uint8Array;
}
export function decodeAuthSwitchRequest(payload: Uint8Array): AuthSwitchRequest {
  const r = new Reader(payload);
  if (r.u8() !== 0xfe) throw new MysqlCodecError("malformed", "not an AuthSwitchRequest");
  if (r.remaining === 0) return { plugin: "mysql_old_password", data: new Uint8Array(0) };
  const plugin = utf8Text(r.nulBytes("plugin name"));
  let data = r.rest();
  if (data.length && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}
export function encodeAuthSwitchRequest(req: AuthSwitchRequest): Uint8Array {
  return new Writer().u8(0xfe).nulString(req.plugin).bytes(req.data).u8(0).finish();
}
/** 0x01 during authentication: plugin-specific data (caching_sha2 fast/full path, public key). */
export function encodeAuthMoreData(data: Uint8Array): Uint8Array {
  return new Writer().u8(0x01).bytes(data).finish();
}
