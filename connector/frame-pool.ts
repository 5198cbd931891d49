/**
 * Reused buffers for the connector's large DATA frames (coalesced target reads, up to 1 MiB).
 *
 * Why: a fresh 1 MiB array per frame is zero-filled and its pages faulted in again after the
 * garbage collector returns them; measured on this machine that cost 0.5–0.8 ms of CPU per MB,
 * against ~0.02 ms/MB to copy the same bytes into a buffer already in use — a large share of a
 * COPY's per-MB cost in the connector (bench/README.md, "Connector frames").
 *
 * Safety: ws keeps a reference to a frame's bytes (it does not copy them when the mask is all
 * zero) until the socket has taken them, so a buffer goes back to the pool only from the send
 * callback of a successful write — never while a write may still read it. A failed write keeps
 * the buffer out of the pool (the garbage collector takes it).
 */
import { MAX_FRAME_BYTES } from "../parsers/tunnel/frames.ts";

/** Frames smaller than this come from Node's allocator as before (cheap at these sizes). */
export const POOLED_FRAME_MIN = 64 * 1024;

export class FramePool {
  private readonly free: Uint8Array[] = [];

  constructor(
    /** Each pooled buffer's size: the largest frame the tunnel carries. */
    readonly bufferBytes = MAX_FRAME_BYTES,
    /** Idle buffers kept at most (the process's bound: keep × bufferBytes). */
    readonly keep = 8,
  ) {}

  /** How many idle buffers the pool holds (for tests). */
  get idle(): number {
    return this.free.length;
  }

  /**
   * A frame of exactly `bytes` bytes, contents undefined. `release` must be called once its
   * bytes have been handed to the socket (null for frames that are not pooled).
   */
  take(bytes: number): { frame: Uint8Array; release: ((err?: Error | null) => void) | null } {
    if (bytes < POOLED_FRAME_MIN || bytes > this.bufferBytes) return { frame: Buffer.allocUnsafe(bytes), release: null };
    const buffer = this.free.pop() ?? new Uint8Array(this.bufferBytes);
    let released = false;
    return {
      frame: buffer.subarray(0, bytes),
      release: (err) => {
        if (released) return;
        released = true;
        if (!err && this.free.length < this.keep) this.free.push(buffer);
      },
    };
  }
}

/** One pool per connector process: streams take turns, so a few buffers serve every session. */
export const framePool = new FramePool();
