/**
 * One WebSocket of a session (the client tunnel or the connector stream) with its flow-control
 * state: what we may still send it (SendWindow), what it may still send us (ReceiveWindow), and
 * DATA frames queued while it has no credit. Memory per hop is bounded by the peer's window plus
 * what the session lets in before it stops granting credit upstream.
 */
import { encodeControl, encodeCredit, FrameType, MAX_DATA_PAYLOAD, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../../parsers/tunnel/credit.ts";

/** How long an ending session waits for the peer's credit to deliver what it already accepted. */
export const DRAIN_TIMEOUT_MS = 30_000;

export class Hop {
  readonly sendWindow = new SendWindow();
  readonly receiveWindow = new ReceiveWindow();
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private open = true;
  /** Set by closeAfterDrain while DATA frames still wait for credit: what to send once they are out. */
  private closing: { control: ControlMessage; code: number; reason: string; timer: ReturnType<typeof setTimeout> } | undefined;
  /** Called when the queue has fully drained after being backlogged. */
  onDrained: () => void = () => {};
  bytesSent = 0;
  bytesReceived = 0;
  /** A buffer the next DATA frame may be built in instead of a fresh array (lendFrame). */
  private lent: Uint8Array | null = null;

  constructor(
    readonly ws: WebSocket,
    readonly name: "client" | "connector",
  ) {}

  get backlogged(): boolean {
    return this.queued > 0;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Lend this hop a buffer nobody reads or writes any more (the message buffer a chunk from the
   * other hop arrived in, once the engine copied it): the next DATA frame that fits is built in it
   * and handed to the socket, instead of a fresh array. workerd's send() keeps a reference to the
   * frame's bytes, not a copy, until the message leaves (after the output gate), so a frame is
   * never a buffer anyone will write again — a lent one is used once. null withdraws the loan.
   */
  lendFrame(buffer: Uint8Array | null): void {
    this.lent = buffer;
  }

  /** Send the concatenation of `parts` as DATA, copying each byte once into the frame. */
  sendParts(parts: readonly Uint8Array[]): void {
    let total = 0;
    for (const p of parts) total += p.length;
    if (total === 0 || !this.open || this.closing) return;
    const lent = this.lent;
    if (lent !== null && total < lent.length && total <= MAX_DATA_PAYLOAD && !parts.some((p) => p.buffer === lent.buffer)) {
      this.lent = null;
      const frame = lent.subarray(0, 1 + total);
      frame[0] = FrameType.Data;
      let off = 1;
      for (const p of parts) {
        frame.set(p, off);
        off += p.length;
      }
      this.enqueue(frame);
      return;
    }
    let frame = new Uint8Array(1 + Math.min(total, MAX_DATA_PAYLOAD));
    frame[0] = FrameType.Data;
    let off = 1;
    for (const p of parts) {
      let pos = 0;
      while (pos < p.length) {
        const n = Math.min(p.length - pos, frame.length - off);
        frame.set(p.subarray(pos, pos + n), off);
        off += n;
        pos += n;
        total -= n;
        if (off === frame.length) {
          this.enqueue(frame);
          if (total > 0) {
            frame = new Uint8Array(1 + Math.min(total, MAX_DATA_PAYLOAD));
            frame[0] = FrameType.Data;
            off = 1;
          }
        }
      }
    }
  }

  sendData(payload: Uint8Array): void {
    this.sendParts([payload]);
  }

  sendControl(message: ControlMessage): void {
    if (!this.open) return;
    try {
      this.ws.send(encodeControl(message));
    } catch {
      this.open = false;
    }
  }

  /** Return credit to the peer for bytes we consumed. */
  grantCredit(consumedBytes: number): void {
    const credit = this.receiveWindow.consume(consumedBytes);
    if (credit > 0 && this.open) {
      try {
        this.ws.send(encodeCredit(credit));
      } catch {
        this.open = false;
      }
    }
  }

  /** Account for a DATA frame received from the peer (throws when the peer ignores our window). */
  received(bytes: number): void {
    this.bytesReceived += bytes;
    this.receiveWindow.receive(bytes);
  }

  /** The peer granted us credit. */
  credited(bytes: number): void {
    this.sendWindow.grant(bytes);
    this.flush();
  }

  /**
   * End this hop after the DATA frames it already accepted: they still wait for the peer's credit
   * when a session ends right after a large answer (an HTTP `Connection: close` body, the last rows
   * before an error), and closing at once would cut them off. The closing control message goes after
   * them, then the socket closes. A peer that grants no credit for DRAIN_TIMEOUT_MS is closed anyway:
   * the queue is bounded by the window the session granted upstream, and the wait must be bounded too.
   */
  closeAfterDrain(control: ControlMessage, code: number, reason: string): void {
    if (!this.open || this.closing) return;
    if (this.queued === 0) {
      this.sendControl(control);
      this.close(code, reason);
      return;
    }
    const timer = setTimeout(() => {
      this.closing = undefined;
      this.close(1011, "peer granted no credit for the rest of the session's data");
    }, DRAIN_TIMEOUT_MS);
    this.closing = { control, code, reason, timer };
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    if (this.closing) {
      clearTimeout(this.closing.timer);
      this.closing = undefined;
    }
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      // already closed
    }
  }

  markClosed(): void {
    this.open = false;
  }

  private enqueue(frame: Uint8Array): void {
    if (this.queued === 0 && this.sendWindow.open) this.transmit(frame);
    else {
      this.queue.push(frame);
      this.queued += frame.length - 1;
    }
  }

  private transmit(frame: Uint8Array): void {
    try {
      this.ws.send(frame);
      this.sendWindow.spend(frame.length - 1);
      this.bytesSent += frame.length - 1;
    } catch {
      this.open = false;
    }
  }

  private flush(): void {
    const wasBacklogged = this.queued > 0;
    while (this.queue.length > 0 && this.sendWindow.open && this.open) {
      const frame = this.queue.shift()!;
      this.queued -= frame.length - 1;
      this.transmit(frame);
    }
    if (wasBacklogged && this.queued === 0) {
      const closing = this.closing;
      if (closing) {
        clearTimeout(closing.timer);
        this.closing = undefined;
        this.sendControl(closing.control);
        this.close(closing.code, closing.reason);
        return;
      }
      this.onDrained();
    }
  }
}
