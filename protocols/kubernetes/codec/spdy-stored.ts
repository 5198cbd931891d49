/**
 * The gateway's own SPDY/3 header compression stream: every header block it sends (re-encoded
 * from a peer's, or its own answer for a refused stream) as *stored* DEFLATE blocks in one zlib
 * stream per direction that the gateway owns. Stored blocks refer to no earlier output, so the
 * gateway can drop, insert or reorder whole header blocks without desynchronising the peer's
 * decompressor — which is what lets one refused port-forward stream be answered by the gateway
 * while the rest of the session goes on.
 *
 * Wire shape, as every SPDY/3 peer's decompressor (Go's zlib reader in kubectl's spdystream and
 * the kubelet's) reads it:
 *  - the first block of the stream starts with the zlib header naming the SPDY/3 dictionary
 *    (CMF 0x78, FLG 0xbb: FDICT set, check bits valid; DICTID = its Adler-32, e3c6a7c2);
 *  - then the name/value bytes as stored blocks (BFINAL 0, BTYPE 00; at most 65,535 bytes each);
 *  - then an empty stored block (the sync flush): Go's inflater hands out a stored block's bytes
 *    only when it reads the next block header, and must not read past the frame to find one.
 * No block is ever final and no Adler-32 trailer is written (the stream never ends).
 */
import { SPDY3_DICTIONARY_ID } from "./spdy.ts";

const ZLIB_HEADER = [0x78, 0xbb, (SPDY3_DICTIONARY_ID >>> 24) & 255, (SPDY3_DICTIONARY_ID >>> 16) & 255, (SPDY3_DICTIONARY_ID >>> 8) & 255, SPDY3_DICTIONARY_ID & 255];
const MAX_STORED = 65_535;

export class StoredHeaderEncoder {
  private started = false;

  /** One header block: the name/value bytes `raw` as the next whole, byte-aligned part of the stream. */
  encode(raw: Uint8Array): Uint8Array {
    const blocks = Math.max(1, Math.ceil(raw.length / MAX_STORED));
    const out = new Uint8Array((this.started ? 0 : ZLIB_HEADER.length) + raw.length + 5 * blocks + 5);
    let o = 0;
    if (!this.started) {
      out.set(ZLIB_HEADER);
      o = ZLIB_HEADER.length;
      this.started = true;
    }
    for (let at = 0; at < raw.length || (at === 0 && raw.length === 0); ) {
      const n = Math.min(MAX_STORED, raw.length - at);
      out.set([0x00, n & 255, n >>> 8, ~n & 255, (~n >>> 8) & 255], o);
      out.set(raw.subarray(at, at + n), o + 5);
      o += 5 + n;
      at += Math.max(n, 1);
    }
    out.set([0x00, 0x00, 0x00, 0xff, 0xff], o);
    return out;
  }
}

/** A SPDY/3 name/value block (count, then length-prefixed names and values; bytes as latin1). */
export function encodeNameValues(headers: ReadonlyMap<string, string>): Uint8Array {
  let n = 4;
  for (const [k, v] of headers) n += 8 + k.length + v.length;
  const out = new Uint8Array(n);
  let o = 0;
  const u32 = (x: number) => {
    out[o] = (x >>> 24) & 255;
    out[o + 1] = (x >>> 16) & 255;
    out[o + 2] = (x >>> 8) & 255;
    out[o + 3] = x & 255;
    o += 4;
  };
  const text = (s: string) => {
    u32(s.length);
    for (let k = 0; k < s.length; k++) out[o++] = s.charCodeAt(k) & 255;
  };
  u32(headers.size);
  for (const [k, v] of headers) {
    text(k);
    text(v);
  }
  return out;
}
