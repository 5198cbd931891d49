/**
 * In-memory object store with the semantics kubectl relies on: a cluster-wide resourceVersion
 * that increases with every write, optimistic concurrency on update (409 Conflict on a stale
 * resourceVersion), and an event log that a watch replays from a resourceVersion.
 */
import { randomUUID } from "node:crypto";
import { apiVersionOf, type ResourceType } from "./resources.ts";

export type KubeObject = Record<string, any>;
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";
export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  rt: ResourceType;
  namespace: string;
  object: KubeObject;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const clone = <T>(v: T): T => structuredClone(v);

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, { rt: ResourceType; object: KubeObject }>();
  private readonly events: StoreEvent[] = [];
  private readonly watchers = new Set<(e: StoreEvent) => void>();

  private key(rt: ResourceType, namespace: string, name: string): string {
    return `${rt.group}/${rt.resource}/${rt.namespaced ? namespace : ""}/${name}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get(rt: ResourceType, namespace: string, name: string): KubeObject {
    const hit = this.objects.get(this.key(rt, namespace, name));
    if (!hit) throw notFound(rt, name);
    return clone(hit.object);
  }

  tryGet(rt: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const hit = this.objects.get(this.key(rt, namespace, name));
    return hit ? clone(hit.object) : undefined;
  }

  /** Objects of a type, in one namespace ("" = all namespaces), sorted by namespace then name. */
  list(rt: ResourceType, namespace: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const { rt: t, object } of this.objects.values()) {
      if (t !== rt) continue;
      if (rt.namespaced && namespace && object.metadata.namespace !== namespace) continue;
      out.push(clone(object));
    }
    return out.sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`));
  }

  create(rt: ResourceType, namespace: string, body: KubeObject, dryRun = false): KubeObject {
    const obj = clone(body);
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    obj.metadata ??= {};
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
    const name = obj.metadata.name;
    if (typeof name !== "string" || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      throw new ApiError(422, "Invalid", `${rt.kind} "${name ?? ""}" is invalid: metadata.name: Invalid value: "${name ?? ""}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw new ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
      }
      obj.metadata.namespace = namespace;
      if (!this.objects.has(`/namespaces//${namespace}`)) throw new ApiError(404, "NotFound", `namespaces "${namespace}" not found`, { name: namespace, kind: "namespaces" });
    } else delete obj.metadata.namespace;
    const key = this.key(rt, namespace, name);
    if (this.objects.has(key)) throw new ApiError(409, "AlreadyExists", `${rt.resource}${rt.group ? `.${rt.group}` : ""} "${name}" already exists`, { name, group: rt.group, kind: rt.resource });
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    obj.metadata.generation = 1;
    defaults(rt, obj);
    if (dryRun) {
      obj.metadata.resourceVersion = String(this.rv);
      return obj;
    }
    return this.write("ADDED", rt, key, obj);
  }

  /** Replace an object; a body resourceVersion must match the stored one (optimistic concurrency). */
  update(rt: ResourceType, namespace: string, name: string, body: KubeObject, dryRun = false): KubeObject {
    const key = this.key(rt, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw notFound(rt, name);
    const obj = clone(body);
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    obj.metadata ??= {};
    if (obj.metadata.name !== name) throw new ApiError(400, "BadRequest", `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    const want = obj.metadata.resourceVersion;
    if (want !== undefined && want !== current.object.metadata.resourceVersion) {
      throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${rt.resource}${rt.group ? `.${rt.group}` : ""} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: rt.group, kind: rt.resource });
    }
    for (const f of ["uid", "creationTimestamp", "namespace"]) obj.metadata[f] = current.object.metadata[f];
    if (!rt.namespaced) delete obj.metadata.namespace;
    const specChanged = JSON.stringify(obj.spec ?? null) !== JSON.stringify(current.object.spec ?? null);
    obj.metadata.generation = (current.object.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    defaults(rt, obj);
    if (dryRun) {
      obj.metadata.resourceVersion = current.object.metadata.resourceVersion;
      return obj;
    }
    return this.write("MODIFIED", rt, key, obj);
  }

  delete(rt: ResourceType, namespace: string, name: string, dryRun = false): KubeObject {
    const key = this.key(rt, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw notFound(rt, name);
    if (dryRun) return clone(current.object);
    this.objects.delete(key);
    const obj = clone(current.object);
    obj.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: "DELETED", rt, namespace, object: obj });
    // Deleting a namespace deletes what is in it (a real server does it asynchronously).
    if (rt.resource === "namespaces") {
      for (const [k, v] of [...this.objects]) if (v.rt.namespaced && v.object.metadata.namespace === name) {
        this.objects.delete(k);
        const o = clone(v.object);
        o.metadata.resourceVersion = String(++this.rv);
        this.emit({ rv: this.rv, type: "DELETED", rt: v.rt, namespace: name, object: o });
      }
    }
    return clone(obj);
  }

  /** Events after `sinceRv` of a type (and namespace), then live ones, until the returned function is called. */
  watch(rt: ResourceType, namespace: string, sinceRv: number, onEvent: (e: StoreEvent) => void): () => void {
    if (sinceRv > 0 && this.events.length > 0 && sinceRv < this.events[0]!.rv - 1) {
      throw new ApiError(410, "Expired", `too old resource version: ${sinceRv} (${this.events[0]!.rv - 1})`);
    }
    const matches = (e: StoreEvent) => e.rt === rt && (!rt.namespaced || !namespace || e.namespace === namespace);
    for (const e of this.events) if (e.rv > sinceRv && matches(e)) onEvent({ ...e, object: clone(e.object) });
    const w = (e: StoreEvent) => {
      if (matches(e)) onEvent({ ...e, object: clone(e.object) });
    };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  private write(type: WatchEventType, rt: ResourceType, key: string, obj: KubeObject): KubeObject {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, { rt, object: obj });
    this.emit({ rv: this.rv, type, rt, namespace: obj.metadata.namespace ?? "", object: clone(obj) });
    return clone(obj);
  }

  private emit(e: StoreEvent): void {
    this.events.push(e);
    if (this.events.length > 10_000) this.events.shift();
    for (const w of this.watchers) w(e);
  }
}

export function notFound(rt: ResourceType, name: string): ApiError {
  return new ApiError(404, "NotFound", `${rt.resource}${rt.group ? `.${rt.group}` : ""} "${name}" not found`, { name, group: rt.group, kind: rt.resource });
}

/** The defaults and status a real cluster would fill in, enough for kubectl's printers and waits. */
function defaults(rt: ResourceType, obj: KubeObject): void {
  if (rt.kind === "Namespace") {
    obj.spec ??= { finalizers: ["kubernetes"] };
    obj.status = { phase: "Active" };
  } else if (rt.kind === "Pod") {
    obj.spec ??= {};
    obj.spec.containers ??= [];
    obj.spec.restartPolicy ??= "Always";
    obj.status = {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True" }],
      containerStatuses: obj.spec.containers.map((c: KubeObject) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, started: true, state: { running: { startedAt: obj.metadata.creationTimestamp } } })),
    };
  } else if (rt.kind === "Secret") {
    obj.type ??= "Opaque";
    // stringData is write-only: merged into data (base64) and never stored.
    if (obj.stringData && typeof obj.stringData === "object") {
      obj.data ??= {};
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString("base64");
      delete obj.stringData;
    }
  } else if (rt.kind === "Deployment") {
    obj.spec ??= {};
    obj.spec.replicas ??= 1;
    const r = obj.spec.replicas;
    obj.status = { observedGeneration: obj.metadata.generation, replicas: r, readyReplicas: r, updatedReplicas: r, availableReplicas: r, conditions: [{ type: "Available", status: "True" }] };
  }
}
