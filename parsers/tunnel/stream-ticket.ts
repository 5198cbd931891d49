/**
 * Stream tickets (docs/PROTOCOL.md "Stream admission"): the one-use secret a hub shard hands the
 * connector it chose for a session, over that connector's already-admitted control channel, with
 * the `open` request. The connector presents it when it dials `/v1/connector/streams/<session>`
 * (`Authorization: Bearer ghst_…`, never in the URL); the session object, which holds only the
 * ticket's SHA-256, accepts the stream once. So a session's stream is admitted without asking the
 * connector registry (hub shard 0) anything: holding the ticket proves holding the control
 * channel, and that channel was admitted in full (signature, not revoked, key current, jti unused).
 *
 * Runtime-neutral (Web Crypto only): the worker mints and checks, the connector recognises.
 */
import { base64urlEncode } from "../encoding/hex-base64.ts";
import { sha256Hex } from "../audit/bytes.ts";

/** Recognisable in logs and secret scanners, as enrolment tokens are (`ghenrol_`). */
export const STREAM_TICKET_PREFIX = "ghst_";
/** 32 random bytes, base64url without padding: 43 characters. */
const STREAM_TICKET = /^ghst_[A-Za-z0-9_-]{43}$/;
/** How long a ticket may wait for its stream (the session gives up on the stream after 15 s anyway). */
export const STREAM_TICKET_TTL_MS = 30_000;

export function isStreamTicket(value: unknown): value is string {
  return typeof value === "string" && STREAM_TICKET.test(value);
}

/** A fresh ticket: 256 bits from the platform's CSPRNG. */
export function newStreamTicket(): string {
  return STREAM_TICKET_PREFIX + base64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
}

/** SHA-256 hex of a ticket: what the session object keeps instead of the ticket. */
export function streamTicketHash(ticket: string): Promise<string> {
  return sha256Hex(ticket);
}
