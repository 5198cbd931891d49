/**
 * Streaming JSON masking with the real WASM detectors: key names, JSON paths, detectors over every
 * other string, escapes that try to hide a value, bodies split at every byte, invalid JSON refused.
 */
import { describe, expect, it } from "vitest";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../../wasm/loader/node.ts";
import { JsonBodyMasker, JsonMaskError, type JsonRule } from "./json-mask.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function masker(rules: JsonRule[], detectors = true) {
  const wasm = detectors ? createMasker(loadWasmModule("mask"), { rules: [{ name: "pii", detectors: ["email", "card"], style: "redact" }] }) : null;
  const counts: Record<string, number> = {};
  return {
    counts,
    json: new JsonBodyMasker({ rules, detect: (t) => (wasm ? wasm.maskText(t) : t), counted: (r) => (counts[r] = (counts[r] ?? 0) + 1) }),
  };
}

function run(m: JsonBodyMasker, input: string, split = 0): string {
  const bytes = enc.encode(input);
  let out = "";
  if (split === 0) out += dec.decode(m.push(bytes));
  else for (let i = 0; i < bytes.length; i += split) out += dec.decode(m.push(bytes.subarray(i, i + split)));
  return out + dec.decode(m.end());
}

const DOC = JSON.stringify({
  customers: [
    { id: 1, name: "Ada", email: "ada@example.com", card: "4111 1111 1111 1111", api_token: "tok_live_abcdef", note: "write to bob@example.org" },
    { id: 2, name: "Bob", email: "bob@example.org", card: 4242424242424242, api_token: { primary: "p1", backup: "b2" } },
  ],
  meta: { next: null, secret: "s3cr3t" },
});

describe("JSON body masking", () => {
  const rules: JsonRule[] = [
    { name: "cards", style: "partial", keep: 4, columns: ["card"] },
    { name: "tokens", style: "redact", keep: 4, columns: ["*token*"] },
    { name: "meta-secret", style: "redact", keep: 4, columns: ["$.meta.secret"] },
  ];

  it("masks by key name, nested values, JSON path, and detectors elsewhere — identical at every split", () => {
    const expected = run(masker(rules).json, DOC);
    const parsed = JSON.parse(expected);
    expect(parsed.customers[0].card).toBe("***************1111");
    expect(parsed.customers[1].card).toBe("************4242");
    expect(parsed.customers[0].api_token).toBe("[REDACTED]");
    expect(parsed.customers[1].api_token).toEqual({ primary: "[REDACTED]", backup: "[REDACTED]" });
    expect(parsed.meta.secret).toBe("[REDACTED]");
    expect(parsed.meta.next).toBeNull();
    expect(parsed.customers[0].email).not.toContain("ada@example.com");
    expect(parsed.customers[0].note).not.toContain("bob@example.org");
    expect(parsed.customers[0].name).toBe("Ada");
    for (const split of [1, 3, 17]) expect(run(masker(rules).json, DOC, split)).toBe(expected);
  });

  it("escapes cannot hide a value from the detectors; the key-name glob is case-insensitive", () => {
    const out = JSON.parse(run(masker(rules).json, `{"a":"ada\\u0040example.com","API_TOKEN":"x"}`));
    expect(out.a).not.toContain("@example.com");
    expect(out.API_TOKEN).toBe("[REDACTED]");
  });

  it("escaped key names are matched decoded", () => {
    const out = JSON.parse(run(masker(rules).json, `{"c\\u0061rd":"4111111111111111"}`));
    expect(out.card).toBe("************1111");
  });

  it("counts values masked per rule", () => {
    const m = masker(rules);
    run(m.json, DOC);
    expect(m.counts).toMatchObject({ cards: 2, tokens: 3, "meta-secret": 1 });
  });

  for (const bad of ['{"a":1,}', "[1,]", '{"a" 1}', "{'a':1}", '{"a":tru}', '{"a":1}{"b":2}', '{"a":"x', "", '{"a":01}', "[1 2]"]) {
    it(`refuses invalid JSON ${JSON.stringify(bad)}`, () => {
      expect(() => run(masker(rules, false).json, bad)).toThrow(JsonMaskError);
    });
  }

  it("bounded memory: a string over 1 MiB is refused, not buffered", () => {
    const m = masker(rules, false).json;
    m.push(enc.encode('{"a":"'));
    expect(() => m.push(new Uint8Array(1024 * 1024 + 10).fill(0x61))).toThrow(JsonMaskError);
  });
});
