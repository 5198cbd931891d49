/**
 * Recording CPU per statement in isolation (what the session Durable Object spends on the trail
 * for one simple statement: its query, decision and result events), before and after issue 18:
 *
 * - per-event path (until issue 18): boundEvent, a canonical encoding for the size check, another
 *   inside chainEvent, the async WebCrypto SHA-256 over a concatenated copy, a fourth encoding for
 *   the stored line, and JSON.stringify of the state row per event;
 * - batched path (worker/audit/recorder.ts now): encodeBoundedEvent (data encoded once),
 *   chainEncoded (envelope written around it, synchronous one-pass SHA-256), state row once per batch.
 *
 *   node bin/run-ts.mjs bench/hot/recording.ts
 */
import { boundEvent, canonicalize, chainEncoded, chainEvent, encodeBoundedEvent, genesisHashSync, utf8Length, type UnchainedEvent } from "../../parsers/audit/index.ts";

const STATE = { session: "bench", mode: "fail-closed", started: true, ended: false, seq: 0, prev: "0".repeat(64), chunk: 0, chunkFirst: 0, chunkEvents: 0, chunkBytes: 0, uploaded: 0, totalBytes: 0, startTs: 0, lastQueryTs: null, statements: { read: 1 }, denied: 0, approved: 0, rows: 0, limitHit: false, omitted: 0, lost: 0, indexed: true };

function statement(i: number): UnchainedEvent[] {
  const ts = 1764212400000 + i;
  return [
    { type: "query", ts, data: { text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`, via: "simple", statements: [{ kind: "read", command: "SELECT" }] } },
    { type: "decision", ts, data: { effect: "allow", rule: "bench-read", reason: "reads are allowed for pipelines" } },
    { type: "result", ts, data: { columns: [{ name: "abalance" }], rows_sample: [["0"]], rows: 1, command_tag: "SELECT 1", duration_ms: 0 } },
  ];
}

async function perEvent(n: number): Promise<number> {
  let prev = genesisHashSync("bench");
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    for (const e of statement(i)) {
      const bounded = boundEvent(e);
      bytes += utf8Length(canonicalize(bounded));
      const chained = await chainEvent(bounded, i, prev);
      const line = canonicalize(chained);
      bytes += utf8Length(line) + JSON.stringify(STATE).length;
      prev = chained.hash;
    }
  }
  return bytes;
}

function batched(n: number): number {
  let prev = genesisHashSync("bench");
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    for (const e of statement(i)) {
      const { hash, line } = chainEncoded(encodeBoundedEvent(e), i, prev);
      bytes += utf8Length(line);
      prev = hash;
    }
    bytes += JSON.stringify(STATE).length; // one state row per round trip
  }
  return bytes;
}

export async function benchRecordingCpu(statements = 20_000): Promise<{ perEventUs: number; batchedUs: number }> {
  await perEvent(500);
  batched(500);
  let best = [Infinity, Infinity];
  for (let round = 0; round < 3; round++) {
    let t0 = performance.now();
    await perEvent(statements);
    best[0] = Math.min(best[0]!, ((performance.now() - t0) * 1000) / statements);
    t0 = performance.now();
    batched(statements);
    best[1] = Math.min(best[1]!, ((performance.now() - t0) * 1000) / statements);
  }
  return { perEventUs: best[0]!, batchedUs: best[1]! };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchRecordingCpu();
  console.log(`recording CPU per simple statement (3 events): per-event path ${r.perEventUs.toFixed(1)} µs, batched path ${r.batchedUs.toFixed(1)} µs (${(r.perEventUs / r.batchedUs).toFixed(2)}× less)`);
}
