/**
 * A connector's binding (parsers/connector-binding.ts, docs/CONNECTOR.md "Binding"), as an attacker
 * holding a bound connector would probe it: patterns match the whole name (anchored), case-sensitively,
 * and nothing empty, malformed or of the wrong type is ever read as "any name".
 */
import { describe, expect, it } from "vitest";
import { bindingAllows, outsideBinding, parseBinding, splitBinding } from "./connector-binding.ts";

describe("bindingAllows", () => {
  it("is anchored at both ends", () => {
    expect(bindingAllows(["prod"], "prod")).toBe(true);
    expect(bindingAllows(["prod"], "prod-db")).toBe(false);
    expect(bindingAllows(["prod"], "xprod")).toBe(false);
    expect(bindingAllows(["dev-*"], "dev-db")).toBe(true);
    expect(bindingAllows(["dev-*"], "xdev-db")).toBe(false);
    expect(bindingAllows(["dev-*"], "prod-db")).toBe(false);
    expect(bindingAllows(["*-dev"], "prod-db-dev")).toBe(true);
    expect(bindingAllows(["*-dev"], "prod-dev-db")).toBe(false);
    expect(bindingAllows(["dev-?"], "dev-ab")).toBe(false);
  });

  it("compares case-sensitively, as the hub's resource lookup does", () => {
    expect(bindingAllows(["prod-*"], "Prod-db")).toBe(false);
    expect(bindingAllows(["Prod-DB"], "prod-db")).toBe(false);
    expect(bindingAllows(["prod-db"], "prod-db")).toBe(true);
  });

  it("an empty list allows nothing; only absent (undefined/null) is any name", () => {
    expect(bindingAllows([], "prod-db")).toBe(false);
    expect(outsideBinding([], ["a", "b"])).toEqual(["a", "b"]);
    expect(bindingAllows(undefined, "prod-db")).toBe(true);
    expect(bindingAllows(null, "prod-db")).toBe(true);
  });

  it("a wildcard is a wildcard only unescaped", () => {
    expect(bindingAllows(["dev\\*"], "dev-db")).toBe(false);
    expect(bindingAllows(["dev\\-*"], "dev-db")).toBe(true);
  });
});

describe("parseBinding", () => {
  it("refuses [], non-lists, non-strings, empty strings, reserved and foreign characters, a lone escape", () => {
    expect(() => parseBinding([], "b")).toThrow(/is empty/);
    expect(() => parseBinding("prod-*", "b")).toThrow(/must be a list/);
    expect(() => parseBinding({}, "b")).toThrow(/must be a list/);
    expect(() => parseBinding([1], "b")).toThrow(/non-empty string/);
    expect(() => parseBinding([""], "b")).toThrow(/non-empty string/);
    expect(() => parseBinding(["prod-[ab]"], "b")).toThrow(/character no resource name has/);
    expect(() => parseBinding(["prod-{a,b}"], "b")).toThrow(/character no resource name has/);
    expect(() => parseBinding(["prod db"], "b")).toThrow(/character no resource name has/);
    expect(() => parseBinding(["prod-\u0430"], "b")).toThrow(/character no resource name has/); // Cyrillic a
    expect(() => parseBinding(["prod\\"], "b")).toThrow(/lone/);
    expect(() => parseBinding(["a***"], "b")).toThrow();
  });

  it("absent is undefined (any name); a list comes back deduplicated", () => {
    expect(parseBinding(undefined, "b")).toBeUndefined();
    expect(parseBinding(null, "b")).toBeUndefined();
    expect(parseBinding(["prod-*", "prod-*", "billing-api"], "b")).toEqual(["prod-*", "billing-api"]);
  });

  it("the CLI's comma list: blanks dropped, so '' and ',' become [] (refused), never absent", () => {
    expect(splitBinding("")).toEqual([]);
    expect(splitBinding(" , ")).toEqual([]);
    expect(() => parseBinding(splitBinding(","), "--resources")).toThrow(/is empty/);
    expect(splitBinding(" prod-* , billing-api ")).toEqual(["prod-*", "billing-api"]);
  });
});
