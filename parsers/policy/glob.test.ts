import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compileGlob } from "./glob.ts";
import { PolicySyntaxError } from "./errors.ts";

const m = (pattern: string, value: string) => compileGlob(pattern).matches(value);

describe("globs", () => {
  it("are anchored at both ends", () => {
    expect(m("acme/api", "acme/api")).toBe(true);
    expect(m("acme/api", "acme/api-evil")).toBe(false);
    expect(m("acme/api", "evil-acme/api")).toBe(false);
    expect(m("acme/api", "acme/api/")).toBe(false);
    expect(m("main", "refs/heads/main")).toBe(false);
  });

  it("'*' stays within one path segment, '**' crosses '/'", () => {
    expect(m("acme/*", "acme/api")).toBe(true);
    expect(m("acme/*", "acme/")).toBe(true);
    expect(m("acme/*", "acme/api/sub")).toBe(false);
    expect(m("acme/**", "acme/api/sub")).toBe(true);
    expect(m("refs/heads/*", "refs/heads/main")).toBe(true);
    expect(m("refs/heads/*", "refs/heads/feature/x")).toBe(false);
    expect(m("refs/heads/**", "refs/heads/feature/x")).toBe(true);
    expect(m("*", "a/b")).toBe(false);
    expect(m("**", "a/b")).toBe(true);
    expect(m("**", "")).toBe(true);
    expect(m("pg-*-prod", "pg-eu-prod")).toBe(true);
    expect(m("pg-*-prod", "pg-eu-prod-evil")).toBe(false);
  });

  it("'?' is one character but never '/'", () => {
    expect(m("v?", "v1")).toBe(true);
    expect(m("v?", "v12")).toBe(false);
    expect(m("a?b", "a/b")).toBe(false);
  });

  it("is case-sensitive", () => {
    expect(m("acme/api", "ACME/api")).toBe(false);
    expect(m("Acme/*", "acme/api")).toBe(false);
  });

  it("supports escapes for literal wildcard characters", () => {
    expect(m("a\\*b", "a*b")).toBe(true);
    expect(m("a\\*b", "axb")).toBe(false);
    expect(m("\\[x\\]", "[x]")).toBe(true);
    expect(m("a\\\\b", "a\\b")).toBe(true);
  });

  it("rejects malformed patterns with a reason", () => {
    expect(() => compileGlob("")).toThrow(/empty pattern/);
    expect(() => compileGlob("a***")).toThrow(/'\*\*\*'/);
    expect(() => compileGlob("[abc]")).toThrow(/uses '\['.*reserved/);
    expect(() => compileGlob("{a,b}")).toThrow(/reserved/);
    expect(() => compileGlob("abc\\")).toThrow(/lone/);
    expect(() => compileGlob("x".repeat(2000))).toThrow(PolicySyntaxError);
  });

  it("agrees with a reference regular expression on random patterns and values", () => {
    const alphabet = fc.constantFrom("a", "b", "/", "*", "**", "?");
    const valueChars = fc.constantFrom("a", "b", "/");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(valueChars, { maxLength: 10 }), (parts, valueParts) => {
        const pattern = parts.join("");
        if (pattern === "" || /\*\*\*/.test(pattern)) return;
        const value = valueParts.join("");
        const re = new RegExp(
          "^" +
            pattern
              .replace(/\*\*|\*|\?/g, (t) => (t === "**" ? "\u0001" : t === "*" ? "\u0002" : "\u0003"))
              .replace(/\u0001/g, "[\\s\\S]*")
              .replace(/\u0002/g, "[^/]*")
              .replace(/\u0003/g, "[^/]") +
            "$",
        );
        expect(compileGlob(pattern).matches(value)).toBe(re.test(value));
      }),
      { numRuns: 2000 },
    );
  });

  it("matches in linear-ish time on adversarial input (no backtracking blow-up)", () => {
    // With a backtracking matcher this pattern against this value takes exponential time.
    const g = compileGlob("*a*a*a*a*a*a*a*a*a*a*b");
    expect(g.matches("a".repeat(5000))).toBe(false);
    expect(compileGlob("**a**a**a**a**b").matches("a/".repeat(3000))).toBe(false);
  });

  it("an escaped copy of any string matches exactly that string", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 40 }), (s, other) => {
        const escaped = s.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`);
        const g = compileGlob(escaped);
        expect(g.matches(s)).toBe(true);
        expect(g.matches(other)).toBe(other === s);
      }),
    );
  });
});
