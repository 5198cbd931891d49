/**
 * The resource types the test API server serves, described once: discovery documents, routing
 * and Table columns are all derived from this list.
 */
export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural, as in URLs. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Subresources served (pods/log, pods/exec…): name → kind. */
  subresources: Record<string, { kind: string; verbs: string[] }>;
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export const RESOURCE_TYPES: ResourceType[] = [
  { group: "", version: "v1", resource: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"], subresources: {} },
  {
    group: "", version: "v1", resource: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"],
    subresources: {
      log: { kind: "Pod", verbs: ["get"] },
      exec: { kind: "PodExecOptions", verbs: ["create", "get"] },
      attach: { kind: "PodAttachOptions", verbs: ["create", "get"] },
      portforward: { kind: "PodPortForwardOptions", verbs: ["create", "get"] },
      ephemeralcontainers: { kind: "Pod", verbs: ["get", "patch", "update"] },
    },
  },
  { group: "", version: "v1", resource: "secrets", singular: "secret", kind: "Secret", namespaced: true, shortNames: [], subresources: {} },
  { group: "", version: "v1", resource: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"], subresources: { token: { kind: "TokenRequest", verbs: ["create"] } } },
  { group: "", version: "v1", resource: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"], subresources: {} },
  {
    group: "certificates.k8s.io", version: "v1", resource: "certificatesigningrequests", singular: "certificatesigningrequest", kind: "CertificateSigningRequest", namespaced: false, shortNames: ["csr"],
    subresources: { approval: { kind: "CertificateSigningRequest", verbs: ["get", "patch", "update"] }, status: { kind: "CertificateSigningRequest", verbs: ["get", "patch", "update"] } },
  },
  { group: "apps", version: "v1", resource: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: ["deploy"], subresources: {} },
];

export const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

export function findType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.resource === resource);
}

export function findKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
}

function resourceList(group: string, version: string) {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap((t) => [
      { name: t.resource, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS, ...(t.shortNames.length ? { shortNames: t.shortNames } : {}), ...(t.resource === "pods" || t.resource === "deployments" ? { categories: ["all"] } : {}) },
      ...Object.entries(t.subresources).map(([sub, s]) => ({ name: `${t.resource}/${sub}`, singularName: "", namespaced: t.namespaced, kind: s.kind, verbs: s.verbs })),
    ]),
  };
}

/** Legacy (unaggregated) discovery documents by path; kubectl falls back to them when a server does not aggregate. */
export function discoveryDocument(path: string): unknown | undefined {
  if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }] };
  if (path === "/apis") {
    const groups = [...new Set(RESOURCE_TYPES.filter((t) => t.group).map((t) => `${t.group}/${t.version}`))];
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((gv) => {
        const [name, version] = gv.split("/") as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      }),
    };
  }
  if (path === "/api/v1") return resourceList("", "v1");
  const m = /^\/apis\/([a-z0-9.-]+)\/(v[0-9a-z]+)$/.exec(path);
  if (m && RESOURCE_TYPES.some((t) => t.group === m[1] && t.version === m[2])) return resourceList(m[1]!, m[2]!);
  const g = /^\/apis\/([a-z0-9.-]+)$/.exec(path);
  if (g) {
    const t = RESOURCE_TYPES.find((x) => x.group === g[1]);
    if (t) return { kind: "APIGroup", apiVersion: "v1", name: t.group, versions: [{ groupVersion: apiVersionOf(t), version: t.version }], preferredVersion: { groupVersion: apiVersionOf(t), version: t.version } };
  }
  return undefined;
}

export const VERSION_INFO = {
  major: "1",
  minor: "35",
  gitVersion: "v1.35.0-gatehouse-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.25.0",
  compiler: "gc",
  platform: "linux/amd64",
};
