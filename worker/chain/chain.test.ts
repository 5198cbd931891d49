/** The chain runner inside workerd: order, replace, refuse, stop/resume, failing filters. */
import { describe, expect, it } from "vitest";
import { FilterChain } from "./chain.ts";
import { CONTINUE, refuse, replace, stop, type ChainEnds, type ChainFrame, type Filter, type FilterResult, type Refusal, type RequestDescription } from "./types.ts";

interface Ends extends ChainEnds<string> {
  forwarded: string[];
  delivered: string[];
  refused: Array<{ refusal: Refusal; message: string }>;
}

function ends(): Ends {
  const e: Ends = {
    forwarded: [],
    delivered: [],
    refused: [],
    forward: (f) => void e.forwarded.push(f.message),
    deliver: (f) => void e.delivered.push(f.message),
    refuse: (refusal, f) => void e.refused.push({ refusal, message: f.message }),
  };
  return e;
}

/** A filter that logs what it saw, per direction. */
function tracer(name: string, log: string[]): Filter<string> {
  return {
    name,
    decode: (f) => (log.push(`${name}>${f.message}`), CONTINUE),
    encode: (f) => (log.push(`${name}<${f.message}`), CONTINUE),
  };
}

const REQ: RequestDescription = { protocol: "test", actions: ["read"], text: "select 1" };

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("FilterChain", () => {
  it("decodes in order to the forwarder and encodes in reverse to the client", async () => {
    const log: string[] = [];
    const e = ends();
    const chain = new FilterChain([tracer("a", log), tracer("b", log), tracer("c", log)], e);
    const out = await chain.decode("q", REQ);
    await chain.encode("r");
    expect(log).toEqual(["a>q", "b>q", "c>q", "c<r", "b<r", "a<r"]);
    expect(out.kind).toBe("passed");
    expect(out.frame.request).toBe(REQ);
    expect(e.forwarded).toEqual(["q"]);
    expect(e.delivered).toEqual(["r"]);
  });

  it("skips filters that do not handle a direction", async () => {
    const log: string[] = [];
    const e = ends();
    const decodeOnly: Filter<string> = { name: "d", decode: (f) => (log.push(`d>${f.message}`), CONTINUE) };
    const chain = new FilterChain([decodeOnly, tracer("t", log)], e);
    await chain.encode("r");
    expect(log).toEqual(["t<r"]);
    expect(e.delivered).toEqual(["r"]);
  });

  it("replace hands the new message to later filters and the end", async () => {
    const log: string[] = [];
    const e = ends();
    const upper: Filter<string> = { name: "upper", decode: (f) => replace(f.message.toUpperCase()), encode: (f) => replace(`[${f.message}]`) };
    const chain = new FilterChain([upper, tracer("t", log)], e);
    await chain.decode("q");
    await chain.encode("r");
    expect(log).toEqual(["t>Q", "t<r"]);
    expect(e.forwarded).toEqual(["Q"]);
    expect(e.delivered).toEqual(["[r]"]);
  });

  it("refuse stops the message: later filters and the forwarder never see it, the refusal encoder does", async () => {
    const log: string[] = [];
    const e = ends();
    const no: Filter<string> = { name: "policy", decode: () => refuse({ kind: "denied", message: "gatehouse: no" }) };
    const chain = new FilterChain([tracer("a", log), no, tracer("c", log)], e);
    const out = await chain.decode("q", REQ);
    expect(out.kind).toBe("refused");
    expect(out.kind === "refused" && out.by).toBe("policy");
    expect(log).toEqual(["a>q"]);
    expect(e.forwarded).toEqual([]);
    expect(e.refused).toEqual([{ refusal: { kind: "denied", message: "gatehouse: no" }, message: "q" }]);
  });

  it("a filter that throws refuses its message (fail closed) and the chain keeps serving", async () => {
    const e = ends();
    let fail = true;
    const flaky: Filter<string> = {
      name: "flaky",
      decode: () => {
        if (fail) throw new Error("boom");
        return CONTINUE;
      },
    };
    const chain = new FilterChain([flaky], e);
    const out = await chain.decode("q1");
    expect(out.kind === "refused" && out.refusal).toEqual({ kind: "unavailable", message: "gatehouse: request refused: the flaky filter failed: boom" });
    fail = false;
    await chain.decode("q2");
    expect(e.forwarded).toEqual(["q2"]);
  });

  it("stop holds the message and every later one of that direction; encode keeps flowing; resume continues", async () => {
    const log: string[] = [];
    const e = ends();
    const gate = deferred<FilterResult<string>>();
    const hold: Filter<string> = { name: "hold", decode: (f) => (f.message === "held" ? stop(gate.promise) : CONTINUE) };
    const chain = new FilterChain([hold, tracer("t", log)], e);
    const first = chain.decode("held", REQ);
    const second = chain.decode("next");
    await chain.encode("answer-to-earlier");
    await new Promise((r) => setTimeout(r, 0));
    expect(chain.stopped).toBe(true);
    expect(e.forwarded).toEqual([]);
    expect(e.delivered).toEqual(["answer-to-earlier"]);
    gate.resolve(CONTINUE);
    expect((await first).kind).toBe("passed");
    await second;
    expect(chain.stopped).toBe(false);
    expect(e.forwarded).toEqual(["held", "next"]);
    expect(log).toEqual(["t<answer-to-earlier", "t>held", "t>next"]);
  });

  it("a stopped message can resume as a refusal, a replacement, or stop again", async () => {
    const e = ends();
    const results: FilterResult<string>[] = [
      refuse({ kind: "approval", message: "gatehouse: approval denied", code: "42501" }),
      replace("rewritten"),
      stop(Promise.resolve(stop(Promise.resolve(CONTINUE)))),
    ];
    const hold: Filter<string> = { name: "hold", decode: () => stop(Promise.resolve(results.shift()!)) };
    const chain = new FilterChain([hold], e);
    const a = await chain.decode("a");
    const b = await chain.decode("b");
    const c = await chain.decode("c");
    expect(a.kind === "refused" && a.by).toBe("hold");
    expect(e.refused.map((r) => r.refusal.code)).toEqual(["42501"]);
    expect(b.kind).toBe("passed");
    expect(c.kind).toBe("passed");
    expect(e.forwarded).toEqual(["rewritten", "c"]);
  });

  it("a resume promise that rejects refuses the held message", async () => {
    const e = ends();
    const hold: Filter<string> = { name: "hold", decode: () => stop(Promise.reject(new Error("approvals unreachable"))) };
    const out = await new FilterChain([hold], e).decode("q");
    expect(out.kind === "refused" && out.refusal.kind).toBe("unavailable");
    expect(e.refused[0]!.refusal.message).toContain("approvals unreachable");
  });

  it("filters share what they learned through the frame (decision, display, notes)", async () => {
    const e = ends();
    let seen: ChainFrame<string> | undefined;
    const first: Filter<string> = {
      name: "first",
      decode: (f) => {
        f.display = { text: "select ?" };
        f.notes.set("first", 1);
        return CONTINUE;
      },
    };
    const second: Filter<string> = { name: "second", decode: (f) => ((seen = f), CONTINUE) };
    await new FilterChain([first, second], e).decode("q", REQ);
    expect(seen!.display).toEqual({ text: "select ?" });
    expect(seen!.notes.get("first")).toBe(1);
    expect(seen!.direction).toBe("decode");
  });
});
