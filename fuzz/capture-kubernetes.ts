/**
 * Kubernetes seeds for fuzz/capture.ts: the real kubectl (the system's, else the tests' cached
 * v1.35) against the test API server (test/kube-apiserver), through a TLS relay that terminates
 * kubectl's TLS with the cluster's server certificate and keeps each direction's plaintext:
 *   k8s-websocket: `kubectl exec` (v5.channel.k8s.io), both directions after the upgrade
 *   k8s-spdy:      `kubectl port-forward` (SPDY/3.1 in the WebSocket), both directions' SPDY bytes
 *   k8s-inflate:   the DEFLATE part of every header block of those streams (kubectl's and the
 *                  server's zlib contexts: the first block of each direction after its zlib header)
 *   k8s-body-name: the JSON bodies `kubectl apply` sent and the protobuf bodies `kubectl create
 *                  configmap|secret` sent (recorded by the test API server)
 */
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from "node:tls";
import { connect as netConnect } from "node:net";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startKubeApiServer } from "../test/kube-apiserver/server.ts";
import { findType } from "../test/kube-apiserver/resources.ts";
import { kubectl, kubectlEnv, spawnKubectl, waitForOutput } from "../test/kubernetes/kubectl-run.ts";
import { kubectlPath } from "../test/kubernetes/kubectl-binaries.ts";
import { WebSocketMessageReader } from "../protocols/kubernetes/codec/websocket-frames.ts";

type WriteSeed = (codec: string, name: string, bytes: Uint8Array, comment: string) => void;
const TOKEN = "fuzz-capture-token-0123456789";

const APPLY = [
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "apps", labels: { app: "web" } }, data: { mode: "prod", "x.json": '{"a":1}' } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "apps" }, stringData: { password: "hunter2" } },
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "apps" }, spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } } },
].map((o) => JSON.stringify(o, null, 2));

function indexOf(hay: Uint8Array, needle: string, from = 0): number {
  const n = Buffer.from(needle);
  return Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(n, from);
}

/** JSON request bodies in a captured HTTP/1.1 client stream (Content-Length bodies). */
function jsonBodies(up: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; ; ) {
    const end = indexOf(up, "\r\n\r\n", at);
    if (end < 0) break;
    const head = Buffer.from(up.subarray(at, end)).toString("latin1");
    const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (/\r\ncontent-type:\s*application\/json/i.test(head) && len > 0) out.push(up.subarray(end + 4, end + 4 + len));
    at = end + 4 + len;
  }
  return out;
}

export async function captureKubernetes(writeSeed: WriteSeed): Promise<void> {
  const bin = existsSync("/usr/bin/kubectl") ? "/usr/bin/kubectl" : kubectlPath();
  const api = await startKubeApiServer({ tokens: { [TOKEN]: { name: "pipeline", groups: ["deployers"] } } });
  const ns = findType("", "v1", "namespaces")!;
  for (const name of ["default", "apps"]) api.store.create(ns, "", { metadata: { name } });
  api.store.create(findType("", "v1", "pods")!, "apps", { metadata: { name: "shell" }, spec: { containers: [{ name: "main", image: "busybox" }] } });
  const echo = (await import("node:net")).createServer((c) => c.on("data", (d) => c.write(`echo:${d}`)));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  api.portTargets.set("apps/shell:8080", (echo.address() as { port: number }).port);

  const sessions: Array<{ up: Buffer[]; down: Buffer[] }> = [];
  const sockets = new Set<TLSSocket>();
  const tlsRelay = createTlsServer({ cert: api.certs.serverCertPem, key: api.certs.serverKeyPem }, (inbound) => {
    const s = { up: [] as Buffer[], down: [] as Buffer[] };
    sessions.push(s);
    const outbound = tlsConnect({ host: "127.0.0.1", port: api.port, ca: api.certs.caPem });
    sockets.add(inbound).add(outbound);
    inbound.on("data", (d: Buffer) => (s.up.push(Buffer.from(d)), outbound.write(d)));
    outbound.on("data", (d: Buffer) => (s.down.push(Buffer.from(d)), inbound.write(d)));
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((r) => tlsRelay.listen(0, "127.0.0.1", r));
  const env = kubectlEnv({ server: `https://127.0.0.1:${(tlsRelay.address() as { port: number }).port}`, caPem: api.certs.caPem, token: TOKEN }, bin);
  try {
    for (const [k, doc] of APPLY.entries()) {
      const applyFile = join(env.home, `apply-${k}.json`);
      writeFileSync(applyFile, doc);
      const applied = await kubectl(env, ["apply", "-f", applyFile]);
      if (applied.code !== 0) console.log(`  kubectl apply: ${applied.stderr.trim()}`);
    }
    const generated = join(env.home, "generated.json");
    writeFileSync(generated, JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { generateName: "migrate-", namespace: "apps" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "m", image: "app:1", args: ["migrate", "--all"] }] } } } }));
    await kubectl(env, ["create", "-f", generated]);
    await kubectl(env, ["create", "configmap", "plain", "-n", "apps", "--from-literal=a=b", "--from-literal=long=" + "x".repeat(200)]);
    await kubectl(env, ["create", "secret", "generic", "creds", "-n", "apps", "--from-literal=password=hunter2"]);
    await kubectl(env, ["exec", "-n", "apps", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    await kubectl(env, ["exec", "-i", "-n", "apps", "shell", "--", "cat"], { input: "stdin line one\nline two é\n" });
    const pf = spawnKubectl(env, ["port-forward", "-n", "apps", "pod/shell", ":8080"]);
    try {
      const line = await waitForOutput(pf, /Forwarding from 127\.0\.0\.1:(\d+)/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      for (const msg of ["hello", "second connection"]) {
        await new Promise<void>((resolve) => {
          const c = netConnect(port, "127.0.0.1", () => c.write(msg));
          c.once("data", () => c.end());
          c.on("close", () => resolve());
          c.on("error", () => resolve());
        });
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      pf.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    sockets.forEach((s) => s.destroy());
    tlsRelay.close();
    echo.close();
    await api.close();
  }

  let spdyN = 0;
  let inflateN = 0;
  console.log(`  ${sessions.length} TLS sessions`);
  sessions.forEach((s, i) => {
    const up = new Uint8Array(Buffer.concat(s.up));
    const down = new Uint8Array(Buffer.concat(s.down));
    const requestLine = Buffer.from(up.subarray(0, Math.max(0, indexOf(up, "\r\n")))).toString("latin1");
    jsonBodies(up).forEach((b, k) => writeSeed("k8s-body-name", `s${i}-json-${k}`, b, `kubectl JSON request body: ${requestLine.slice(0, 80)}`));
    const upHead = indexOf(up, "\r\n\r\n");
    const downHead = indexOf(down, "\r\n\r\n");
    if (upHead < 0 || downHead < 0 || !Buffer.from(down.subarray(0, downHead)).toString("latin1").startsWith("HTTP/1.1 101")) return;
    const clientBytes = up.subarray(upHead + 4);
    const serverBytes = down.subarray(downHead + 4);
    if (/\/exec\?/.test(requestLine)) {
      writeSeed("k8s-websocket", `s${i}-exec-client`, clientBytes.subarray(0, 4096), `kubectl exec: kubectl → API server WebSocket frames (${requestLine.slice(0, 100)})`);
      writeSeed("k8s-websocket", `s${i}-exec-server`, serverBytes.subarray(0, 4096), `kubectl exec: API server → kubectl WebSocket frames`);
    } else if (/\/portforward/.test(requestLine)) {
      for (const [dir, bytes, fromClient] of [["client", clientBytes, true], ["server", serverBytes, false]] as const) {
        const spdy = Buffer.concat(new WebSocketMessageReader(fromClient).push(bytes).filter((m) => m.binary).map((m) => m.data));
        writeSeed("k8s-spdy", `pf${spdyN}-${dir}`, new Uint8Array(spdy.subarray(0, 4096)), `kubectl port-forward: ${dir === "client" ? "kubectl → API server" : "API server → kubectl"} SPDY/3.1 frames (from the WebSocket)`);
        // Header blocks: SYN_STREAM (10-byte prefix), SYN_REPLY/HEADERS (4); the first one's zlib header is skipped.
        let first = true;
        for (let o = 0; o + 8 <= spdy.length; ) {
          const len = (spdy[o + 5]! << 16) | (spdy[o + 6]! << 8) | spdy[o + 7]!;
          const type = (spdy[o + 2]! << 8) | spdy[o + 3]!;
          if (spdy[o]! & 0x80 && (type === 1 || type === 2 || type === 8)) {
            const block = spdy.subarray(o + 8 + (type === 1 ? 10 : 4), o + 8 + len);
            writeSeed("k8s-inflate", `pf${spdyN}-${dir}-${inflateN++}`, new Uint8Array(first ? block.subarray(6) : block), `kubectl port-forward ${dir} header block (DEFLATE after the zlib header)${first ? ", first of its stream" : ""}`);
            first = false;
          }
          o += 8 + len;
        }
      }
      spdyN++;
    }
  });
  api.protobufBodies.forEach((b, k) => writeSeed("k8s-body-name", `protobuf-${k}`, new Uint8Array(b), "kubectl create (protobuf request body, as the test API server received it)"));
}
