/**
 * Resultsets: column count, ColumnDefinition41, text rows (lenenc strings, 0xfb = NULL) and
 * binary rows (0x00, NULL bitmap with offset 2, values encoded by column type). Rows decode to
 * `(Uint8Array | null)[]` cells — for binary rows, each cell is the value's own wire bytes — and
 * re-encode exactly, so masking can replace a cell and every length is recomputed.
 */
import { Reader, Writer, utf8Text } from "./bytes.ts";
import { TYPE } from "./constants.ts";
import { MysqlCodecError } from "./errors.ts";

export interface ColumnDefinition {
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  charset: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

export function decodeColumnCount(p: Uint8Array): number {
  const n = new Reader(p).lenenc("column count");
  if (n === null || n === 0) throw new MysqlCodecError("malformed", "bad column count");
  return n;
}

export function decodeColumnDefinition(p: Uint8Array): ColumnDefinition {
  const r = new Reader(p);
  const s = (what: string) => utf8Text(r.lenencBytes(what) ?? new Uint8Array(0));
  const catalog = s("catalog");
  if (catalog !== "def") throw new MysqlCodecError("malformed", "column definition catalog is not 'def'");
  const schema = s("schema");
  const table = s("table");
  const orgTable = s("org_table");
  const name = s("name");
  const orgName = s("org_name");
  const fixed = r.lenenc("fixed-length fields length");
  if (fixed === null || fixed < 0x0c) throw new MysqlCodecError("malformed", "column definition fixed fields");
  const charset = r.u16("character set");
  const length = r.u32("column length");
  const type = r.u8("column type");
  const flags = r.u16("column flags");
  const decimals = r.u8("decimals");
  return { schema, table, orgTable, name, orgName, charset, length, type, flags, decimals };
}

export function encodeColumnDefinition(c: ColumnDefinition): Uint8Array {
  const e = new TextEncoder();
  return new Writer()
    .lenencBytes(e.encode("def"))
    .lenencBytes(e.encode(c.schema))
    .lenencBytes(e.encode(c.table))
    .lenencBytes(e.encode(c.orgTable))
    .lenencBytes(e.encode(c.name))
    .lenencBytes(e.encode(c.orgName))
    .lenenc(0x0c)
    .u16(c.charset)
    .u32(c.length)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .u16(0)
    .finish();
}

export type Cell = Uint8Array | null;

export function decodeTextRow(p: Uint8Array, columns: number): Cell[] {
  const r = new Reader(p);
  const cells: Cell[] = [];
  for (let i = 0; i < columns; i++) cells.push(r.lenencBytes(`column ${i}`));
  if (r.remaining !== 0) throw new MysqlCodecError("malformed", "text row has bytes after its last column");
  return cells;
}

export function encodeTextRow(cells: Cell[]): Uint8Array {
  const w = new Writer();
  for (const c of cells) {
    if (c === null) w.u8(0xfb);
    else w.lenencBytes(c);
  }
  return w.finish();
}

/** Bytes of a fixed-size binary value, or -1 for length-encoded types. */
export function binaryFixedSize(type: number): number {
  switch (type) {
    case TYPE.TINY:
      return 1;
    case TYPE.SHORT:
    case TYPE.YEAR:
      return 2;
    case TYPE.LONG:
    case TYPE.INT24:
    case TYPE.FLOAT:
      return 4;
    case TYPE.LONGLONG:
    case TYPE.DOUBLE:
      return 8;
    case TYPE.NULL:
      return 0;
    case TYPE.DATE:
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.TIME:
    case TYPE.DATETIME2:
    case TYPE.TIMESTAMP2:
    case TYPE.TIME2:
    case TYPE.NEWDATE:
      return -2; // one length byte, then that many bytes
    default:
      return -1;
  }
}

function readBinaryValue(r: Reader, type: number, what: string): Uint8Array {
  const size = binaryFixedSize(type);
  if (size >= 0) return r.bytes(size, what);
  if (size === -2) {
    const start = r.pos;
    const n = r.u8(what);
    r.bytes(n, what);
    return r.buf.subarray(start, r.pos);
  }
  const start = r.pos;
  const n = r.lenenc(what);
  if (n === null) throw new MysqlCodecError("malformed", `${what}: NULL marker inside a binary row`);
  r.bytes(n, what);
  return r.buf.subarray(start, r.pos);
}

/**
 * Binary row: each non-NULL cell is the value's wire bytes *including* its length prefix for
 * length-encoded and temporal types (so re-encoding is a plain concatenation).
 */
export function decodeBinaryRow(p: Uint8Array, types: readonly number[]): Cell[] {
  const r = new Reader(p);
  if (r.u8("binary row header") !== 0x00) throw new MysqlCodecError("malformed", "binary row does not start with 0x00");
  const bitmap = r.bytes(Math.floor((types.length + 7 + 2) / 8), "NULL bitmap");
  const cells: Cell[] = [];
  for (let i = 0; i < types.length; i++) {
    const bit = i + 2;
    if (bitmap[bit >> 3] & (1 << (bit & 7))) cells.push(null);
    else cells.push(readBinaryValue(r, types[i], `column ${i}`));
  }
  if (r.remaining !== 0) throw new MysqlCodecError("malformed", "binary row has bytes after its last column");
  return cells;
}

export function encodeBinaryRow(cells: Cell[]): Uint8Array {
  const bitmap = new Uint8Array(Math.floor((cells.length + 7 + 2) / 8));
  cells.forEach((c, i) => {
    if (c === null) bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
  });
  const w = new Writer().u8(0).bytes(bitmap);
  for (const c of cells) if (c !== null) w.bytes(c);
  return w.finish();
}

/** The string payload of a length-encoded binary cell (strings, decimals, blobs, JSON). */
export function binaryCellString(cell: Uint8Array): Uint8Array {
  const r = new Reader(cell);
  const n = r.lenenc() ?? 0;
  return r.bytes(n);
}

/** True when a column type's binary cell is a length-encoded string (maskable as text). */
export function isStringType(type: number): boolean {
  return binaryFixedSize(type) === -1;
}
