import { describe, expect, it } from "vitest";
import { nextToken, tokenize } from "./tokenizer.ts";

const kinds = (sql: string, scs = true) => tokenize(sql, scs)?.map((t) => `${t.kind}:${t.value}`) ?? null;

describe("the shared SQL tokenizer (COPY-options reader and classifier argument reader)", () => {
  it("reads words, identifiers, strings, parameters and punctuation with their offsets", () => {
    expect(kinds(`COPY "My""T" TO STDOUT (FORMAT 'csv', HEADER $1)`)).toEqual([
      "word:COPY", 'ident:My"T', "word:TO", "word:STDOUT", "punct:(", "word:FORMAT", "string:csv", "punct:,", "word:HEADER", "punct:$1", "punct:)",
    ]);
    const t = tokenize("  x", true)![0]!;
    expect([t.start, t.end]).toEqual([2, 3]);
  });
  it("skips nested block comments and line comments ending at \\n or a lone \\r", () => {
    expect(kinds("a /* x /* y */ z */ b -- c\rd")).toEqual(["word:a", "word:b", "word:d"]);
  });
  it("follows the session's standard_conforming_strings for backslashes; E'' always escapes", () => {
    expect(kinds(String.raw`'a\' x`, true)).toEqual(["string:a\\", "word:x"]);
    expect(kinds(String.raw`'a\' x'`, false)).toEqual(["string:a' x"]);
    expect(kinds(String.raw`E'a\'b'`, true)).toEqual(["string:a'b"]);
  });
  it("reads dollar quoting whole, and U&'…' as one token", () => {
    expect(kinds("$q$ it's ) , $q$ x")).toEqual(["string: it's ) , ", "word:x"]);
    expect(kinds("U&'d\\0061t''a' y")).toEqual(["punct:U&", "word:y"]);
  });
  it("is null for what it cannot lex: unterminated literals, identifiers, comments, a lone $", () => {
    for (const bad of ["'abc", '"abc', "/* x", "$q$ never closed", "$ x", "E'\\"]) expect(kinds(bad), bad).toBeNull();
  });
  it("nextToken is undefined at the end (and after trailing comments)", () => {
    expect(nextToken("x -- end", 1, true)).toBeUndefined();
  });
});
