/**
 * OpenAPI v3 as kubectl 1.35 reads it: the root (`/openapi/v3`) lists one document per
 * group-version; `kubectl apply/create/replace/patch` look in it for a PATCH operation of the
 * object's group-version-kind that takes the `fieldValidation` query parameter, and when they find
 * one they leave validation to the server (`fieldValidation=Strict`) instead of downloading
 * schemas for client-side validation. PATCH bodies are advertised without strategic merge patch,
 * so client-side apply computes its patch from kubectl's built-in types (no schema needed here).
 */
import { createHash } from "node:crypto";
import { RESOURCE_TYPES, apiVersionOf, type ResourceType } from "./resources.ts";

const param = (name: string, where: "query" | "path" = "query") => ({ name, in: where, ...(where === "path" ? { required: true } : {}), schema: { type: "string", uniqueItems: true } });

function operations(t: ResourceType) {
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const ext = (action: string) => ({ "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk });
  const ref = { $ref: "#/components/schemas/object" };
  const body = (types: string[]) => ({ content: Object.fromEntries(types.map((c) => [c, { schema: ref }])), required: true });
  const ok = { responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } } };
  const write = [param("dryRun"), param("fieldManager"), param("fieldValidation")];
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const coll = t.namespaced ? `${base}/namespaces/{namespace}/${t.resource}` : `${base}/${t.resource}`;
  const nsParams = t.namespaced ? [param("namespace", "path")] : [];
  return {
    [coll]: {
      parameters: nsParams,
      get: { ...ext("list"), parameters: [param("labelSelector"), param("fieldSelector"), param("watch")], ...ok },
      post: { ...ext("post"), parameters: write, requestBody: body(["*/*"]), ...ok },
      delete: { ...ext("deletecollection"), parameters: [param("dryRun")], ...ok },
    },
    [`${coll}/{name}`]: {
      parameters: [param("name", "path"), ...nsParams],
      get: { ...ext("get"), ...ok },
      put: { ...ext("put"), parameters: write, requestBody: body(["*/*"]), ...ok },
      patch: { ...ext("patch"), parameters: [...write, param("force")], requestBody: body(["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]), ...ok },
      delete: { ...ext("delete"), parameters: [param("dryRun")], ...ok },
    },
  };
}

function groupVersionDocument(gv: string) {
  const types = RESOURCE_TYPES.filter((t) => apiVersionOf(t) === gv);
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes (gatehouse test API server)", version: "v1.35.0" },
    paths: Object.assign({}, ...types.map(operations)),
    components: { schemas: { object: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } },
  };
}

const GROUP_VERSIONS = [...new Set(RESOURCE_TYPES.map(apiVersionOf))];
const urlPath = (gv: string) => (gv.includes("/") ? `apis/${gv}` : `api/${gv}`);
const DOCS = new Map(GROUP_VERSIONS.map((gv) => [urlPath(gv), groupVersionDocument(gv)]));
const hashOf = (doc: unknown) => createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase();

/** `/openapi/v3` and `/openapi/v3/<api|apis>/…`; undefined: not served (v2 is not served: kubectl 1.35 does not need it here). */
export function openApiDocument(path: string): unknown | undefined {
  if (path === "/openapi/v3") return { paths: Object.fromEntries([...DOCS].map(([p, doc]) => [p, { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(doc)}` }])) };
  if (path.startsWith("/openapi/v3/")) return DOCS.get(path.slice("/openapi/v3/".length));
  return undefined;
}
