/** Test helpers: build PostgreSQL backend messages (the server side pg-protocol does not serialize). */
import { concatBytes } from "../encoding/bytes.ts";

const encoder = new TextEncoder();
export const utf8 = (s: string): Uint8Array => encoder.encode(s);

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setUint32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

/** Kept under the name these tests use; the one implementation is parsers/encoding/bytes.ts. */
export const concat = concatBytes;

function be(n: number, bytes: 2 | 4): Uint8Array {
  const out = new Uint8Array(bytes);
  const v = new DataView(out.buffer);
  if (bytes === 2) v.setInt16(0, n);
  else v.setInt32(0, n);
  return out;
}

export interface ColumnSpec {
  name: string;
  tableOid?: number;
  typeOid?: number;
  format?: 0 | 1;
}

export function rowDescription(cols: ColumnSpec[]): Uint8Array {
  const parts: Uint8Array[] = [be(cols.length, 2)];
  cols.forEach((c, k) => {
    parts.push(utf8(c.name), new Uint8Array([0]), be(c.tableOid ?? 0, 4), be(c.tableOid ? k + 1 : 0, 2), be(c.typeOid ?? 25, 4), be(-1, 2), be(-1, 4), be(c.format ?? 0, 2));
  });
  return message("T", concat(parts));
}

export function dataRow(values: (Uint8Array | string | null)[]): Uint8Array {
  const parts: Uint8Array[] = [be(values.length, 2)];
  for (const v of values) {
    if (v === null) parts.push(be(-1, 4));
    else {
      const b = typeof v === "string" ? utf8(v) : v;
      parts.push(be(b.length, 4), b);
    }
  }
  return message("D", concat(parts));
}

export function errorResponse(fields: Record<string, string>, type: "E" | "N" = "E"): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(utf8(k), utf8(v), new Uint8Array([0]));
  parts.push(new Uint8Array([0]));
  return message(type, concat(parts));
}

export function notification(pid: number, channel: string, payload: string): Uint8Array {
  return message("A", concat([be(pid, 4), utf8(channel), new Uint8Array([0]), utf8(payload), new Uint8Array([0])]));
}

export function copyOutResponse(format: 0 | 1, ncols: number): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([format]), be(ncols, 2)];
  for (let k = 0; k < ncols; k++) parts.push(be(format, 2));
  return message("H", concat(parts));
}

export function copyData(data: Uint8Array | string): Uint8Array {
  return message("d", typeof data === "string" ? utf8(data) : data);
}

export const copyDone = (): Uint8Array => message("c", new Uint8Array(0));
export const commandComplete = (tag: string): Uint8Array => message("C", concat([utf8(tag), new Uint8Array([0])]));
export const readyForQuery = (s = "I"): Uint8Array => message("Z", utf8(s));
export const bindComplete = (): Uint8Array => message("2", new Uint8Array(0));

/** Split a buffer of complete messages into its messages. */
export function splitMessages(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o < bytes.length) {
    const len = view.getUint32(o + 1);
    out.push(bytes.subarray(o, o + 1 + len));
    o += 1 + len;
  }
  return out;
}

/** Decode DataRow values (text) for assertions. */
export function dataRowValues(msg: Uint8Array): (string | null)[] {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const n = view.getInt16(5);
  let o = 7;
  const out: (string | null)[] = [];
  for (let k = 0; k < n; k++) {
    const len = view.getInt32(o);
    o += 4;
    if (len < 0) out.push(null);
    else {
      out.push(new TextDecoder().decode(msg.subarray(o, o + len)));
      o += len;
    }
  }
  return out;
}
