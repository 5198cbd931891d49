/**
 * The MySQL module's codecs in the fuzz table (targets.ts):
 *  - mysql-packets: a byte stream (client → server or server → client) through the packet framer
 *    in chunks, every logical packet through every decoder the engine applies to that direction's
 *    packets — commands (COM_QUERY, COM_STMT_*…), the handshake and its response, OK/ERR/EOF,
 *    COM_STMT_PREPARE_OK, resultset column counts and definitions, text and binary rows (against
 *    the columns the stream announced). Rows must re-encode to the same cells (masking rewrites rows
 *    through encode: a cell that changed in the round trip would be a wrong answer, not a refusal).
 *  - mysql-sql: a COM_QUERY text through the lexer/classifier, taint analysis and identifier reader
 *    under each lexical sql_mode variant (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) and both flavours, and
 *    every pinned setting the classifier reads out of it through the sql_mode/charset checks.
 */
import type { FuzzTarget } from "../target.ts";
import { chunksOf, linear, OracleMismatch, refusedAs } from "../chunks.ts";
import { MysqlCodecError } from "../../protocols/mysql/codec/errors.ts";
import { PacketFramer } from "../../protocols/mysql/codec/packets.ts";
import { decodeCommand, decodePrepareOk, decodeLocalInfileRequest, isLocalInfileRequest } from "../../protocols/mysql/codec/commands.ts";
import { decodeHandshakeResponse41, decodeHandshakeV10, decodeAuthSwitchRequest } from "../../protocols/mysql/codec/handshake.ts";
import { decodeEof, decodeErr, decodeOk, isEof, isErr, isOk } from "../../protocols/mysql/codec/responses.ts";
import { binaryCellString, decodeBinaryRow, decodeColumnCount, decodeColumnDefinition, decodeTextRow, encodeBinaryRow, encodeTextRow, isStringType, type Cell } from "../../protocols/mysql/codec/resultset.ts";
import { classifyMysql, opaquePart } from "../../protocols/mysql/sql/classify.ts";
import { analyzeTaint, namedIdentifiers } from "../../protocols/mysql/sql/taint.ts";
import { charsetOk, readSqlMode } from "../../protocols/mysql/sql/session.ts";
import type { Dialect } from "../../protocols/mysql/sql/dialect.ts";

const sameCells = (a: readonly Cell[], b: readonly Cell[]): boolean =>
  a.length === b.length && a.every((c, i) => (c === null ? b[i] === null : b[i] !== null && b[i]!.length === c.length && c.every((x, k) => b[i]![k] === x)));

/** Largest logical packet the fuzz framer accepts (the engine's bound is larger; the rule is the same). */
const MAX_PACKET = 1 << 16;

function runPackets(bytes: Uint8Array): unknown[] {
  const framer = new PacketFramer(MAX_PACKET);
  const out: unknown[] = [];
  // Resultset state, as the stream announces it: column count, then that many definitions.
  let columns = 0;
  let types: number[] = [];
  const decode = <T>(f: () => T) => {
    const v = refusedAs(MysqlCodecError, f);
    if (v !== undefined) out.push(v);
    return v;
  };
  for (const chunk of chunksOf(bytes)) {
    for (const packet of framer.push(chunk)) {
      const p = packet.payload;
      out.push(packet.seq, packet.lastSeq);
      decode(() => decodeCommand(p));
      decode(() => decodeHandshakeV10(p));
      decode(() => decodeHandshakeResponse41(p));
      decode(() => decodeAuthSwitchRequest(p));
      decode(() => decodePrepareOk(p));
      if (isOk(p)) decode(() => decodeOk(p));
      if (isErr(p)) decode(() => decodeErr(p));
      if (isEof(p)) decode(() => decodeEof(p));
      if (isLocalInfileRequest(p)) decode(() => decodeLocalInfileRequest(p));
      const definition = decode(() => decodeColumnDefinition(p));
      if (definition && types.length < columns) types.push(definition.type);
      const text = columns > 0 ? decode(() => decodeTextRow(p, columns)) : undefined;
      if (text && !sameCells(decodeTextRow(encodeTextRow(text), columns), text)) throw new OracleMismatch("a text row does not re-encode to the same cells");
      const binary = types.length > 0 ? decode(() => decodeBinaryRow(p, types)) : undefined;
      if (binary) {
        if (!sameCells(decodeBinaryRow(encodeBinaryRow(binary), types), binary)) throw new OracleMismatch("a binary row does not re-encode to the same cells");
        binary.forEach((c, i) => c !== null && isStringType(types[i]!) && out.push(binaryCellString(c)));
      }
      const count = decode(() => decodeColumnCount(p));
      if (count !== undefined && count <= 4096) {
        columns = count;
        types = [];
      }
    }
  }
  return out;
}

const DIALECTS: readonly Dialect[] = [false, true].flatMap((ansiQuotes) =>
  [false, true].flatMap((noBackslashEscapes) => [
    { flavor: "mariadb" as const, version: 101119, ansiQuotes, noBackslashEscapes },
    { flavor: "mysql" as const, version: 80036, ansiQuotes, noBackslashEscapes },
  ]),
);

function runSql(text: string): unknown[] {
  // The variant from the text's length: a finding reproduces from its bytes alone.
  const dialect = DIALECTS[text.length % DIALECTS.length]!;
  const statements = classifyMysql(text, dialect);
  const out: unknown[] = [statements, opaquePart(statements)];
  for (const s of statements) {
    for (const pin of s.pins ?? []) if (pin.value !== null) out.push(pin.setting === "sql_mode" ? readSqlMode(pin.value) : charsetOk(pin.value));
  }
  out.push(analyzeTaint(text, dialect, (id) => /card|email/i.test(id), (id) => /masked/i.test(id), text.length % 3 === 0));
  out.push(namedIdentifiers(text, dialect));
  return out;
}

export const MYSQL_TARGETS: readonly FuzzTarget[] = [
  { name: "mysql-packets", input: "bytes", typedErrors: [MysqlCodecError], run: runPackets, maxOutput: linear(32, 1024) },
  { name: "mysql-sql", input: "text", typedErrors: [], run: (_b, text) => runSql(text), maxOutput: linear(128, 1024) },
];
