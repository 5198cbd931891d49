/**
 * Synchronous SHA-256 (FIPS 180-4) of a JS string's UTF-8 bytes, in one pass.
 *
 * Why not crypto.subtle.digest: it is asynchronous, so a recorder that used it could not chain an
 * event in the same synchronous step that buffers it, and every event cost an extra await plus
 * two copies (TextEncoder output, then prefix||content concatenation). Here the UTF-8 encoding
 * feeds the compression function directly from the string (no intermediate byte array), which is
 * what "hash(prev || canonical)" needs: call with `prev + canonical` (a rope, not a copy).
 * Lone surrogates are encoded as U+FFFD, as TextEncoder does (the recorder never passes one:
 * boundEvent makes every string well-formed before it is canonicalized).
 */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Module-level scratch: the hash is synchronous and never re-entered, so one set of buffers serves every call.
const H = new Int32Array(8);
const W = new Int32Array(64);
const block = new Uint8Array(64);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function compress(): void {
  for (let i = 0; i < 16; i++) W[i] = (block[i * 4]! << 24) | (block[i * 4 + 1]! << 16) | (block[i * 4 + 2]! << 8) | block[i * 4 + 3]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

/** Lower-case hex SHA-256 of utf8(s). */
export function sha256HexSync(s: string): string {
  H[0] = 0x6a09e667;
  H[1] = 0xbb67ae85 | 0;
  H[2] = 0x3c6ef372;
  H[3] = 0xa54ff53a | 0;
  H[4] = 0x510e527f;
  H[5] = 0x9b05688c | 0;
  H[6] = 0x1f83d9ab;
  H[7] = 0x5be0cd19;
  let pos = 0; // bytes in `block`
  let total = 0; // bytes hashed so far (fits a double exactly far beyond any event size)
  const put = (byte: number) => {
    block[pos++] = byte;
    if (pos === 64) {
      compress();
      pos = 0;
    }
  };
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      block[pos++] = c;
      if (pos === 64) {
        compress();
        pos = 0;
      }
      total += 1;
      continue;
    }
    if (c < 0x800) {
      put(0xc0 | (c >> 6));
      put(0x80 | (c & 63));
      total += 2;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        put(0xf0 | (cp >> 18));
        put(0x80 | ((cp >> 12) & 63));
        put(0x80 | ((cp >> 6) & 63));
        put(0x80 | (cp & 63));
        total += 4;
        continue;
      }
      c = 0xfffd;
    }
    put(0xe0 | (c >> 12));
    put(0x80 | ((c >> 6) & 63));
    put(0x80 | (c & 63));
    total += 3;
  }
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  put(0x80);
  while (pos !== 56) put(0);
  const bits = total * 8;
  const hi = Math.floor(bits / 0x100000000);
  block[56] = hi >>> 24;
  block[57] = (hi >>> 16) & 255;
  block[58] = (hi >>> 8) & 255;
  block[59] = hi & 255;
  block[60] = bits >>> 24;
  block[61] = (bits >>> 16) & 255;
  block[62] = (bits >>> 8) & 255;
  block[63] = bits & 255;
  compress();
  let out = "";
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out += HEX[(v >>> 24) & 255]! + HEX[(v >>> 16) & 255]! + HEX[(v >>> 8) & 255]! + HEX[v & 255]!;
  }
  return out;
}
