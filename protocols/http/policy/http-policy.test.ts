/**
 * HTTP policy rules, and for each rule the ways around it an attacker would try (case, encoding,
 * dot segments, duplicate slashes, duplicate query parameters, trailing slash, method spelling).
 */
import { describe, expect, it } from "vitest";
import { devClaims, identityOf, mustFail, mustLoad, resource } from "../../../parsers/policy/test-fixtures.ts";
import { normaliseTarget, queryParams } from "../codec/path.ts";
import type { HttpRequestDescription } from "./http-policy.ts";
import { httpRequest } from "./describe.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";

const POLICY = `
version: 1
roles:
  approver:
    - claims: { groups: approvers }
rules:
  - name: api-read
    effect: allow
    subjects: any
    resources: { type: http }
    actions: [connect, http.get, { http: { methods: [HEAD], paths: ["/**"] } }]
  - name: no-delete
    effect: deny
    subjects: any
    resources: { type: http }
    actions: [http.delete]
  - name: no-admin
    effect: deny
    subjects: any
    resources: { type: http }
    actions: [{ http: { paths: ["/admin/**"] } }]
  - name: deploy-needs-approval
    effect: approve
    subjects: any
    resources: { type: http }
    actions: [{ http: { methods: [POST], paths: ["/deploy/{env}"] } }]
  - name: dry-run-ok
    effect: allow
    subjects: any
    resources: { type: http }
    actions: [{ http: { methods: [POST], paths: ["/jobs/*.json"], query: { dry_run: "true" } } }]
  - name: websockets
    effect: allow
    subjects: any
    resources: { type: http }
    actions: [{ http: { methods: [GET], paths: ["/ws"], upgrade: [websocket] } }]
`;

const who = identityOf(devClaims("alice"));
const api = resource("api", {}, "http");

function req(method: string, target: string, extra: Partial<HttpRequestDescription> = {}): HttpRequestDescription {
  const t = normaliseTarget(target);
  return { method, path: t.path, query: queryParams(t.query), headers: [], upgrade: null, ...extra };
}

describe("HTTP policy", async () => {
  const policy = await mustLoad(POLICY);
  const decide = (r: HttpRequestDescription) => policy.decideRequest("http", { identity: who, resource: api, request: r });

  it("allows GET, denies DELETE naming the rule, holds POST /deploy/{env}", () => {
    expect(decide(req("GET", "/customers"))).toMatchObject({ effect: "allow", rule: "api-read" });
    const d = decide(req("DELETE", "/customers/1"));
    expect(d).toMatchObject({ effect: "deny", rule: "no-delete" });
    expect(d.reason).toContain("no-delete");
    const a = decide(req("POST", "/deploy/prod"));
    expect(a).toMatchObject({ effect: "approve", rule: "deploy-needs-approval" });
    expect(a.approvals?.[0]?.rule).toBe("deploy-needs-approval");
  });

  it("default deny for what no rule allows, naming the request", () => {
    const d = decide(req("PUT", "/x"));
    expect(d).toMatchObject({ effect: "deny", rule: null });
    expect(d.reason).toContain("PUT /x");
  });

  it("the ways around a deny on /admin/** all fail", () => {
    for (const t of ["/admin/users", "/ADMIN/users", "/Admin/users/", "/%61dmin/users", "//admin//users", "/x/../admin/users", "/./admin/./users", "/x/%2e%2e/admin/users", "/admin"]) {
      expect(decide(req("GET", t)), t).toMatchObject({ effect: "deny", rule: "no-admin" });
    }
  });

  it("the ways around an approval on /deploy/{env} all still need it", () => {
    for (const t of ["/deploy/prod/", "/DEPLOY/prod", "//deploy/prod", "/deploy/x/../prod", "/deploy/%70rod"]) {
      expect(decide(req("POST", t)).effect, t).toBe("approve");
    }
    // Method spelling: methods are case-sensitive on the wire; a lower-case 'post' is still touched.
    expect(decide(req("post", "/deploy/prod")).effect).toBe("approve");
    // Not below: the template is exactly one segment; /deploy/prod/extra is not allowed by anything either.
    expect(decide(req("POST", "/deploy/prod/extra"))).toMatchObject({ effect: "deny", rule: null });
  });

  it("allow covers completely: case-sensitive path, every duplicate query value, globs within one segment", () => {
    expect(decide(req("POST", "/jobs/a.json?dry_run=true")).effect).toBe("allow");
    expect(decide(req("POST", "/jobs/a.json?dry_run=true&dry_run=false")).effect).toBe("deny");
    expect(decide(req("POST", "/jobs/a.json")).effect).toBe("deny");
    expect(decide(req("POST", "/JOBS/a.json?dry_run=true")).effect).toBe("deny");
    expect(decide(req("POST", "/jobs/x/a.json?dry_run=true")).effect).toBe("deny");
  });

  it("upgrades need an allow that names them; GET alone does not allow a WebSocket", () => {
    expect(decide(req("GET", "/other", { upgrade: "websocket" })).effect).toBe("deny");
    expect(decide(req("GET", "/ws", { upgrade: "websocket" }))).toMatchObject({ effect: "allow", rule: "websockets" });
    expect(decide(req("GET", "/admin/ws", { upgrade: "websocket" }))).toMatchObject({ effect: "deny", rule: "no-admin" });
  });

  it("headers: deny touches any value, allow needs every value", async () => {
    const p = await mustLoad(`
version: 1
rules:
  - { name: ok, effect: allow, subjects: any, resources: { type: http }, actions: [{ http: { headers: { x-env: "staging" } } }] }
  - { name: no-prod, effect: deny, subjects: any, resources: { type: http }, actions: [{ http: { headers: { X-Env: "prod*" } } }] }
`);
    const d = (headers: Array<[string, string]>) => p.decideRequest("http", { identity: who, resource: api, request: req("GET", "/", { headers }) }).effect;
    expect(d([["x-env", "staging"]])).toBe("allow");
    expect(d([["x-env", "staging"], ["x-env", "production"]])).toBe("deny");
    expect(d([])).toBe("deny");
  });

  it("pathological ** patterns stay fast (memoised)", async () => {
    const p = await mustLoad(`
version: 1
rules:
  - { name: r, effect: deny, subjects: any, resources: { type: http }, actions: [{ http: { paths: ["/**/a/**/b/**/c/**/d"] } }] }
`);
    const r = p.decideRequest("http", { identity: who, resource: api, request: req("GET", `/${"a/".repeat(300)}x`) });
    expect(r.effect).toBe("deny");
    expect(r.rule).toBeNull();
  });

  it("policy errors name the position", async () => {
    expect((await mustFail(`version: 1\nrules:\n  - { name: r, effect: allow, subjects: any, resources: any, actions: [http.fetch!] }\n`)).join("\n")).toMatch(/^3:\d+: .*unknown HTTP action/);
    expect((await mustFail(`version: 1\nrules:\n  - { name: r, effect: allow, subjects: any, resources: any, actions: [{ http: { paths: ["/a/%2fb"] } }] }\n`)).join("\n")).toMatch(/encoded slash/);
    expect((await mustFail(`version: 1\nrules:\n  - { name: r, effect: allow, subjects: any, resources: any, actions: [{ http: { verbs: [GET] } }] }\n`)).join("\n")).toMatch(/unknown key 'verbs'/);
  });

  it("decides through SessionPolicy.decide (the one entry point) exactly as the rule kind does", async () => {
    const session = new SessionPolicy(await mustLoad(POLICY), { classify: () => [] }, who, api);
    const d = (r: HttpRequestDescription) => session.decide(httpRequest(r)).decision;
    expect(d(req("GET", "/customers"))).toMatchObject({ effect: "allow", rule: "api-read" });
    expect(d(req("DELETE", "/customers/1"))).toMatchObject({ effect: "deny", rule: "no-delete" });
    expect(d(req("POST", "/deploy/prod"))).toMatchObject({ effect: "approve", rule: "deploy-needs-approval" });
    expect(d(req("GET", "/ADMIN/users"))).toMatchObject({ effect: "deny", rule: "no-admin" });
  });

  it("fails closed on anything that is not a described HTTP request", async () => {
    const p = await mustLoad(POLICY);
    const garbage: unknown[] = [undefined, null, "GET /", { method: "GET" }, { method: "GET", path: "/", query: "a=1", headers: [], upgrade: null }, { method: "GET", path: "/", query: [], headers: [], upgrade: 1 }];
    for (const request of garbage) {
      const r = p.decideRequest("http", { identity: who, resource: api, request });
      expect(r.effect).toBe("deny");
      expect(r.rule).toBeNull();
    }
    // A description naming another protocol never reaches the HTTP rules.
    const session = new SessionPolicy(p, { classify: () => [] }, who, api);
    expect(session.decide({ ...httpRequest(req("GET", "/customers")), protocol: "gopher" }).decision.effect).toBe("deny");
  });
});
