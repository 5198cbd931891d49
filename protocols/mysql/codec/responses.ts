/**
 * Generic responses: OK (0x00, or 0xfe with DEPRECATE_EOF at the end of a resultset), ERR (0xff),
 * EOF (0xfe, < 9 bytes). The ERR encoder is the refusal encoder: every error the gateway itself
 * produces goes to the client as a MySQL ERR packet with a MySQL error code and SQLSTATE, so
 * `mariadb`, mysql2, JDBC… show it like any server error.
 */
import { Reader, Writer, utf8Bytes, utf8Text } from "./bytes.ts";
import { MysqlCodecError } from "./errors.ts";

export interface OkPacket {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info: string;
}
export interface ErrPacket {
  code: number;
  sqlState: string;
  message: string;
}
export interface EofPacket {
  warnings: number;
  status: number;
}

export function isErr(p: Uint8Array): boolean {
  return p.length > 0 && p[0] === 0xff;
}
export function isOk(p: Uint8Array): boolean {
  return p.length >= 7 && p[0] === 0x00;
}
/** 0xfe with fewer than 9 bytes: an EOF packet (or, with DEPRECATE_EOF, an OK packet ending a resultset). */
export function isEof(p: Uint8Array): boolean {
  return p.length > 0 && p.length < 9 && p[0] === 0xfe;
}

export function decodeOk(p: Uint8Array): OkPacket {
  const r = new Reader(p);
  const head = r.u8();
  if (head !== 0x00 && head !== 0xfe) throw new MysqlCodecError("malformed", "not an OK packet");
  const affectedRows = r.lenenc("affected rows") ?? 0;
  const lastInsertId = r.lenenc("last insert id") ?? 0;
  const status = r.u16("status");
  const warnings = r.u16("warnings");
  const info = utf8Text(r.rest());
  return { affectedRows, lastInsertId, status, warnings, info };
}

export function encodeOk(ok: Partial<OkPacket> & { status: number }, header = 0x00): Uint8Array {
  const w = new Writer().u8(header).lenenc(ok.affectedRows ?? 0).lenenc(ok.lastInsertId ?? 0).u16(ok.status).u16(ok.warnings ?? 0);
  if (ok.info) w.bytes(utf8Bytes(ok.info));
  return w.finish();
}

export function decodeErr(p: Uint8Array): ErrPacket {
  const r = new Reader(p);
  if (r.u8() !== 0xff) throw new MysqlCodecError("malformed", "not an ERR packet");
  const code = r.u16("error code");
  let sqlState = "HY000";
  if (r.remaining > 0 && p[r.pos] === 0x23 /* # */) {
    r.u8();
    sqlState = utf8Text(r.bytes(5, "SQLSTATE"));
  }
  return { code, sqlState, message: utf8Text(r.rest()) };
}

export function decodeEof(p: Uint8Array): EofPacket {
  const r = new Reader(p);
  if (r.u8() !== 0xfe) throw new MysqlCodecError("malformed", "not an EOF packet");
  if (r.remaining < 4) return { warnings: 0, status: 0 };
  return { warnings: r.u16(), status: r.u16() };
}

export function encodeEof(status: number, warnings = 0): Uint8Array {
  return new Writer().u8(0xfe).u16(warnings).u16(status).finish();
}

/**
 * Error codes the gateway answers with. Codes are MySQL's own so clients map them as usual
 * (mysql2 `code`, the `mariadb` client's "ERROR nnnn (SQLSTATE)").
 */
export const GATEWAY_ERRORS = {
  /** Statement refused by policy: ER_SPECIFIC_ACCESS_DENIED_ERROR, SQLSTATE 42000. */
  denied: { code: 1227, sqlState: "42000" },
  /** Command refused (COM_CHANGE_USER, COM_BINLOG_DUMP…): ER_NOT_SUPPORTED_YET. */
  notSupported: { code: 1235, sqlState: "42000" },
  /** Malformed or undecodable packet: ER_MALFORMED_PACKET. */
  malformed: { code: 1835, sqlState: "HY000" },
  /** Handshake / local authentication failed: ER_ACCESS_DENIED_ERROR. */
  accessDenied: { code: 1045, sqlState: "28000" },
  /** Packet larger than the gateway's bound: ER_NET_PACKET_TOO_LARGE. */
  tooLarge: { code: 1153, sqlState: "08S01" },
  /** The gateway could not reach the target, or ended the session: ER_CONNECTION_KILLED-like 08S01. */
  connection: { code: 2013, sqlState: "08S01" },
  /** The tenant's request rate is used up (hosted mode): ER_USER_LIMIT_REACHED, MySQL's own "exceeded the resource" error. */
  rateLimited: { code: 1226, sqlState: "42000" },
  /** Too many sessions / session starts (the tenant's caps, refused before a session opens): ER_CON_COUNT_ERROR. */
  tooManyConnections: { code: 1040, sqlState: "08004" },
  /** Approval pending/denied: ER_QUERY_INTERRUPTED (70100) for withdrawn, denied uses `denied`. */
  interrupted: { code: 1317, sqlState: "70100" },
} as const;

export function encodeErr(err: ErrPacket): Uint8Array {
  if (!/^[0-9A-Z]{5}$/.test(err.sqlState)) throw new MysqlCodecError("malformed", `bad SQLSTATE ${err.sqlState}`);
  // Messages above MySQL's MYSQL_ERRMSG_SIZE (512) are cut by clients anyway; keep them whole characters.
  let msg = utf8Bytes(err.message);
  if (msg.length > 500) msg = utf8Bytes(err.message.slice(0, 480) + "…");
  return new Writer().u8(0xff).u16(err.code).u8(0x23).bytes(utf8Bytes(err.sqlState)).bytes(msg).finish();
}

/** The refusal encoder: an ERR for one of the gateway's own error kinds. */
export function refusal(kind: keyof typeof GATEWAY_ERRORS, message: string): Uint8Array {
  return encodeErr({ ...GATEWAY_ERRORS[kind], message: `gatehouse: ${message}` });
}
