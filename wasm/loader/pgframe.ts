/**
 * JS side of the WASM PostgreSQL framer (wasm/assembly/pgframe.ts). Runtime-neutral: the caller
 * provides the compiled WebAssembly.Module (the worker imports the .wasm file; Node reads it).
 *
 * The framer owns a growable arena in WASM memory: [table | stream bytes]. push() appends a chunk
 * after any incomplete tail, frames in one WASM call, and returns a batch whose views point into
 * the arena — valid until the next push(). No per-message allocation.
 */

/** The slice of the WebAssembly JS API used here (Node's type library declares no WebAssembly values). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const WasmInstance = (globalThis as unknown as {
  WebAssembly: { Instance: new (module: WebAssembly.Module, imports: object) => { readonly exports: unknown } };
}).WebAssembly.Instance;

interface PgFrameExports {
  memory: WasmMemory;
  arenaBase(): number;
  frame(ptr: number, len: number, table: number, maxMessages: number, maxMessageLen: number): number;
  consumed(): number;
  needed(): number;
  errorKind(): number;
}

const MAX_MESSAGES_PER_CALL = 4096;
const TABLE_BYTES = MAX_MESSAGES_PER_CALL * 12;
const PAGE = 65536;

export class PgFrameError extends Error {
  override name = "PgFrameError";
}

export interface FrameBatch {
  /** All complete messages of this push, contiguous (a view into WASM memory). */
  readonly bytes: Uint8Array;
  readonly count: number;
  /** Message type byte of message i (e.g. 0x44 'D'). */
  type(i: number): number;
  /** Offset of message i within `bytes`. */
  offset(i: number): number;
  /** Total length of message i, type byte included. */
  length(i: number): number;
}

export class PgFramer implements FrameBatch {
  private readonly exports: PgFrameExports;
  private readonly tablePtr: number;
  private readonly dataPtr: number;
  private memoryBytes: Uint8Array;
  private table: Uint32Array;
  /** Bytes of an incomplete message carried over from the previous push. */
  private tail = 0;
  /** Where the current batch's complete messages end (relative to dataPtr). */
  private batchEnd = 0;
  count = 0;

  constructor(
    module: WebAssembly.Module,
    /** Largest single message accepted; a longer one is a protocol error (bounded memory). */
    readonly maxMessageBytes = 64 * 1024 * 1024,
  ) {
    const instance = new WasmInstance(module, { env: { abort: () => { throw new PgFrameError("wasm abort"); } } });
    this.exports = instance.exports as unknown as PgFrameExports;
    this.tablePtr = this.exports.arenaBase();
    this.dataPtr = this.tablePtr + TABLE_BYTES;
    this.ensureCapacity(64 * 1024);
    this.memoryBytes = new Uint8Array(this.exports.memory.buffer);
    this.table = new Uint32Array(this.exports.memory.buffer, this.tablePtr, MAX_MESSAGES_PER_CALL * 3);
  }

  /** Bytes buffered for an incomplete message. */
  get pendingBytes(): number {
    return this.tail;
  }

  get bytes(): Uint8Array {
    return this.memoryBytes.subarray(this.dataPtr, this.dataPtr + this.batchEnd);
  }

  type(i: number): number {
    return this.table[i * 3]!;
  }
  offset(i: number): number {
    return this.table[i * 3 + 1]!;
  }
  length(i: number): number {
    return this.table[i * 3 + 2]!;
  }

  /** Payload of message i (after type and length), as a view. */
  body(i: number): Uint8Array {
    const start = this.dataPtr + this.offset(i) + 5;
    return this.memoryBytes.subarray(start, this.dataPtr + this.offset(i) + this.length(i));
  }

  /**
   * Append `chunk` and frame every complete message. Returns this (as the batch); the batch's
   * views stay valid until the next push. Throws PgFrameError on a malformed or oversized message.
   */
  push(chunk: Uint8Array): FrameBatch {
    // Compact: move the incomplete tail of the previous batch to the start of the data region.
    if (this.batchEnd > 0 && this.tail > 0) {
      this.memoryBytes.copyWithin(this.dataPtr, this.dataPtr + this.batchEnd, this.dataPtr + this.batchEnd + this.tail);
    }
    this.batchEnd = 0;
    this.ensureCapacity(this.tail + chunk.length);
    this.memoryBytes.set(chunk, this.dataPtr + this.tail);
    let total = this.tail + chunk.length;
    const n = this.exports.frame(this.dataPtr, total, this.tablePtr, MAX_MESSAGES_PER_CALL, this.maxMessageBytes);
    if (n < 0) {
      const kind = this.exports.errorKind();
      this.tail = 0;
      this.count = 0;
      throw new PgFrameError(kind === 2 ? `message longer than ${this.maxMessageBytes} bytes` : "malformed message length");
    }
    this.count = n;
    this.batchEnd = this.exports.consumed();
    this.tail = total - this.batchEnd;
    // More than MAX_MESSAGES_PER_CALL complete messages: the rest stays in the tail and is framed on
    // the next push (push(empty) drains it). Callers loop with drain() until count is 0.
    return this;
  }

  /**
   * Forget everything buffered: the framer is then as a new one (same instance and arena; the
   * WASM side keeps no state between frame() calls). For callers that frame many independent
   * streams — the fuzzer — without compiling a new instance per stream.
   */
  reset(): void {
    this.tail = 0;
    this.batchEnd = 0;
    this.count = 0;
  }

  /** Frame messages still in the buffer without new input (after a batch hit the per-call cap). */
  drain(): FrameBatch {
    return this.push(new Uint8Array(0));
  }

  /** Whether the buffered tail already holds at least one complete message (see drain()). */
  get hasBufferedMessage(): boolean {
    if (this.tail < 5) return false;
    const start = this.dataPtr + this.batchEnd;
    const b = this.memoryBytes;
    const declared = ((b[start + 1]! << 24) | (b[start + 2]! << 16) | (b[start + 3]! << 8) | b[start + 4]!) >>> 0;
    return declared + 1 <= this.tail;
  }

  private ensureCapacity(dataBytes: number): void {
    const needed = this.dataPtr + dataBytes;
    const memory = this.exports.memory;
    if (needed > memory.buffer.byteLength) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
      this.memoryBytes = new Uint8Array(memory.buffer);
      this.table = new Uint32Array(memory.buffer, this.tablePtr, MAX_MESSAGES_PER_CALL * 3);
    }
  }
}
