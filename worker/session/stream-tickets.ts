/**
 * The session object's side of stream tickets (parsers/tunnel/stream-ticket.ts): it keeps the hash
 * of the ticket the hub sent the connector it chose — never the ticket — and admits the stream that
 * presents it, once, before it expires. Only the latest request's ticket counts: a session that asks
 * the hub again invalidates the earlier one the moment it asks (supersede), whether or not the new
 * request is ever answered.
 */
import { streamTicketHash } from "../../parsers/tunnel/stream-ticket.ts";
import { sameSecret } from "../../parsers/encoding/same-secret.ts";

interface IssuedTicket {
  hash: string;
  connectorId: string;
  expiresAt: number;
  used: boolean;
}

/** Refused: `withdrawn` (the session is over: 410), else the ticket proves nothing (401). */
export type TicketVerdict = { ok: true; connectorId: string } | { ok: false; reason: string; withdrawn?: true };

export class StreamTickets {
  private issued: IssuedTicket | undefined;
  private ended = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** The hub chose `connectorId` and sent it the ticket whose hash is `hash`. */
  issue(hash: string, connectorId: string, ttlMs: number): void {
    this.issued = { hash, connectorId, expiresAt: this.now() + ttlMs, used: false };
  }

  /** The session asks the hub again: the ticket issued before admits nothing from now on. */
  supersede(): void {
    this.issued = undefined;
  }

  /** The session ended (or was told to end): no ticket admits a stream any more. */
  withdraw(): void {
    this.ended = true;
  }

  /** Admit the stream presenting `ticket` (once), or say why not. */
  async admit(ticket: string): Promise<TicketVerdict> {
    const hash = await streamTicketHash(ticket);
    // Read after the hash is computed: a session that asked the hub again meanwhile holds a newer
    // ticket (or none yet), and only that one counts (an earlier ticket in flight must not be judged against the
    // entry it replaced).
    const issued = this.issued;
    if (!issued) return { ok: false, reason: "no stream ticket was issued for this session" };
    // Compared as hashes, in constant time: the session never holds a ticket an error could leak.
    if (!sameSecret(hash, issued.hash)) return { ok: false, reason: "the stream ticket is not this session's" };
    if (this.ended) return { ok: false, reason: "the session was ended before its connector stream attached", withdrawn: true };
    if (issued.used) return { ok: false, reason: "the stream ticket was already used" };
    issued.used = true; // one use, whatever the stream's fate
    if (this.now() > issued.expiresAt) return { ok: false, reason: "the stream ticket expired" };
    return { ok: true, connectorId: issued.connectorId };
  }
}
