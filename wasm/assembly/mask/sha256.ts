// SHA-256 and HMAC-SHA256 over WASM memory, no allocation: the keyed inner/outer states are
// precomputed once by hmacSetKey(), so each hmac() costs the message blocks plus two blocks.

const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W: usize = memory.data(256);
const STATE: usize = memory.data(32);
const BLOCK: usize = memory.data(64);
const KEYBLOCK: usize = memory.data(64);
const INNER: usize = memory.data(32);
const OUTER: usize = memory.data(32);
const INNER_DIGEST: usize = memory.data(32);

function compress(state: usize, block: usize): void {
  for (let t: usize = 0; t < 16; t++) store<u32>(W + (t << 2), bswap<u32>(load<u32>(block + (t << 2))));
  for (let t: usize = 16; t < 64; t++) {
    const w15 = load<u32>(W + ((t - 15) << 2));
    const w2 = load<u32>(W + ((t - 2) << 2));
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(W + (t << 2), load<u32>(W + ((t - 16) << 2)) + s0 + load<u32>(W + ((t - 7) << 2)) + s1);
  }
  let a = load<u32>(state), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  for (let t: usize = 0; t < 64; t++) {
    const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = h + S1 + ch + load<u32>(K + (t << 2)) + load<u32>(W + (t << 2));
    const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(state, load<u32>(state) + a);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
}

@inline function clearBlock(): void {
  const z = i64x2.splat(0);
  v128.store(BLOCK, z);
  v128.store(BLOCK + 16, z);
  v128.store(BLOCK + 32, z);
  v128.store(BLOCK + 48, z);
}

@inline function copyState(dst: usize, src: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst + 16, v128.load(src + 16));
}

/** Finish a hash whose state already absorbed `prefix` bytes (whole blocks): absorb msg, pad, write the digest. */
function finish(state: usize, msg: usize, len: usize, prefix: u64, out: usize): void {
  let off: usize = 0;
  while (len - off >= 64) {
    compress(state, msg + off);
    off += 64;
  }
  // memory.fill / memory.copy are calls out of WASM in V8: the last block is built inline
  const rem = len - off;
  clearBlock();
  let k: usize = 0;
  for (; k + 16 <= rem; k += 16) v128.store(BLOCK + k, v128.load(msg + off + k));
  for (; k < rem; k++) store<u8>(BLOCK + k, load<u8>(msg + off + k));
  store<u8>(BLOCK + rem, 0x80);
  if (rem >= 56) {
    compress(state, BLOCK);
    clearBlock();
  }
  store<u64>(BLOCK + 56, bswap<u64>((prefix + <u64>len) << 3));
  compress(state, BLOCK);
  for (let k: usize = 0; k < 8; k++) store<u32>(out + (k << 2), bswap<u32>(load<u32>(state + (k << 2))));
}

export function sha256(msg: usize, len: usize, out: usize): void {
  memory.copy(STATE, IV, 32);
  finish(STATE, msg, len, 0, out);
}

export function hmacSetKey(key: usize, len: usize): void {
  memory.fill(KEYBLOCK, 0, 64);
  if (len > 64) sha256(key, len, KEYBLOCK);
  else memory.copy(KEYBLOCK, key, len);
  for (let k: usize = 0; k < 64; k++) store<u8>(BLOCK + k, load<u8>(KEYBLOCK + k) ^ 0x36);
  memory.copy(INNER, IV, 32);
  compress(INNER, BLOCK);
  for (let k: usize = 0; k < 64; k++) store<u8>(BLOCK + k, load<u8>(KEYBLOCK + k) ^ 0x5c);
  memory.copy(OUTER, IV, 32);
  compress(OUTER, BLOCK);
}

/** HMAC-SHA256(key, msg) → 32 bytes at out. */
export function hmac(msg: usize, len: usize, out: usize): void {
  copyState(STATE, INNER);
  finish(STATE, msg, len, 64, INNER_DIGEST);
  copyState(STATE, OUTER);
  finish(STATE, INNER_DIGEST, 32, 64, out);
}
