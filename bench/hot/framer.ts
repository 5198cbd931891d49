/**
 * PostgreSQL framing in isolation: the WASM framer (wasm/loader/pgframe.ts) vs the JS
 * length-prefix walker with the same contract (bench/hot/js-walker.ts — what the engine would use
 * otherwise; the reference of the ratio), and pg-protocol's Parser (decodes every message, shown
 * for context only) over the same backend bytes, in chunks cut at arbitrary points (as the network
 * delivers them). MB/s.
 */
import { Parser } from "pg-protocol/dist/parser.js";
import { PgFramer } from "../../wasm/loader/pgframe.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { race, type ContenderResult } from "./masking.ts";
import { JsWalkerFramer } from "./js-walker.ts";

/** Cut `bytes` into chunks of `size`, ignoring message boundaries. */
export function chunk(bytes: Uint8Array, size = 1 << 20): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, Math.min(bytes.length, o + size)));
  return out;
}

export function benchFramer(bytes: Uint8Array, rounds = 3): ContenderResult[] {
  const chunks = chunk(bytes, 64 * 1024 - 17); // odd size: messages straddle chunks
  const module = loadWasmModule("pgframe");
  const wasm = () => {
    const framer = new PgFramer(module, 256 * 1024 * 1024);
    let n = 0;
    let types = 0;
    for (const c of chunks) {
      let batch = framer.push(c);
      for (;;) {
        for (let i = 0; i < batch.count; i++) types += batch.type(i);
        n += batch.count;
        if (!framer.hasBufferedMessage) break;
        batch = framer.drain();
      }
    }
    if (n === 0 || types === 0) throw new Error("nothing framed");
    return n;
  };
  const walker = () => {
    const framer = new JsWalkerFramer(256 * 1024 * 1024);
    let n = 0;
    let types = 0;
    for (const c of chunks) {
      let batch = framer.push(c);
      for (;;) {
        for (let i = 0; i < batch.count; i++) types += batch.type(i);
        n += batch.count;
        if (!framer.hasBufferedMessage) break;
        batch = framer.drain();
      }
    }
    if (n === 0 || types === 0) throw new Error("nothing framed");
    return n;
  };
  const js = () => {
    const parser = new Parser();
    let n = 0;
    for (const c of chunks) parser.parse(Buffer.from(c.buffer, c.byteOffset, c.byteLength), () => void n++);
    if (n === 0) throw new Error("nothing parsed");
    return n;
  };
  wasm();
  walker();
  js();
  return race(
    [
      { name: "JS length-prefix walker, same contract (message table, carried tail)", run: walker },
      { name: "pg-protocol Parser (decodes every message; context only)", run: js },
      { name: "WASM framer (message table: type, offset, length)", run: wasm },
    ],
    bytes.length / 1e6,
    rounds,
  );
}
