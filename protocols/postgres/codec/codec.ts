/**
 * Small PostgreSQL wire-protocol codec (protocol 3.0): the messages the gateway itself writes
 * and the frontend messages it must understand. Runtime-neutral, Uint8Array only.
 */
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

export class PgProtocolError extends Error {
  override name = "PgProtocolError";
  constructor(
    message: string,
    /** SQLSTATE to report to the client (protocol violation unless said otherwise). */
    readonly sqlstate = "08P01",
  ) {
    super(message);
  }
}

/** Builds one typed message: type byte, int32 length, body. */
export function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

export function cstring(s: string): Uint8Array {
  const b = utf8.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Parts joined into one new array (the codecs' name for the shared helper). */
export const concat = concatBytes;

/** Reads a NUL-terminated string at `offset`; returns it and the offset after the NUL. */
export function readCString(bytes: Uint8Array, offset: number): [string, number] {
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw new PgProtocolError("unterminated string in message");
  return [utf8Decode.decode(bytes.subarray(offset, end)), end + 1];
}

// ---- backend messages the gateway writes ----

export const authenticationOk = (): Uint8Array => message("R", new Uint8Array([0, 0, 0, 0]));

export const parameterStatus = (name: string, value: string): Uint8Array => message("S", concat([cstring(name), cstring(value)]));

export function backendKeyData(pid: number, secret: number): Uint8Array {
  const body = new Uint8Array(8);
  const view = new DataView(body.buffer);
  view.setInt32(0, pid);
  view.setInt32(4, secret);
  return message("K", body);
}

export type TransactionStatus = "I" | "T" | "E";
export const readyForQuery = (status: TransactionStatus): Uint8Array => message("Z", new Uint8Array([status.charCodeAt(0)]));

export interface ErrorFields {
  severity: "ERROR" | "FATAL" | "PANIC" | "WARNING" | "NOTICE" | "INFO" | "LOG" | "DEBUG";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fields(f: ErrorFields): Uint8Array {
  const parts: Uint8Array[] = [];
  const add = (key: string, value: string | undefined) => {
    if (value === undefined) return;
    // A NUL would end the field early and shift every later one: texts quoting client input must not break framing.
    parts.push(new Uint8Array([key.charCodeAt(0)]), cstring(value.includes("\0") ? value.replace(/\0/g, "") : value));
  };
  add("S", f.severity);
  add("V", f.severity);
  // Clients dispatch on the SQLSTATE: never send one that is not five characters of [0-9A-Z].
  add("C", /^[0-9A-Z]{5}$/.test(f.code) ? f.code : "08006");
  add("M", f.message);
  add("D", f.detail);
  add("H", f.hint);
  parts.push(new Uint8Array([0]));
  return concat(parts);
}

export const errorResponse = (f: ErrorFields): Uint8Array => message("E", fields(f));
export const noticeResponse = (f: ErrorFields): Uint8Array => message("N", fields(f));

/** Parses the fields of an ErrorResponse/NoticeResponse body into a map keyed by field code. */
export function parseErrorFields(body: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const key = String.fromCharCode(body[off]!);
    const [value, next] = readCString(body, off + 1);
    out.set(key, value);
    off = next;
  }
  return out;
}

// ---- frontend messages ----

/** PostgreSQL's own limit for startup packets (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;

export type StartupPacket =
  | { kind: "startup"; protocol: number; parameters: Map<string, string>; bytes: Uint8Array }
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; secret: number };

/**
 * THE PostgreSQL startup-packet parser (the client's listener and the worker both use it): one
 * complete untyped startup-phase packet, length included. Strict — whatever PostgreSQL itself would
 * refuse (wrong sizes, unterminated or trailing bytes, another protocol) is a PgProtocolError.
 */
export function parseStartupPacket(packet: Uint8Array): StartupPacket {
  if (packet.length < 8) throw new PgProtocolError("startup packet too short");
  const view = new DataView(packet.buffer, packet.byteOffset, packet.length);
  if (view.getInt32(0) !== packet.length) throw new PgProtocolError("startup packet length does not match its length field");
  const code = view.getInt32(4);
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (packet.length !== 8) throw new PgProtocolError("malformed SSL/GSS encryption request");
    return { kind: code === SSL_REQUEST_CODE ? "ssl" : "gssenc" };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // Gatehouse hands out 4-byte cancel keys, so a CancelRequest is exactly 16 bytes.
    if (packet.length !== 16) throw new PgProtocolError("malformed CancelRequest");
    return { kind: "cancel", pid: view.getUint32(8), secret: view.getUint32(12) };
  }
  if (code >>> 16 !== 3) throw new PgProtocolError(`unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: Gatehouse speaks protocol 3`);
  // `key\0value\0 ... \0` after the 8-byte header; the final NUL ends the list and the packet.
  const parameters = new Map<string, string>();
  let off = 8;
  for (;;) {
    if (off >= packet.length) throw new PgProtocolError("malformed StartupMessage: missing terminator");
    if (packet[off] === 0) {
      off++;
      break;
    }
    const [key, afterKey] = readCString(packet, off);
    const [value, afterValue] = readCString(packet, afterKey);
    parameters.set(key, value);
    off = afterValue;
  }
  if (off !== packet.length) throw new PgProtocolError("malformed StartupMessage: trailing bytes");
  return { kind: "startup", protocol: code, parameters, bytes: packet };
}

/** Query ('Q') body → SQL text. */
export function decodeQuery(body: Uint8Array): string {
  return readCString(body, 0)[0];
}

export const encodeQuery = (sql: string): Uint8Array => message("Q", cstring(sql));

export interface ParseMessage {
  name: string;
  query: string;
  paramTypes: number[];
}

/** Parse ('P') body → statement name, SQL text, parameter type OIDs. */
export function decodeParse(body: Uint8Array): ParseMessage {
  const [name, afterName] = readCString(body, 0);
  const [query, afterQuery] = readCString(body, afterName);
  if (afterQuery + 2 > body.length) throw new PgProtocolError("malformed Parse message");
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const count = view.getInt16(afterQuery);
  if (count < 0 || afterQuery + 2 + count * 4 > body.length) throw new PgProtocolError("malformed Parse message");
  const paramTypes: number[] = [];
  for (let i = 0; i < count; i++) paramTypes.push(view.getUint32(afterQuery + 2 + i * 4));
  return { name, query, paramTypes };
}

export const encodeParse = (name: string, query: string, paramTypes: readonly number[] = []): Uint8Array => {
  const types = new Uint8Array(2 + paramTypes.length * 4);
  const view = new DataView(types.buffer);
  view.setInt16(0, paramTypes.length);
  paramTypes.forEach((oid, i) => view.setUint32(2 + i * 4, oid));
  return message("P", concat([cstring(name), cstring(query), types]));
};

export interface BindMessage {
  portal: string;
  statement: string;
  /** Parameter values: text-decoded when their format is text, else null for binary (recorded as "<binary n bytes>"). */
  params: Array<string | null | { binary: number }>;
}

/** Bind ('B') body → portal, statement and parameter values (for the audit trail). */
export function decodeBind(body: Uint8Array): BindMessage {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const [portal, a] = readCString(body, 0);
  const [statement, b] = readCString(body, a);
  let off = b;
  const need = (n: number) => {
    if (off + n > body.length) throw new PgProtocolError("malformed Bind message");
  };
  need(2);
  const nFormats = view.getInt16(off);
  if (nFormats < 0) throw new PgProtocolError("malformed Bind message");
  off += 2;
  const formats: number[] = [];
  need(nFormats * 2);
  for (let i = 0; i < nFormats; i++) formats.push(view.getInt16(off + i * 2));
  off += nFormats * 2;
  need(2);
  const nParams = view.getInt16(off);
  if (nParams < 0) throw new PgProtocolError("malformed Bind message");
  off += 2;
  const params: BindMessage["params"] = [];
  for (let i = 0; i < nParams; i++) {
    need(4);
    const len = view.getInt32(off);
    off += 4;
    if (len < 0) {
      params.push(null);
      continue;
    }
    need(len);
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0]! : formats[i] ?? 0;
    params.push(format === 0 ? utf8Decode.decode(body.subarray(off, off + len)) : { binary: len });
    off += len;
  }
  return { portal, statement, params };
}
