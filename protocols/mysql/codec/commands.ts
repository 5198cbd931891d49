/**
 * Client commands (command phase). decodeCommand turns one logical packet into a typed command;
 * anything it does not know is `{ type: "unknown" }`, which the engine refuses (fail closed,
 * nothing unparsed is relayed). COM_STMT_EXECUTE parameters are decoded later, with the
 * parameter count the server announced for that statement (statements.ts).
 */
import { Reader, Writer, utf8Bytes, utf8Text } from "./bytes.ts";
import { COM } from "./constants.ts";
import { MysqlCodecError } from "./errors.ts";

export type Command =
  | { type: "quit" }
  | { type: "ping" }
  | { type: "query"; sql: Uint8Array }
  | { type: "init-db"; database: string }
  | { type: "stmt-prepare"; sql: Uint8Array }
  | { type: "stmt-execute"; statementId: number; flags: number; iterations: number; rest: Uint8Array }
  | { type: "stmt-close"; statementId: number }
  | { type: "stmt-reset"; statementId: number }
  | { type: "stmt-send-long-data"; statementId: number; paramId: number; data: Uint8Array }
  | { type: "stmt-fetch"; statementId: number; rows: number }
  | { type: "set-option"; option: number }
  | { type: "change-user" }
  | { type: "reset-connection" }
  | { type: "field-list"; table: string }
  | { type: "statistics" }
  | { type: "refused"; command: number; name: string }
  | { type: "unknown"; command: number };

const REFUSED_NAMES: Record<number, string> = {
  [COM.CREATE_DB]: "COM_CREATE_DB",
  [COM.DROP_DB]: "COM_DROP_DB",
  [COM.REFRESH]: "COM_REFRESH",
  [COM.SHUTDOWN]: "COM_SHUTDOWN",
  [COM.PROCESS_INFO]: "COM_PROCESS_INFO",
  [COM.PROCESS_KILL]: "COM_PROCESS_KILL",
  [COM.DEBUG]: "COM_DEBUG",
  [COM.BINLOG_DUMP]: "COM_BINLOG_DUMP",
  [COM.BINLOG_DUMP_GTID]: "COM_BINLOG_DUMP_GTID",
  [COM.TABLE_DUMP]: "COM_TABLE_DUMP",
  [COM.REGISTER_SLAVE]: "COM_REGISTER_SLAVE",
  [COM.DAEMON]: "COM_DAEMON",
  [COM.DELAYED_INSERT]: "COM_DELAYED_INSERT",
  [COM.CONNECT_OUT]: "COM_CONNECT_OUT",
  [COM.STMT_BULK_EXECUTE]: "COM_STMT_BULK_EXECUTE",
};

export function decodeCommand(p: Uint8Array): Command {
  if (p.length === 0) throw new MysqlCodecError("truncated", "empty command packet");
  const r = new Reader(p, 1);
  const cmd = p[0];
  switch (cmd) {
    case COM.QUIT:
      return { type: "quit" };
    case COM.PING:
      return { type: "ping" };
    case COM.QUERY:
      return { type: "query", sql: r.rest() };
    case COM.INIT_DB:
      return { type: "init-db", database: utf8Text(r.rest()) };
    case COM.STMT_PREPARE:
      return { type: "stmt-prepare", sql: r.rest() };
    case COM.STMT_EXECUTE: {
      const statementId = r.u32("statement id");
      const flags = r.u8("cursor flags");
      const iterations = r.u32("iteration count");
      return { type: "stmt-execute", statementId, flags, iterations, rest: r.rest() };
    }
    case COM.STMT_CLOSE:
      return { type: "stmt-close", statementId: r.u32("statement id") };
    case COM.STMT_RESET:
      return { type: "stmt-reset", statementId: r.u32("statement id") };
    case COM.STMT_SEND_LONG_DATA: {
      const statementId = r.u32("statement id");
      const paramId = r.u16("parameter id");
      return { type: "stmt-send-long-data", statementId, paramId, data: r.rest() };
    }
    case COM.STMT_FETCH:
      return { type: "stmt-fetch", statementId: r.u32("statement id"), rows: r.u32("row count") };
    case COM.SET_OPTION:
      return { type: "set-option", option: r.u16("option") };
    case COM.CHANGE_USER:
      return { type: "change-user" };
    case COM.RESET_CONNECTION:
      return { type: "reset-connection" };
    case COM.FIELD_LIST:
      return { type: "field-list", table: utf8Text(r.nulBytes("table")) };
    case COM.STATISTICS:
      return { type: "statistics" };
    default:
      if (REFUSED_NAMES[cmd]) return { type: "refused", command: cmd, name: REFUSED_NAMES[cmd] };
      return { type: "unknown", command: cmd };
  }
}

/** COM_SET_OPTION values: multi-statements on/off (the gateway tracks it; the classifier splits statements anyway). */
export const SET_OPTION = { MULTI_STATEMENTS_ON: 0, MULTI_STATEMENTS_OFF: 1 } as const;

export function encodeQuery(sql: string | Uint8Array): Uint8Array {
  return new Writer().u8(COM.QUERY).bytes(typeof sql === "string" ? utf8Bytes(sql) : sql).finish();
}
export function encodeStmtPrepare(sql: string): Uint8Array {
  return new Writer().u8(COM.STMT_PREPARE).bytes(utf8Bytes(sql)).finish();
}
export function encodeStmtClose(id: number): Uint8Array {
  return new Writer().u8(COM.STMT_CLOSE).u32(id).finish();
}

/** COM_STMT_PREPARE_OK: the server's answer to a prepare. */
export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
  warnings: number;
}
export function decodePrepareOk(p: Uint8Array): PrepareOk {
  const r = new Reader(p);
  if (r.u8() !== 0x00) throw new MysqlCodecError("malformed", "not a COM_STMT_PREPARE_OK");
  const statementId = r.u32("statement id");
  const columns = r.u16("column count");
  const params = r.u16("parameter count");
  let warnings = 0;
  if (r.remaining >= 3) {
    r.u8("filler");
    warnings = r.u16("warnings");
  }
  return { statementId, columns, params, warnings };
}
export function encodePrepareOk(ok: PrepareOk): Uint8Array {
  return new Writer().u8(0).u32(ok.statementId).u16(ok.columns).u16(ok.params).u8(0).u16(ok.warnings).finish();
}

/** LOCAL INFILE request from the server (0xfb + file name) — answered by the gateway, never by the client's disk. */
export function isLocalInfileRequest(p: Uint8Array): boolean {
  return p.length > 0 && p[0] === 0xfb;
}
export function decodeLocalInfileRequest(p: Uint8Array): string {
  return utf8Text(p.subarray(1));
}
