// Case-insensitive (ASCII) glob over byte ranges: '*' matches any run, '?' any one byte.

@inline function lower(c: u32): u32 {
  return c - 65 < 26 ? c | 32 : c;
}

export function glob(pat: usize, plen: usize, s: usize, slen: usize): bool {
  let pi: usize = 0;
  let si: usize = 0;
  let star: isize = -1;
  let mark: usize = 0;
  while (si < slen) {
    if (pi < plen && load<u8>(pat + pi) == 42) {
      star = <isize>pi;
      pi++;
      mark = si;
    } else if (pi < plen && (load<u8>(pat + pi) == 63 || lower(load<u8>(pat + pi)) == lower(load<u8>(s + si)))) {
      pi++;
      si++;
    } else if (star >= 0) {
      pi = <usize>star + 1;
      mark++;
      si = mark;
    } else {
      return false;
    }
  }
  while (pi < plen && load<u8>(pat + pi) == 42) pi++;
  return pi == plen;
}

/** Offset just after the last '.' of [s, s+len), or 0 when there is none. */
export function tailStart(s: usize, len: usize): usize {
  for (let k = <isize>len - 1; k >= 0; k--) if (load<u8>(s + <usize>k) == 46) return <usize>k + 1;
  return 0;
}
