import { describe, expect, it } from "vitest";
import { canonicalize } from "../encoding/jcs.ts";
import { policyHash } from "./hash.ts";
import { loadPolicy } from "./load.ts";
import { mustLoad } from "./test-fixtures.ts";

const BASE = `version: 1
limits: { max_session: 8h }
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: [pg-prod]
    actions: [connect, sql.read]
`;

describe("policy hash", () => {
  it("is SHA-256 hex of the canonical form", async () => {
    const policy = await mustLoad(BASE);
    expect(policy.hash).toMatch(/^[0-9a-f]{64}$/);
    const data = { version: 1, limits: { max_session: "8h" }, rules: [{ name: "reads", effect: "allow", subjects: "any", resources: ["pg-prod"], actions: ["connect", "sql.read"] }] };
    expect(policy.hash).toBe(await policyHash(data));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`gatehouse-policy-v1\n${canonicalize(data)}`)));
    expect(policy.hash).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
  });

  it("ignores comments, whitespace, quoting, flow style, key order, anchors and the source name", async () => {
    const base = await mustLoad(BASE, "a.yaml");
    const reformatted = await mustLoad(
      `# production policy\n"version": 1   # format\nrules:\n- {actions: ["connect", 'sql.read'], resources: [ pg-prod ], subjects: any, effect: allow, name: reads}\nlimits:\n    max_session: "8h"\n`,
      "b.yaml",
    );
    expect(reformatted.hash).toBe(base.hash);
    const anchored = await mustLoad(`version: 1\nlimits: &l { max_session: 8h }\nrules:\n  - { name: reads, effect: allow, subjects: any, resources: [pg-prod], actions: [connect, sql.read] }\n`);
    expect(anchored.hash).toBe(base.hash);
    expect(reformatted.source).toBe("b.yaml");
  });

  it("changes with any change of content, including rule order and equivalent spellings", async () => {
    const base = (await mustLoad(BASE)).hash;
    const variants = [
      BASE.replace("8h", "9h"),
      BASE.replace("8h", "480m"), // same duration, different text: hashed as written
      BASE.replace("sql.read", "sql.write"),
      BASE.replace("pg-prod", "pg-prod2"),
      BASE + "  - { name: other, effect: deny, subjects: any, resources: any, actions: [sql.ddl] }\n",
    ];
    const hashes = await Promise.all(variants.map(async (v) => (await mustLoad(v)).hash));
    for (const h of hashes) expect(h).not.toBe(base);
    expect(new Set(hashes).size).toBe(hashes.length);

    const two = `version: 1\nrules:\n  - { name: a, effect: allow, subjects: any, resources: any, actions: [connect] }\n  - { name: b, effect: deny, subjects: any, resources: any, actions: [sql.ddl] }\n`;
    const swapped = `version: 1\nrules:\n  - { name: b, effect: deny, subjects: any, resources: any, actions: [sql.ddl] }\n  - { name: a, effect: allow, subjects: any, resources: any, actions: [connect] }\n`;
    expect((await mustLoad(two)).hash).not.toBe((await mustLoad(swapped)).hash);
  });

  it("is computed over RFC 8785 canonical JSON, which sorts keys and escapes strings", async () => {
    expect(canonicalize({ b: 1, a: [true, null, "x\"y"], c: { z: 1, y: 2 } })).toBe('{"a":[true,null,"x\\"y"],"b":1,"c":{"y":2,"z":1}}');
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode('gatehouse-policy-v1\n{"a":1}')));
    expect(await policyHash({ a: 1 })).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
  });

  it("refuses, at the position of the value, policy text that has no canonical JSON (a lone surrogate escape)", async () => {
    const loaded = await loadPolicy(BASE + '    description: "ok \\uD800 not text"\n', "p.yaml");
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toHaveLength(1);
    expect(loaded.errors[0]).toMatchObject({ file: "p.yaml", line: 9, column: 18 });
    expect(loaded.errors[0]!.message).toMatch(/lone surrogate U\+D800/);
  });
});
