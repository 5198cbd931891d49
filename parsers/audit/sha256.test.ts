import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256HexSync } from "./sha256.ts";

const node = (s: string) => createHash("sha256").update(Buffer.from(new TextEncoder().encode(s))).digest("hex");

describe("sha256HexSync", () => {
  it("matches FIPS 180-4 test vectors", () => {
    expect(sha256HexSync("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256HexSync("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256HexSync("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("hashes the UTF-8 bytes TextEncoder gives, at every length around the block and padding boundaries", () => {
    for (let n = 0; n < 200; n++) {
      const s = "é☃😀a".repeat(n).slice(0, n);
      expect(sha256HexSync(s)).toBe(node(s));
    }
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => sha256HexSync(s) === node(s)), { numRuns: 500 });
  });
});
