/**
 * The hash chain. Every event commits to its predecessor:
 *
 *   genesis  = hex(SHA-256(utf8(session id)))
 *   hash(e)  = hex(SHA-256(ascii(e.prev) || utf8(canonical(e without "hash"))))
 *
 * `prev` is both inside the canonical form and prefixed to it, so a verifier that only checks
 * links (prev == previous hash) and one that only recomputes hashes both see an alteration.
 */
import { canonicalize } from "../encoding/jcs.ts";
import { sha256Hex, utf8 } from "./bytes.ts";
import { sha256HexSync } from "./sha256.ts";
import { AUDIT_FORMAT_VERSION, type AuditEvent, type UnchainedEvent } from "./types.ts";

export async function genesisHash(sessionId: string): Promise<string> {
  return sha256Hex(sessionId);
}

/** Recompute an event's hash from its content (ignores any `hash` field present). */
export async function computeEventHash(event: Omit<AuditEvent, "hash"> | AuditEvent): Promise<string> {
  const { hash: _ignored, ...rest } = event as AuditEvent;
  const body = canonicalize(rest);
  const prefix = utf8(rest.prev);
  const content = utf8(body);
  const all = new Uint8Array(prefix.length + content.length);
  all.set(prefix, 0);
  all.set(content, prefix.length);
  return sha256Hex(all);
}

/** Chain one event onto (seq, prev). Pure: the caller owns the head. */
export async function chainEvent<T extends AuditEvent["type"]>(
  event: UnchainedEvent<T>,
  seq: number,
  prev: string,
): Promise<AuditEvent<T>> {
  const unhashed = { ...event, v: AUDIT_FORMAT_VERSION, seq, prev } as Omit<AuditEvent<T>, "hash">;
  const hash = await computeEventHash(unhashed as Omit<AuditEvent, "hash">);
  return { ...unhashed, hash } as AuditEvent<T>;
}

/** In-memory chain head for producers that build a whole trail (tests, tools). */
export class ChainBuilder {
  private seq = 0;
  private prev: string | undefined;
  constructor(readonly sessionId: string) {}

  get nextSeq(): number {
    return this.seq;
  }

  async head(): Promise<string> {
    this.prev ??= await genesisHash(this.sessionId);
    return this.prev;
  }

  async append<T extends AuditEvent["type"]>(event: UnchainedEvent<T>): Promise<AuditEvent<T>> {
    const chained = await chainEvent(event, this.seq, await this.head());
    this.seq++;
    this.prev = chained.hash;
    return chained;
  }
}

/**
 * The recorder's fast path: chain one event whose `data` (and `truncated`) are already in canonical
 * form, synchronously, with one canonical encoding per event. The envelope members are written in
 * JCS order by hand (data, hash, prev, seq, truncated?, ts, type, v — all names ASCII, so UTF-16
 * order is byte order); `golden.test.ts` and `chain.test.ts` prove the bytes equal
 * `canonicalize(chainEvent(...))`. Returns the hash and the trail line (canonical JSON with hash).
 */
export function chainEncoded(
  encoded: { data: string; truncated?: string; ts: number; type: string },
  seq: number,
  prev: string,
): { hash: string; line: string } {
  const tail = `"prev":"${prev}","seq":${canonicalize(seq)},${encoded.truncated !== undefined ? `"truncated":${encoded.truncated},` : ""}"ts":${canonicalize(encoded.ts)},"type":${canonicalize(encoded.type)},"v":${AUDIT_FORMAT_VERSION}}`;
  const head = `{"data":${encoded.data},`;
  const hash = sha256HexSync(prev + head + tail);
  return { hash, line: `${head}"hash":"${hash}",${tail}` };
}

/** genesis hash without an await (same value as genesisHash). */
export function genesisHashSync(sessionId: string): string {
  return sha256HexSync(sessionId);
}
