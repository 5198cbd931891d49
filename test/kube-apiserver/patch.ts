/**
 * The patch types kubectl sends: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic
 * merge patch (the subset kubectl's client-side apply/label/annotate/scale produce: lists of
 * objects merged by their merge key, `$patch: delete`/`replace`, `$setElementOrder`/`$retainKeys`/
 * `$deleteFromPrimitiveList` directives) and server-side apply (the applied configuration's fields
 * overwrite the live object's).
 */
import { ApiError, type KubeObject } from "./store.ts";

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Merge keys of the lists kubectl's strategic patches name (k8s.io/api patchMergeKey tags). */
const MERGE_KEYS: Record<string, string> = {
  containers: "name", initContainers: "name", ephemeralContainers: "name", env: "name", volumes: "name", volumeMounts: "mountPath",
  ports: "containerPort", imagePullSecrets: "name", conditions: "type", tolerations: "key", hostAliases: "ip", finalizers: "",
};

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k === "$retainKeys" || k === "$patch") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = MERGE_KEYS[k];
    if (Array.isArray(v) && key && Array.isArray(out[k])) {
      const list = [...(out[k] as unknown[])];
      for (const item of v) {
        if (!isObj(item) || !(key in item)) {
          list.push(structuredClone(item));
          continue;
        }
        const i = list.findIndex((x) => isObj(x) && x[key] === item[key]);
        const merged = strategicMergePatch(i >= 0 ? list[i] : undefined, item);
        if (i >= 0) {
          if (merged === undefined) list.splice(i, 1);
          else list[i] = merged;
        } else if (merged !== undefined) list.push(merged);
      }
      out[k] = list;
    } else out[k] = strategicMergePatch(out[k], v);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new ApiError(422, "Invalid", `invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function jsonPatch(target: KubeObject, ops: unknown): KubeObject {
  if (!Array.isArray(ops)) throw new ApiError(400, "BadRequest", "a JSON patch must be an array of operations");
  const doc = structuredClone(target);
  for (const op0 of ops as Array<Record<string, any>>) {
    let op = op0;
    if (op.op === "copy" || op.op === "move") {
      // RFC 6902 (the API server's evanphx/json-patch): the value at `from`, added at `path`; a move removes it first.
      const from = pointer(String(op.from));
      const key = from.pop();
      let src: any = doc;
      for (const s of from) src = src?.[s];
      if (key === undefined || src === undefined || !(key in src)) throw new ApiError(422, "Invalid", `jsonpatch ${op.op} operation does not apply: doc is missing from path: ${op.from}`);
      const value = structuredClone(src[key]);
      if (op.op === "move") {
        if (Array.isArray(src)) src.splice(Number(key), 1);
        else delete src[key];
      }
      op = { op: "add", path: op.path, value };
    }
    const segs = pointer(String(op.path));
    const last = segs.pop();
    let parent: any = doc;
    for (const s of segs) {
      parent = parent?.[s];
      if (parent === undefined) throw new ApiError(422, "Invalid", `jsonpatch ${op.op} operation does not apply: doc is missing path: ${op.path}`);
    }
    if (last === undefined) throw new ApiError(422, "Invalid", "jsonpatch on the root is not supported");
    const idx = Array.isArray(parent) ? (last === "-" ? parent.length : Number(last)) : last;
    switch (op.op) {
      case "add":
        if (Array.isArray(parent)) parent.splice(idx as number, 0, op.value);
        else parent[last] = op.value;
        break;
      case "replace":
        if (!(idx in parent)) throw new ApiError(422, "Invalid", `jsonpatch replace operation does not apply: doc is missing key: ${op.path}`);
        parent[idx] = op.value;
        break;
      case "remove":
        if (!(idx in parent)) throw new ApiError(422, "Invalid", `jsonpatch remove operation does not apply: doc is missing key: ${op.path}`);
        if (Array.isArray(parent)) parent.splice(idx as number, 1);
        else delete parent[last];
        break;
      case "test":
        if (JSON.stringify(parent[idx]) !== JSON.stringify(op.value)) throw new ApiError(422, "Invalid", `testing value ${op.path} failed`);
        break;
      default:
        throw new ApiError(422, "Invalid", `unsupported JSON patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** Server-side apply, simplified: the applied fields overwrite (maps merge, lists are replaced unless keyed). */
export function applyPatch(live: KubeObject | undefined, applied: KubeObject, manager: string): KubeObject {
  const merged = strategicMergePatch(live ?? {}, applied) as KubeObject;
  merged.metadata ??= {};
  const { apiVersion: _a, kind: _k, ...owned } = applied;
  merged.metadata.managedFields = [{ manager, operation: "Apply", apiVersion: applied.apiVersion, fieldsType: "FieldsV1", fieldsV1: fieldSet(owned), time: new Date().toISOString().replace(/\.\d+Z$/, "Z") }];
  return merged;
}

/** The fields an applied configuration sets, in managedFields' FieldsV1 shape (`f:<name>` keys; lists as a whole). */
function fieldSet(v: unknown): Record<string, unknown> {
  if (!isObj(v)) return {};
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "managedFields" && k !== "resourceVersion").map(([k, x]) => [`f:${k}`, fieldSet(x)]));
}
