/**
 * RFC 8785 test vectors (the RFC's own examples, section by section) and the refusals of
 * parsers/encoding/jcs.ts. The inputs are written as JSON text, as in the RFC, and parsed with
 * JSON.parse (an I-JSON parser for these inputs).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalize, JcsError, MAX_JCS_DEPTH, toWellFormed, type JcsProblem } from "./jcs.ts";

const hex = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0")).join(" ");

describe("RFC 8785 examples", () => {
  // §3.2.2 "Serialization of Primitive Data Types": the example object and its canonical form.
  const PRIMITIVES_INPUT = String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`;
  const PRIMITIVES_OUTPUT = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;

  it("§3.2.2: serializes primitives (numbers, escapes, literals) exactly", () => {
    expect(canonicalize(JSON.parse(PRIMITIVES_INPUT))).toBe(PRIMITIVES_OUTPUT);
  });

  it("§3.2.4: the UTF-8 bytes of that result are the RFC's", () => {
    expect(hex(canonicalize(JSON.parse(PRIMITIVES_INPUT)))).toBe(
      "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a " +
        "5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 " +
        "5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d",
    );
  });

  it("§3.2.3: sorts member names by UTF-16 code units (not code points, not UTF-8)", () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    const out = canonicalize(JSON.parse(input));
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // The emoji (surrogates D83D DE00) sorts before U+FB33 although its code point is higher.
    expect(out.indexOf("\ud83d\ude00")).toBeLessThan(out.indexOf("\ufb33"));
  });

  // Appendix B "Number Serialization Samples": IEEE 754 bit patterns → expected text.
  const NUMBERS: [string, string][] = [
    ["0000000000000000", "0"],
    ["8000000000000000", "0"], // minus zero
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["44b52d02c7e14af7", "1.0000000000000001e+23"],
    ["444b1ae4d6e2ef4e", "999999999999999700000"],
    ["444b1ae4d6e2ef4f", "999999999999999900000"],
    ["444b1ae4d6e2ef50", "1e+21"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["41b3de4355555553", "333333333.3333332"],
    ["41b3de4355555554", "333333333.33333325"],
    ["41b3de4355555555", "333333333.3333333"],
    ["41b3de4355555556", "333333333.3333334"],
    ["41b3de4355555557", "333333333.33333343"],
    ["becbf647612f3696", "-0.0000033333333333333333"],
    ["43143ff3c1cb0959", "1424953923781206.2"],
  ];
  const double = (bits: string) => new DataView(Uint8Array.from(bits.match(/../g)!.map((b) => parseInt(b, 16))).buffer).getFloat64(0);

  it.each(NUMBERS)("Appendix B: %s → %s", (bits, text) => {
    expect(canonicalize(double(bits))).toBe(text);
    expect(canonicalize([double(bits)])).toBe(`[${text}]`);
  });

  it("Appendix B: NaN and Infinity (7fffffffffffffff, 7ff0000000000000) are errors", () => {
    for (const bits of ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]) expectProblem(() => canonicalize({ n: double(bits) }), "non-finite-number", ["n"]);
  });
});

describe("strings (§3.2.2.2)", () => {
  it("escapes exactly \" \\ and U+0000–U+001F, short forms for \\b \\t \\n \\f \\r, lower-case \\u00xx for the rest", () => {
    let all = "";
    for (let c = 0; c < 0x20; c++) all += String.fromCharCode(c);
    expect(canonicalize(all)).toBe(
      '"' + String.raw`\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f` + '"',
    );
    expect(canonicalize('a"b\\c/d')).toBe(String.raw`"a\"b\\c/d"`);
    // DEL, C1 controls, line/paragraph separators, BOM, non-BMP: written as is.
    expect(canonicalize("\u007f\u0085\u2028\u2029\ufeff\ud83d\ude00")).toBe('"\u007f\u0085\u2028\u2029\ufeff\ud83d\ude00"');
  });

  it("agrees with JSON.stringify on every well-formed string (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => {
        expect(canonicalize(s)).toBe(JSON.stringify(s));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses lone surrogates in values and member names (I-JSON, RFC 7493 §2.1), with the path", () => {
    expectProblem(() => canonicalize({ a: ["ok", "x\ud800"] }), "lone-surrogate", ["a", 1]);
    expectProblem(() => canonicalize({ a: "\udc00\ud800" }), "lone-surrogate", ["a"]); // a reversed pair is two lone surrogates
    expectProblem(() => canonicalize({ a: "end\ud83d" }), "lone-surrogate", ["a"]);
    expectProblem(() => canonicalize({ b: { "k\udfff": 1 } }), "lone-surrogate", ["b"]);
  });

  it("toWellFormed replaces only lone surrogates by U+FFFD", () => {
    expect(toWellFormed("a\ud800b\udc00\ud83d\ude00\ud83d")).toBe("a\ufffdb\ufffd\ud83d\ude00\ufffd");
    expect(toWellFormed("plain €")).toBe("plain €");
    expect(canonicalize(toWellFormed("x\ud800"))).toBe('"x\ufffd"');
  });
});

describe("structure and refusals", () => {
  it("sorts recursively, keeps array order, writes no whitespace, omits undefined members", () => {
    expect(canonicalize({ b: [3, { z: 1, y: [] }, 1], a: { d: null, c: true }, e: undefined, "": "" })).toBe('{"":"","a":{"c":true,"d":null},"b":[3,{"y":[],"z":1},1]}');
    expect(canonicalize(Object.assign(Object.create(null), { b: 1, a: 2 }))).toBe('{"a":2,"b":1}');
    expect(canonicalize([])).toBe("[]");
    expect(canonicalize({})).toBe("{}");
  });

  it("is stable: canonicalize(parse(canonicalize(v))) === canonicalize(v) for any JSON value (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const c = canonicalize(v);
        expect(canonicalize(JSON.parse(c))).toBe(c);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses what is not JSON data with a typed error and its path, never a silent rewrite", () => {
    class Custom {
      x = 1;
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    const cases: [unknown, JcsProblem, (string | number)[]][] = [
      [undefined, "unsupported-type", []],
      [{ a: [1, undefined] }, "unsupported-type", ["a", 1]],
      [{ f: () => 1 }, "unsupported-type", ["f"]],
      [{ s: Symbol("x") }, "unsupported-type", ["s"]],
      [{ n: 1n }, "unsupported-type", ["n"]],
      [{ d: new Date(0) }, "not-plain-object", ["d"]],
      [{ m: new Map([["a", 1]]) }, "not-plain-object", ["m"]],
      [{ s: new Set([1]) }, "not-plain-object", ["s"]],
      [{ c: new Custom() }, "not-plain-object", ["c"]],
      [{ b: new Uint8Array(2) }, "not-plain-object", ["b"]],
      [cyclic, "cyclic", ["self", "back"]],
      [{ x: -Infinity }, "non-finite-number", ["x"]],
    ];
    for (const [value, problem, path] of cases) expectProblem(() => canonicalize(value), problem, path);
  });

  it("refuses nesting deeper than MAX_JCS_DEPTH, accepts it up to the limit", () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(canonicalize(nest(MAX_JCS_DEPTH))).toBe("[".repeat(MAX_JCS_DEPTH) + "1" + "]".repeat(MAX_JCS_DEPTH));
    expectProblem(() => canonicalize(nest(MAX_JCS_DEPTH + 1)), "too-deep", Array(MAX_JCS_DEPTH).fill(0));
  });

  it("accepts a shared (non-cyclic) sub-object twice", () => {
    const shared = { k: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});

function expectProblem(fn: () => unknown, problem: JcsProblem, path: (string | number)[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JcsError);
    expect((e as JcsError).problem).toBe(problem);
    expect((e as JcsError).path).toEqual(path);
    return;
  }
  throw new Error(`expected JcsError ${problem}`);
}
