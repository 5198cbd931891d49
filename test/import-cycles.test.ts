/**
 * `npm test` fails on an import cycle in worker/ or protocols/ (also across worker, protocols,
 * parsers and connector) — type-only imports included (issue 15). The
 * detector itself is checked on a small tree with a value cycle, a type-only cycle and none.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findImportCycles } from "../scripts/import-cycles.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

describe("import cycles", () => {
  it("worker/ has none", () => {
    expect(findImportCycles(path.join(ROOT, "worker"))).toEqual([]);
  });

  it("protocols/ has none, alone or together with worker/ and parsers/ (protocol modules import both)", () => {
    expect(findImportCycles(path.join(ROOT, "protocols"))).toEqual([]);
    expect(findImportCycles(ROOT, ["worker", "protocols", "parsers", "connector"])).toEqual([]);
  });

  it("the detector finds value, type-only and import() type cycles, and nothing in a tree without one", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-cycles-"));
    try {
      await mkdir(path.join(dir, "sub"));
      const files: Record<string, string> = {
        "a.ts": `import { b } from "./b.ts";\nexport const a = b;\n`,
        "b.ts": `import type { C } from "./sub/c.ts";\nexport const b = 1; export type B = C;\n`,
        "sub/c.ts": `export type C = import("../a.ts").A;\n`,
        "leaf.ts": `export const leaf = 1;\n`,
        "uses-leaf.ts": `import { leaf } from "./leaf.ts";\nexport { leaf } from "./leaf.ts";\nexport const x = leaf;\n`,
        "self.ts": `export * from "./self.ts";\n`,
        "d.ts": `export { e } from "./e.ts";\nexport const d = 1;\n`,
        "e.ts": `export const e = 1;\nexport async function lazy() { return (await import("./d.ts")).d; }\n`,
      };
      for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
      const cycles = findImportCycles(dir).map((c) => c.join(" "));
      expect(cycles.sort()).toEqual(["a.ts b.ts sub/c.ts", "d.ts e.ts", "self.ts"]);
      await writeFile(path.join(dir, "sub/c.ts"), `export type C = number;\n`);
      await writeFile(path.join(dir, "e.ts"), `export const e = 1;\n`);
      await writeFile(path.join(dir, "self.ts"), `export const s = 1;\n`);
      expect(findImportCycles(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
