/**
 * Decoders for the backend messages the audit trail needs: RowDescription column names,
 * DataRow values (text; binary values summarised), CommandComplete tags. Only called for sampled
 * rows and per-result boundaries, never for every row of a large result.
 */
import { readCString } from "./codec.ts";

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

export interface ColumnDescription {
  name: string;
  tableOid: number;
  columnIndex: number;
  typeOid: number;
  format: number;
}

export function decodeRowDescription(body: Uint8Array): ColumnDescription[] {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const count = view.getInt16(0);
  const out: ColumnDescription[] = [];
  let off = 2;
  for (let i = 0; i < count; i++) {
    const [name, next] = readCString(body, off);
    off = next;
    out.push({
      name,
      tableOid: view.getUint32(off),
      columnIndex: view.getInt16(off + 4),
      typeOid: view.getUint32(off + 6),
      format: view.getInt16(off + 16),
    });
    off += 18;
  }
  return out;
}

/** DataRow values as text (binary-format values become "<binary n bytes>"; NULL is null). */
export function decodeDataRow(body: Uint8Array, formats?: readonly number[], maxValueChars = 1024): Array<string | null> {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const count = view.getInt16(0);
  const out: Array<string | null> = [];
  let off = 2;
  for (let i = 0; i < count; i++) {
    const len = view.getInt32(off);
    off += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    if (formats && formats[i] === 1) out.push(`<binary ${len} bytes>`);
    else {
      const text = utf8.decode(body.subarray(off, off + Math.min(len, maxValueChars * 4)));
      out.push(text.length > maxValueChars ? `${text.slice(0, maxValueChars)}…` : text);
    }
    off += len;
  }
  return out;
}

export function decodeCommandComplete(body: Uint8Array): string {
  return readCString(body, 0)[0];
}

/** Walks complete, already framed messages: cb(type, start, end) with offsets into `bytes`. */
export function forEachMessage(bytes: Uint8Array, cb: (type: number, start: number, end: number) => void): void {
  let off = 0;
  while (off + 5 <= bytes.length) {
    const len = ((bytes[off + 1]! << 24) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 8) | bytes[off + 4]!) >>> 0;
    const end = off + 1 + len;
    cb(bytes[off]!, off, end);
    off = end;
  }
}
