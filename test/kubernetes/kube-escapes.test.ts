/**
 * Ways around the exec policy and the connector's identity (attacker review), through the real
 * gateway: kubectl → `gatehouse connect demo-k8s` → tunnel → worker (wrangler dev) → connector →
 * the test API server, with the demo policy (exec runs only echo/cat/ls/id/true/false/env; create,
 * update and patch are allowed in default and apps). Ground truth is the test API server's own
 * record: its store, the requests it saw, what reached the node's kubelet.
 *
 * `kubectl debug` adds an ephemeral container with any command to a running pod (a PATCH of
 * `pods/<p>/ephemeralcontainers`): the demo's patch rule covered it, so a command the exec
 * policy refuses ran in the pod anyway. `nodes/<n>/proxy` reaches the kubelet API, whose `run`
 * endpoint runs a command in any pod of the node: a rule allowing proxy on nodes (kubelet
 * metrics) covered it. `X-Remote-User`/`X-Remote-Group` are the identity an API server takes from
 * an authenticating front proxy: the gateway passed them on to the API server. A CSR's issued
 * certificate (`status.certificate`) reached kubectl: with the pipeline's own key, a cluster
 * credential that bypasses the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { kubectl, type KubectlEnv } from "./kubectl-run.ts";
import { demoK8sResource, startKubeListener, type KubeListener } from "./gateway-listener.ts";
import { kubectlPath } from "./kubectl-binaries.ts";

const CLUSTER_TOKEN = "cluster-admin-token-held-only-by-the-connector";
const pods = findType("", "v1", "pods")!;
let api: KubeApiServer;
let stack: TestStack;
let connect: KubeListener;
let env: KubectlEnv;
let pemDir = "";
let port = 0;
let scratch = "";

/** The demo policy, plus kubelet metrics through nodes/proxy, kubectl debug named in default, and CSR writes (labels) by group. */
const POLICY = readFileSync("examples/policies/demo.yaml", "utf8").replace(
  /^rules:\n/m,
  `rules:
  - name: attack-node-metrics
    effect: allow
    subjects: any
    resources: [demo-k8s]
    actions:
      - k8s: { verbs: [proxy], resources: [nodes] }

  - name: attack-csr-labels
    effect: allow
    subjects: any
    resources: [demo-k8s]
    actions:
      - k8s: { verbs: [update, patch], groups: [certificates.k8s.io] }

  - name: attack-debug-in-default
    effect: allow
    subjects: any
    resources: [demo-k8s]
    actions:
      - k8s: { verbs: [patch], resources: [pods/ephemeralcontainers], namespaces: [default] }

`,
);

/** The real curl through the listener (its CA, the kubeconfig's client certificate): status and body. */
function curl(target: string, args: string[] = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "--cacert", join(pemDir, "ca.pem"), "--cert", join(pemDir, "cert.pem"), "--key", join(pemDir, "key.pem"), "-w", "\n%{http_code}", ...args, `https://127.0.0.1:${port}${target}`], (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl: ${err.message} ${stderr}`));
      const nl = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) });
    });
  });
}

const seenSince = (before: number) => api.requests.slice(before).map((q) => `${q.method} ${q.url}`);

beforeAll(async () => {
  kubectlPath();
  api = await startKubeApiServer({ tokens: { [CLUSTER_TOKEN]: { name: "gatehouse-connector", groups: ["system:masters"] } } });
  for (const name of ["default", "apps", "kube-system"]) api.store.create(findType("", "v1", "namespaces")!, "", { metadata: { name } });
  // securityContext: {} as the API server defaults it (kubectl debug reads it).
  for (const ns of ["apps", "default"]) api.store.create(pods, ns, { metadata: { name: "shell" }, spec: { containers: [{ name: "main", image: "busybox" }], securityContext: {} } });
  stack = await startTestStack({ extraResources: [demoK8sResource(api, CLUSTER_TOKEN)], policyYaml: POLICY, verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  connect = await startKubeListener(stack.gatewayUrl, await stack.mintToken({ sub: "pipeline-deploy", ttlSeconds: 3600 }), "gatehouse-k8s-escapes-");
  port = connect.port;
  env = { home: mkdtempSync(join(tmpdir(), "kubectl-escapes-home-")), kubeconfig: connect.kubeconfig, bin: kubectlPath() };
  const cfg = YAML.parse(readFileSync(connect.kubeconfig, "utf8"));
  const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  pemDir = mkdtempSync(join(tmpdir(), "gatehouse-k8s-pem-"));
  writeFileSync(join(pemDir, "ca.pem"), b64(cfg.clusters[0].cluster["certificate-authority-data"]));
  writeFileSync(join(pemDir, "cert.pem"), b64(cfg.users[0].user["client-certificate-data"]));
  writeFileSync(join(pemDir, "key.pem"), b64(cfg.users[0].user["client-key-data"]), { mode: 0o600 });
  scratch = mkdtempSync(join(tmpdir(), "gatehouse-k8s-escapes-"));
}, 300_000);

afterAll(async () => {
  connect?.process.kill("SIGTERM");
  await stack?.stop();
  await api?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("kubectl debug: an ephemeral container is a command in a running pod", () => {
  it("the exec policy refuses the command itself (the demo allows only diagnostics)", async () => {
    const r = await kubectl(env, ["exec", "-n", "apps", "shell", "--", "sh", "-c", "touch /tmp/x"]);
    expect(r.code).not.toBe(0);
    // kubectl retries a refused WebSocket exec over SPDY and prints that answer: worded once.
    expect(r.stderr).toMatch(/^Error from server \(Forbidden\): pods\/exec "shell" is forbidden: gatehouse: no rule allows exec pods apps\/shell -- sh -c .*default deny \(gatehouse: exec in the namespace "apps"\)\n$/);
    expect(r.stderr.match(/is forbidden/g)).toHaveLength(1);
  });

  it("kubectl debug with the same command in apps (covered only by the demo's patch rule) is refused; the pod never gets the container", async () => {
    const before = api.requests.length;
    const r = await kubectl(env, ["debug", "-n", "apps", "shell", "--image=busybox", "--", "sh", "-c", "touch /tmp/x"]);
    // Ground truth: the API server's store and record (before the fix the PATCH went through and
    // the pod had the debug container with the command).
    expect(api.store.get(pods, "apps", "shell").spec.ephemeralContainers ?? []).toEqual([]);
    expect(seenSince(before).filter((l) => l.includes("ephemeralcontainers"))).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Forbidden.*ephemeralcontainers|ephemeralcontainers.*forbidden/i);
  });

  it("a rule naming pods/ephemeralcontainers allows it (default): the API server has the container", async () => {
    const r = await kubectl(env, ["debug", "-n", "default", "shell", "--image=busybox", "--", "true"]);
    expect(r.code, r.stderr).toBe(0);
    expect(api.store.get(pods, "default", "shell").spec.ephemeralContainers).toEqual([expect.objectContaining({ image: "busybox", command: ["true"] })]);
  });
});

describe("nodes/proxy: the kubelet API", () => {
  it("kubelet metrics through a rule naming nodes still pass (kubectl get --raw)", async () => {
    const r = await kubectl(env, ["get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).node.nodeName).toBe("node-1");
  });

  it("the kubelet's run endpoint (a command in any pod of the node) is refused; nothing reaches the kubelet", async () => {
    const marker = join(scratch, "ran-through-kubelet");
    const before = api.nodeProxy.length;
    const r = await kubectl(env, ["create", "--raw", `/api/v1/nodes/node-1/proxy/run/apps/shell/main?cmd=${encodeURIComponent(`touch ${marker}`)}`, "-f", "-"], { input: "" });
    // Ground truth: the kubelet's record and the file the command would create (before the fix
    // both showed it ran; kubectl got a 502 for the unreadable text answer).
    expect(api.nodeProxy.slice(before)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Forbidden");
  });

  it.each([
    ["exec", "POST", "/api/v1/nodes/node-1/proxy/exec/apps/shell/main?command=id&output=1"],
    ["run by the kubelet port", "POST", "/api/v1/nodes/node-1:10250/proxy/run/apps/shell/main?cmd=id"],
    ["log verbosity", "PUT", "/api/v1/nodes/node-1/proxy/debug/flags/v"],
  ])("%s through nodes/proxy is refused with a 403 Status; nothing reaches the kubelet", async (_what, method, target) => {
    const before = api.nodeProxy.length;
    const r = await curl(target, ["-X", method, "--data", ""]);
    expect(api.nodeProxy.slice(before)).toEqual([]);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", code: 403, reason: "Forbidden" });
  });
});

describe("a CSR's issued certificate: a cluster credential that would bypass the gateway", () => {
  // A signed client certificate for the pipeline's own key (an auto-approver signs kubelet CSRs
  // that a powerful connector credential asks for): with it the pipeline talks to the API server
  // directly. The gateway hands it out nowhere, as it does a TokenRequest's token.
  const PEM = "-----BEGIN CERTIFICATE-----\nMIIBpipeline-client-cert-issued-by-the-cluster\n-----END CERTIFICATE-----\n";
  const CERT_B64 = Buffer.from(PEM).toString("base64");
  const csrs = () => findType("certificates.k8s.io", "v1", "certificatesigningrequests")!;

  beforeAll(() => {
    api.store.create(csrs(), "", {
      metadata: { name: "ci-node" },
      spec: { request: "LS0tLS1CRUdJTi1SRVFVRVNULS0tLS0=", signerName: "kubernetes.io/kube-apiserver-client-kubelet", username: "gatehouse-connector", usages: ["client auth"] },
      status: { conditions: [{ type: "Approved", status: "True", reason: "AutoApproved" }], certificate: CERT_B64 },
    });
  });

  it.each([
    ["-o json", ["get", "csr", "ci-node", "-o", "json"]],
    ["-o jsonpath of the certificate", ["get", "csr", "ci-node", "-o", "jsonpath={.status.certificate}"]],
    ["a list, -o yaml", ["get", "csr", "-o", "yaml"]],
    ["a raw list (items carry no kind)", ["get", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests"]],
  ])("kubectl get csr %s shows it masked; the API server still has it", async (_what, args) => {
    const r = await kubectl(env, args);
    expect(r.code, r.stderr).toBe(0);
    // Ground truth: the API server's store holds the issued certificate (before the fix kubectl printed it).
    expect(api.store.get(csrs(), "", "ci-node").status.certificate).toBe(CERT_B64);
    expect(r.stdout).not.toContain(CERT_B64);
    expect(r.stdout).not.toContain("pipeline-client-cert");
    expect(r.stdout).toContain(Buffer.from("gatehouse:masked").toString("base64"));
  });

  it("approving a CSR is refused: a rule on the group's writes does not cover the approval subresource", async () => {
    const before = api.requests.length;
    const r = await curl("/apis/certificates.k8s.io/v1/certificatesigningrequests/ci-node/approval", ["-X", "PUT", "-H", "Content-Type: application/json", "--data", "{}"]);
    expect(seenSince(before)).toEqual([]);
    expect(r.status).toBe(403);
  });
});

describe("identity headers from the client", () => {
  it.each([
    ["X-Remote-User and X-Remote-Group (front-proxy identity)", ["-H", "X-Remote-User: system:admin", "-H", "X-Remote-Group: system:masters"]],
    ["X-Remote-Extra-*", ["-H", "X-Remote-Extra-Scopes: cluster-admin"]],
    ["X_Remote_User (CGI-style spelling)", ["-H", "X_Remote_User: system:admin"]],
    ["Impersonate_User (CGI-style spelling)", ["-H", "Impersonate_User: system:admin"]],
  ])("%s on an allowed read is refused with a 403 Status; nothing reaches the API server", async (_what, headers) => {
    const before = api.requests.length;
    const r = await curl("/api/v1/namespaces/apps/pods", headers);
    // Ground truth: the API server's record (before the fix it saw the headers on an allowed list).
    expect(seenSince(before)).toEqual([]);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", code: 403, reason: "Forbidden" });
    expect(JSON.parse(r.body).message).toContain("may not send");
  });

  it("the same read without them passes", async () => {
    const r = await curl("/api/v1/namespaces/apps/pods");
    expect(r.status, r.body).toBe(200);
  });
});
