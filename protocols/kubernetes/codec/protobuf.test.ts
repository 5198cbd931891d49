import { describe, expect, it } from "vitest";
import { ProtobufEnvelopeError, readProtobufObjectHead } from "./protobuf.ts";

// Minimal protobuf writer for the shapes under test (length-delimited fields only).
const ld = (no: number, payload: Uint8Array | string): Uint8Array => {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  if (body.length > 127) throw new Error("test writer: short fields only");
  return new Uint8Array([(no << 3) | 2, body.length, ...body]);
};
const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
const envelope = (meta: Uint8Array, typeMeta = cat(ld(1, "v1"), ld(2, "ConfigMap")), extra: Uint8Array = new Uint8Array()) =>
  cat(new TextEncoder().encode("k8s\0"), ld(1, typeMeta), ld(2, ld(1, meta)), extra);

describe("protobuf envelope head", () => {
  it("reads apiVersion, kind and metadata name/namespace/generateName", () => {
    expect(readProtobufObjectHead(envelope(cat(ld(1, "web"), ld(3, "apps"))))).toEqual({ apiVersion: "v1", kind: "ConfigMap", name: "web", generateName: "", namespace: "apps" });
    expect(readProtobufObjectHead(envelope(ld(2, "job-")))).toMatchObject({ name: "", generateName: "job-" });
  });

  it("refuses ambiguity: a name given twice with different values (Go keeps the last, a naive reader the first)", () => {
    expect(() => readProtobufObjectHead(envelope(cat(ld(1, "allowed"), ld(1, "prod-db"))))).toThrow(/more than once/);
    // Two metadata messages: Go merges them, so the name could come from either.
    const twoMeta = cat(new TextEncoder().encode("k8s\0"), ld(1, cat(ld(1, "v1"), ld(2, "ConfigMap"))), ld(2, cat(ld(1, ld(1, "a")), ld(1, ld(1, "b")))));
    expect(() => readProtobufObjectHead(twoMeta)).toThrow(/more than once/);
  });

  it("refuses a content encoding, a missing object, truncation and bad magic", () => {
    expect(() => readProtobufObjectHead(envelope(ld(1, "x"), undefined, ld(3, "gzip")))).toThrow(/content encoding/);
    expect(() => readProtobufObjectHead(cat(new TextEncoder().encode("k8s\0"), ld(1, ld(1, "v1"))))).toThrow(/no single object/);
    const good = envelope(ld(1, "web"));
    expect(() => readProtobufObjectHead(good.subarray(0, good.length - 2))).toThrow(ProtobufEnvelopeError);
    expect(() => readProtobufObjectHead(new TextEncoder().encode('{"kind":"ConfigMap"}'))).toThrow(/no k8s/);
    expect(() => readProtobufObjectHead(cat(new TextEncoder().encode("k8s\0"), new Uint8Array([0x0b])))).toThrow(ProtobufEnvelopeError);
  });
});
