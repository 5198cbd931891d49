// PostgreSQL wire framer: splits a byte stream of type-prefixed messages (everything after the
// startup packet) into messages without copying. JS owns the arena above arenaBase(): it writes
// the stream bytes there and passes (pointer, length); we write one (type, offset, length) triple
// of u32 per complete message into the table it names.

const ERROR_NONE: i32 = 0;
const ERROR_BAD_LENGTH: i32 = 1;
const ERROR_TOO_LARGE: i32 = 2;

let consumedBytes: u32 = 0;
let neededBytes: u32 = 0;
let errorCode: i32 = ERROR_NONE;

/** First byte JS may use: everything below belongs to this module's static data. */
export function arenaBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/**
 * Frame as many complete messages as fit in [ptr, ptr+len), at most maxMessages.
 * Returns the number of messages written to `table` (12 bytes each: type, offset from ptr, total
 * length including the type byte), or -1 on a malformed length (see errorKind()).
 */
export function frame(ptr: usize, len: u32, table: usize, maxMessages: u32, maxMessageLen: u32): i32 {
  let off: u32 = 0;
  let n: u32 = 0;
  errorCode = ERROR_NONE;
  neededBytes = 0;
  while (n < maxMessages && off + 5 <= len) {
    const declared = bswap<u32>(load<u32>(ptr + off + 1));
    if (declared < 4) {
      errorCode = ERROR_BAD_LENGTH;
      consumedBytes = off;
      return -1;
    }
    if (declared > maxMessageLen) {
      errorCode = ERROR_TOO_LARGE;
      consumedBytes = off;
      return -1;
    }
    const total = declared + 1;
    if (off + total > len) {
      neededBytes = total;
      break;
    }
    const row = table + (<usize>n) * 12;
    store<u32>(row, load<u8>(ptr + off));
    store<u32>(row, off, 4);
    store<u32>(row, total, 8);
    off += total;
    n++;
  }
  consumedBytes = off;
  return <i32>n;
}

/** Bytes covered by the complete messages of the last frame() call. */
export function consumed(): u32 {
  return consumedBytes;
}

/** Total length of the incomplete message at consumed(), when its header was seen; else 0. */
export function needed(): u32 {
  return neededBytes;
}

/** 1: length field below 4; 2: message longer than the allowed maximum. */
export function errorKind(): i32 {
  return errorCode;
}
