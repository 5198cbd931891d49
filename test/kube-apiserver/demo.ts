/**
 * `demo-k8s` for `npm start` (scripts/start.ts): the test API server (DEVELOPMENT ONLY — a
 * stand-in that kubectl accepts, not a cluster) with a few namespaces, pods, a Secret and log
 * lines, and the token only the connector is given.
 */
import { randomBytes } from "node:crypto";
import type { KubernetesResourceConfig } from "../../connector/config.ts";
import { startKubeApiServer, type KubeApiServer } from "./server.ts";
import { findType } from "./resources.ts";

export interface DemoK8s {
  server: KubeApiServer;
  resource: KubernetesResourceConfig;
  stop(): Promise<void>;
}

export async function startDemoK8s(): Promise<DemoK8s> {
  const token = `demo-k8s-${randomBytes(24).toString("hex")}`;
  const server = await startKubeApiServer({ tokens: { [token]: { name: "gatehouse-connector", groups: ["system:masters"] } } });
  const ns = findType("", "v1", "namespaces")!;
  const pods = findType("", "v1", "pods")!;
  for (const name of ["default", "apps", "kube-system"]) server.store.create(ns, "", { metadata: { name } });
  for (const [namespace, name, image] of [
    ["apps", "api-7d9f", "ghcr.io/acme/api:1.4.2"],
    ["apps", "worker-5c2b", "ghcr.io/acme/worker:1.4.2"],
    ["default", "web", "nginx:1.27"],
    ["kube-system", "etcd", "registry.k8s.io/etcd:3.5"],
  ] as const) {
    server.store.create(pods, namespace, { metadata: { name, labels: { app: name.split("-")[0]! } }, spec: { containers: [{ name: "main", image }] } });
    server.logs.append(namespace, name, `${name}: started`);
  }
  server.store.create(findType("", "v1", "secrets")!, "apps", {
    metadata: { name: "db-credentials" },
    type: "Opaque",
    data: { username: Buffer.from("app").toString("base64"), password: Buffer.from("demo-s3cret-never-shown").toString("base64") },
  });
  const resource: KubernetesResourceConfig = {
    name: "demo-k8s",
    type: "kubernetes",
    labels: { env: "demo", owner: "gatehouse" },
    url: new URL(server.url),
    ca: () => server.certs.caPem,
    credential: { kind: "bearer", token: () => token },
    dropCookies: true,
    identityHeaders: false,
  };
  return { server, resource, stop: () => server.close() };
}
