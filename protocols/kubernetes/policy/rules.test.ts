import { describe, expect, it } from "vitest";
import { compileKubeActionMap, compileKubeActionName, decideKubeRequest, kubeActionMatches, type KubeActionMatcher, type KubeRuleView } from "./rules.ts";
import { parseKubeRequest } from "../codec/request.ts";
import { execCommands } from "../codec/exec-command.ts";
import type { Effect } from "../../../parsers/policy/types.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import { compileImpersonation, impersonationHeaders, ImpersonationError } from "./impersonation.ts";

const identity = { issuer: "https://token.actions.githubusercontent.com", subject: "repo:acme/api:ref:refs/heads/main", claims: { repository: "acme/api", repository_owner: "acme" } };
const resource = { name: "prod-cluster", type: "kubernetes", labels: {} };

const rule = (name: string, effect: Effect, action: KubeActionMatcher): KubeRuleView & { actions: KubeActionMatcher[] } => ({ name, effect, actions: [action], approversRaw: null, approvalTimeoutMs: null, requiredApprovals: 1 });
const input = (method: string, target: string, extra: { bodyName?: string; ports?: number[]; portsPerStream?: boolean } = {}) => {
  const request = parseKubeRequest(method, target);
  const commands = request.kind === "resource" && request.verb === "exec" ? execCommands(request.command) : undefined;
  return { identity, resource, request, commands, ...extra };
};

const DEMO = [
  rule("read", "allow", compileKubeActionMap({ verbs: ["get", "list", "watch", "log"] })),
  rule("deploy", "allow", compileKubeActionMap({ verbs: ["create", "update", "patch"], namespaces: ["apps", "team-*"] })),
  rule("hold-deletes", "approve", compileKubeActionMap({ verbs: ["delete", "deletecollection"] })),
  rule("no-kube-system-exec", "deny", compileKubeActionMap({ verbs: ["exec", "attach"], namespaces: ["kube-system"] })),
  rule("migrations", "allow", compileKubeActionMap({ verbs: ["exec"], namespaces: ["apps"], names: ["api-*"], commands: ["./manage.py migrate", "./manage.py showmigrations **"] })),
  rule("no-rm", "deny", compileKubeActionMap({ verbs: ["exec"], commands: ["rm -rf /**"] })),
  rule("db-tunnel", "allow", compileKubeActionMap({ verbs: ["portforward"], namespaces: ["apps"], ports: [5432] })),
  rule("no-secrets-writes", "deny", compileKubeActionMap({ verbs: ["create", "update", "patch", "delete"], resources: ["secrets"] })),
];
const decide = (method: string, target: string, extra = {}) => decideKubeRequest(input(method, target, extra), DEMO, (r) => `rule '${r.name}'`, "acme/api");

describe("Kubernetes policy decisions", () => {
  it("non-resource paths other than discovery, OpenAPI, version and health are covered by no rule", () => {
    expect(decide("GET", "/healthz")).toMatchObject({ effect: "allow", rule: "read" });
    for (const target of ["/logs", "/logs/kube-apiserver-audit.log", "/metrics", "/debug/pprof/goroutine?debug=2", "/debug/flags/v"]) {
      expect(decide("GET", target)).toMatchObject({ effect: "deny", rule: null });
    }
    const all = [rule("everything", "allow", compileKubeActionName("k8s.*"))];
    expect(decideKubeRequest(input("GET", "/metrics"), all, (r) => r.name, "acme/api")).toMatchObject({ effect: "deny", rule: null });
    // A catch-all approve still holds it; an approve on deletes does not touch it.
    const held = [...all, rule("hold-all", "approve", compileKubeActionName("k8s.*"))];
    expect(decideKubeRequest(input("GET", "/logs"), held, (r) => r.name, "acme/api")).toMatchObject({ effect: "approve", rule: "hold-all" });
    expect(decide("GET", "/logs").matched).toEqual([]);
  });

  it("reads allowed, writes allowed in their namespaces, deletes held, default deny elsewhere", () => {
    expect(decide("GET", "/api/v1/pods?limit=500")).toMatchObject({ effect: "allow", rule: "read" });
    expect(decide("GET", "/api/v1/namespaces/apps/pods/p/log?follow=true")).toMatchObject({ effect: "allow", rule: "read" });
    expect(decide("PATCH", "/apis/apps/v1/namespaces/apps/deployments/web")).toMatchObject({ effect: "allow", rule: "deploy" });
    expect(decide("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web")).toMatchObject({ effect: "deny", rule: null });
    const del = decide("DELETE", "/apis/apps/v1/namespaces/apps/deployments/web");
    expect(del).toMatchObject({ effect: "approve", rule: "hold-deletes", approvals: [{ rule: "hold-deletes" }] });
    expect(del.reason).toContain("delete deployments.apps apps/web");
  });

  it("a create in an allowed namespace of a Secret is still denied (the deny guard rail wins)", () => {
    expect(decide("POST", "/api/v1/namespaces/apps/secrets")).toMatchObject({ effect: "deny", rule: "no-secrets-writes" });
    expect(decide("POST", "/api/v1/namespaces/apps/configmaps")).toMatchObject({ effect: "allow", rule: "deploy" });
  });

  it("five ways around 'no exec in kube-system' stay denied", () => {
    for (const target of [
      "/api/v1/namespaces/kube-system/pods/etcd/exec?command=sh",
      "/api/v1/namespaces/kube%2Dsystem/pods/etcd/exec?command=sh",
      "/api/v1/namespaces/kube-system/pods/etcd/attach?stdin=true&tty=true",
    ]) expect(decide("GET", target).effect).toBe("deny");
    expect(decide("POST", "/api/v1/namespaces/kube-system/pods/etcd/exec?command=sh").effect).toBe("deny");
    // ephemeral debug containers are a way into a pod: an allow on pods does not cover the subresource.
    expect(decide("PATCH", "/api/v1/namespaces/kube-system/pods/etcd/ephemeralcontainers").effect).toBe("deny");
  });

  it("exec commands by meaning: allowed migration; rm -rf hidden in sh -c, env, or argv spellings denied; unknown never allowed", () => {
    const exec = (pod: string, argv: string[]) => decide("GET", `/api/v1/namespaces/apps/pods/${pod}/exec?${argv.map((a) => `command=${encodeURIComponent(a)}`).join("&")}&stdout=true`);
    // ./manage.py runs code the gateway cannot see: as for SSH, every deny exec rule touches it.
    expect(exec("api-0", ["./manage.py", "migrate"])).toMatchObject({ effect: "deny", rule: "no-rm" });
    const withoutRm = DEMO.filter((r) => r.name !== "no-rm");
    const execOnly = (pod: string, argv: string[]) =>
      decideKubeRequest(input("GET", `/api/v1/namespaces/apps/pods/${pod}/exec?${argv.map((a) => `command=${encodeURIComponent(a)}`).join("&")}`), withoutRm, (r) => r.name, "acme/api");
    expect(execOnly("api-0", ["./manage.py", "migrate"])).toMatchObject({ effect: "allow", rule: "migrations" });
    expect(execOnly("api-0", ["./manage.py", "showmigrations", "app"])).toMatchObject({ effect: "allow", rule: "migrations" });
    expect(execOnly("worker-0", ["./manage.py", "migrate"]).effect).toBe("deny"); // name not covered
    expect(execOnly("api-0", ["./manage.py", "migrate", "--fake"]).effect).toBe("deny");
    expect(execOnly("api-0", ["sh", "-c", "./manage.py migrate; id"]).effect).toBe("deny"); // id not covered
    expect(exec("api-0", ["rm", "-rf", "/data"])).toMatchObject({ effect: "deny", rule: "no-rm" });
    expect(exec("api-0", ["rm", "-r", "-f", "/data"])).toMatchObject({ effect: "deny", rule: "no-rm" });
    expect(exec("api-0", ["sh", "-c", "./manage.py migrate && rm -fr /data"])).toMatchObject({ effect: "deny", rule: "no-rm" });
    expect(exec("api-0", ["env", "X=1", "rm", "--recursive", "--force", "/data"])).toMatchObject({ effect: "deny", rule: "no-rm" });
    expect(exec("api-0", ["sh", "-c", "eval \"$CMD\""]).effect).toBe("deny");
    // A quote in argv is a literal character, not shell syntax: one word, not a second command.
    expect(exec("api-0", ["./manage.py", "migrate'; rm -rf /data; '"]).effect).toBe("deny");
  });

  it("port-forward by port: covered only when every port is known and listed", () => {
    const pf = "/api/v1/namespaces/apps/pods/db-0/portforward";
    expect(decide("GET", pf, { ports: [5432] })).toMatchObject({ effect: "allow", rule: "db-tunnel" });
    expect(decide("GET", pf, { ports: [5432, 22] }).effect).toBe("deny");
    expect(decide("GET", pf).effect).toBe("deny"); // ports unknown
    expect(decide("GET", `${pf}?ports=5432`)).toMatchObject({ effect: "allow", rule: "db-tunnel" });
  });

  it("port-forward decided per stream (kubectl 1.35: ports only in the SPDY streams)", () => {
    const pf = "/api/v1/namespaces/apps/pods/db-0/portforward";
    // At the request: an allow with ports covers it (each stream is decided again)…
    expect(decide("GET", pf, { portsPerStream: true })).toMatchObject({ effect: "allow", rule: "db-tunnel" });
    // …outside the rule's namespace nothing covers it.
    expect(decide("GET", "/api/v1/namespaces/web/pods/x/portforward", { portsPerStream: true }).effect).toBe("deny");
    // Each stream with its one port: the reason names it.
    expect(decide("GET", pf, { ports: [5432] })).toMatchObject({ effect: "allow", rule: "db-tunnel" });
    expect(decide("GET", pf, { ports: [22] })).toMatchObject({ effect: "deny", rule: null, reason: expect.stringContaining("(port 22)") });
    // A deny with ports does not touch the request (only the streams with its ports).
    const rules = [...DEMO, rule("no-ssh-tunnel", "deny", compileKubeActionMap({ verbs: ["portforward"], ports: [22] })), rule("any-port", "allow", compileKubeActionMap({ verbs: ["portforward"], namespaces: ["apps"] }))];
    const d = (extra: object) => decideKubeRequest(input("GET", pf, extra), rules, (r) => r.name, "x");
    expect(d({ portsPerStream: true })).toMatchObject({ effect: "allow" });
    expect(d({ ports: [22] })).toMatchObject({ effect: "deny", rule: "no-ssh-tunnel" });
    // A rule without ports allows every port.
    expect(d({ ports: [6379] })).toMatchObject({ effect: "allow", rule: "any-port" });
  });

  it("k8s.* allow does not reach into workloads: exec, attach, portforward and proxy need naming", () => {
    const all = [rule("all", "allow", compileKubeActionName("k8s.*"))];
    const d = (m: string, t: string) => decideKubeRequest(input(m, t), all, (r) => r.name, "x").effect;
    expect(d("DELETE", "/api/v1/namespaces/a/pods/p")).toBe("allow");
    expect(d("GET", "/api/v1/namespaces/a/pods/p/exec?command=id")).toBe("deny");
    expect(d("GET", "/api/v1/namespaces/a/pods/p/attach")).toBe("deny");
    expect(d("GET", "/api/v1/namespaces/a/pods/p/portforward?ports=80")).toBe("deny");
    expect(d("GET", "/api/v1/namespaces/a/services/s:80/proxy/admin")).toBe("deny");
    expect(d("GET", "/apis")).toBe("allow");
  });

  it("kubectl debug (pods/ephemeralcontainers) is allowed only by a rule naming the subresource literally", () => {
    const debug = "/api/v1/namespaces/apps/pods/api-0/ephemeralcontainers";
    // The demo's deploy rule (patch in apps, no resources) would let a debug container run any command there.
    expect(decide("PATCH", debug)).toMatchObject({ effect: "deny", rule: null });
    const d = (action: KubeActionMatcher, method = "PATCH") => decideKubeRequest(input(method, debug), [rule("r", "allow", action)], (r) => r.name, "x").effect;
    expect(d(compileKubeActionName("k8s.*"))).toBe("deny");
    expect(d(compileKubeActionName("k8s.patch"))).toBe("deny");
    expect(d(compileKubeActionName("k8s.*"), "PUT")).toBe("deny");
    expect(d(compileKubeActionMap({ resources: ["pods/*"] }))).toBe("deny");
    expect(d(compileKubeActionMap({ resources: ["pods/ephemeral*"] }))).toBe("deny");
    expect(d(compileKubeActionMap({ resources: ["pods"] }))).toBe("deny");
    expect(d(compileKubeActionMap({ verbs: ["patch"], resources: ["pods/ephemeralcontainers"], namespaces: ["apps"] }))).toBe("allow");
    // Other subresources keep their rules: globs still cover them.
    expect(decideKubeRequest(input("PATCH", "/api/v1/namespaces/apps/pods/api-0/status"), [rule("r", "allow", compileKubeActionMap({ resources: ["pods/*"] }))], (r) => r.name, "x").effect).toBe("allow");
    // A deny on pods still touches it.
    expect(kubeActionMatches(compileKubeActionMap({ resources: ["pods"] }), input("PATCH", debug), "deny")).toBe(true);
  });

  it("a CSR's approval and status (a client certificate of the cluster) need the subresource named", () => {
    const csr = "/apis/certificates.k8s.io/v1/certificatesigningrequests/ci";
    const d = (action: KubeActionMatcher, target: string) => decideKubeRequest(input("PUT", target), [rule("r", "allow", action)], (r) => r.name, "x").effect;
    expect(d(compileKubeActionName("k8s.*"), `${csr}/approval`)).toBe("deny");
    expect(d(compileKubeActionName("k8s.update"), `${csr}/status`)).toBe("deny");
    expect(d(compileKubeActionName("k8s.*"), csr)).toBe("allow");
    expect(d(compileKubeActionMap({ verbs: ["update"], resources: ["certificatesigningrequests.certificates.k8s.io/approval"] }), `${csr}/approval`)).toBe("allow");
  });

  it("proxy needs the resource named; nodes/proxy reaches only the kubelet's read-only endpoints", () => {
    const node = "/api/v1/nodes/node-1/proxy";
    const d = (action: KubeActionMatcher, method: string, target: string) => decideKubeRequest(input(method, target), [rule("r", "allow", action)], (r) => r.name, "x").effect;
    const anyProxy = compileKubeActionName("k8s.proxy");
    const services = compileKubeActionMap({ verbs: ["proxy"], resources: ["services"] });
    const nodes = compileKubeActionMap({ verbs: ["proxy"], resources: ["nodes"] });
    // A broad proxy rule covers nothing: the resource must be named.
    expect(d(anyProxy, "GET", `${node}/stats/summary`)).toBe("deny");
    expect(d(anyProxy, "GET", "/api/v1/namespaces/a/services/web:80/proxy")).toBe("deny");
    expect(d(compileKubeActionMap({ verbs: ["proxy"], resources: ["*"] }), "GET", `${node}/metrics`)).toBe("deny");
    expect(d(services, "GET", "/api/v1/namespaces/a/services/web:80/proxy/healthz")).toBe("allow");
    expect(d(services, "GET", `${node}/metrics`)).toBe("deny");
    // The kubelet's reads pass a rule naming nodes; its command endpoints never do.
    for (const path of ["/stats/summary", "/metrics", "/metrics/cadvisor", "/pods", "/healthz", "/spec", "/configz"]) expect(d(nodes, "GET", `${node}${path}`), path).toBe("allow");
    for (const [method, path] of [
      ["POST", "/run/apps/api-0/app?cmd=id"],
      ["GET", "/run/apps/api-0/app?cmd=id"],
      ["POST", "/exec/apps/api-0/app?command=id&output=1"],
      ["GET", "/attach/apps/api-0/app?output=1"],
      ["POST", "/portForward/apps/api-0"],
      ["GET", "/cri/exec/abc"],
      ["PUT", "/debug/flags/v"],
      ["POST", "/checkpoint/apps/api-0/app"],
      ["GET", "/logs/syslog"],
      ["GET", "/containerLogs/apps/api-0/app"],
      ["POST", "/pods"],
      ["GET", "/Run/apps/api-0/app?cmd=id"],
      ["GET", ""],
    ] as const) expect(d(nodes, method, `${node}${path}`), `${method} ${path}`).toBe("deny");
    expect(d(nodes, "POST", "/api/v1/nodes/node-1:10250/proxy/run/apps/api-0/app?cmd=id")).toBe("deny");
    // Deny and approve rules on proxy still touch them all.
    expect(kubeActionMatches(anyProxy, input("POST", `${node}/run/apps/api-0/app?cmd=id`), "deny")).toBe(true);
  });

  it("names and namespaces: lists across namespaces and unnamed requests are not covered, and are touched", () => {
    const only = compileKubeActionMap({ verbs: ["list", "watch", "create", "get"], namespaces: ["apps"], names: ["web"] });
    const req = (m: string, t: string, extra = {}) => input(m, t, extra);
    expect(kubeActionMatches(only, req("GET", "/api/v1/pods"), "allow")).toBe(false);
    expect(kubeActionMatches(only, req("GET", "/api/v1/pods"), "deny")).toBe(true);
    expect(kubeActionMatches(only, req("GET", "/api/v1/namespaces/apps/pods"), "allow")).toBe(false);
    expect(kubeActionMatches(only, req("GET", "/api/v1/namespaces/apps/pods?fieldSelector=metadata.name%3Dweb&watch=1"), "allow")).toBe(true);
    expect(kubeActionMatches(only, req("POST", "/api/v1/namespaces/apps/pods", { bodyName: "web" }), "allow")).toBe(true);
    expect(kubeActionMatches(only, req("POST", "/api/v1/namespaces/apps/pods", { bodyName: "evil" }), "allow")).toBe(false);
    expect(kubeActionMatches(only, req("POST", "/api/v1/namespaces/apps/pods"), "deny")).toBe(true);
  });

  it("resources: group spelled out, subresources only when named for allow, touched for deny", () => {
    const deploys = compileKubeActionMap({ resources: ["deployments.apps"] });
    expect(kubeActionMatches(deploys, input("GET", "/apis/apps/v1/namespaces/a/deployments/x"), "allow")).toBe(true);
    expect(kubeActionMatches(deploys, input("GET", "/apis/extensions/v1beta1/namespaces/a/deployments/x"), "allow")).toBe(false);
    expect(kubeActionMatches(deploys, input("PATCH", "/apis/apps/v1/namespaces/a/deployments/x/scale"), "allow")).toBe(false);
    expect(kubeActionMatches(deploys, input("PATCH", "/apis/apps/v1/namespaces/a/deployments/x/scale"), "deny")).toBe(true);
    expect(kubeActionMatches(compileKubeActionMap({ resources: ["deployments/scale"] }), input("PATCH", "/apis/apps/v1/namespaces/a/deployments/x/scale"), "allow")).toBe(true);
  });

  it("policy syntax errors name the key", () => {
    expect(() => compileKubeActionMap({ verb: ["get"] })).toThrow(PolicySyntaxError);
    expect(() => compileKubeActionMap({ verbs: ["destroy"] })).toThrow(/unknown verb 'destroy'/);
    expect(() => compileKubeActionMap({ verbs: ["get"], commands: ["id"] })).toThrow(/only for `verbs: \[exec\]`/);
    expect(() => compileKubeActionMap({ verbs: ["portforward"], ports: ["http"] })).toThrow(/not a port number/);
    expect(() => compileKubeActionName("k8s.nuke")).toThrow(/unknown Kubernetes action/);
  });
});

describe("impersonation from the identity", () => {
  it("user and groups from claim templates", () => {
    const spec = compileImpersonation({ user: "ci:{claims.repository}", groups: ["gatehouse:pipelines", "ci:{claims.repository_owner}"] });
    expect(impersonationHeaders(spec, identity)).toEqual([
      ["Impersonate-User", "ci:acme/api"],
      ["Impersonate-Group", "gatehouse:pipelines"],
      ["Impersonate-Group", "ci:acme"],
    ]);
  });

  it("a missing claim or an unsafe value fails the request, never falls back", () => {
    const spec = compileImpersonation({ user: "ci:{claims.environment}" });
    expect(() => impersonationHeaders(spec, identity)).toThrow(ImpersonationError);
    const evil = { ...identity, claims: { repository: "acme/api\r\nImpersonate-Group: system:masters" } };
    expect(() => impersonationHeaders(compileImpersonation({ user: "{claims.repository}" }), evil)).toThrow(ImpersonationError);
    expect(() => compileImpersonation({ user: "{claims.x}{env.HOME}" })).toThrow(PolicySyntaxError);
  });
});

describe("the k8s rule kind (what the policy engine plugs in)", () => {
  it("compiles names and maps and decides with the grant hint", async () => {
    const { kubernetesActionKind } = await import("./rules.ts");
    expect(kubernetesActionKind.namespace).toBe("k8s");
    const gatedRule = rule("with-grant", "allow", kubernetesActionKind.compileMap({ verbs: ["delete"] }, "allow") as KubeActionMatcher);
    const request = parseKubeRequest("DELETE", "/api/v1/namespaces/a/pods/p");
    const d = kubernetesActionKind.decide({ identity, resource, request: { request } }, { rules: [rule("read", "allow", kubernetesActionKind.compileName("k8s.get") as KubeActionMatcher)], gated: [gatedRule] }, (r) => r.name, "acme/api");
    expect(d.effect).toBe("deny");
    expect(d.reason).toContain("rule 'with-grant' would allow it with an active grant for prod-cluster");
  });
});

describe("approve on port-forward ports is refused at load (a stream is not held)", () => {
  const policy = (effect: string, action: string) =>
    ["version: 1", "rules:", "  - name: hold-db-port", `    effect: ${effect}`, ...(effect === "approve" ? ["    approvers: any"] : []), "    subjects: any", "    resources: any", "    actions:", `      - k8s: ${action}`, ""].join("\n");

  it("names the file, line and column of the action, and says what to write instead", async () => {
    const { loadPolicy } = await import("../../../parsers/policy/index.ts");
    const { formatPolicyError } = await import("../../../parsers/policy/errors.ts");
    const r = await loadPolicy(policy("approve", "{ verbs: [portforward], ports: [5432] }"), "policies/k8s.yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatPolicyError)).toEqual([expect.stringMatching(/^policies\/k8s\.yaml:9:9: rule 'hold-db-port': actions\[0\]\.k8s: k8s\.ports: an approve rule cannot name ports .*approve rule without `ports:`/)]);
    // The same action in allow and deny rules loads; approve without ports holds the whole request.
    for (const [effect, action] of [["allow", "{ verbs: [portforward], ports: [5432] }"], ["deny", "{ verbs: [portforward], ports: [5432] }"], ["approve", "{ verbs: [portforward] }"]] as const) {
      const ok = await loadPolicy(policy(effect, action), "policies/k8s.yaml");
      expect(ok.ok, `${effect} ${action}`).toBe(true);
    }
  });
});
