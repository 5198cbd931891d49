/**
 * ResponseOrder: which request each backend message answers, in the orders PostgreSQL really
 * uses (extended protocol, errors skipping to Sync, COPY in and out, the gateway's own messages).
 */
import { describe, expect, it } from "vitest";
import { ResponseOrder, ResponseOrderError, type Verdict } from "./response-order.ts";
import { copyOutFormat } from "../codec/copy-options.ts";
import { message } from "../codec/codec.ts";

const enc = new TextEncoder();
const Z = (status = "I") => ["Z", enc.encode(status)] as const;
const rowDescription = (...names: string[]) => {
  const parts: number[] = [0, names.length];
  for (const n of names) parts.push(...enc.encode(n), 0, ...new Array(18).fill(0));
  return ["T", new Uint8Array(parts)] as const;
};
const msg = (t: string) => [t, new Uint8Array(0)] as const;

/** Feed backend messages; returns the verdicts. */
function feed(order: ResponseOrder, messages: ReadonlyArray<readonly [string, Uint8Array]>): Verdict[] {
  return messages.map(([t, body]) => received(order, t, body));
}

function received(order: ResponseOrder, type: string, body: Uint8Array): Verdict {
  const m = message(type, body);
  return order.received(m[0]!, m, 0, m.length);
}

describe("ResponseOrder", () => {
  it("swallows the answer to an injected Describe into the masker only (pgjdbc re-execution)", () => {
    const o = new ResponseOrder();
    // Parse S_1 + Describe S + Bind + [Describe P] + Execute + Sync
    o.sent({ kind: "parse", name: "S_1", copy: null });
    o.sent({ kind: "describe", injected: false });
    o.sent({ kind: "bind", portal: "", statement: "S_1" });
    o.sent({ kind: "describe", injected: true });
    o.sent({ kind: "execute", portal: "" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("1"), msg("t"), rowDescription("email"), msg("2"), rowDescription("email"), msg("D"), msg("D"), msg("C"), Z()])).toEqual([
      "forward", "forward", "forward", "forward", "plan", "forward", "forward", "forward", "forward",
    ]);
    // Bind + [Describe P] + Execute + Sync, twice in one batch; a NoData answer too
    for (let k = 0; k < 2; k++) {
      o.sent({ kind: "bind", portal: "", statement: "S_1" });
      o.sent({ kind: "describe", injected: true });
      o.sent({ kind: "execute", portal: "" });
      o.sent({ kind: "sync" });
    }
    expect(feed(o, [msg("2"), rowDescription("email"), msg("D"), msg("C"), Z(), msg("2"), msg("n"), msg("C"), Z()])).toEqual([
      "forward", "plan", "forward", "forward", "forward", "forward", "plan", "forward", "forward",
    ]);
    expect(o.outstanding).toBe(0);
  });

  it("taints statements and portals not made through the protocol, and every name after SQL that may replace names", () => {
    const o = new ResponseOrder();
    const taintAt = (type: string, body = new Uint8Array(0)) => {
      const t = o.currentTaint();
      received(o, type, body);
      return t;
    };
    // Bind of a SQL-PREPAREd statement; Execute of a DECLAREd cursor
    o.sent({ kind: "bind", portal: "p", statement: "sqlprep" });
    o.sent({ kind: "execute", portal: "sqlcur" });
    o.sent({ kind: "sync" });
    expect(taintAt("2")?.sources[0]).toMatch(/made or replaced by SQL/);
    expect(taintAt("C")?.sources[0]).toMatch(/made or replaced by SQL/);
    taintAt("Z", enc.encode("T"));
    // a statement parsed through the protocol is clean, until a statement that may replace names ran
    o.sent({ kind: "parse", name: "s", copy: null, taint: null });
    o.sent({ kind: "bind", portal: "q", statement: "s" });
    o.sent({ kind: "execute", portal: "q" });
    o.sent({ kind: "sync" });
    taintAt("1");
    expect(taintAt("2")).toBeNull();
    expect(taintAt("C")).toBeNull();
    taintAt("Z", enc.encode("T"));
    o.sent({ kind: "query", copies: [], resets: true, renames: true }); // DEALLOCATE s; PREPARE s AS …
    o.sent({ kind: "bind", portal: "", statement: "s" });
    o.sent({ kind: "execute", portal: "q" });
    o.sent({ kind: "sync" });
    taintAt("C");
    taintAt("Z", enc.encode("T"));
    expect(taintAt("2")?.sources[0]).toMatch(/made or replaced by SQL/);
    expect(taintAt("C")?.sources[0]).toMatch(/made or replaced by SQL/);
  });

  it("after an error skips to the Sync, including requests sent later", () => {
    const o = new ResponseOrder();
    o.sent({ kind: "bind", portal: "", statement: "gone" });
    o.sent({ kind: "describe", injected: true });
    o.sent({ kind: "execute", portal: "" });
    expect(feed(o, [msg("E")])).toEqual(["forward"]);
    // still before the Sync: skipped by the server, so nothing is expected for them
    o.sent({ kind: "bind", portal: "", statement: "x" });
    o.sent({ kind: "describe", injected: true });
    o.sent({ kind: "execute", portal: "" });
    o.sent({ kind: "sync" });
    expect(feed(o, [Z()])).toEqual(["forward"]);
    expect(o.outstanding).toBe(0);
    // The error of an injected Describe (portal does not exist) goes to the client as the Execute's.
    o.sent({ kind: "describe", injected: true });
    o.sent({ kind: "execute", portal: "nope" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("E"), Z()])).toEqual(["forward", "forward"]);
  });

  it("ends on any message that answers nothing, or the wrong request", () => {
    const o = new ResponseOrder();
    expect(() => received(o, "D", new Uint8Array(0))).toThrow(ResponseOrderError);
    o.sent({ kind: "bind", portal: "", statement: "" });
    expect(() => received(o, "T", rowDescription("x")[1])).toThrow(/waiting for the answer to bind/);
    const p = new ResponseOrder();
    p.sent({ kind: "describe", injected: true });
    p.sent({ kind: "execute", portal: "" });
    // rows before the injected Describe's answer would mean the shape is not the one we asked for
    expect(() => received(p, "D", new Uint8Array(0))).toThrow(ResponseOrderError);
    // asynchronous messages are fine anywhere
    const q = new ResponseOrder();
    expect(feed(q, [msg("N"), msg("S"), msg("A")])).toEqual(["forward", "forward", "forward"]);
  });

  it("gives each COPY of a simple query its own format, and the probe's columns to the first", () => {
    const o = new ResponseOrder();
    const a = copyOutFormat("COPY (SELECT 1) TO STDOUT (FORMAT csv, HEADER)");
    const b = copyOutFormat("COPY t TO STDOUT");
    o.sent({ kind: "probe", format: a });
    o.sent({ kind: "query", copies: [a, b], resets: false });
    expect(feed(o, [msg("1"), msg("t"), rowDescription("id", "email"), Z()])).toEqual(["drop", "drop", "drop", "drop"]);
    expect(a.columns).toEqual(["id", "email"]);
    const v = feed(o, [msg("H"), msg("d"), msg("c"), msg("C"), msg("H"), msg("d"), msg("c"), msg("C"), msg("H"), msg("C"), Z()]);
    expect(v[0]).toEqual({ copy: a });
    expect(v[4]).toEqual({ copy: b });
    expect(v[8]).toEqual({ copy: null }); // more CopyOutResponses than COPY statements: no format
    expect(o.outstanding).toBe(0);
  });

  it("binds a prepared COPY's format to its statement and portals, forgotten on Close and re-Parse", () => {
    const o = new ResponseOrder();
    const csv = copyOutFormat("COPY t TO STDOUT (FORMAT csv, HEADER)");
    o.sent({ kind: "parse", name: "c", copy: csv });
    o.sent({ kind: "bind", portal: "p", statement: "c" });
    o.sent({ kind: "describe", injected: true });
    o.sent({ kind: "execute", portal: "p" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("1"), msg("2"), msg("n"), msg("H"), msg("d"), msg("c"), msg("C"), Z("T")])[3]).toEqual({ copy: csv });
    // the same portal name bound from another statement: no format
    o.sent({ kind: "close", target: "P", name: "p" });
    o.sent({ kind: "parse", name: "other", copy: null });
    o.sent({ kind: "bind", portal: "p", statement: "other" });
    o.sent({ kind: "execute", portal: "p" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("3"), msg("1"), msg("2"), msg("H"), msg("C"), Z("T")])[3]).toEqual({ copy: null });
    // re-executing the COPY statement keeps its format; re-Parse under the same name replaces it
    o.sent({ kind: "bind", portal: "q", statement: "c" });
    o.sent({ kind: "execute", portal: "q" });
    o.sent({ kind: "parse", name: "c", copy: null });
    o.sent({ kind: "bind", portal: "r", statement: "c" });
    o.sent({ kind: "execute", portal: "r" });
    o.sent({ kind: "sync" });
    const v = feed(o, [msg("2"), msg("H"), msg("C"), msg("1"), msg("2"), msg("H"), msg("C"), Z()]);
    expect(v[1]).toEqual({ copy: csv });
    expect(v[5]).toEqual({ copy: null });
    // a failed Parse forgets the name too
    o.sent({ kind: "parse", name: "c", copy: csv });
    o.sent({ kind: "sync" });
    feed(o, [msg("1"), Z()]);
    o.sent({ kind: "parse", name: "c", copy: csv });
    o.sent({ kind: "bind", portal: "", statement: "c" });
    o.sent({ kind: "sync" });
    feed(o, [msg("E"), Z()]);
    o.sent({ kind: "bind", portal: "", statement: "c" });
    o.sent({ kind: "execute", portal: "" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("2"), msg("H"), msg("C"), Z()])[1]).toEqual({ copy: null });
  });

  it("COPY FROM STDIN: the Syncs the client sends before CopyDone are ignored, as the server does", () => {
    const o = new ResponseOrder();
    // libpq: Parse/Bind/Describe/Execute/Sync, then data, CopyDone, Sync
    o.sent({ kind: "bind", portal: "", statement: "" });
    o.sent({ kind: "describe", injected: false });
    o.sent({ kind: "execute", portal: "" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("2"), msg("n"), msg("G")])).toEqual(["forward", "forward", "forward"]);
    o.sent({ kind: "sync" }); // still in COPY: ignored
    o.sent({ kind: "copyEnd" });
    o.sent({ kind: "sync" });
    expect(feed(o, [msg("C"), Z()])).toEqual(["forward", "forward"]);
    expect(o.outstanding).toBe(0);
    // simple query with the data pipelined before the CopyInResponse arrives
    o.sent({ kind: "query", copies: [], resets: false });
    o.sent({ kind: "sync" });
    o.sent({ kind: "copyEnd" });
    expect(feed(o, [msg("G"), msg("C"), Z()])).toEqual(["forward", "forward", "forward"]);
    expect(o.outstanding).toBe(0);
  });
});
