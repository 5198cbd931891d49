import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { PgFramer, PgFrameError } from "./pgframe.ts";
import { loadWasmModule } from "./node.ts";

function message(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

function collect(framer: PgFramer, chunk: Uint8Array, into: Array<[number, number[]]>): void {
  let batch = framer.push(chunk);
  for (;;) {
    for (let i = 0; i < batch.count; i++) {
      const bytes = batch.bytes.subarray(batch.offset(i), batch.offset(i) + batch.length(i));
      into.push([batch.type(i), Array.from(bytes)]);
    }
    if (!framer.hasBufferedMessage) break;
    batch = framer.drain();
  }
}

describe("WASM PostgreSQL framer", () => {
  const module = loadWasmModule("pgframe");

  it("frames any message sequence identically however the stream is split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0x41, max: 0x7a }), fc.uint8Array({ maxLength: 300 })), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const stream = Uint8Array.from(messages.flatMap(([t, b]) => Array.from(message(t, b))));
          const framer = new PgFramer(module);
          const seen: Array<[number, number[]]> = [];
          let off = 0;
          let c = 0;
          while (off < stream.length) {
            const size = cuts[c++ % cuts.length]!;
            collect(framer, stream.subarray(off, off + size), seen);
            off += size;
          }
          expect(seen).toEqual(messages.map(([t, b]) => [t, Array.from(message(t, b))]));
          expect(framer.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("handles more messages in one chunk than a single WASM call frames", () => {
    const one = message(0x44, new Uint8Array([0, 1, 0, 0, 0, 1, 0x41]));
    const stream = new Uint8Array(one.length * 10_000);
    for (let i = 0; i < 10_000; i++) stream.set(one, i * one.length);
    const seen: Array<[number, number[]]> = [];
    collect(new PgFramer(module), stream, seen);
    expect(seen.length).toBe(10_000);
  });

  it("grows its arena for a large message and keeps memory views valid", () => {
    const big = message(0x44, new Uint8Array(5 * 1024 * 1024).fill(7));
    const framer = new PgFramer(module);
    const seen: Array<[number, number[]]> = [];
    collect(framer, big.subarray(0, 100), seen);
    collect(framer, big.subarray(100), seen);
    expect(seen.length).toBe(1);
    expect(seen[0]![1].length).toBe(big.length);
  });

  it("rejects a length below 4 and a message above the limit", () => {
    const bad = new Uint8Array([0x51, 0, 0, 0, 3]);
    expect(() => new PgFramer(module).push(bad)).toThrow(PgFrameError);
    const framer = new PgFramer(module, 1000);
    expect(() => framer.push(message(0x44, new Uint8Array(2000)).subarray(0, 10))).toThrow(/longer than 1000/);
  });

  it("after reset() frames like a new framer, whatever the previous stream left behind (the fuzzer reuses one)", () => {
    // Streams ending in every state a framer can be left in: a half message, a half header, an
    // error, more complete messages than one call frames (a tail still holding whole messages).
    const one = message(0x44, new Uint8Array([0, 1, 0, 0, 0, 1, 0x41]));
    const many = new Uint8Array(one.length * 5000);
    for (let i = 0; i < 5000; i++) many.set(one, i * one.length);
    const leftovers = [message(0x51, new Uint8Array(50)).subarray(0, 20), new Uint8Array([0x51, 0, 0]), new Uint8Array([0x51, 0, 0, 0, 3]), many];
    fc.assert(
      fc.property(fc.constantFrom(...leftovers), fc.array(fc.tuple(fc.integer({ min: 0x41, max: 0x7a }), fc.uint8Array({ maxLength: 100 })), { maxLength: 10 }), (before, messages) => {
        const reused = new PgFramer(module);
        try {
          reused.push(before);
        } catch (e) {
          expect(e).toBeInstanceOf(PgFrameError);
        }
        reused.reset();
        expect(reused.pendingBytes).toBe(0);
        expect(reused.hasBufferedMessage).toBe(false);
        const stream = Uint8Array.from(messages.flatMap(([t, b]) => Array.from(message(t, b))));
        const seenReused: Array<[number, number[]]> = [];
        const seenFresh: Array<[number, number[]]> = [];
        collect(reused, stream, seenReused);
        collect(new PgFramer(module), stream, seenFresh);
        expect(seenReused).toEqual(seenFresh);
        expect(reused.pendingBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
