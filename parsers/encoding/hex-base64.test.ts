import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { EncodingError, base64Decode, base64Encode, base64urlDecode, base64urlEncode, hexToBytes, toHex } from "./hex-base64.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

// RFC 4648 §10 test vectors.
const RFC4648: Array<[string, string, string]> = [
  ["", "", ""],
  ["f", "Zg==", "666f"],
  ["fo", "Zm8=", "666f6f"],
  ["foo", "Zm9v", "666f6f"],
  ["foob", "Zm9vYg==", "666f6f62"],
  ["fooba", "Zm9vYmE=", "666f6f6261"],
  ["foobar", "Zm9vYmFy", "666f6f626172"],
];

describe("hex", () => {
  it("encodes lower-case, two digits per byte, and decodes either case", () => {
    expect(toHex(Uint8Array.of(0, 1, 0xab, 0xff))).toBe("0001abff");
    expect(hexToBytes("0001ABff")).toEqual(Uint8Array.of(0, 1, 0xab, 0xff));
    expect(toHex(utf8("foobar"))).toBe("666f6f626172");
  });
  it("refuses odd length and non-hex characters (parseInt would accept '0x', ' 1', '1g')", () => {
    for (const bad of ["0", "0x", " 1", "1g", "+1", "é0"]) expect(() => hexToBytes(bad)).toThrow(EncodingError);
  });
  it("matches Node's Buffer hex on random bytes, both ways", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      expect(toHex(b)).toBe(Buffer.from(b).toString("hex"));
      expect(hexToBytes(toHex(b))).toEqual(b);
    }));
  });
});

describe("base64 / base64url", () => {
  it("RFC 4648 §10 vectors", () => {
    for (const [text, b64] of RFC4648) {
      expect(base64Encode(utf8(text))).toBe(b64);
      expect(new TextDecoder().decode(base64Decode(b64))).toBe(text);
      expect(base64urlEncode(utf8(text))).toBe(b64.replace(/=+$/, ""));
      expect(new TextDecoder().decode(base64urlDecode(b64.replace(/=+$/, "")))).toBe(text);
    }
  });
  it("matches Node's Buffer on random bytes, both alphabets", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      expect(base64Encode(b)).toBe(Buffer.from(b).toString("base64"));
      expect(base64urlEncode(b)).toBe(Buffer.from(b).toString("base64url"));
      expect(base64Decode(base64Encode(b))).toEqual(b);
      expect(base64urlDecode(base64urlEncode(b))).toEqual(b);
    }));
  });
  it("has one spelling per byte string: other alphabets, bad lengths, padding and non-zero padding bits refused", () => {
    for (const bad of ["Zg=", "Zg", "Z===", "Zh==", "Zm9v+", "Zm9-", "Zm9v\n", "é"]) expect(() => base64Decode(bad)).toThrow(EncodingError);
    for (const bad of ["Zg==", "Zh", "Z", "Zm9v+", "Zm9/", "Zm9v "]) expect(() => base64urlDecode(bad)).toThrow(EncodingError);
  });
});
