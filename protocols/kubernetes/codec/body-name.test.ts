/**
 * The object name a create's body gives, read as the API server reads it — and refused where two
 * readers could disagree (repeated or case-variant keys, a namespace other than the URL's).
 */
import { describe, expect, it } from "vitest";
import { BodyNameError, bodyObjectName } from "./body-name.ts";

const enc = new TextEncoder();
const json = (text: string, ns = "apps") => bodyObjectName("application/json; charset=utf-8", enc.encode(text), ns);

describe("bodyObjectName (JSON)", () => {
  it("reads name, generateName and namespace of metadata", () => {
    expect(json('{"metadata":{"name":"web","namespace":"apps"}}')).toEqual({ name: "web", generateName: "", namespace: "apps" });
    expect(json('{"metadata":{"generateName":"job-"}}')).toEqual({ name: "", generateName: "job-", namespace: "" });
    expect(json("{}")).toEqual({ name: "", generateName: "", namespace: "" });
  });

  it("is not fooled by strings, escapes or nested objects that look like metadata", () => {
    expect(json('{"data":{"k":"}\\"metadata\\":{\\"name\\":\\"x\\"}"},"metadata":{"name":"web"}}').name).toBe("web");
    // A pod template's metadata (and repeated keys inside it) is not the object's.
    expect(json('{"spec":{"template":{"metadata":{"name":"a","name":"b"}}},"metadata":{"name":"web"}}').name).toBe("web");
    expect(json('{"metadata":{"n\\u0061me":"db"}}').name).toBe("db");
    expect(json('  {"metadata" : { "name" : "web" } , "a" : [1, {"b": [true, null, -1.5e3]}] }  ').name).toBe("web");
  });

  it("refuses what two readers could read differently", () => {
    const bad = [
      '{"metadata":{"name":"a","name":"b"}}',
      '{"metadata":{"name":"a"},"metadata":{"name":"b"}}',
      '{"metadata":{"name":"a","NAME":"b"}}',
      '{"metadata":{"name":"a","generatename":"b"}}',
      '{"METADATA":{"name":"b"},"metadata":{"name":"a"}}',
      '{"metadata":{"n\\u0061me":"a","name":"b"}}',
      '{"metadata":{"name":1}}',
      '{"metadata":"web"}',
      '{"metadata":{"name":"a","namespace":"kube-system"}}',
      '{"metadata":{"name":"a"}',
      '"web"',
    ];
    for (const b of bad) expect(() => json(b), b).toThrow(BodyNameError);
    expect(() => bodyObjectName("application/json", Uint8Array.of(0x7b, 0xff, 0x7d), "")).toThrow(BodyNameError);
  });

  it("a cluster-scoped create (no URL namespace) takes the body's namespace as read; YAML and CBOR name nothing", () => {
    expect(json('{"metadata":{"name":"ns1","namespace":"x"}}', "").name).toBe("ns1");
    expect(bodyObjectName("application/yaml", enc.encode("metadata:\n  name: web\n"), "apps").name).toBe("");
    expect(bodyObjectName("application/cbor", enc.encode("anything"), "apps").name).toBe("");
  });
});
