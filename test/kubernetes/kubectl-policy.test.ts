/**
 * The Kubernetes module's pieces as the real kubectl sees them, through the test harness proxy
 * (policy-proxy.ts) in front of the test API server: denials printed as Kubernetes errors, Secret
 * values masked in every kubectl output format, client impersonation refused, exec decided by
 * command and its stream read by the channel reader. The gateway's own e2e (through the worker)
 * is test/kubernetes/kubectl-gateway.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { startPolicyProxy, type PolicyProxy } from "./policy-proxy.ts";
import { kubectl, kubectlEnv, spawnKubectl, type KubectlEnv } from "./kubectl-run.ts";
import { kubectlPath, oldKubectlPath } from "./kubectl-binaries.ts";
import { compileKubeActionMap, type KubeRuleView } from "../../protocols/kubernetes/policy/rules.ts";
import { MASK_TEXT } from "../../protocols/kubernetes/codec/secret-mask.ts";
import type { Effect } from "../../parsers/policy/types.ts";

const SECRET = "s3cr3t-hunter2-value";
const CLUSTER_TOKEN = "cluster-admin-token-held-by-the-connector";
const PIPELINE_TOKEN = "pipeline-token-for-the-proxy";
let api: KubeApiServer;
let proxy: PolicyProxy;
let approveNames = new Set<string>();

const rule = (name: string, effect: Effect, map: unknown): KubeRuleView => ({ name, effect, actions: [compileKubeActionMap(map)], approversRaw: null, approvalTimeoutMs: null, requiredApprovals: 1 });

const viaProxy = (): KubectlEnv => kubectlEnv({ server: proxy.url, caPem: proxy.certs.caPem, token: PIPELINE_TOKEN, namespace: "apps" });

beforeAll(async () => {
  kubectlPath();
  api = await startKubeApiServer({ tokens: { [CLUSTER_TOKEN]: { name: "connector", groups: ["system:masters"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps", "kube-system"]) api.store.create(ns, "", { metadata: { name } });
  const pods = findType("", "v1", "pods")!;
  api.store.create(pods, "apps", { metadata: { name: "shell" }, spec: { containers: [{ name: "main", image: "busybox" }] } });
  api.store.create(pods, "kube-system", { metadata: { name: "etcd" }, spec: { containers: [{ name: "etcd", image: "etcd" }] } });
  // The Secret is applied directly (with the cluster credential), so it carries a last-applied annotation.
  const direct = kubectlEnv({ server: api.url, caPem: api.certs.caPem, token: CLUSTER_TOKEN, namespace: "apps" });
  const applied = await kubectl(direct, ["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "apps" }, stringData: { password: SECRET } }) });
  expect(applied.stdout).toBe("secret/db created\n");
  proxy = await startPolicyProxy({
    upstream: { url: api.url, caPem: api.certs.caPem, token: CLUSTER_TOKEN },
    clientToken: PIPELINE_TOKEN,
    identity: { issuer: "https://issuer.test", subject: "repo:acme/api", claims: {} },
    rules: [
      rule("read", "allow", { verbs: ["get", "list", "watch", "log"] }),
      rule("deploy", "allow", { verbs: ["create", "update", "patch"], namespaces: ["apps"] }),
      rule("hold-deletes", "approve", { verbs: ["delete", "deletecollection"] }),
      rule("no-kube-system-exec", "deny", { verbs: ["exec", "attach"], namespaces: ["kube-system"] }),
      rule("diagnostics", "allow", { verbs: ["exec"], namespaces: ["apps"], commands: ["echo **", "id", "cat **"] }),
      rule("no-rm", "deny", { verbs: ["exec"], commands: ["rm -rf /**"] }),
    ],
    onHold: async (_d, plan) => plan.request.kind === "resource" && approveNames.has(plan.request.name),
  });
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await api?.close();
});

describe("Secret masking as kubectl prints it", () => {
  const noSecret = (text: string) => {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString("base64"));
  };

  it.each([
    ["yaml", ["get", "secret", "db", "-o", "yaml"]],
    ["json", ["get", "secret", "db", "-o", "json"]],
    ["jsonpath", ["get", "secret", "db", "-o", "jsonpath={.data.password}"]],
    ["table", ["get", "secrets"]],
    ["wide table", ["get", "secrets", "-o", "wide"]],
    ["list yaml", ["get", "secrets", "-o", "yaml"]],
    ["describe", ["describe", "secret", "db"]],
    ["last-applied", ["apply", "view-last-applied", "secret/db"]],
  ])("%s", async (_format, args) => {
    const r = await kubectl(viaProxy(), args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    noSecret(r.stdout);
    if (_format !== "jsonpath") expect(r.stdout).toMatch(/db/);
  });

  it("the masked value decodes to the mark, so scripts see it was masked", async () => {
    const r = await kubectl(viaProxy(), ["get", "secret", "db", "-o", "jsonpath={.data.password}"]);
    expect(Buffer.from(r.stdout, "base64").toString()).toBe(MASK_TEXT);
    const la = await kubectl(viaProxy(), ["apply", "view-last-applied", "secret/db", "-o", "json"]);
    expect(JSON.parse(la.stdout).stringData.password).toBe(MASK_TEXT);
  });

  it("get -w: the watch stream is masked event by event", async () => {
    const w = spawnKubectl(viaProxy(), ["get", "secret", "db", "-w", "-o", "json"]);
    let out = "";
    w.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      while (!out.includes('"name": "db"')) await new Promise((r) => setTimeout(r, 50));
      const direct = kubectlEnv({ server: api.url, caPem: api.certs.caPem, token: CLUSTER_TOKEN, namespace: "apps" });
      await kubectl(direct, ["label", "secret", "db", "rotated=yes"]);
      while (!out.includes('"rotated": "yes"')) await new Promise((r) => setTimeout(r, 50));
      noSecret(out);
    } finally {
      w.kill("SIGKILL");
    }
  });
});

describe("decisions as kubectl shows them", () => {
  it("a write outside the allowed namespace: Error from server (Forbidden) naming the default deny", async () => {
    const r = await kubectl(viaProxy(), ["create", "-n", "kube-system", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { a: "1" } }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error from server \(Forbidden\): error when creating "STDIN": configmaps is forbidden: no rule allows create configmaps kube-system\/\* on test-cluster for repo:acme\/api; default deny \(gatehouse: create in the namespace "kube-system"\)\n$/);
  });

  it("a held delete: approved goes through, not approved is refused; kubectl prints both", async () => {
    const e = viaProxy();
    for (const name of ["keep", "drop"]) await kubectl(e, ["create", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: "1" } }) });
    approveNames = new Set(["drop"]);
    const ok = await kubectl(e, ["delete", "configmap", "drop"]);
    // The approval is named in a Warning header, which kubectl prints on stderr.
    expect(ok.stderr).toBe("Warning: gatehouse: held for approval by rule 'hold-deletes', approved\n");
    expect(ok.stdout).toMatch(/configmap "drop" deleted/);
    const no = await kubectl(e, ["delete", "configmap", "keep"]);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain("rule 'hold-deletes' requires approval for delete configmaps apps/keep on test-cluster: not approved");
    expect(api.store.tryGet(findType("", "v1", "configmaps")!, "apps", "keep")).toBeDefined();
  });

  it("impersonation from the client (--as) is refused before anything reaches the cluster", async () => {
    const before = api.requests.length;
    const r = await kubectl(viaProxy(), ["get", "pods", "--as=system:admin"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the client may not send Impersonate-User");
    expect(api.requests.slice(before).some((q) => q.headers["impersonate-user"])).toBe(false);
  });

  it("exec: an allowed command runs and its stream is read (output, exit code)", async () => {
    const r = await kubectl(viaProxy(), ["exec", "shell", "--", "echo", "hello from the pod"]);
    expect(r.stdout).toBe("hello from the pod\n");
    expect(r.code).toBe(0);
    const rec = proxy.execs.at(-1)!;
    expect(rec.protocol).toBe("v5.channel.k8s.io");
    expect(rec.exitCode).toBe(0);
    expect(rec.events).toContainEqual({ type: "term.output", data: "hello from the pod\n", stream: "stdout" });
  });

  it("exec: stdin and exit status recorded (cat with stdin closed)", async () => {
    const r = await kubectl(viaProxy(), ["exec", "-i", "shell", "--", "cat"], { input: "typed input" });
    expect(r.stdout).toBe("typed input");
    const rec = proxy.execs.at(-1)!;
    expect(rec.events).toContainEqual({ type: "term.input", data: "typed input" });
    expect(rec.events).toContainEqual({ type: "stream.close", channel: 0, from: "client" });
    expect(rec.exitCode).toBe(0);
  });

  it.each([
    ["rm -rf", ["rm", "-rf", "/tmp/x"], "rule 'no-rm' denies exec"],
    ["rm hidden in sh -c", ["sh", "-c", "echo ok; rm -fr /tmp/x"], "rule 'no-rm' denies exec"],
    ["a command no rule allows", ["touch", "/tmp/x"], "no rule allows exec"],
  ])("exec refused: %s", async (_why, argv, message) => {
    const before = api.execs.length;
    const r = await kubectl(viaProxy(), ["exec", "shell", "--", ...argv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(api.execs.length).toBe(before);
  });

  it("the SPDY-only kubectl (v1.20) is told which kubectl to use", async () => {
    const old = kubectlEnv({ server: proxy.url, caPem: proxy.certs.caPem, token: PIPELINE_TOKEN, namespace: "apps" }, oldKubectlPath());
    const r = await kubectl(old, ["exec", "shell", "--", "echo", "hi"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SPDY is not supported; use kubectl 1.30 or later");
  });

  it("exec into kube-system is refused whatever the command", async () => {
    const r = await kubectl(viaProxy(), ["exec", "-n", "kube-system", "etcd", "--", "echo", "hi"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error from server (Forbidden): pods/exec "etcd" is forbidden: rule 'no-kube-system-exec' denies exec pods kube-system/etcd -- echo hi on test-cluster (gatehouse: exec in the namespace "kube-system")\n`);
  });
});
