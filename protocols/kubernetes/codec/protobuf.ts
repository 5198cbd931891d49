/**
 * What policy needs from a protobuf request body (`Content-Type: application/vnd.kubernetes.protobuf`,
 * which kubectl 1.35 sends for typed `create` commands: `kubectl create configmap|secret|namespace|
 * deployment …`): the object's apiVersion, kind and metadata name/generateName/namespace, read
 * from the Kubernetes envelope without knowing the type:
 *
 *   "k8s\0" + runtime.Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw, 3: contentEncoding, 4: contentType }
 *   raw = the object; field 1 of every top-level object is ObjectMeta { 1: name, 2: generateName, 3: namespace }
 *
 * Anything else (another magic, a content encoding, truncated or malformed wire data, a field
 * repeated with another value) is an error: the engine refuses the request (415/400).
 */

export class ProtobufEnvelopeError extends Error {}

export interface ProtobufObjectHead {
  apiVersion: string;
  kind: string;
  name: string;
  generateName: string;
  namespace: string;
}

const MAGIC = [0x6b, 0x38, 0x73, 0x00];

interface Field {
  no: number;
  wire: number;
  /** Length-delimited payload, or undefined for numeric fields. */
  bytes?: Uint8Array;
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) throw new ProtobufEnvelopeError("truncated varint");
    const byte = b[pos++]!;
    if (shift < 49) result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      if (result > Number.MAX_SAFE_INTEGER) throw new ProtobufEnvelopeError("varint out of range");
      return [result, pos];
    }
  }
  throw new ProtobufEnvelopeError("varint longer than 10 bytes");
}

function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [key, p1] = readVarint(b, pos);
    pos = p1;
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) throw new ProtobufEnvelopeError("field number 0");
    if (wire === 0) pos = readVarint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [n, p2] = readVarint(b, pos);
      if (p2 + n > b.length) throw new ProtobufEnvelopeError("length-delimited field runs past the end");
      out.push({ no, wire, bytes: b.subarray(p2, p2 + n) });
      pos = p2 + n;
      continue;
    } else throw new ProtobufEnvelopeError(`unsupported wire type ${wire}`);
    if (pos > b.length) throw new ProtobufEnvelopeError("fixed-width field runs past the end");
    out.push({ no, wire });
  }
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The one value of a string field; repeated with different values = ambiguous (last-wins in Go, first-wins elsewhere). */
function stringField(fs: Field[], no: number, what: string): string {
  const hits = fs.filter((f) => f.no === no);
  if (hits.some((f) => f.wire !== 2)) throw new ProtobufEnvelopeError(`${what} is not a string`);
  const values = new Set(hits.map((f) => decoder.decode(f.bytes!)));
  if (values.size > 1) throw new ProtobufEnvelopeError(`${what} is given more than once with different values`);
  return [...values][0] ?? "";
}

function messageField(fs: Field[], no: number, what: string): Field[] {
  const hits = fs.filter((f) => f.no === no);
  if (hits.length > 1) throw new ProtobufEnvelopeError(`${what} is given more than once`);
  if (hits.length === 0) return [];
  if (hits[0]!.wire !== 2) throw new ProtobufEnvelopeError(`${what} is not a message`);
  return fields(hits[0]!.bytes!);
}

export function readProtobufObjectHead(body: Uint8Array): ProtobufObjectHead {
  if (body.length < 4 || MAGIC.some((m, i) => body[i] !== m)) throw new ProtobufEnvelopeError("not a Kubernetes protobuf envelope (no k8s\\0 prefix)");
  try {
    const unknown = fields(body.subarray(4));
    const typeMeta = messageField(unknown, 1, "typeMeta");
    const encoding = stringField(unknown, 3, "contentEncoding");
    if (encoding !== "") throw new ProtobufEnvelopeError(`content encoding ${JSON.stringify(encoding)} is not read by the gateway`);
    const raw = unknown.filter((f) => f.no === 2);
    if (raw.length !== 1 || raw[0]!.wire !== 2) throw new ProtobufEnvelopeError("the envelope holds no single object");
    const object = fields(raw[0]!.bytes!);
    const meta = messageField(object, 1, "metadata");
    return {
      apiVersion: stringField(typeMeta, 1, "apiVersion"),
      kind: stringField(typeMeta, 2, "kind"),
      name: stringField(meta, 1, "metadata.name"),
      generateName: stringField(meta, 2, "metadata.generateName"),
      namespace: stringField(meta, 3, "metadata.namespace"),
    };
  } catch (err) {
    if (err instanceof ProtobufEnvelopeError) throw err;
    throw new ProtobufEnvelopeError(`malformed protobuf: ${(err as Error).message}`);
  }
}
