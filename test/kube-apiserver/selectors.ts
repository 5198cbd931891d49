/** Label and field selectors (the equality subset kubectl uses: `a=b`, `a==b`, `a!=b`, `a`, `!a`). */
import { ApiError, type KubeObject } from "./store.ts";

type Requirement = { key: string; op: "=" | "!=" | "exists" | "!exists"; value?: string };

function parse(selector: string | null, kind: "label" | "field"): Requirement[] {
  if (!selector) return [];
  return selector.split(",").map((part) => {
    const s = part.trim();
    const m = /^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$/.exec(s);
    if (m) return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! };
    if (kind === "label" && /^!?[A-Za-z0-9_./-]+$/.test(s)) return s.startsWith("!") ? { key: s.slice(1), op: "!exists" } : { key: s, op: "exists" };
    throw new ApiError(400, "BadRequest", `unable to parse requirement: invalid ${kind} selector: ${JSON.stringify(s)}`);
  });
}

const FIELDS: Record<string, (o: KubeObject) => string | undefined> = {
  "metadata.name": (o) => o.metadata?.name,
  "metadata.namespace": (o) => o.metadata?.namespace ?? "",
  "status.phase": (o) => o.status?.phase,
  "spec.nodeName": (o) => o.spec?.nodeName ?? "",
  type: (o) => o.type,
};

export function compileSelectors(labelSelector: string | null, fieldSelector: string | null): (o: KubeObject) => boolean {
  const labels = parse(labelSelector, "label");
  const fields = parse(fieldSelector, "field");
  for (const f of fields) if (!(f.key in FIELDS)) throw new ApiError(400, "BadRequest", `field label not supported: ${f.key}`);
  return (o) =>
    labels.every((r) => {
      const v = o.metadata?.labels?.[r.key] as string | undefined;
      if (r.op === "exists") return v !== undefined;
      if (r.op === "!exists") return v === undefined;
      return r.op === "=" ? v === r.value : v !== r.value;
    }) &&
    fields.every((r) => {
      const v = FIELDS[r.key]!(o);
      return r.op === "=" ? v === r.value : v !== r.value;
    });
}
