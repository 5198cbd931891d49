/**
 * Masks free text (SQL of a request, bind parameters, approval display text) with the same WASM
 * scanner and rules as results, so the audit trail and approvers never see what the client would
 * not. The texts travel through the masker as one DataRow of text columns named `$1…$n`
 * (column-name rules therefore do not apply; content detectors and custom patterns do).
 */
import { cstring, concat, message } from "../../parsers/pg/codec.ts";
import { decodeDataRow } from "../../parsers/pg/results.ts";
import type { SessionMasker } from "./session-masker.ts";

const TEXT_OID = 25;
const encoder = new TextEncoder();

function rowDescription(n: number): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([n >> 8, n & 0xff])];
  for (let i = 0; i < n; i++) {
    const field = new Uint8Array(18);
    const view = new DataView(field.buffer);
    view.setUint32(6, TEXT_OID);
    view.setInt16(10, -1);
    view.setInt32(12, -1);
    parts.push(cstring(`$${i + 1}`), field);
  }
  return message("T", concat(parts));
}

function dataRow(values: readonly string[]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([values.length >> 8, values.length & 0xff])];
  for (const v of values) {
    const bytes = encoder.encode(v);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setInt32(0, bytes.length);
    parts.push(len, bytes);
  }
  return message("D", concat(parts));
}

/** Returns the texts as the masker would show them (same order). */
export function maskTexts(masker: SessionMasker, texts: readonly string[]): string[] {
  if (texts.length === 0) return [];
  const out = masker.process(concat([rowDescription(texts.length), dataRow(texts)]));
  // Skip the RowDescription we sent, decode the DataRow that came back.
  const tLen = new DataView(out.buffer, out.byteOffset + 1, 4).getInt32(0) + 1;
  const d = out.subarray(tLen);
  const values = decodeDataRow(d.subarray(5), undefined, Number.MAX_SAFE_INTEGER);
  return values.map((v) => v ?? "");
}
