import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadPolicy } from "./load.ts";

/** Loading never throws: it returns a policy or positioned errors, whatever the input. */
async function checkLoad(text: string): Promise<void> {
  const result = await loadPolicy(text, "fuzz.yaml");
  if (!result.ok) {
    expect(result.errors.length).toBeGreaterThan(0);
    for (const e of result.errors) {
      expect(e.file).toBe("fuzz.yaml");
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
      expect(e.message.length).toBeGreaterThan(0);
    }
  } else {
    expect(result.policy.hash).toMatch(/^[0-9a-f]{64}$/);
  }
}

const word = fc.constantFrom("version", "rules", "name", "effect", "allow", "deny", "approve", "subjects", "resources", "actions", "any", "connect", "sql.read", "sql", "kinds", "github", "repository", "claims", "limits", "max_session", "8h", "roles", "masking", "recording", "mode", "requires", "grant", "approvers", "timeout", "x", "*", "**");
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, word, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie("node"), { maxLength: 4 }), fc.dictionary(word, tie("node"), { maxKeys: 4 })),
})).node;

describe("loadPolicy robustness", () => {
  it("never throws on arbitrary text", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 300 }), checkLoad), { numRuns: 300 });
  });

  it("never throws on arbitrary policy-shaped YAML", async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const doc = typeof v === "object" && v !== null && !Array.isArray(v) ? { version: 1, ...(v as object) } : v;
        await checkLoad(stringify(doc));
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on mutated valid rules", async () => {
    const rule = fc.record({
      name: fc.oneof(word, fc.string({ maxLength: 8 })),
      effect: fc.oneof(fc.constantFrom("allow", "deny", "approve"), word),
      subjects: fc.oneof(fc.constant("any"), value),
      resources: fc.oneof(fc.constant(["pg-prod"]), value),
      actions: fc.oneof(fc.constant(["connect", "sql.read"]), value),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { maxLength: 4 }), async (rules) => {
        await checkLoad(stringify({ version: 1, rules }));
      }),
      { numRuns: 300 },
    );
  });
});
