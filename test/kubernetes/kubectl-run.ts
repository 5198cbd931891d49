/**
 * Running the real kubectl in tests: a kubeconfig per test, its own HOME and --cache-dir (kubectl
 * caches discovery and OpenAPI under $HOME/.kube/cache), output captured.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubectlPath } from "./kubectl-binaries.ts";

export interface KubeconfigSpec {
  server: string;
  caPem: string;
  token?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  namespace?: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const user = spec.token
    ? `    token: ${spec.token}`
    : `    client-certificate-data: ${b64(spec.clientCertPem ?? "")}\n    client-key-data: ${b64(spec.clientKeyPem ?? "")}`;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: test",
    "  cluster:",
    `    server: ${spec.server}`,
    `    certificate-authority-data: ${b64(spec.caPem)}`,
    "users:",
    "- name: test",
    "  user:",
    user,
    "contexts:",
    "- name: test",
    `  context: { cluster: test, user: test, namespace: ${spec.namespace ?? "default"} }`,
    "current-context: test",
    "",
  ].join("\n");
}

export interface KubectlEnv {
  home: string;
  kubeconfig: string;
  bin: string;
}

/** A fresh HOME (and cache) with a kubeconfig for `spec`. */
export function kubectlEnv(spec: KubeconfigSpec, bin = kubectlPath()): KubectlEnv {
  const home = mkdtempSync(join(tmpdir(), "kubectl-home-"));
  const kubeconfig = join(home, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(spec), { mode: 0o600 });
  return { home, kubeconfig, bin };
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function spawnKubectl(env: KubectlEnv, args: string[], extraEnv: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(env.bin, ["--kubeconfig", env.kubeconfig, "--cache-dir", join(env.home, ".kube/cache"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.home, ...extraEnv },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Run kubectl to completion (killed after `timeoutMs`), with `input` on stdin. */
export function kubectl(env: KubectlEnv, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawnKubectl(env, args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Resolves with the output so far once `pattern` appears on stdout or stderr. */
export function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)), timeoutMs);
    const on = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout.off("data", on);
        child.stderr.off("data", on);
        resolve(seen);
      }
    };
    child.stdout.on("data", on);
    child.stderr.on("data", on);
    child.once("close", () => {
      clearTimeout(timer);
      if (!pattern.test(seen)) reject(new Error(`kubectl exited before ${pattern}; output:\n${seen}`));
    });
  });
}
