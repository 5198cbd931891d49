import { describe, expect, it } from "vitest";
import { loadPolicy } from "./load.ts";
import { identityOf, resource } from "./test-fixtures.ts";

const POLICY = `version: 1
roles:
  approver:
    - issuer: dev
      claims: { groups: approvers }
rules:
  - name: r
    effect: allow
    subjects:
      - issuer: dev
    resources: any
    actions: [connect]
`;

async function decide(devIssuers: string[] | undefined, iss: string, groups: string[] = []) {
  const result = await loadPolicy(POLICY, "p.yaml", devIssuers ? { devIssuers } : {});
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const identity = identityOf({ iss, sub: "alice", aud: "gatehouse", groups });
  return { effect: result.policy.decideConnect({ identity, resource: resource("demo-pg") }).effect, roles: [...result.policy.rolesOf(identity)] };
}

describe("issuer: dev", () => {
  it("matches exactly the configured development issuer, on any port", async () => {
    expect((await decide(["http://127.0.0.1:41234"], "http://127.0.0.1:41234")).effect).toBe("allow");
    expect((await decide(["http://127.0.0.1:41234"], "http://127.0.0.1:8788")).effect).not.toBe("allow");
    expect((await decide(["http://127.0.0.1:41234"], "http://127.0.0.1:41234/")).effect).not.toBe("allow");
  });

  it("matches nothing when the gateway has no development issuer (production)", async () => {
    expect((await decide(undefined, "http://127.0.0.1:8788")).effect).not.toBe("allow");
    expect((await decide([], "dev")).effect).not.toBe("allow");
    expect((await decide(undefined, "https://token.actions.githubusercontent.com")).effect).not.toBe("allow");
  });

  it("is compared literally: wildcard characters in an issuer id are not patterns", async () => {
    expect((await decide(["https://idp/*"], "https://idp/evil")).effect).not.toBe("allow");
    expect((await decide(["https://idp/*"], "https://idp/*")).effect).toBe("allow");
  });

  it("applies to roles too", async () => {
    expect((await decide(["http://127.0.0.1:9"], "http://127.0.0.1:9", ["approvers"])).roles).toContain("approver");
    expect((await decide([], "http://127.0.0.1:9", ["approvers"])).roles).not.toContain("approver");
  });
});
