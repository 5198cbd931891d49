/**
 * The trail as a SIEM receives it (worker/export/): records in two shapes and signed batches.
 *
 *  - `jsonl`: the trail lines themselves (events and checkpoints, canonical JSON), so a receiver
 *    can verify the chain and the checkpoints with the published audit keys, as `tools/verify-trail.py`;
 *  - `ocsf`: one OCSF-shaped record per event (Open Cybersecurity Schema Framework 1.x classes:
 *    Authentication 3002 for session start/end, Datastore Activity 6005 for SQL, SSH Activity 4007 for
 *    SSH, HTTP Activity 4002 for HTTP, Base Event 0 otherwise), with the event's hash as `metadata.uid` and the whole event under
 *    `unmapped.gatehouse`, so nothing is lost in the mapping.
 *
 * A batch is signed with the gateway's audit key (Ed25519) over the canonical JSON of its
 * header fields and the SHA-256 of its body: the receiver checks origin and integrity with the
 * keys the worker publishes (`GET /v1/audit/keys`), and `session`/`from`/`to` let it drop the
 * duplicates that at-least-once delivery can produce.
 */
import { canonicalize } from "../encoding/jcs.ts";
import { base64urlDecode, sha256Hex } from "./bytes.ts";
import type { AuditSigner } from "./signing.ts";
import type { AuditEvent, AuditIdentity, AuditPublicKey, TrailLine } from "./types.ts";

export type SiemFormat = "jsonl" | "ocsf";
export const SIEM_FORMATS: readonly SiemFormat[] = ["jsonl", "ocsf"];

export const BATCH_HEADER = "gatehouse-batch";
export const BATCH_SIGNATURE_HEADER = "gatehouse-batch-signature";

/** What the session's first event says, carried into every OCSF record of the session. */
export interface SiemSessionContext {
  session: string;
  resource?: string;
  resourceType?: string;
  identity?: AuditIdentity;
  clientAddr?: string;
}

export function sessionContext(lines: readonly TrailLine[], session: string): SiemSessionContext {
  const start = lines.find((l) => l.type === "session.start") as AuditEvent<"session.start"> | undefined;
  if (!start) return { session };
  return { session, resource: start.data.resource, resourceType: start.data.resource_type, identity: start.data.identity, clientAddr: start.data.client_addr };
}

const OCSF_VERSION = "1.1.0";

/** One trail event as an OCSF-shaped record. Checkpoints have no OCSF form (jsonl carries them). */
export function toOcsf(event: AuditEvent, ctx: SiemSessionContext): Record<string, unknown> {
  const actor = ctx.identity ? { user: { uid: `${ctx.identity.issuer}#${ctx.identity.subject}`, name: String(ctx.identity.claims.email ?? ctx.identity.claims.repository ?? ctx.identity.subject) }, idp: { name: ctx.identity.issuer } } : undefined;
  const base = {
    time: event.ts,
    metadata: { version: OCSF_VERSION, product: { name: "Gatehouse", vendor_name: "Gatehouse" }, uid: event.hash, correlation_uid: ctx.session, sequence: event.seq, log_name: event.type },
    ...(actor ? { actor } : {}),
    ...(ctx.clientAddr ? { src_endpoint: { ip: ctx.clientAddr } } : {}),
    ...(ctx.resource ? { dst_endpoint: { svc_name: ctx.resource, type: ctx.resourceType } } : {}),
    unmapped: { gatehouse: event },
  };
  const decision = event.type === "decision" ? (event as AuditEvent<"decision">).data : undefined;
  const denied = decision !== undefined && decision.effect === "deny";
  const severity = denied ? 3 : event.type === "truncated" || event.type === "approval.denied" ? 2 : 1; // 1 informational, 2 low, 3 medium
  if (event.type === "session.start" || event.type === "session.end") {
    const end = event.type === "session.end" ? (event as AuditEvent<"session.end">).data : undefined;
    const failed = end !== undefined && end.status !== "ok";
    return { ...base, class_uid: 3002, class_name: "Authentication", category_uid: 3, category_name: "Identity & Access Management", activity_id: end ? 2 : 1, activity_name: end ? "Logoff" : "Logon", type_uid: 300200 + (end ? 2 : 1), severity_id: failed ? 2 : 1, status_id: failed ? 2 : 1, ...(end ? { status_detail: end.reason } : {}) };
  }
  const classUid = ctx.resourceType === "ssh" ? 4007 : ctx.resourceType === "http" ? 4002 : ctx.resourceType === "postgres" || ctx.resourceType === "mysql" ? 6005 : 0;
  const className = classUid === 4007 ? "SSH Activity" : classUid === 4002 ? "HTTP Activity" : classUid === 6005 ? "Datastore Activity" : "Base Event";
  const categoryUid = classUid === 0 ? 0 : Math.floor(classUid / 1000);
  const record: Record<string, unknown> = { ...base, class_uid: classUid, class_name: className, category_uid: categoryUid, activity_id: 99, activity_name: event.type, type_uid: classUid * 100 + 99, severity_id: severity };
  if (event.type === "query") record.message = (event as AuditEvent<"query">).data.text;
  if (decision) {
    record.status_id = denied ? 2 : 1;
    record.status = decision.effect;
    record.disposition = decision.effect;
    record.policy = { name: decision.rule };
    record.status_detail = decision.reason;
  }
  return record;
}

export interface BatchMeta {
  sink: string;
  session: string;
  format: SiemFormat;
  /** seq range (jsonl: line index range) of the records, inclusive. */
  from: number;
  to: number;
  count: number;
}

/** The body of a batch: one JSON record per line, newline-terminated. */
export function batchBody(records: readonly unknown[]): string {
  return records.map((r) => (typeof r === "string" ? r : canonicalize(r))).join("\n") + "\n";
}

function signingInput(meta: BatchMeta, bodySha256: string, kid: string): Uint8Array {
  return new TextEncoder().encode(canonicalize({ ...meta, body_sha256: bodySha256, kid }));
}

/** Headers that sign a batch: `gatehouse-batch` (canonical JSON of the metadata) and its signature. */
export async function signBatch(signer: AuditSigner, meta: BatchMeta, body: string): Promise<Record<string, string>> {
  const bodySha256 = await sha256Hex(body);
  const sig = await signer.sign(signingInput(meta, bodySha256, signer.kid));
  return {
    [BATCH_HEADER]: canonicalize({ ...meta, body_sha256: bodySha256 }),
    [BATCH_SIGNATURE_HEADER]: `kid=${signer.kid}; alg=Ed25519; sig=${sig}`,
  };
}

export type BatchCheck = { ok: true; meta: BatchMeta; kid: string } | { ok: false; reason: string };

/** What a receiver does: check a batch against the gateway's published keys. */
export async function verifyBatch(headers: { get(name: string): string | null }, body: string, keys: readonly AuditPublicKey[]): Promise<BatchCheck> {
  const metaText = headers.get(BATCH_HEADER);
  const sigText = headers.get(BATCH_SIGNATURE_HEADER);
  if (!metaText || !sigText) return { ok: false, reason: "unsigned batch" };
  const m = /^kid=([^;\s]+); alg=Ed25519; sig=([A-Za-z0-9_-]+)$/.exec(sigText);
  if (!m) return { ok: false, reason: "malformed signature header" };
  let parsed: BatchMeta & { body_sha256: string };
  try {
    parsed = JSON.parse(metaText) as BatchMeta & { body_sha256: string };
  } catch {
    return { ok: false, reason: "malformed batch header" };
  }
  const { body_sha256, ...meta } = parsed;
  if (body_sha256 !== (await sha256Hex(body))) return { ok: false, reason: "body does not match its digest" };
  const key = keys.find((k) => k.kid === m[1]);
  if (!key) return { ok: false, reason: `unknown key ${m[1]}` };
  const pub = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: key.x }, { name: "Ed25519" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, pub, base64urlDecode(m[2]!) as Uint8Array<ArrayBuffer>, signingInput(meta, body_sha256, m[1]!) as Uint8Array<ArrayBuffer>);
  return ok ? { ok: true, meta, kid: m[1]! } : { ok: false, reason: "bad signature" };
}
