/**
 * The HTTP/1.1 codec as an attacker sees it: every smuggling shape is refused with the status the
 * client gets, well-formed traffic (pipelined, chunked, split at every byte) is read exactly.
 */
import { describe, expect, it } from "vitest";
import { MessageReader, type ReaderEvent } from "./reader.ts";
import { HttpCodecError } from "./errors.ts";
import type { RequestHead, ResponseHead } from "./head.ts";
import { normaliseTarget, queryParams, matchPath } from "./path.ts";
import { chunk, LAST_CHUNK, problemResponse, serializeRequestHead, header } from "./serialize.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function readAll<H extends RequestHead | ResponseHead>(r: MessageReader<H>, input: string | Uint8Array, split = 0): ReaderEvent<H>[] {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const events: ReaderEvent<H>[] = [];
  const parts = split > 0 ? Array.from({ length: Math.ceil(bytes.length / split) }, (_, i) => bytes.subarray(i * split, (i + 1) * split)) : [bytes];
  for (const p of parts) {
    r.push(p);
    for (let e = r.next(); e; e = r.next()) events.push(e);
  }
  return events;
}

function bodyOf(events: ReaderEvent<unknown & (RequestHead | ResponseHead)>[]): string {
  return events.map((e) => (e.t === "body" ? dec.decode(e.bytes) : "")).join("");
}

function refused(input: string): HttpCodecError {
  const r = new MessageReader("request");
  try {
    readAll(r, input);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpCodecError);
    return e as HttpCodecError;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

describe("request reader: well-formed traffic", () => {
  it("reads pipelined keep-alive requests with Content-Length and chunked bodies, split at every byte", () => {
    const input =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (const split of [0, 1, 2, 7]) {
      const events = readAll(new MessageReader("request"), input, split);
      const heads = events.filter((e) => e.t === "head").map((e) => (e as { head: RequestHead }).head.target);
      expect(heads).toEqual(["/a", "/b", "/c"]);
      expect(events.filter((e) => e.t === "end")).toHaveLength(3);
      expect(bodyOf(events)).toBe("helloabcde");
    }
  });

  it("reduces absolute-form naming the Host to origin-form", () => {
    const [e] = readAll(new MessageReader("request"), "GET http://api.local:8080/x?y=1 HTTP/1.1\r\nHost: api.local:8080\r\n\r\n");
    expect((e as { head: RequestHead }).head.target).toBe("/x?y=1");
  });

  it("reads responses: HEAD without body, chunked, until-close, 204", () => {
    const r = new MessageReader<ResponseHead>("response");
    r.expectResponseTo("HEAD");
    r.expectResponseTo("GET");
    r.expectResponseTo("GET");
    const events = readAll(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    expect(events.map((e) => e.t)).toEqual(["head", "end", "head", "body", "end", "head", "end"]);
    const r2 = new MessageReader<ResponseHead>("response");
    r2.expectResponseTo("GET");
    const ev2 = readAll(r2, "HTTP/1.0 200 OK\r\n\r\nstream");
    r2.close();
    expect(bodyOf(ev2)).toBe("stream");
    expect(r2.next()).toEqual({ t: "end" });
  });
});

describe("request reader: smuggling and malformed shapes are refused", () => {
  const cases: Array<[string, string, number]> = [
    ["CL + TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["TE + CL (other order)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400],
    ["duplicate CL, same value", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", 400],
    ["conflicting CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400],
    ["CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\n", 400],
    ["CL with sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\n", 400],
    ["CL hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\n", 400],
    ["TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400],
    ["TE chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400],
    ["TE xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400],
    ["TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["TE with vertical tab", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", 400],
    ["TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400],
    ["obs-fold of TE", "POST / HTTP/1.1\r\nHost: x\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n", 400],
    ["bare LF line end", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400],
    ["bare LF in a header", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["bare CR", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400],
    ["NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400],
    ["invalid header name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400],
    ["empty header name", "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400],
    ["absolute-form to another host", "GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["absolute-form with userinfo", "GET http://x@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["authority-form", "GET x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 400],
    ["TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["HTTP/0.9", "GET /\r\n\r\n", 400],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400],
    ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400],
    ["double space in request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["no Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400],
    ["Host with path", "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400],
    ["leading empty line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["non-ASCII target", "GET /\xe9 HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000a\r\n", 400],
    ["negative chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400],
    ["chunk size with bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400],
    ["chunk data without CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400],
    ["chunk ext with bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n", 400],
    ["trailers", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Smuggled: 1\r\n\r\n", 400],
  ];
  for (const [name, input, status] of cases) {
    it(`${name} → ${status}`, () => expect(refused(input).status).toBe(status));
  }

  it("oversized heads and too many headers → 431 (bounded memory: refused before the end arrives)", () => {
    expect(refused(`GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(40_000)}`).status).toBe(431);
    expect(refused(`GET / HTTP/1.1\r\nHost: x\r\n${"X: a\r\n".repeat(101)}\r\n`).status).toBe(431);
  });

  it("a target over 8 KiB → 414", () => expect(refused(`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`).status).toBe(414));

  it("after a framing error the reader stays failed (nothing later on the connection is read)", () => {
    const r = new MessageReader("request");
    expect(() => readAll(r, "GET / HTTP/1.1\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")).toThrow(HttpCodecError);
    expect(() => r.next()).toThrow(HttpCodecError);
  });
});

describe("path normalisation: the checked path is the forwarded path", () => {
  const same: Array<[string, string]> = [
    ["/admin", "/admin"],
    ["/%61dmin", "/admin"],
    ["/ADMIN", "/ADMIN"],
    ["/a/./b", "/a/b"],
    ["/a/../admin", "/admin"],
    ["/../../admin", "/admin"],
    ["/a/%2e%2e/admin", "/admin"],
    ["/a/%2E/b", "/a/b"],
    ["//admin", "/admin"],
    ["/a///b//", "/a/b/"],
    ["/a/b/..", "/a/"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/x?q=%2F", "/x?q=%2F"],
  ];
  for (const [input, out] of same) it(`${input} → ${out}`, () => expect(normaliseTarget(input).target).toBe(out));

  for (const bad of ["/a%2fb", "/a%2Fadmin", "/a%5cb", "/a\\b", "/a%00", "/a%zz", "/a%2", "/a%252e%252e/x", "/admin;jsessionid=1", "/a#frag", "/a/%25%32%65%25%32%65/admin", "/a%25%32F..%25%32Fadmin", "/a%25%34%31", "/a%25%32e", "/a%25%%32%65"]) {
    it(`${bad} → 400`, () => {
      expect(() => normaliseTarget(bad)).toThrow(HttpCodecError);
    });
  }

  it("matching ignores one trailing slash; query params decode with duplicates kept", () => {
    expect(matchPath("/a/")).toBe("/a");
    expect(matchPath("/")).toBe("/");
    expect(queryParams("a=1&b=x+y&a=%32")).toEqual([["a", "1"], ["b", "x y"], ["a", "2"]]);
    expect(() => queryParams("a=%ff")).toThrow(HttpCodecError);
  });
});

describe("serialisation", () => {
  it("writes heads that the reader reads back, chunked bodies, and refuses to write an injected CRLF", () => {
    const head = serializeRequestHead("POST", "/x", [header("Host", "h"), header("Transfer-Encoding", "chunked")]);
    const all = new Uint8Array([...head, ...chunk(enc.encode("abc")), ...LAST_CHUNK]);
    const events = readAll(new MessageReader("request"), all);
    expect(bodyOf(events)).toBe("abc");
    expect(() => serializeRequestHead("GET", "/", [header("X", "a\r\nInjected: 1")])).toThrow();
  });

  it("problem+json names the rule", () => {
    const text = dec.decode(problemResponse({ status: 403, title: "Forbidden", detail: "denied", rule: "no-delete" }));
    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(text).toContain("application/problem+json");
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toMatchObject({ status: 403, rule: "no-delete" });
  });
});
