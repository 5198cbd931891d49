/**
 * port-forward per-port policy through the real gateway: the real kubectl v1.35 → `gatehouse
 * connect demo-k8s` → tunnel → worker (the Kubernetes engine reads each SPDY stream's port inside
 * the WebSocket and decides it) → connector → the test API server's port-forward, bridged to TCP
 * "pod ports" this test runs. Ground truth: what those TCP backends received and what the API
 * server saw of the SPDY streams (api.portForwards), not the gateway's answer.
 *
 * Policy: the demo policy (demo-k8s-port-forward: apps and default, port 8080 only) plus one
 * rule naming portforward without `ports:` (pod default/debug: every port, as documented).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { spawnKubectl, waitForOutput, type KubectlEnv } from "./kubectl-run.ts";
import { kubectlPath } from "./kubectl-binaries.ts";
import type { KubernetesResourceConfig } from "../../connector/config.ts";

const CLUSTER_TOKEN = "cluster-admin-token-held-only-by-the-connector";
const ANY_PORT_RULE = `
  - name: e2e-k8s-port-forward-debug-any-port
    effect: allow
    subjects: *dev-identities
    resources: [demo-k8s]
    actions:
      - k8s: { verbs: [portforward], namespaces: [default], names: [debug] }
`;

let api: KubeApiServer;
let stack: TestStack;
let connectCli: ChildProcess;
let connectLog = "";
let kubeconfig = "";
let auditorEnv: Record<string, string>;

/** A "pod port": a TCP echo server that records every connection and byte it received. */
interface Backend {
  server: Server;
  port: number;
  connections: number;
  received: string;
}
const backends = new Map<string, Backend>();

async function backend(key: string, prefix: string): Promise<Backend> {
  const b: Backend = { server: createServer(), port: 0, connections: 0, received: "" };
  b.server.on("connection", (c) => {
    b.connections++;
    c.on("data", (d) => {
      b.received += d.toString();
      c.write(`${prefix}:${d}`);
    });
    c.on("error", () => {});
  });
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", r));
  b.port = (b.server.address() as { port: number }).port;
  api.portTargets.set(key, b.port);
  backends.set(key, b);
  return b;
}

function viaGateway(): KubectlEnv {
  return { home: mkdtempSync(join(tmpdir(), "kubectl-pf-home-")), kubeconfig, bin: kubectlPath() };
}

/** kubectl port-forward running, with everything it printed so far. */
interface Forward {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  local: Map<number, number>;
}

async function forward(args: string[], remotePorts: number[]): Promise<Forward> {
  const child = spawnKubectl(viaGateway(), ["port-forward", ...args, ...remotePorts.map((p) => `:${p}`)]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const local = new Map<number, number>();
  // kubectl prints one banner per port, often in one write: wait on everything printed so far
  // (a listener attached after the first banner would miss a second one already printed).
  const banner = (p: number) => new RegExp(`Forwarding from 127\\.0\\.0\\.1:(\\d+) -> ${p}\\b`);
  const all = new RegExp(`^${remotePorts.map((p) => `(?=[\\s\\S]*${banner(p).source})`).join("")}`);
  if (!remotePorts.every((p) => banner(p).test(out))) await waitForOutput(child, all).catch((e: Error) => Promise.reject(new Error(`${e.message}\n(all output: ${out})`)));
  for (const p of remotePorts) local.set(p, Number(banner(p).exec(out)![1]));
  return { child, output: () => out, local };
}

/** Connect to the local forwarded port, send `text`, resolve with what came back (or "" when the connection ends without an answer). */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = connect(port, "127.0.0.1", () => s.write(text));
    s.on("data", (d) => {
      got += d.toString();
      if (got.length >= text.length) s.end();
    });
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
  });
}

beforeAll(async () => {
  kubectlPath();
  api = await startKubeApiServer({ tokens: { [CLUSTER_TOKEN]: { name: "gatehouse-connector", groups: ["system:masters"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps", "kube-system"]) api.store.create(ns, "", { metadata: { name } });
  const pods = findType("", "v1", "pods")!;
  for (const [namespace, name] of [["apps", "shell"], ["default", "debug"], ["kube-system", "etcd"]] as const) {
    api.store.create(pods, namespace, { metadata: { name }, spec: { containers: [{ name, image: "busybox" }] } });
  }
  await backend("apps/shell:8080", "web");
  await backend("apps/shell:5432", "db");
  await backend("default/debug:9000", "debug");
  await backend("kube-system/etcd:2379", "etcd");

  const resource: KubernetesResourceConfig = {
    name: "demo-k8s",
    type: "kubernetes",
    labels: { env: "demo" },
    url: new URL(api.url),
    ca: () => api.certs.caPem,
    credential: { kind: "bearer", token: () => CLUSTER_TOKEN },
    dropCookies: true,
    identityHeaders: false,
  };
  const demo = readFileSync("examples/policies/demo.yaml", "utf8");
  const policyYaml = demo.replace("\n# Masking", `\n${ANY_PORT_RULE}\n# Masking`);
  expect(policyYaml).toContain("e2e-k8s-port-forward-debug-any-port");
  stack = await startTestStack({ policyYaml, extraResources: [resource], verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
  const stateDir = mkdtempSync(join(tmpdir(), "gatehouse-k8s-pf-state-"));
  const ready = join(stateDir, "ready.json");
  const token = await stack.mintToken({ sub: "pipeline-forward", ttlSeconds: 3600 });
  connectCli = spawn(process.execPath, ["bin/gatehouse.mjs", "connect", "demo-k8s", "--port", "0", "--gateway", stack.gatewayUrl, "--ready-file", ready], {
    env: { ...process.env, GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  connectCli.stdout!.on("data", (d: Buffer) => (connectLog += d.toString()));
  connectCli.stderr!.on("data", (d: Buffer) => (connectLog += d.toString()));
  await eventually(async () => existsSync(ready), `the listener's ready file (log: ${connectLog})`, 600);
  const info = JSON.parse(readFileSync(ready, "utf8")) as { port: number };
  const printed = await gatehouse(["kubeconfig", "demo-k8s", "--port", String(info.port), "--path"], { GATEHOUSE_STATE_DIR: stateDir });
  expect(printed.code, printed.stderr).toBe(0);
  kubeconfig = printed.stdout.trim();
}, 300_000);

afterAll(async () => {
  connectCli?.kill("SIGTERM");
  await stack?.stop();
  for (const b of backends.values()) b.server.close();
  await api?.close();
});

type TrailEvent = { type: string; data: Record<string, unknown> };

async function trailEvents(): Promise<TrailEvent[]> {
  const headers = { authorization: `Bearer ${auditorEnv.GATEHOUSE_TOKEN}` };
  const list = await fetch(`${stack.gatewayUrl}/v1/sessions?identity=pipeline-forward&limit=1000`, { headers });
  expect(list.status).toBe(200);
  const body = (await list.json()) as { sessions: Array<{ id: string }> } | Array<{ id: string }>;
  const events: TrailEvent[] = [];
  for (const { id } of Array.isArray(body) ? body : body.sessions) {
    const r = await fetch(`${stack.gatewayUrl}/v1/sessions/${id}/export`, { headers: { ...headers, accept: "application/x-ndjson" } });
    for (const l of (await r.text()).split("\n")) if (l.startsWith("{")) events.push(JSON.parse(l) as TrailEvent);
  }
  return events;
}

describe("kubectl port-forward through the gateway, decided per port", () => {
  it("an allowed port (8080, rule demo-k8s-port-forward): bytes round-trip to the pod port", async () => {
    const f = await forward(["-n", "apps", "pod/shell"], [8080]);
    try {
      expect(await roundTrip(f.local.get(8080)!, "ping")).toBe("web:ping");
      expect(backends.get("apps/shell:8080")!.received).toContain("ping");
      expect(api.portForwards.at(-1)).toEqual({ pod: "apps/shell", ports: [8080] });
      // A second connection on the same forward: new streams, decided again, still allowed.
      expect(await roundTrip(f.local.get(8080)!, "again")).toBe("web:again");
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("a port the rule does not list (5432) is refused: kubectl says so and no byte reaches the pod port", async () => {
    const db = backends.get("apps/shell:5432")!;
    const before = api.portForwards.length;
    const f = await forward(["-n", "apps", "pod/shell"], [5432]);
    try {
      expect(await roundTrip(f.local.get(5432)!, "select secrets")).toBe("");
      await eventually(async () => f.output().includes("gatehouse: port 5432 is not allowed by policy"), `kubectl's report (output: ${f.output()})`, 200);
      expect(f.output()).toMatch(/an error occurred forwarding \d+ -> 5432: gatehouse: port 5432 is not allowed by policy \(no rule allows portforward pods apps\/shell \(port 5432\) on demo-k8s for 'pipeline-forward' \(http:\/\/127\.0\.0\.1:8788\); default deny\)/);
      expect(db.connections).toBe(0);
      expect(db.received).toBe("");
      expect(api.portForwards.slice(before).flatMap((r) => r.ports)).not.toContain(5432);
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("two ports in one forward: 8080 round-trips, 5432 is refused with kubectl's error (and the session ends, fail closed)", async () => {
    const db = backends.get("apps/shell:5432")!;
    const f = await forward(["-n", "apps", "pod/shell"], [8080, 5432]);
    try {
      expect(await roundTrip(f.local.get(8080)!, "first")).toBe("web:first");
      expect(await roundTrip(f.local.get(5432)!, "drop table")).toBe("");
      await eventually(async () => f.output().includes("gatehouse: port 5432 is not allowed by policy"), `kubectl's report (output: ${f.output()})`, 200);
      expect(db.connections).toBe(0);
      expect(db.received).toBe("");
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("a rule naming portforward without ports: allows every port of what it matches (default/debug)", async () => {
    const f = await forward(["-n", "default", "pod/debug"], [9000]);
    try {
      expect(await roundTrip(f.local.get(9000)!, "any")).toBe("debug:any");
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("a port-forward the policy denies outright (kube-system) never upgrades", async () => {
    const etcd = backends.get("kube-system/etcd:2379")!;
    const child = spawnKubectl(viaGateway(), ["port-forward", "-n", "kube-system", "pod/etcd", ":2379"]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(await waitForOutput(child, /Forwarding from 127\.0\.0\.1:(\d+)|forbidden|Forbidden/));
      if (m) await roundTrip(Number(m[1]), "x");
      await eventually(async () => /demo-k8s-no-exec-in-kube-system/.test(out), `kubectl names the rule (output: ${out})`, 200);
      expect(etcd.connections).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("the trail records each stream's port and decision, and per session the ports requested, allowed, refused", async () => {
    const events = await trailEvents();
    const streams = events.filter((e) => e.type === "k8s.portforward.stream").map((e) => e.data);
    expect(streams).toContainEqual(expect.objectContaining({ port: 8080, effect: "allow", rule: "demo-k8s-port-forward", type: "data" }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 5432, effect: "deny", rule: null }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 9000, effect: "allow", rule: "e2e-k8s-port-forward-debug-any-port" }));
    const ends = events.filter((e) => e.type === "k8s.portforward.end").map((e) => e.data);
    expect(ends).toContainEqual({ requested: [8080, 5432], allowed: [8080], refused: [5432] });
    expect(ends).toContainEqual({ requested: [5432], allowed: [], refused: [5432] });
  }, 120_000);
});
