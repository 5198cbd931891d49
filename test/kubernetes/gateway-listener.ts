/**
 * The Kubernetes e2e set-up the kubectl tests share: the demo-k8s resource in front of the test
 * API server, and `gatehouse connect demo-k8s` running with a kubeconfig printed for its listener.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { KubernetesResourceConfig } from "../../connector/config.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import type { KubeApiServer } from "../kube-apiserver/server.ts";

/** `demo-k8s`: the test API server, reached with the cluster token only the connector holds. */
export function demoK8sResource(api: KubeApiServer, clusterToken: string): KubernetesResourceConfig {
  return {
    name: "demo-k8s",
    type: "kubernetes",
    labels: { env: "demo" },
    url: new URL(api.url),
    ca: () => api.certs.caPem,
    credential: { kind: "bearer", token: () => clusterToken },
    dropCookies: true,
    identityHeaders: false,
  };
}

export interface KubeListener {
  process: ChildProcess;
  /** Everything `gatehouse connect` printed so far. */
  log(): string;
  stateDir: string;
  port: number;
  /** The kubeconfig `gatehouse kubeconfig demo-k8s --path` wrote for the listener. */
  kubeconfig: string;
}

/** `gatehouse connect demo-k8s` with `token`, through `gateway`, until its listener is ready and a kubeconfig names it. */
export async function startKubeListener(gateway: string, token: string, stateDirPrefix: string): Promise<KubeListener> {
  const stateDir = mkdtempSync(join(tmpdir(), stateDirPrefix));
  const ready = join(stateDir, "ready.json");
  let log = "";
  const proc = spawn(process.execPath, ["bin/gatehouse.mjs", "connect", "demo-k8s", "--port", "0", "--gateway", gateway, "--ready-file", ready], {
    env: { ...process.env, GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  await eventually(async () => existsSync(ready), `the listener's ready file (log: ${log})`, 600);
  const port = (JSON.parse(readFileSync(ready, "utf8")) as { port: number }).port;
  const printed = await gatehouse(["kubeconfig", "demo-k8s", "--port", String(port), "--path"], { GATEHOUSE_STATE_DIR: stateDir });
  expect(printed.code, printed.stderr).toBe(0);
  return { process: proc, log: () => log, stateDir, port, kubeconfig: printed.stdout.trim() };
}
