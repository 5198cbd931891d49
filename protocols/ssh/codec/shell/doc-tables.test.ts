import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { fillDocTables } from "./doc-tables.ts";

describe("docs/SSH.md generated tables", () => {
  it("match the data they are generated from (wrappers, programs, protected paths)", () => {
    const file = "docs/SSH.md";
    const text = readFileSync(file, "utf8");
    const filled = fillDocTables(text);
    if (process.env.GATEHOUSE_UPDATE_DOCS === "1") writeFileSync(file, filled);
    for (const name of ["wrappers", "programs", "protected paths"]) expect(text).toContain(`<!-- generated: ${name} (`);
    expect(text).toBe(filled);
  });
});
