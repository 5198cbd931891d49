/**
 * Test-side reader of the PostgreSQL backend bytes the connector relays: splits them into
 * messages (they arrive in arbitrary DATA chunks) and keeps a compact summary of each.
 */
import { Parser } from "pg-protocol/dist/parser.js";
import type { HarnessPeer } from "./harness-worker.ts";

export interface BackendSummary {
  code: string;
  /** Decoded by pg-protocol for everything except DataRow (counted only, to stay small). */
  message?: Record<string, unknown>;
}

export class BackendReader {
  private pending = Buffer.alloc(0);
  readonly messages: BackendSummary[] = [];
  rows = 0;
  firstRows: unknown[][] = [];
  /** Sees every DataRow message (its bytes, type byte included) as it is split out. */
  onRow?: (row: Buffer) => void;
  private waiters: { pred: (m: BackendSummary) => boolean; resolve: (m: BackendSummary) => void }[] = [];

  constructor(peer: HarnessPeer) {
    peer.onData((chunk) => this.push(chunk));
  }

  private push(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (this.pending.length - offset >= 5) {
      const len = this.pending.readUInt32BE(offset + 1);
      if (this.pending.length - offset < len + 1) break;
      const bytes = Buffer.from(this.pending.subarray(offset, offset + len + 1));
      offset += len + 1;
      const code = String.fromCharCode(bytes[0]!);
      let summary: BackendSummary;
      if (code === "D") {
        this.rows++;
        this.onRow?.(bytes);
        if (this.firstRows.length < 10) {
          new Parser().parse(bytes, (m) => this.firstRows.push((m as unknown as { fields: unknown[] }).fields));
        }
        continue;
      }
      let decoded: Record<string, unknown> | undefined;
      new Parser().parse(bytes, (m) => (decoded = { ...(m as unknown as Record<string, unknown>), message: (m as unknown as Error).message }));
      summary = { code, ...(decoded ? { message: decoded } : {}) };
      this.messages.push(summary);
      for (const w of [...this.waiters]) {
        if (w.pred(summary)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(summary);
        }
      }
    }
    this.pending = Buffer.from(this.pending.subarray(offset));
  }

  /** Resolve with the first (past or future) message matching `pred`. */
  waitFor(pred: (m: BackendSummary) => boolean, timeoutMs = 30_000): Promise<BackendSummary> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a backend message")), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Next ReadyForQuery after `count` of them have been seen. */
  readyForQuery(nth: number): Promise<BackendSummary> {
    let seen = 0;
    return this.waitFor((m) => m.code === "Z" && ++seen === nth);
  }
}
