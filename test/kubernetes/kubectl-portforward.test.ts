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
import { type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { eventually, } from "../e2e/helpers.ts";
import { startKubeApiServer, type KubeApiServer } from "../kube-apiserver/server.ts";
import { findType } from "../kube-apiserver/resources.ts";
import { spawnKubectl, waitForOutput, type KubectlEnv } from "./kubectl-run.ts";
import { kubectlPath } from "./kubectl-binaries.ts";
import { controlFrame, dataFrame, openRawPortForward, type RawPortForward } from "./portforward-raw-client.ts";
import { demoK8sResource, startKubeListener, type KubeListener } from "./gateway-listener.ts";

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
let connectCli: KubeListener;
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

  const resource = demoK8sResource(api, CLUSTER_TOKEN);
  const demo = readFileSync("examples/policies/demo.yaml", "utf8");
  const policyYaml = demo.replace("\n# Masking", `\n${ANY_PORT_RULE}\n# Masking`);
  expect(policyYaml).toContain("e2e-k8s-port-forward-debug-any-port");
  stack = await startTestStack({ policyYaml, extraResources: [resource], verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
  connectCli = await startKubeListener(stack.gatewayUrl, await stack.mintToken({ sub: "pipeline-forward", ttlSeconds: 3600 }), "gatehouse-k8s-pf-state-");
  kubeconfig = connectCli.kubeconfig;
}, 300_000);

afterAll(async () => {
  connectCli?.process.kill("SIGTERM");
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
      expect(api.portForwards.at(-1)).toMatchObject({ pod: "apps/shell", ports: [8080] });
      // A second connection on the same forward: new streams, decided again, still allowed.
      expect(await roundTrip(f.local.get(8080)!, "again")).toBe("web:again");
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("a port the rule does not list (5432) is refused: the connection reads why, no byte reaches the pod port, kubectl goes on", async () => {
    const db = backends.get("apps/shell:5432")!;
    const before = api.portForwards.length;
    const f = await forward(["-n", "apps", "pod/shell"], [5432]);
    try {
      const answer = await roundTrip(f.local.get(5432)!, "select secrets");
      expect(answer).toMatch(/^gatehouse: port 5432 is not allowed by policy \(no rule allows portforward pods apps\/shell \(port 5432\) on demo-k8s for 'pipeline-forward' \(http:\/\/127\.0\.0\.1:8788\); default deny\)\n$/);
      // A second connection on the same forward: refused the same way; kubectl is still serving.
      expect(await roundTrip(f.local.get(5432)!, "again")).toMatch(/^gatehouse: port 5432 is not allowed by policy/);
      expect(f.child.exitCode).toBeNull();
      expect(f.output()).not.toMatch(/error occurred|lost connection/);
      expect(db.connections).toBe(0);
      expect(db.received).toBe("");
      // Ground truth from the API server: it never saw a stream for 5432.
      expect(api.portForwards.slice(before).flatMap((r) => r.streams.map((x) => x.port))).not.toContain("5432");
    } finally {
      f.child.kill("SIGKILL");
    }
  });

  it("one `kubectl port-forward :8080 :5432` session: 8080 works before and after 5432 is refused, the session goes on", async () => {
    const web = backends.get("apps/shell:8080")!;
    const db = backends.get("apps/shell:5432")!;
    const before = api.portForwards.length;
    const f = await forward(["-n", "apps", "pod/shell"], [8080, 5432]);
    try {
      expect(await roundTrip(f.local.get(8080)!, "first")).toBe("web:first");
      expect(await roundTrip(f.local.get(5432)!, "drop table")).toMatch(/^gatehouse: port 5432 is not allowed by policy/);
      expect(await roundTrip(f.local.get(8080)!, "second")).toBe("web:second");
      expect(await roundTrip(f.local.get(5432)!, "drop again")).toMatch(/^gatehouse: port 5432 is not allowed by policy/);
      expect(await roundTrip(f.local.get(8080)!, "third")).toBe("web:third");
      expect(f.child.exitCode).toBeNull();
      expect(f.output()).not.toMatch(/error occurred|lost connection/);
      expect(web.received).toContain("first");
      expect(web.received).toContain("third");
      expect(db.connections).toBe(0);
      expect(db.received).toBe("");
      // One port-forward request to the API server, which bridged only 8080 streams.
      const seen = api.portForwards.slice(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.ports).toEqual([8080, 8080, 8080]);
      expect(seen[0]!.streams.map((x) => x.port)).toEqual(["8080", "8080", "8080", "8080", "8080", "8080"]);
    } finally {
      f.child.kill("SIGINT");
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

  describe("frames kubectl never sends (a hand-written SPDY client through the same listener)", () => {
    const PATH = "/api/v1/namespaces/apps/pods/shell/portforward";
    const stream = (type: string, port: string, requestId: string): Array<[string, string]> => [["streamtype", type], ["port", port], ["requestid", requestId]];
    /** The frames on `id` the gateway answered with, once it has answered with `count` of them. */
    async function answered(c: RawPortForward, id: number, count: number): Promise<string[]> {
      await eventually(async () => c.frames.filter((x) => x.id === id).length >= count, `the answer on stream ${id} (got ${JSON.stringify(c.frames)})`, 200);
      return c.frames.filter((x) => x.id === id).map((x) => `${x.type}${x.fin ? "+fin" : ""}${x.payload ? `:${x.payload.slice(0, 45)}` : ""}`);
    }
    /** What the API server saw of the last port-forward session: the ports of its streams. */
    const serverPorts = (before: number) => api.portForwards.slice(before).flatMap((r) => r.streams.map((x) => x.port));

    it("a refused stream's data and reset are dropped; headers after it still reach the server; the allowed port keeps working", async () => {
      const db = backends.get("apps/shell:5432")!;
      const web = backends.get("apps/shell:8080")!;
      const before = api.portForwards.length;
      const c = await openRawPortForward(kubeconfig, PATH);
      try {
        c.send(Buffer.concat([await c.syn(1, stream("error", "8080", "0")), await c.syn(3, stream("data", "8080", "0")), dataFrame(3, "raw-one")]));
        expect(await answered(c, 3, 2)).toEqual(["syn_reply", "data:web:raw-one"]);
        c.send(Buffer.concat([await c.syn(5, stream("error", "5432", "1")), await c.syn(7, stream("data", "5432", "1")), dataFrame(7, "smuggled"), dataFrame(5, "on the error stream"), controlFrame(3, 0, Buffer.from([0, 0, 0, 7, 0, 0, 0, 5]))]));
        expect(await answered(c, 5, 2)).toEqual(["syn_reply", "data+fin"]);
        expect(await answered(c, 7, 2)).toEqual(["syn_reply", "data+fin:gatehouse: port 5432 is not allowed by policy"]);
        c.send(Buffer.concat([await c.syn(9, stream("error", "8080", "2")), await c.syn(11, stream("data", "8080", "2")), dataFrame(11, "raw-two")]));
        expect(await answered(c, 11, 2)).toEqual(["syn_reply", "data:web:raw-two"]);
        expect(web.received).toContain("raw-two");
        expect(db.connections).toBe(0);
        expect(serverPorts(before)).toEqual(["8080", "8080", "8080", "8080"]);
      } finally {
        c.close();
      }
    });

    const endsTheSession: Array<[string, (c: RawPortForward) => Promise<Buffer>]> = [
      ["a second SYN_STREAM on the same stream id", async (c) => Buffer.concat([await c.syn(1, stream("error", "8080", "0")), await c.syn(1, stream("data", "5432", "0"))])],
      ["the port header repeated", async (c) => c.syn(1, [["streamtype", "data"], ["port", "8080"], ["port", "5432"], ["requestid", "0"]])],
      ["the port header odd-spelled (Port beside port)", async (c) => c.syn(1, [["streamtype", "data"], ["Port", "5432"], ["port", "8080"], ["requestid", "0"]])],
      ["two ports in one value (NUL-separated: spdystream would read 8080 first, then 5432)", async (c) => c.syn(1, stream("data", "8080\u00005432", "0"))],
      ["HEADERS after a refusal", async (c) => Buffer.concat([await c.syn(1, stream("error", "5432", "0")), controlFrame(8, 0, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]))])],
      ["DATA on a stream never opened", async (c) => Buffer.concat([await c.syn(1, stream("error", "8080", "0")), dataFrame(3, "no such stream")])],
    ];
    for (const [what, build] of endsTheSession) {
      it(`${what}: the session ends and nothing of it reaches the API server`, async () => {
        const db = backends.get("apps/shell:5432")!;
        const before = api.portForwards.length;
        const c = await openRawPortForward(kubeconfig, PATH);
        try {
          c.send(await build(c));
          await c.closed;
          expect(db.connections).toBe(0);
          expect(serverPorts(before)).not.toContain("5432");
          expect(serverPorts(before).some((p) => p.includes("5432"))).toBe(false);
          expect(c.frames.filter((f) => f.type === "data" && f.payload.length > 0)).toEqual([]);
        } finally {
          c.close();
        }
      });
    }
  });

  it("the trail records each stream's port and decision, and per session the ports requested, allowed, refused", async () => {
    const events = await trailEvents();
    const streams = events.filter((e) => e.type === "k8s.portforward.stream").map((e) => e.data);
    expect(streams).toContainEqual(expect.objectContaining({ port: 8080, effect: "allow", rule: "demo-k8s-port-forward", type: "data" }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 5432, effect: "deny", rule: null }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 9000, effect: "allow", rule: "e2e-k8s-port-forward-debug-any-port" }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 5432, effect: "deny", type: "data" }));
    expect(streams).toContainEqual(expect.objectContaining({ port: 5432, effect: "deny", type: "error" }));
    const ends = events.filter((e) => e.type === "k8s.portforward.end").map((e) => e.data);
    expect(ends).toContainEqual({ requested: [8080, 5432], allowed: [8080], refused: [5432] });
  }, 120_000);
});
