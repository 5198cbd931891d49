/**
 * Golden vectors of the policy hash: the committed policies must load with exactly the committed
 * hashes (golden/hashes.json). The hash is recorded in every session.start, so changing how it is
 * computed would make old trails name policies nobody can reproduce. See parsers/audit/golden/README.md.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "./load.ts";

const read = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), "utf8");
const hashes = JSON.parse(read("hashes.json")) as Record<string, string>;

describe("policy hash golden vectors", () => {
  it("covers the example policies and the formatting edge cases", () => {
    expect(Object.keys(hashes).sort()).toEqual(["demo.yaml", "github-actions.yaml", "gitlab-ci.yaml", "read-only.yaml", "tricky.yaml"]);
  });

  for (const [file, hash] of Object.entries(hashes)) {
    it(`${file} hashes to ${hash.slice(0, 12)}…`, async () => {
      const loaded = await loadPolicy(read(file), file);
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
      expect(loaded.policy.hash).toBe(hash);
    });
  }
});
