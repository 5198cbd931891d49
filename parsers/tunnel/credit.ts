/**
 * Credit-based flow control for one direction of a tunnel (see docs/PROTOCOL.md §Flow control).
 *
 * SendWindow: how many DATA payload bytes we may still send to the peer.
 * ReceiveWindow: how many bytes the peer may still send us; we return credit once bytes
 * are *consumed* (handed downstream), so a slow consumer stops the producer instead of
 * making anyone buffer without limit.
 */
import { INITIAL_WINDOW, FrameError } from "./frames.ts";

export class SendWindow {
  private available: number;
  constructor(initial = INITIAL_WINDOW) {
    this.available = initial;
  }
  get credit(): number {
    return this.available;
  }
  /** True when at least one byte may be sent. A frame may overdraw the window by itself. */
  get open(): boolean {
    return this.available > 0;
  }
  spend(bytes: number): void {
    this.available -= bytes;
  }
  grant(bytes: number): void {
    this.available += bytes;
  }
}

export class ReceiveWindow {
  /** Bytes received and not yet credited back. */
  private outstanding = 0;
  /** Bytes consumed since the last credit we granted. */
  private consumedSinceGrant = 0;
  constructor(
    readonly window = INITIAL_WINDOW,
    /** Peers may overdraw by at most one maximal frame. */
    readonly slack = 1024 * 1024,
  ) {}

  /** Account for a DATA frame received; throws when the peer ignored our window. */
  receive(bytes: number): void {
    this.outstanding += bytes;
    if (this.outstanding > this.window + this.slack) {
      throw new FrameError(`peer exceeded its flow-control window (${this.outstanding} > ${this.window})`);
    }
  }

  /**
   * Mark bytes as consumed. Returns the credit to grant now (0 when it is better to
   * batch: credit is returned in quarter-window steps to keep CREDIT frames rare).
   */
  consume(bytes: number): number {
    this.consumedSinceGrant += bytes;
    if (this.consumedSinceGrant >= this.window / 4) {
      const grant = this.consumedSinceGrant;
      this.consumedSinceGrant = 0;
      this.outstanding -= grant;
      return grant;
    }
    return 0;
  }
}
