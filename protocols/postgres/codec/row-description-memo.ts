/**
 * The last RowDescription decoded, kept by its bytes. A session that runs the same statement again
 * and again (a pgbench loop, an ORM's lookups) gets the same RowDescription every time, and the
 * engine reads each one twice (the masking plan, the trail's column names): both reads share one
 * decode, and a repeat costs a byte comparison. A body that differs in any byte is decoded afresh,
 * so what a caller gets is always exactly what decodeRowDescription would give.
 */
import { decodeRowDescription, type ColumnDescription } from "./results.ts";

export class RowDescriptionMemo {
  private bytes: Uint8Array | null = null;
  private columns: readonly ColumnDescription[] = [];

  /** decodeRowDescription(body), shared with the previous call when the bytes are the same (do not mutate). */
  decode(body: Uint8Array): readonly ColumnDescription[] {
    if (this.bytes !== null && sameBytes(this.bytes, body)) return this.columns;
    const columns = decodeRowDescription(body); // throws on a malformed body: nothing is kept
    this.bytes = body.slice(); // the body may be a view of memory that is reused
    this.columns = columns;
    return columns;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
