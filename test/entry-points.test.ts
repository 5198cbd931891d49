/**
 * The connector and the CLI are bundled from their own entry points (issue 15): nothing reachable
 * from them may be worker code or import a `cloudflare:*` module. Walks every import (type-only
 * included) from connector/main.ts and client/cli.ts with the TypeScript compiler's scanner.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

function reachable(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const todo = [path.resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (!fileName.startsWith(".")) {
        bare.add(fileName);
        continue;
      }
      const target = path.resolve(path.dirname(file), fileName);
      if (target.endsWith(".ts") && existsSync(target)) todo.push(target);
    }
  }
  return { files, bare };
}

describe("bundle entry points", () => {
  for (const entry of ["connector/main.ts", "client/cli.ts"]) {
    it(`${entry} reaches no worker code and no cloudflare:* module`, () => {
      const { files, bare } = reachable(entry);
      const rel = [...files].map((f) => path.relative(ROOT, f));
      expect(rel.length).toBeGreaterThan(5);
      expect(rel.filter((f) => f.startsWith("worker/") || /^protocols\/[^/]+\/worker\//.test(f) || f === "protocols/registry-worker.ts")).toEqual([]);
      expect([...bare].filter((b) => b.startsWith("cloudflare:"))).toEqual([]);
    });
  }
});
