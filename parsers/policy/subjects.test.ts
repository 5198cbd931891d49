import { describe, expect, it } from "vitest";
import { compileGlob, GlobSet } from "./glob.ts";
import { claimValueMatches } from "./subjects.ts";
import { devClaims, githubClaims, githubPullRequestClaims, gitlabClaims, identityOf, mustLoad, resource } from "./test-fixtures.ts";
import type { Identity } from "../identity.ts";

const set = (...p: string[]) => new GlobSet(p.map(compileGlob));
const pg = resource("pg-prod");

/** A one-rule policy allowing connect to identities matching `subjects` (YAML). */
async function allows(subjects: string, identity: Identity): Promise<boolean> {
  const policy = await mustLoad(`version: 1\nrules:\n  - name: r\n    effect: allow\n    resources: any\n    actions: [connect]\n    subjects:\n${subjects}\n`);
  return policy.decideConnect({ identity, resource: pg }).effect === "allow";
}

describe("claim values", () => {
  it("strings match globs; arrays match when any element matches", () => {
    expect(claimValueMatches("sre", set("sre"))).toBe(true);
    expect(claimValueMatches(["dev", "sre"], set("sre"))).toBe(true);
    expect(claimValueMatches(["dev", "ops"], set("sre"))).toBe(false);
    expect(claimValueMatches(["team/sre"], set("team/*"))).toBe(true);
    expect(claimValueMatches([], set("**"))).toBe(false);
  });

  it("compares booleans and numbers as their text, explicitly", () => {
    expect(claimValueMatches(true, set("true"))).toBe(true);
    expect(claimValueMatches("true", set("true"))).toBe(true);
    expect(claimValueMatches(false, set("true"))).toBe(false);
    expect(claimValueMatches(42, set("42"))).toBe(true);
    expect(claimValueMatches([1, 2], set("2"))).toBe(true);
    expect(claimValueMatches("TRUE", set("true"))).toBe(false);
  });

  it("never matches missing, null or object claims — not even with '**'", () => {
    expect(claimValueMatches(undefined, set("**"))).toBe(false);
    expect(claimValueMatches(null, set("**"))).toBe(false);
    expect(claimValueMatches({ toString: () => "sre" }, set("sre"))).toBe(false);
    expect(claimValueMatches([{ name: "sre" }, null], set("**"))).toBe(false);
    expect(claimValueMatches(Number.NaN, set("NaN"))).toBe(false);
  });
});

describe("subject matchers", () => {
  it("match issuer, subject and claims together (AND), entries of a list as OR", async () => {
    const spec = `      - issuer: http://127.0.0.1:8788\n        subject: "ali*"\n        claims: { groups: sre }\n      - subject: bob`;
    expect(await allows(spec, identityOf(devClaims("alice", ["sre"])))).toBe(true);
    expect(await allows(spec, identityOf(devClaims("alice", ["dev"])))).toBe(false);
    expect(await allows(spec, identityOf(devClaims("carol", ["sre"])))).toBe(false);
    expect(await allows(spec, identityOf(devClaims("bob")))).toBe(true);
    expect(await allows(spec, identityOf({ ...devClaims("alice", ["sre"]), iss: "http://127.0.0.1:9999" }))).toBe(false);
  });

  it("treats 'ref_protected: true' and 'ref_protected: \"true\"' alike, against string and boolean claims", async () => {
    for (const pattern of ["true", '"true"']) {
      const spec = `      - claims: { ref_protected: ${pattern} }`;
      expect(await allows(spec, identityOf(devClaims("a", [], { ref_protected: "true" })))).toBe(true);
      expect(await allows(spec, identityOf(devClaims("a", [], { ref_protected: true })))).toBe(true);
      expect(await allows(spec, identityOf(devClaims("a", [], { ref_protected: "false" })))).toBe(false);
      expect(await allows(spec, identityOf(devClaims("a")))).toBe(false);
    }
    expect(await allows(`      - claims: { project_id: 20 }`, identityOf(devClaims("a", [], { project_id: "20" })))).toBe(true);
  });

  it("a list of claim patterns is any-of", async () => {
    const spec = `      - claims: { groups: [sre, "dba-*"] }`;
    expect(await allows(spec, identityOf(devClaims("a", ["dba-eu"])))).toBe(true);
    expect(await allows(spec, identityOf(devClaims("a", ["dev"])))).toBe(false);
  });

  it("does not match inherited properties of the claims object", async () => {
    expect(await allows(`      - claims: { constructor: "**" }`, identityOf(devClaims("a")))).toBe(false);
    expect(await allows(`      - claims: { toString: "**" }`, identityOf(devClaims("a")))).toBe(false);
  });

  it("matches roles by name", async () => {
    const policy = await mustLoad(`version: 1
roles:
  sre: [{ claims: { groups: sre } }]
  oncall: [{ subject: "pager-*" }, { claims: { groups: oncall } }]
rules:
  - { name: r, effect: allow, subjects: [{ role: [sre, oncall] }], resources: any, actions: [connect] }
`);
    const sre = identityOf(devClaims("alice", ["sre"]));
    const pager = identityOf(devClaims("pager-1"));
    const dev = identityOf(devClaims("dave", ["dev"]));
    expect(policy.rolesOf(sre)).toEqual(["sre"]);
    expect(policy.rolesOf(pager)).toEqual(["oncall"]);
    expect(policy.rolesOf(identityOf(devClaims("x", ["sre", "oncall"])))).toEqual(["sre", "oncall"]);
    expect(policy.rolesOf(dev)).toEqual([]);
    expect(policy.decideConnect({ identity: sre, resource: pg }).effect).toBe("allow");
    expect(policy.decideConnect({ identity: pager, resource: pg }).effect).toBe("allow");
    expect(policy.decideConnect({ identity: dev, resource: pg }).effect).toBe("deny");
  });
});

describe("GitHub Actions matcher", () => {
  const migrations = `      - github: { repository: acme/api, ref: refs/heads/main, environment: production }`;

  it("matches a realistic token of main, environment production", async () => {
    expect(await allows(migrations, identityOf(githubClaims()))).toBe(true);
  });

  it("implies GitHub's issuer: the same claims from another issuer do not match", async () => {
    expect(await allows(migrations, identityOf(githubClaims({ iss: "https://evil.example.com" })))).toBe(false);
    expect(await allows(migrations, identityOf(githubClaims({ iss: "https://token.actions.githubusercontent.com/acme" })))).toBe(false);
    const ghes = `      - github: { issuer: "https://token.actions.githubusercontent.com/acme", repository: acme/api }`;
    expect(await allows(ghes, identityOf(githubClaims({ iss: "https://token.actions.githubusercontent.com/acme" })))).toBe(true);
    expect(await allows(ghes, identityOf(githubClaims()))).toBe(false);
  });

  it("resists look-alike repositories, branches and environments", async () => {
    for (const claims of [
      { repository: "acme/api-evil" },
      { repository: "acme/api/../x" },
      { repository: "evil/acme/api" },
      { repository: "ACME/api" },
      { ref: "refs/heads/main-evil" },
      { ref: "refs/heads/feature/main" },
      { ref: "refs/tags/main" },
      { ref: "refs/pull/42/merge" },
      { environment: "production-copy" },
      { environment: "Production" },
    ]) {
      expect(await allows(migrations, identityOf(githubClaims(claims))), JSON.stringify(claims)).toBe(false);
    }
  });

  it("requires the environment claim to be present when the matcher names it", async () => {
    expect(await allows(migrations, identityOf(githubPullRequestClaims({ ref: "refs/heads/main" })))).toBe(false);
  });

  it("matches pull request workflows with a ref glob, and the owner with '*' but not deeper paths", async () => {
    const prs = `      - github: { repository: acme/api, event_name: pull_request, ref: "refs/pull/*/merge" }`;
    expect(await allows(prs, identityOf(githubPullRequestClaims()))).toBe(true);
    expect(await allows(prs, identityOf(githubPullRequestClaims({ event_name: "pull_request_target" })))).toBe(false);
    expect(await allows(prs, identityOf(githubClaims()))).toBe(false);
    const owner = `      - github: { repository: "acme/*", workflow: deploy }`;
    expect(await allows(owner, identityOf(githubClaims({ repository: "acme/web" })))).toBe(true);
    expect(await allows(owner, identityOf(githubClaims({ repository: "acmecorp/web" })))).toBe(false);
  });

  it("pins reusable workflows with job_workflow_ref and owners by id", async () => {
    const reusable = `      - github: { repository_owner_id: "1342004", job_workflow_ref: "acme/shared/.github/workflows/migrate.yml@refs/heads/main" }`;
    const ok = githubClaims({ job_workflow_ref: "acme/shared/.github/workflows/migrate.yml@refs/heads/main" });
    expect(await allows(reusable, identityOf(ok))).toBe(true);
    expect(await allows(reusable, identityOf({ ...ok, job_workflow_ref: "acme/shared/.github/workflows/migrate.yml@refs/heads/dev" }))).toBe(false);
    expect(await allows(reusable, identityOf({ ...ok, repository_owner_id: "999" }))).toBe(false);
  });

  it("matches the actor list", async () => {
    const actors = `      - github: { repository: acme/api, actor: [octocat, hubot] }`;
    expect(await allows(actors, identityOf(githubClaims()))).toBe(true);
    expect(await allows(actors, identityOf(githubClaims({ actor: "mallory" })))).toBe(false);
  });
});

describe("GitLab CI matcher", () => {
  const migrations = `      - gitlab: { project_path: acme/api, ref: main, ref_protected: true, environment: production, pipeline_source: push }`;

  it("matches a realistic gitlab.com token of protected main", async () => {
    expect(await allows(migrations, identityOf(gitlabClaims()))).toBe(true);
  });

  it("refuses unprotected refs, look-alike projects and other issuers", async () => {
    for (const claims of [
      { ref_protected: "false" },
      { project_path: "acme/api-evil" },
      { project_path: "acme/api/sub" },
      { ref: "main2" },
      { environment: "production/evil" },
      { pipeline_source: "merge_request_event" },
      { iss: "https://gitlab.example.com" },
    ]) {
      expect(await allows(migrations, identityOf(gitlabClaims(claims))), JSON.stringify(claims)).toBe(false);
    }
    const noProtected = gitlabClaims();
    delete noProtected.ref_protected;
    expect(await allows(migrations, identityOf(noProtected))).toBe(false);
  });

  it("supports self-managed instances through gitlab.issuer", async () => {
    const selfManaged = `      - gitlab: { issuer: "https://gitlab.example.com", namespace_path: "platform/**" }`;
    expect(await allows(selfManaged, identityOf(gitlabClaims({ iss: "https://gitlab.example.com", namespace_path: "platform/db/tools" })))).toBe(true);
    expect(await allows(selfManaged, identityOf(gitlabClaims({ namespace_path: "platform/db/tools" })))).toBe(false);
  });
});

describe("identities of the development issuer", () => {
  it("can be told apart by groups", async () => {
    const admins = `      - issuer: http://127.0.0.1:8788\n        claims: { groups: admins, aud: gatehouse }`;
    expect(await allows(admins, identityOf(devClaims("root", ["admins", "users"])))).toBe(true);
    expect(await allows(admins, identityOf(devClaims("eve", ["users"])))).toBe(false);
    expect(await allows(admins, identityOf(devClaims("eve", ["users"], { groups: "admins-not" })))).toBe(false);
    expect(await allows(admins, identityOf(devClaims("eve", ["admins"], { aud: ["other", "gatehouse"] })))).toBe(true);
  });
});
