import { describe, expect, it } from "vitest";
import { FramePool, POOLED_FRAME_MIN } from "./frame-pool.ts";

describe("FramePool", () => {
  it("hands out a buffer again only after its frame was released without error", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const a = pool.take(POOLED_FRAME_MIN + 1);
    expect(a.frame.length).toBe(POOLED_FRAME_MIN + 1);
    const b = pool.take(1024 * 1024);
    // Both in flight: distinct memory, so filling one cannot touch the other.
    expect(a.frame.buffer).not.toBe(b.frame.buffer);
    a.frame.fill(1);
    b.frame.fill(2);
    expect(a.frame.every((x) => x === 1)).toBe(true);
    a.release!();
    a.release!(); // a second call (ws error paths) must not put it in twice
    expect(pool.idle).toBe(1);
    const c = pool.take(POOLED_FRAME_MIN * 2);
    expect(c.frame.buffer).toBe(a.frame.buffer);
    expect(pool.idle).toBe(0);
    const d = pool.take(POOLED_FRAME_MIN * 2);
    expect(d.frame.buffer).not.toBe(c.frame.buffer);
  });

  it("keeps a buffer whose write failed out of the pool (the socket may still hold it)", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const a = pool.take(POOLED_FRAME_MIN);
    a.release!(new Error("socket closed"));
    expect(pool.idle).toBe(0);
  });

  it("bounds the idle buffers it keeps", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const taken = [1, 2, 3].map(() => pool.take(POOLED_FRAME_MIN));
    for (const t of taken) t.release!();
    expect(pool.idle).toBe(2);
  });

  it("leaves small and oversized frames to Node's allocator (no release to call)", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const small = pool.take(POOLED_FRAME_MIN - 1);
    expect(small.release).toBeNull();
    expect(small.frame.length).toBe(POOLED_FRAME_MIN - 1);
    const huge = pool.take(1024 * 1024 + 1);
    expect(huge.release).toBeNull();
    expect(huge.frame.length).toBe(1024 * 1024 + 1);
  });
});
