/**
 * A watch response (`?watch=true`, JSON) is a stream of JSON documents, one event per line
 * (`{"type":"ADDED","object":{…}}\n`), sent as the server has them: it is read incrementally and
 * each complete event is masked and passed on at once, never buffered to the end. A line longer
 * than the limit ends the stream with an error (bounded memory); so does a line that is not JSON.
 */
import { maskAny, type MaskCount } from "./secret-mask.ts";
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

export class WatchStreamError extends Error {}

export class WatchEventMasker {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  private readonly encoder = new TextEncoder();
  readonly count: MaskCount = { values: 0 };
  events = 0;

  constructor(
    private readonly secretRequest: boolean,
    private readonly maxEventBytes = 16 * 1024 * 1024,
    /** The request's resource is CSRs: every event's object carries an issued certificate (secret-mask.ts). */
    private readonly csrRequest = false,
  ) {}

  /** Bytes from the server → bytes for the client (complete, masked events only). */
  push(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 0x0a) continue;
      this.pending.push(chunk.subarray(start, i));
      out.push(this.event(this.take()));
      start = i + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.slice(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxEventBytes) throw new WatchStreamError(`a watch event is larger than ${this.maxEventBytes} bytes`);
    }
    return concat(out);
  }

  /** End of the server's stream: a partial last event is an error (it could not be masked). */
  end(): Uint8Array {
    if (this.pendingBytes === 0 && this.pending.every((p) => p.length === 0)) return new Uint8Array(0);
    const rest = this.take();
    if (rest.every((b) => b === 0x20 || b === 0x0d || b === 0x09)) return new Uint8Array(0);
    // Go's json.Encoder ends every event with "\n"; a stream cut mid-event is passed on only if the event is whole.
    return this.event(rest).subarray(0, -1);
  }

  private take(): Uint8Array {
    const all = concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private event(bytes: Uint8Array): Uint8Array {
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      throw new WatchStreamError("a watch event is not UTF-8");
    }
    if (text.trim() === "") return this.encoder.encode(`${text}\n`);
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new WatchStreamError("a watch event is not JSON");
    }
    this.events++;
    const before = this.count.values;
    maskAny(doc, this.secretRequest, this.count, this.csrRequest);
    return this.encoder.encode(`${this.count.values > before ? JSON.stringify(doc) : text}\n`);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}
