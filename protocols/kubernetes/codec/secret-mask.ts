/**
 * Secret values masked in JSON responses, whatever shape carries them:
 *   - a Secret (`data` values: base64; `stringData`: text),
 *   - a List / SecretList (`items`),
 *   - a Table (`rows[].object` when the server included objects; `rows[].cells` of a Secret
 *     table other than the known-harmless columns Name/Type/Data/Age),
 *   - a watch event (`{type, object}`; one JSON document per line, watch-stream.ts),
 *   - the `kubectl.kubernetes.io/last-applied-configuration` annotation of any of those (JSON text
 *     holding the applied Secret: masked inside; replaced whole when it is not readable JSON),
 *   - PartialObjectMetadata(List): the annotation above.
 * Objects are recognised by `kind`, and every object of a response to a `secrets` request is
 * treated as a Secret (fail closed: a Table row or a partial object carries no reliable kind).
 *
 * A CertificateSigningRequest's issued certificate (`status.certificate`) is masked the same way
 * (every object of a response to a CSR request, and any object of that kind): with the key the
 * pipeline generated, it is a client credential of the cluster that would bypass the gateway.
 *
 * Masked values keep the object valid: `data` values become base64 of MASK_TEXT, so kubectl's
 * typed decoders (`describe`, `-o go-template` with base64decode) still work and show the mark.
 */

export const MASK_TEXT = "gatehouse:masked";
const MASK_BASE64 = btoa(MASK_TEXT);
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObj = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

export interface MaskCount {
  /** Values replaced (data/stringData entries, cells, annotations). */
  values: number;
}

/** Secret table columns that never hold a value (kubectl's server-side printer for Secrets). */
const SAFE_SECRET_COLUMNS = new Set(["name", "type", "data", "age"]);

function maskSecretFields(o: Record<string, Json>, count: MaskCount): void {
  for (const field of ["data", "stringData"] as const) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    if (!isObj(v)) {
      // Not a map: nothing the gateway can mask key by key, so the field goes.
      o[field] = {};
      count.values++;
      continue;
    }
    for (const k of Object.keys(v)) {
      v[k] = field === "data" ? MASK_BASE64 : MASK_TEXT;
      count.values++;
    }
  }
}

function maskLastApplied(meta: Json | undefined, count: MaskCount): void {
  if (!isObj(meta)) return;
  const ann = meta.annotations;
  if (!isObj(ann) || !(LAST_APPLIED in ann)) return;
  const text = ann[LAST_APPLIED];
  try {
    if (typeof text !== "string") throw new Error("not text");
    const applied = JSON.parse(text) as Json;
    if (!isObj(applied)) throw new Error("not an object");
    const inner: MaskCount = { values: 0 };
    maskSecretFields(applied, inner);
    if (isObj(applied.metadata)) maskLastApplied(applied.metadata, inner);
    if (inner.values > 0) {
      ann[LAST_APPLIED] = JSON.stringify(applied);
      count.values += inner.values;
    }
  } catch {
    ann[LAST_APPLIED] = MASK_TEXT;
    count.values++;
  }
}

function maskSecretObject(o: Record<string, Json>, count: MaskCount): void {
  maskSecretFields(o, count);
  maskLastApplied(o.metadata, count);
}

/** A CSR's issued certificate (base64 PEM) → base64 of MASK_TEXT (typed decoders still read bytes). */
function maskIssuedCertificate(o: Record<string, Json>, count: MaskCount): void {
  const st = o.status;
  if (!isObj(st) || st.certificate === undefined || st.certificate === null || st.certificate === "") return;
  st.certificate = MASK_BASE64;
  count.values++;
}

function maskTable(t: Record<string, Json>, secretRequest: boolean, count: MaskCount, csrRequest: boolean): void {
  const cols = Array.isArray(t.columnDefinitions) ? t.columnDefinitions : [];
  const unsafe = cols.map((c) => !(isObj(c) && typeof c.name === "string" && SAFE_SECRET_COLUMNS.has(c.name.toLowerCase())));
  if (!Array.isArray(t.rows)) return;
  for (const row of t.rows) {
    if (!isObj(row)) continue;
    const obj = row.object;
    const rowIsSecret = secretRequest || (isObj(obj) && obj.kind === "Secret");
    if (isObj(obj)) maskAny(obj, rowIsSecret, count, csrRequest);
    if (rowIsSecret && Array.isArray(row.cells)) {
      row.cells = row.cells.map((c, i) => {
        // A cell without a column definition, or of a column that is not known harmless, is masked.
        if (unsafe[i] === false || c === null) return c;
        count.values++;
        return MASK_TEXT;
      });
    }
  }
}

/**
 * Mask one decoded JSON document in place. `secretRequest`: the request's resource is `secrets`;
 * `csrRequest`: it is `certificatesigningrequests.certificates.k8s.io`.
 */
export function maskAny(doc: Json, secretRequest: boolean, count: MaskCount, csrRequest = false): void {
  if (Array.isArray(doc)) {
    for (const d of doc) maskAny(d, secretRequest, count, csrRequest);
    return;
  }
  if (!isObj(doc)) return;
  const kind = typeof doc.kind === "string" ? doc.kind : "";
  if (kind === "Table") return maskTable(doc, secretRequest, count, csrRequest);
  if (kind === "Status") return;
  if ("type" in doc && "object" in doc && isObj(doc.object) && Object.keys(doc).length <= 2) {
    // A watch event.
    return maskAny(doc.object, secretRequest, count, csrRequest);
  }
  if (Array.isArray(doc.items)) {
    for (const item of doc.items) if (isObj(item)) maskAny(item, secretRequest || kind === "SecretList", count, csrRequest || kind === "CertificateSigningRequestList");
    return;
  }
  if (kind === "CertificateSigningRequest" || csrRequest) maskIssuedCertificate(doc, count);
  if (kind === "Secret" || secretRequest) return maskSecretObject(doc, count);
  // Any other object: a last-applied annotation can still hold a Secret (applied under another kind's name is impossible, but a
  // List applied with `kubectl apply -f list.yaml` stores each item's own annotation) — masked only if it is a Secret's.
  maskAppliedSecretIn(doc, count);
}

function maskAppliedSecretIn(o: Record<string, Json>, count: MaskCount): void {
  const meta = o.metadata;
  if (!isObj(meta) || !isObj(meta.annotations)) return;
  const text = meta.annotations[LAST_APPLIED];
  if (typeof text !== "string") return;
  try {
    const applied = JSON.parse(text) as Json;
    if (isObj(applied) && applied.kind !== "Secret") return;
  } catch {
    /* unreadable: masked below */
  }
  maskLastApplied(meta, count);
}

export class MaskError extends Error {}

/** Mask a whole JSON response body; throws MaskError when it is not JSON (the engine then refuses the response). */
export function maskJsonBody(body: string, secretRequest: boolean, tokenRequest = false, csrRequest = false): { body: string; count: MaskCount } {
  let doc: Json;
  try {
    doc = JSON.parse(body) as Json;
  } catch {
    throw new MaskError("the API server's response is not valid JSON");
  }
  const count: MaskCount = { values: 0 };
  maskAny(doc, secretRequest, count, csrRequest);
  // A TokenRequest (`serviceaccounts/<name>/token`) answers with a live bearer token in status.token.
  if (tokenRequest && isObj(doc) && doc.kind !== "Status" && isObj(doc.status) && doc.status.token !== undefined && doc.status.token !== null) {
    doc.status.token = MASK_TEXT;
    count.values++;
  }
  return { body: count.values > 0 ? JSON.stringify(doc) : body, count };
}
