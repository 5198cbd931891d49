/**
 * The name a create request gives its object, read from the body as the API server reads it, for
 * `names:` rules (a create's URL names no object). JSON (`kubectl create -f`, `apply` of a new
 * object) and protobuf (`kubectl create configmap|secret|…`, codec/protobuf.ts) bodies:
 *
 *   { name, generateName, namespace } of the object's metadata; name "" = not known (a
 *   generateName object, no metadata): a `names:` allow then does not cover it.
 *
 * Refused (BodyNameError → 400), because the gateway and the API server could read them
 * differently: JSON that does not parse; a key repeated at the top level or in metadata (Go keeps
 * the last, others the first); a key that spells metadata/name/namespace/generateName in another
 * case (Go's encoding/json matches keys case-insensitively; the API server's reader does not);
 * metadata or name that is not an object/string; a body namespace other than the URL's (the API
 * server refuses it too). Other body types (YAML, CBOR) name nothing here.
 */
import { ProtobufEnvelopeError, readProtobufObjectHead } from "./protobuf.ts";
import { requestBodyKind } from "./headers.ts";

export class BodyNameError extends Error {}

export interface BodyObjectName {
  name: string;
  generateName: string;
  namespace: string;
}

/** Largest create body read for its name (the API server's own request body limit, 3 MiB). */
export const MAX_NAMED_BODY = 3 * 1024 * 1024;

const TOP_KEYS = ["metadata"];
const META_KEYS = ["name", "namespace", "generateName"];

export function bodyObjectName(contentType: string | null, body: Uint8Array, urlNamespace: string): BodyObjectName {
  const kind = requestBodyKind(contentType);
  let found: BodyObjectName;
  if (kind === "protobuf") {
    try {
      const head = readProtobufObjectHead(body);
      found = { name: head.name, generateName: head.generateName, namespace: head.namespace };
    } catch (e) {
      if (e instanceof ProtobufEnvelopeError) throw new BodyNameError(`the protobuf body cannot be read (${e.message})`);
      throw e;
    }
  } else if (kind === "json") found = jsonName(body);
  else return { name: "", generateName: "", namespace: "" };
  if (found.namespace !== "" && urlNamespace !== "" && found.namespace !== urlNamespace) {
    throw new BodyNameError(`the object's namespace ${JSON.stringify(found.namespace)} is not the request's ${JSON.stringify(urlNamespace)}`);
  }
  return found;
}

function jsonName(body: Uint8Array): BodyObjectName {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw new BodyNameError("the JSON body is not UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BodyNameError("the body is not JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new BodyNameError("the body is not a JSON object");
  checkKeys(text);
  const meta = (doc as Record<string, unknown>).metadata;
  if (meta === undefined || meta === null) return { name: "", generateName: "", namespace: "" };
  if (typeof meta !== "object" || Array.isArray(meta)) throw new BodyNameError("metadata is not an object");
  const m = meta as Record<string, unknown>;
  const str = (k: string): string => {
    const v = m[k];
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw new BodyNameError(`metadata.${k} is not a string`);
    return v;
  };
  return { name: str("name"), generateName: str("generateName"), namespace: str("namespace") };
}

/**
 * Walks the (already valid) JSON text: keys of the top-level object and of its `metadata` must be
 * unique, and none may spell a watched key in another case.
 */
function checkKeys(text: string): void {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === "{") return object(path);
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value("");
        ws();
        if (text[i++] === "]") return;
      }
    }
    if (c === '"') {
      str();
      return;
    }
    while (i < text.length && !",}] \t\n\r".includes(text[i]!)) i++;
  };
  const object = (path: string): void => {
    i++;
    const seen = new Set<string>();
    ws();
    if (text[i] === "}") {
      i++;
      return;
    }
    for (;;) {
      ws();
      const key = str();
      if (path === "top" || path === "metadata") {
        if (seen.has(key)) throw new BodyNameError(`the key ${JSON.stringify(key)} appears twice in ${path === "top" ? "the object" : "metadata"}`);
        seen.add(key);
        const lower = key.toLowerCase();
        const watched = path === "top" ? TOP_KEYS : META_KEYS;
        if (watched.some((k) => k.toLowerCase() === lower && k !== key)) throw new BodyNameError(`the key ${JSON.stringify(key)} differs from ${JSON.stringify(watched.find((k) => k.toLowerCase() === lower))} only in case`);
      }
      ws();
      i++; // ':'
      value(path === "top" && key === "metadata" ? "metadata" : "");
      ws();
      if (text[i++] === "}") return;
    }
  };
  ws();
  object("top");
}
