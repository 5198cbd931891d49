import { describe, expect, it } from "vitest";
import { RESOURCE_NAME_MAX_LENGTH, RESOURCE_NAME_PATTERN, isResourceName } from "./resource-name.ts";

describe("resource names (one rule for client, connector, worker)", () => {
  it("accepts the names people give resources", () => {
    for (const name of ["demo-pg", "prod.db_1", "A", "9lives", "x".repeat(RESOURCE_NAME_MAX_LENGTH)]) expect(isResourceName(name), name).toBe(true);
  });
  it("refuses what would break a URL path, a file name, an option or the length bound", () => {
    for (const name of ["", ".", "..", ".hidden", "-rf", "_x", "a/b", "a%2fb", "a b", "a\u0000", "é", "a\nb", "x".repeat(RESOURCE_NAME_MAX_LENGTH + 1), "pg?x=1", "pg#x"]) {
      expect(isResourceName(name), JSON.stringify(name)).toBe(false);
    }
    for (const notString of [undefined, null, 42, ["demo-pg"], { name: "demo-pg" }]) expect(isResourceName(notString)).toBe(false);
  });
  it("is anchored at both ends (a trailing newline does not slip through $)", () => {
    expect(RESOURCE_NAME_PATTERN.test("demo-pg\n")).toBe(false);
  });
});
