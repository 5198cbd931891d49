/**
 * Attacks on the Kubernetes engine through the real gateway (attacker review): `gatehouse connect
 * demo-k8s` (the CLI's HTTPS listener, client certificate from its kubeconfig) → tunnel → worker
 * (wrangler dev) → connector → the test API server, with the demo policy. Ground truth is what the
 * test API server saw (its own request record) and sent.
 *
 * The WebSocket watch was shown to work through this stack (the API server's record) before its
 * fix; the malformed-escape queries were already refused (the HTTP codec's query check) and are
 * kept as regression coverage against a test API server that now reads the query as Go does.
 *
 * A WebSocket upgrade on a watch: the API server serves `GET …?watch=true` with `Upgrade:
 * websocket` as a stream of events in WebSocket messages (its watch handler does for any GET that
 * asks to upgrade). The gateway reads upgraded bytes only for exec/attach/port-forward; any other
 * upgrade would be relayed unread, Secret data and log lines unmasked. It is refused before
 * anything reaches the API server.
 *
 * A query parameter with a malformed `%` escape: the API server (Go's `URL.Query()`) drops the
 * whole pair silently, while a WHATWG URLSearchParams reader keeps it literally: a
 * `fieldSelector=metadata.name=app-%zz` would name the object `app-%zz` for policy (`names:`
 * rules) while the server listed every object. Refused with a 400 Status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import WebSocket from "ws";
import { get as httpsGet } from "node:https";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { kubectl } from "./kubectl-run.ts";
import { demoK8sResource, startKubeListener, type KubeListener } from "./gateway-listener.ts";
import { kubectlPath } from "./kubectl-binaries.ts";
import { MASK_TEXT } from "../../protocols/kubernetes/codec/secret-mask.ts";

const SECRET = "ws-watch-s3cr3t-value";
const SECRET_B64 = Buffer.from(SECRET).toString("base64");
const CLUSTER_TOKEN = "cluster-admin-token-held-only-by-the-connector";
let api: KubeApiServer;
let stack: TestStack;
let connect: KubeListener;
let listener = { port: 0, ca: "", cert: "", key: "" };
let pemDir = "";
let kubeconfigPath = "";

/** A deny on configmaps named private-* in apps: a list there is allowed only when a field selector pins another name. */
const POLICY = readFileSync("examples/policies/demo.yaml", "utf8").replace(
  /^rules:\n/m,
  `rules:
  - name: attack-no-private-configmaps
    effect: deny
    subjects: any
    resources: [demo-k8s]
    actions:
      - k8s: { verbs: [get, list, watch], resources: [configmaps], namespaces: [apps], names: ["private-*"] }

`,
);

/** The real curl through the listener (its CA, the kubeconfig's client certificate): status and body. */
function curl(target: string, args: string[] = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "--cacert", join(pemDir, "ca.pem"), "--cert", join(pemDir, "cert.pem"), "--key", join(pemDir, "key.pem"), "-w", "\n%{http_code}", ...args, `https://127.0.0.1:${listener.port}${target}`], (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl: ${err.message} ${stderr}`));
      const nl = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) });
    });
  });
}

beforeAll(async () => {
  kubectlPath(); // fetched once (npm pack) before the stack starts
  api = await startKubeApiServer({ tokens: { [CLUSTER_TOKEN]: { name: "gatehouse-connector", groups: ["system:masters"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps", "kube-system"]) api.store.create(ns, "", { metadata: { name } });
  api.store.create(findType("", "v1", "secrets")!, "default", { metadata: { name: "db" }, type: "Opaque", data: { password: SECRET_B64 } });
  api.store.create(findType("", "v1", "configmaps")!, "apps", { metadata: { name: "app-one" }, data: { k: "public" } });
  api.store.create(findType("", "v1", "serviceaccounts")!, "default", { metadata: { name: "default" } });
  api.store.create(findType("", "v1", "configmaps")!, "apps", { metadata: { name: "private-db" }, data: { k: "private-config-value" } });
  const resource = demoK8sResource(api, CLUSTER_TOKEN);
  stack = await startTestStack({ extraResources: [resource], policyYaml: POLICY, verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  connect = await startKubeListener(stack.gatewayUrl, await stack.mintToken({ sub: "pipeline-deploy", ttlSeconds: 3600 }), "gatehouse-k8s-upgrade-");
  const port = connect.port;
  kubeconfigPath = connect.kubeconfig;
  const cfg = YAML.parse(readFileSync(kubeconfigPath, "utf8"));
  const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  listener = {
    port,
    ca: b64(cfg.clusters[0].cluster["certificate-authority-data"]),
    cert: b64(cfg.users[0].user["client-certificate-data"]),
    key: b64(cfg.users[0].user["client-key-data"]),
  };
  pemDir = mkdtempSync(join(tmpdir(), "gatehouse-k8s-pem-"));
  writeFileSync(join(pemDir, "ca.pem"), listener.ca);
  writeFileSync(join(pemDir, "cert.pem"), listener.cert);
  writeFileSync(join(pemDir, "key.pem"), listener.key, { mode: 0o600 });
}, 300_000);

afterAll(async () => {
  connect?.process.kill("SIGTERM");
  await stack?.stop();
  await api?.close();
});

/** A WebSocket through the listener (its CA, the kubeconfig's client certificate): messages until closed, or the refusal. */
function wsThroughListener(target: string, waitMs = 3000): Promise<{ opened: boolean; messages: string[]; status: number | null; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://127.0.0.1:${listener.port}${target}`, { ca: listener.ca, cert: listener.cert, key: listener.key, perMessageDeflate: false });
    const messages: string[] = [];
    let opened = false;
    const done = (status: number | null, body: string) => {
      clearTimeout(timer);
      resolve({ opened, messages, status, body });
    };
    const timer = setTimeout(() => {
      ws.terminate();
      done(null, "");
    }, waitMs);
    ws.on("open", () => (opened = true));
    ws.on("message", (m) => messages.push(m.toString()));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => done(res.statusCode ?? null, body));
    });
    ws.on("error", () => {});
    ws.on("close", () => done(101, ""));
  });
}

describe("WebSocket upgrades other than exec/attach/port-forward", () => {
  it.each([
    ["a watch of Secrets", "/api/v1/namespaces/default/secrets?watch=true"],
    ["a watch of one Secret", "/api/v1/namespaces/default/secrets/db?watch=1"],
    ["a watch of Secrets across namespaces", "/api/v1/secrets?watch=true"],
  ])("%s over WebSocket is refused with a Status; nothing reaches the API server", async (_what, target) => {
    const before = api.requests.length;
    const r = await wsThroughListener(target);
    const seen = api.requests.slice(before);
    // Ground truth: the API server never saw the upgrade (before the fix it did, and sent the
    // Secret's data in a WebSocket message relayed unread).
    expect(seen.map((q) => `${q.method} ${q.url}`)).toEqual([]);
    expect(r.opened).toBe(false);
    expect(r.messages.join("\n")).not.toContain(SECRET_B64);
    expect(r.status).toBe(400);
    const status = JSON.parse(r.body);
    expect(status).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", code: 400, reason: "BadRequest" });
    expect(status.message).toContain("WebSocket");
  });

  it("the same watch without the upgrade still works, Secret data masked (the policy allows watch)", async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const req = httpsGet({ host: "127.0.0.1", port: listener.port, path: "/api/v1/namespaces/default/secrets?watch=true", ca: listener.ca, cert: listener.cert, key: listener.key }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
          if (body.includes("\n")) {
            req.destroy();
            resolve(body);
          }
        });
      });
      req.on("error", reject);
    });
    expect(res).toContain('"name":"db"');
    expect(res).not.toContain(SECRET_B64);
  });
});

describe("query parameters the API server would drop", () => {
  it("the policy as intended: a list of apps configmaps is denied unless a field selector pins an allowed name", async () => {
    const denied = await curl("/api/v1/namespaces/apps/configmaps");
    expect(denied.status).toBe(403);
    const pinned = await curl("/api/v1/namespaces/apps/configmaps?fieldSelector=metadata.name%3Dapp-one");
    expect(pinned.status, pinned.body).toBe(200);
    expect(JSON.parse(pinned.body).items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(["app-one"]);
  });

  it.each([
    ["a malformed escape in the selector's value", "/api/v1/namespaces/apps/configmaps?fieldSelector=metadata.name=app-%zz"],
    ["a cut-off escape at its end", "/api/v1/namespaces/apps/configmaps?limit=500&fieldSelector=metadata.name=app-x%"],
    ["a watch with the same selector", "/api/v1/namespaces/apps/configmaps?watch=true&fieldSelector=metadata.name=app-%G1"],
  ])("%s is refused with a Status; nothing reaches the API server", async (_what, target) => {
    const before = api.requests.length;
    const r = await curl(target);
    // Ground truth: the API server never saw it (had it, it would drop the selector and answer
    // with every configmap of apps, private-db's data included).
    expect(api.requests.slice(before).map((q) => `${q.method} ${q.url}`)).toEqual([]);
    expect(r.body).not.toContain("private-config-value");
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", status: "Failure", code: 400, reason: "BadRequest" });
  });
});

describe("non-resource paths other than discovery, OpenAPI, version and health", () => {
  it("discovery, version and health still pass (the demo's read rule; discovery without a rule)", async () => {
    for (const target of ["/api", "/apis", "/version", "/healthz"]) expect((await curl(target)).status, target).toBe(200);
  });

  it.each(["/logs", "/logs/kube-apiserver-audit.log", "/metrics", "/debug/pprof/goroutine?debug=2"])("GET %s is refused with a 403 Status; nothing reaches the API server", async (target) => {
    const before = api.requests.length;
    const r = await curl(target);
    // Ground truth: the API server's record (before the fix the demo's `get` rule let these through, unread).
    expect(api.requests.slice(before).map((q) => `${q.method} ${q.url}`)).toEqual([]);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", status: "Failure", code: 403, reason: "Forbidden" });
  });
});

describe("a JSON patch that copies or moves a Secret's data where the masker does not look", () => {
  const ANNOTATIONS = { op: "add", path: "/metadata/annotations", value: {} };
  const patch = (ops: unknown, query = "?dryRun=All") => curl(`/api/v1/namespaces/default/secrets/db${query}`, ["-X", "PATCH", "-H", "Content-Type: application/json-patch+json", "--data", typeof ops === "string" ? ops : JSON.stringify(ops)]);

  it("an ordinary JSON patch of a Secret still works (the demo allows patch in default), data masked in the answer", async () => {
    const r = await patch([{ op: "add", path: "/metadata/labels", value: { tier: "db" } }]);
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body).metadata.labels).toEqual({ tier: "db" });
    expect(r.body).not.toContain(SECRET_B64);
  });

  it.each([
    ["copy into an annotation (dry run)", [ANNOTATIONS, { op: "copy", from: "/data/password", path: "/metadata/annotations/leak" }], "?dryRun=All"],
    ["move into an annotation", [ANNOTATIONS, { op: "move", from: "/data/password", path: "/metadata/annotations/leak" }], "?dryRun=All"],
    ["copy with an escaped op and pointer", `[{"op":"add","path":"/metadata/annotations","value":{}},{"op":"c\\u006fpy","from":"/d\\u0061ta/password","path":"/metadata/annotations/leak"}]`, "?dryRun=All"],
    ["test as an oracle on the value", [{ op: "test", path: "/data/password", value: SECRET_B64 }], "?dryRun=All"],
  ])("%s is refused with a 400 Status; nothing reaches the API server", async (_what, ops, query) => {
    const before = api.requests.length;
    const r = await patch(ops, query);
    // Ground truth: the API server's record; the Secret's data unchanged in its store.
    expect(api.requests.slice(before).map((q) => `${q.method} ${q.url}`)).toEqual([]);
    expect(r.body).not.toContain(SECRET_B64);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", code: 400, reason: "BadRequest" });
    expect(api.store.get(findType("", "v1", "secrets")!, "default", "db").data).toEqual({ password: SECRET_B64 });
  });
});

describe("service-account tokens minted through the gateway", () => {
  it("kubectl create token (allowed: the demo's create rule in default): the API server issued a token, kubectl got it masked", async () => {
    const before = api.issuedTokens.length;
    const home = mkdtempSync(join(tmpdir(), "kubectl-token-home-"));
    const r = await kubectl({ home, kubeconfig: kubeconfigPath, bin: kubectlPath() }, ["create", "token", "default", "-n", "default"]);
    // Ground truth: the token the API server issued (it was created: the policy allowed it).
    const issued = api.issuedTokens.slice(before);
    expect(issued).toHaveLength(1);
    expect(r.stdout + r.stderr).not.toContain(issued[0]!);
    expect(r.stdout.trim()).toBe(MASK_TEXT);
    expect(r.code).toBe(0);
  });
});
