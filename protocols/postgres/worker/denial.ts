/**
 * How a refused statement is answered without ever reaching the database, while keeping the
 * client's and the server's protocol state in step.
 *
 * The refused Query/Parse/FunctionCall is replaced by a *sentinel*: a statement that fails in
 * PostgreSQL's parser (`gatehouse_denied_<nonce>` is a syntax error, so nothing is planned or
 * executed). The server then does exactly what it does for any failing statement — aborts the
 * current transaction block, skips the rest of an extended-protocol batch until Sync, and sends
 * ReadyForQuery with the right status — and the gateway rewrites that one ErrorResponse (found
 * by its nonce) into SQLSTATE 42501 naming the rule. Nothing of the refused text is sent.
 */
import { errorResponse, encodeParse, encodeQuery } from "../codec/codec.ts";

export interface PendingDenial {
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

const MAX_PENDING = 1024;

export class DenialTracker {
  private readonly pending = new Map<string, PendingDenial>();

  private register(denial: PendingDenial): string {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    const nonce = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    // A sentinel whose error never comes back (skipped after an earlier error in the same batch)
    // stays here; bound the map so a hostile client cannot grow it.
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(nonce, denial);
    return `gatehouse_denied_${nonce}`;
  }

  sentinelQuery(denial: PendingDenial): Uint8Array {
    return encodeQuery(this.register(denial));
  }

  sentinelParse(statementName: string, denial: PendingDenial): Uint8Array {
    return encodeParse(statementName, this.register(denial));
  }

  /**
   * If this server error is the answer to one of our sentinels, the error to send instead.
   * `message` is the server's M field.
   */
  rewrite(message: string | undefined): Uint8Array | null {
    if (!message) return null;
    const at = message.indexOf("gatehouse_denied_");
    if (at < 0) return null;
    const nonce = message.slice(at + 17, at + 17 + 24);
    const denial = this.pending.get(nonce);
    if (!denial) return null;
    this.pending.delete(nonce);
    return errorResponse({ severity: "ERROR", ...denial });
  }
}
