/**
 * Kubernetes figures (issue 17): the real kubectl v1.35 against the test API server, direct vs
 * through the gateway (listener → worker with the demo policy, Secret masking and recording →
 * connector):
 *
 *   get-pods   `kubectl get pods` wall time per command (median and p90 of fresh processes;
 *              discovery cached in a shared --cache-dir, as a pipeline's repeated commands are)
 *   large-list `kubectl get configmaps -o json` over 2,000 ConfigMaps of ~1 KiB: MB/s of JSON
 *
 * Run alone: `node bin/run-ts.mjs bench/kubernetes.ts` (starts its own stack; no timing in tests).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestStack } from "../test/harness/stack.ts";
import { startDemoK8s } from "../test/kube-apiserver/demo.ts";
import { findType } from "../test/kube-apiserver/resources.ts";
import { kubectl, kubectlEnv, type KubectlEnv } from "../test/kubernetes/kubectl-run.ts";
import { kubectlPath } from "../test/kubernetes/kubectl-binaries.ts";
import { startConnectListener } from "../client/listener.ts";
import { staticTokenSource } from "../client/auth/token-source.ts";
import { TEST_LISTENER_CREDENTIALS } from "../test/harness/listener-auth.ts";
import { median, percentile } from "./lib/stats.ts";

export interface KubeFigure {
  name: string;
  path: "direct" | "gatehouse";
  value: number;
  unit: string;
}

async function timeCommand(env: KubectlEnv, args: string[], runs: number): Promise<number[]> {
  const out: number[] = [];
  await kubectl(env, args); // warm the discovery cache
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await kubectl(env, args, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    out.push(performance.now() - t);
  }
  return out;
}

async function largeList(env: KubectlEnv, runs: number): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await kubectl(env, ["get", "configmaps", "-n", "bulk", "-o", "json"], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`large list: ${r.stderr}`);
    rates.push(r.stdout.length / 1e6 / ((performance.now() - t) / 1000));
  }
  return median(rates);
}

export async function benchKubernetes(opts: { runs?: number } = {}): Promise<KubeFigure[]> {
  const runs = opts.runs ?? 8;
  kubectlPath();
  const demo = await startDemoK8s();
  const ns = findType("", "v1", "namespaces")!;
  const cms = findType("", "v1", "configmaps")!;
  demo.server.store.create(ns, "", { metadata: { name: "bulk" } });
  for (let i = 0; i < 2000; i++) demo.server.store.create(cms, "bulk", { metadata: { name: `cm-${i}` }, data: { payload: "x".repeat(1000) } });
  const stack = await startTestStack({ extraResources: [demo.resource] });
  const state = mkdtempSync(join(tmpdir(), "bench-k8s-"));
  const listener = await startConnectListener({
    gateway: stack.gatewayUrl,
    resource: "demo-k8s",
    port: 0,
    tokenSource: staticTokenSource(await stack.mintToken({ sub: "bench", ttlSeconds: 3600 }), "bench"),
    log: () => {},
    credentials: TEST_LISTENER_CREDENTIALS,
    stateDir: state,
  });
  const token = await (demo.resource.credential as { token: () => string }).token();
  const direct = kubectlEnv({ server: demo.server.url, caPem: demo.server.certs.caPem, token });
  const viaHome = mkdtempSync(join(tmpdir(), "bench-k8s-home-"));
  const via: KubectlEnv = { home: viaHome, kubeconfig: listener.auth.files.kubeconfig!, bin: kubectlPath() };
  writeFileSync(join(viaHome, ".keep"), "");
  const figures: KubeFigure[] = [];
  try {
    for (const [path, env] of [["direct", direct], ["gatehouse", via]] as const) {
      const t = await timeCommand(env, ["get", "pods", "-n", "apps"], runs);
      figures.push({ name: "get-pods median", path, value: median(t), unit: "ms" });
      figures.push({ name: "get-pods p90", path, value: percentile(t, 90), unit: "ms" });
      figures.push({ name: "large-list", path, value: await largeList(env, 3), unit: "MB/s" });
    }
  } finally {
    await listener.close();
    await stack.stop();
    await demo.stop();
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figs = await benchKubernetes();
  for (const f of figs) console.log(`${f.name.padEnd(16)} ${f.path.padEnd(10)} ${f.value.toFixed(1)} ${f.unit}`);
  const ratio = (name: string) => figs.find((f) => f.name === name && f.path === "gatehouse")!.value / figs.find((f) => f.name === name && f.path === "direct")!.value;
  console.log(`gatehouse/direct: get-pods median ${ratio("get-pods median").toFixed(2)}x time, large-list ${ratio("large-list").toFixed(2)}x throughput`);
}
