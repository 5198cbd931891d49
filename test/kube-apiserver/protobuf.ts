/**
 * Protobuf request bodies for the kinds kubectl's typed `create` commands send
 * (`kubectl create configmap|secret|namespace`): the `k8s\0` envelope (runtime.Unknown) and the
 * generated messages' field numbers (k8s.io/api/core/v1/generated.proto). Written for the test
 * server on its own (the gateway has its own reader, protocols/kubernetes/codec/protobuf.ts).
 * Other kinds answer 415, as a server that does not take protobuf for them would.
 */
import { ApiError, type KubeObject } from "./store.ts";

type Raw = Map<number, Buffer[]>;

function parse(b: Buffer): Raw {
  const out: Raw = new Map();
  let p = 0;
  const varint = () => {
    let v = 0n;
    let s = 0n;
    for (;;) {
      const byte = b[p++];
      if (byte === undefined) throw new Error("truncated");
      v |= BigInt(byte & 0x7f) << s;
      s += 7n;
      if (!(byte & 0x80)) return v;
    }
  };
  while (p < b.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    let value: Buffer;
    if (wire === 0) value = Buffer.from(varint().toString());
    else if (wire === 2) {
      const n = Number(varint());
      value = b.subarray(p, p + n);
      p += n;
    } else throw new Error(`wire type ${wire}`);
    out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}

const str = (r: Raw, no: number) => r.get(no)?.at(-1)?.toString("utf8");
function map(r: Raw, no: number, bytes = false): Record<string, string> | undefined {
  const entries = r.get(no);
  if (!entries) return undefined;
  return Object.fromEntries(entries.map((e) => {
    const kv = parse(e);
    const v = kv.get(2)?.at(-1) ?? Buffer.alloc(0);
    return [str(kv, 1) ?? "", bytes ? v.toString("base64") : v.toString("utf8")];
  }));
}

function objectMeta(r: Raw): KubeObject {
  const meta: KubeObject = {};
  const set = (k: string, v: unknown) => v !== undefined && (meta[k] = v);
  set("name", str(r, 1));
  set("generateName", str(r, 2));
  set("namespace", str(r, 3));
  set("labels", map(r, 11));
  set("annotations", map(r, 12));
  return meta;
}

export function decodeProtobufObject(body: Buffer): KubeObject {
  if (!body.subarray(0, 4).equals(Buffer.from("k8s\0", "latin1"))) throw new ApiError(400, "BadRequest", "protobuf body without the k8s envelope");
  let unknown: Raw, typeMeta: Raw, obj: Raw;
  try {
    unknown = parse(body.subarray(4));
    typeMeta = parse(unknown.get(1)?.[0] ?? Buffer.alloc(0));
    obj = parse(unknown.get(2)?.[0] ?? Buffer.alloc(0));
  } catch (err) {
    throw new ApiError(400, "BadRequest", `malformed protobuf body: ${(err as Error).message}`);
  }
  const apiVersion = str(typeMeta, 1);
  const kind = str(typeMeta, 2);
  const metadata = objectMeta(parse(obj.get(1)?.[0] ?? Buffer.alloc(0)));
  const o: KubeObject = { apiVersion, kind, metadata };
  if (apiVersion === "v1" && kind === "ConfigMap") {
    const data = map(obj, 2);
    const binaryData = map(obj, 3, true);
    if (data) o.data = data;
    if (binaryData) o.binaryData = binaryData;
  } else if (apiVersion === "v1" && kind === "Secret") {
    const data = map(obj, 2, true);
    if (data) o.data = data;
    const type = str(obj, 3);
    if (type) o.type = type;
  } else if (apiVersion === "v1" && kind === "Namespace") {
    // spec/status: nothing kubectl create sets.
  } else {
    throw new ApiError(415, "UnsupportedMediaType", `the test API server reads protobuf only for ConfigMap, Secret and Namespace, not ${apiVersion}/${kind}`);
  }
  return o;
}
