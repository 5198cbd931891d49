/**
 * Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` asks for a
 * meta.k8s.io/v1 Table, the columns `kubectl get` prints. Rows carry the object as
 * PartialObjectMetadata by default (`includeObject=Metadata`), the whole object with
 * `includeObject=Object`, nothing with `None`.
 */
import type { ResourceType } from "./resources.ts";
import type { KubeObject } from "./store.ts";

type Column = { name: string; type: string; format?: string; description: string; priority: number };
const col = (name: string, type = "string", priority = 0, format = ""): Column => ({ name, type, format, description: name, priority });

function age(ts: string | undefined): string {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

const COLUMNS: Record<string, { columns: Column[]; cells(o: KubeObject): unknown[] }> = {
  Pod: {
    columns: [col("Name", "string", 0, "name"), col("Ready"), col("Status"), col("Restarts", "string"), col("Age"), col("IP", "string", 1), col("Node", "string", 1)],
    cells: (o) => {
      const cs = (o.status?.containerStatuses ?? []) as KubeObject[];
      return [o.metadata.name, `${cs.filter((c) => c.ready).length}/${(o.spec?.containers ?? []).length}`, o.status?.phase ?? "Pending", String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)), age(o.metadata.creationTimestamp), o.status?.podIP ?? "<none>", o.spec?.nodeName ?? "<none>"];
    },
  },
  Namespace: { columns: [col("Name", "string", 0, "name"), col("Status"), col("Age")], cells: (o) => [o.metadata.name, o.status?.phase ?? "Active", age(o.metadata.creationTimestamp)] },
  Secret: {
    columns: [col("Name", "string", 0, "name"), col("Type"), col("Data", "integer"), col("Age")],
    cells: (o) => [o.metadata.name, o.type ?? "Opaque", Object.keys(o.data ?? {}).length, age(o.metadata.creationTimestamp)],
  },
  ConfigMap: { columns: [col("Name", "string", 0, "name"), col("Data", "integer"), col("Age")], cells: (o) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o.metadata.creationTimestamp)] },
  CertificateSigningRequest: {
    columns: [col("Name", "string", 0, "name"), col("Age"), col("SignerName"), col("Requestor"), col("Condition")],
    cells: (o) => [o.metadata.name, age(o.metadata.creationTimestamp), o.spec?.signerName ?? "", o.spec?.username ?? "", ((o.status?.conditions ?? []) as KubeObject[]).map((c) => c.type).join(",") || "Pending"],
  },
  Deployment: {
    columns: [col("Name", "string", 0, "name"), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), col("Age"), col("Containers", "string", 1), col("Images", "string", 1)],
    cells: (o) => {
      const cs = (o.spec?.template?.spec?.containers ?? []) as KubeObject[];
      return [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, o.status?.updatedReplicas ?? 0, o.status?.availableReplicas ?? 0, age(o.metadata.creationTimestamp), cs.map((c) => c.name).join(","), cs.map((c) => c.image).join(",")];
    },
  },
};

export type IncludeObject = "None" | "Metadata" | "Object";

export function tableRow(rt: ResourceType, o: KubeObject, include: IncludeObject): KubeObject {
  const object = include === "None" ? undefined : include === "Object" ? o : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
  return { cells: COLUMNS[rt.kind]!.cells(o), ...(object ? { object } : {}) };
}

export function toTable(rt: ResourceType, objects: KubeObject[], include: IncludeObject, meta: KubeObject): KubeObject {
  return { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: meta, columnDefinitions: COLUMNS[rt.kind]!.columns, rows: objects.map((o) => tableRow(rt, o, include)) };
}

/** Does the Accept header ask for a Table (first acceptable media type)? */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(",")) {
    const params = part.split(";").map((s) => s.trim());
    const as = params.find((p) => p.startsWith("as="))?.slice(3);
    if (as === "Table" && params.some((p) => p === "g=meta.k8s.io") && params.some((p) => p === "v=v1")) return true;
    if (!as && (params[0] === "application/json" || params[0] === "*/*")) return false;
  }
  return false;
}
