/**
 * Splits backend bytes into whole messages during the startup phase, when the connector itself
 * is the PostgreSQL client. It owns copies of what it is given (socket chunks and pg-protocol's
 * parser both reuse buffers), bounds what it holds, and hands back the untouched remainder when
 * the connector switches to raw relaying after ReadyForQuery.
 */
import { TargetError } from "../../../connector/errors.ts";

/** Authentication and parameter messages are tiny; anything near this is hostile or broken. */
export const MAX_STARTUP_MESSAGE_BYTES = 256 * 1024;

export interface BackendMessageBytes {
  /** Message type byte ('R', 'S', 'K', 'Z', 'E', …). */
  code: number;
  /** The whole message: type byte, length, body. A private copy. */
  bytes: Buffer;
}

export class StartupMessageReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly resourceName: string) {}

  /** Add a chunk; returns every complete message it finished. */
  push(chunk: Buffer): BackendMessageBytes[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const messages: BackendMessageBytes[] = [];
    let offset = 0;
    while (this.pending.length - offset >= 5) {
      const length = this.pending.readUInt32BE(offset + 1);
      if (length < 4 || length + 1 > MAX_STARTUP_MESSAGE_BYTES) {
        throw new TargetError("08P01", `gatehouse: resource ${this.resourceName}: target sent an invalid message length during startup`);
      }
      if (this.pending.length - offset < length + 1) break;
      messages.push({ code: this.pending[offset]!, bytes: Buffer.from(this.pending.subarray(offset, offset + length + 1)) });
      offset += length + 1;
    }
    this.pending = offset === 0 ? this.pending : Buffer.from(this.pending.subarray(offset));
    if (this.pending.length > MAX_STARTUP_MESSAGE_BYTES) {
      throw new TargetError("08P01", `gatehouse: resource ${this.resourceName}: target startup message too large`);
    }
    return messages;
  }

  /** Bytes received after the last complete message (normally none). */
  takeRemainder(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}
