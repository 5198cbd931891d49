/** Random and mutated inputs: the codecs answer with their own errors only, and masking never leaks. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { KubeRequestError, parseKubeRequest } from "./request.ts";
import { MaskError, maskJsonBody } from "./secret-mask.ts";
import { ChannelProtocolError, ChannelReader } from "./channel.ts";
import { ProtobufEnvelopeError, readProtobufObjectHead } from "./protobuf.ts";
import { WatchEventMasker, WatchStreamError } from "./watch-stream.ts";

const SEEDS = [
  "/api/v1/namespaces/default/pods?limit=500",
  "/apis/apps/v1/namespaces/prod/deployments/web/scale",
  "/api/v1/namespaces/a/pods/p/exec?command=sh&command=-c&command=id&stdin=true",
  "/api/v1/namespaces/kube-system",
];
const PIECES = ["/", "//", "%2F", "%2e%2e", "..", ".", "?", "&", ";", "#", "watch=true", "watch=1", "%", "%zz", "namespaces", "pods", "exec", "\u0000", " ", "A"];

const mutated = fc.tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...PIECES)), { maxLength: 4 })).map(([seed, edits]) => {
  let s = seed;
  for (const [at, piece] of edits) {
    const i = at % (s.length + 1);
    s = s.slice(0, i) + piece + s.slice(i);
  }
  return s;
});

describe("codec properties", () => {
  it("parseKubeRequest: a result or a KubeRequestError, never anything else", () => {
    fc.assert(
      fc.property(fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "get", "TRACE"), fc.oneof(mutated, fc.string()), (method, target) => {
        try {
          const r = parseKubeRequest(method, target);
          if (r.kind === "resource") {
            for (const part of [r.namespace, r.name, r.resource]) expect(part).not.toMatch(/[/\\]|^\.{1,2}$/);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(KubeRequestError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("maskJsonBody: whatever the shape around it, a Secret's values never come out", () => {
    const SECRET = "leak-me-if-you-can";
    const secret = fc.record({ kind: fc.constant("Secret"), data: fc.dictionary(fc.string({ maxLength: 5 }), fc.constant(Buffer.from(SECRET).toString("base64"))), stringData: fc.dictionary(fc.string({ maxLength: 5 }), fc.constant(SECRET)) });
    const wrap = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        secret,
        fc.record({ kind: fc.constantFrom("List", "SecretList"), items: fc.array(tie("node"), { maxLength: 3 }) }),
        fc.record({ type: fc.constantFrom("ADDED", "MODIFIED"), object: tie("node") }),
        fc.record({ kind: fc.constant("Table"), rows: fc.array(fc.record({ cells: fc.constant(["x"]), object: tie("node") }), { maxLength: 2 }) }),
      ),
    })).node;
    fc.assert(
      fc.property(wrap, (doc) => {
        const out = maskJsonBody(JSON.stringify(doc), false).body;
        expect(out).not.toContain(SECRET);
        expect(out).not.toContain(Buffer.from(SECRET).toString("base64"));
      }),
      { numRuns: 1000 },
    );
  });

  it("maskJsonBody and the watch masker: arbitrary bytes give their own error or a result", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          maskJsonBody(text, true);
        } catch (err) {
          expect(err).toBeInstanceOf(MaskError);
        }
        try {
          const m = new WatchEventMasker(true, 1024);
          m.push(new TextEncoder().encode(text));
          m.end();
        } catch (err) {
          expect(err).toBeInstanceOf(WatchStreamError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("channel reader and protobuf head: random messages give their own errors only", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, fromClient) => {
        try {
          const r = new ChannelReader("v5.channel.k8s.io");
          if (fromClient) r.fromClient(bytes);
          else r.fromServer(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ChannelProtocolError);
        }
        try {
          readProtobufObjectHead(new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...bytes]));
        } catch (err) {
          expect(err).toBeInstanceOf(ProtobufEnvelopeError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
