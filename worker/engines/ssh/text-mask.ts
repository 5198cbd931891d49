/**
 * Text masking for SSH output with the SQL masker (same rules, same detectors, same counts).
 *
 * The session masker only speaks PostgreSQL backend messages, so a chunk of text is presented
 * to it as the single text column `output` of a one-row result: a RowDescription once, then one
 * DataRow per chunk. Column rules never name `output`, so the content detectors are what apply —
 * exactly what SQL values no column rule claimed get. NEEDED from the masking owner: a direct
 * `maskText(text)` entry point would avoid this framing (see the SSH report).
 */
import type { SessionMasker } from "../../masking/session-masker.ts";
import type { TextMaskFunction } from "../../../parsers/ssh/stream-mask.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

function rowDescription(): Uint8Array {
  const name = enc.encode("output\0");
  const body = new Uint8Array(2 + name.length + 18);
  const v = new DataView(body.buffer);
  v.setInt16(0, 1);
  body.set(name, 2);
  let o = 2 + name.length;
  v.setInt32(o, 0); // table oid
  v.setInt16(o + 4, 0); // column
  v.setInt32(o + 6, 25); // text
  v.setInt16(o + 10, -1);
  v.setInt32(o + 12, -1);
  v.setInt16(o + 16, 0); // text format
  o += 18;
  return message("T", body);
}

function dataRow(value: Uint8Array): Uint8Array {
  const body = new Uint8Array(2 + 4 + value.length);
  const v = new DataView(body.buffer);
  v.setInt16(0, 1);
  v.setInt32(2, value.length);
  body.set(value, 6);
  return message("D", body);
}

/** The value of the first DataRow in a batch of backend messages (null when masked to NULL). */
function firstDataRowValue(batch: Uint8Array): Uint8Array | null {
  const v = new DataView(batch.buffer, batch.byteOffset, batch.length);
  let off = 0;
  while (off + 5 <= batch.length) {
    const type = batch[off]!;
    const len = v.getInt32(off + 1);
    if (type === 0x44 /* D */) {
      const n = v.getInt32(off + 7);
      return n < 0 ? null : batch.subarray(off + 11, off + 11 + n);
    }
    off += 1 + len;
  }
  throw new Error("masker returned no DataRow");
}

export function textMaskFromSessionMasker(masker: SessionMasker): TextMaskFunction {
  let described = false;
  return (text: string): string => {
    const row = dataRow(enc.encode(text));
    const input = described ? row : concat(rowDescription(), row);
    described = true;
    const out = masker.process(input);
    if (out === input) return text;
    const value = firstDataRowValue(out);
    return value === null ? "[masked]" : dec.decode(value);
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
