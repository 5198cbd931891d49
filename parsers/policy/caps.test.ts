import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustFail, mustLoad, resource } from "./test-fixtures.ts";

const alice = identityOf(devClaims("alice", ["sre"]));
const bob = identityOf(devClaims("bob", ["dev"]));

describe("session caps (limits.max_sessions_per_identity / max_sessions_per_resource)", () => {
  it("take the smallest cap of the matching rules, else the policy-wide caps, else none", async () => {
    const policy = await mustLoad(`version: 1
limits: { max_sessions_per_identity: 10, max_sessions_per_resource: 50 }
rules:
  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: sre-prod, effect: allow, subjects: [{ claims: { groups: sre } }], resources: [pg-prod], actions: [sql.read], limits: { max_sessions_per_identity: 3 } }
  - { name: sre-prod-deny, effect: deny, subjects: [{ claims: { groups: sre } }], resources: [pg-prod], actions: [sql.ddl], limits: { max_sessions_per_identity: 5, max_sessions_per_resource: 20 } }
`);
    expect(policy.sessionCaps(alice, resource("pg-prod"))).toEqual({ maxSessionsPerIdentity: 3, maxSessionsPerResource: 20 });
    expect(policy.sessionCaps(bob, resource("pg-prod"))).toEqual({ maxSessionsPerIdentity: 10, maxSessionsPerResource: 50 });
    const none = await mustLoad(`version: 1\nrules:\n  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect] }\n`);
    expect(none.sessionCaps(alice, resource("pg-prod"))).toEqual({ maxSessionsPerIdentity: null, maxSessionsPerResource: null });
  });

  it("accepts only whole numbers from 1", async () => {
    for (const bad of ["0", "-1", "2.5", "'3'", "lots", "1000001"]) {
      const errors = await mustFail(`version: 1\nlimits: { max_sessions_per_identity: ${bad} }\nrules:\n  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect] }\n`);
      expect(errors.join("\n")).toMatch(/limits\.max_sessions_per_identity: expected a whole number of sessions from 1 to 100000/);
    }
    const typo = await mustFail(`version: 1\nlimits: { max_session_per_identity: 2 }\nrules:\n  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect] }\n`);
    expect(typo.join("\n")).toMatch(/did you mean 'max_sessions_per_identity'/);
  });
});
