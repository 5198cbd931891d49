/**
 * Gatehouse tunnel framing, version 1 (see docs/PROTOCOL.md).
 *
 * Every WebSocket message on a tunnel is binary; its first byte says what it is.
 * The codec only turns bytes into frames and back — it never touches a socket.
 */

import { TUNNEL_PROTOCOL_VERSION } from "./version.ts";

export const TUNNEL_SUBPROTOCOL = `gatehouse.v${TUNNEL_PROTOCOL_VERSION}`;

export const FrameType = {
  /** Opaque protocol bytes of the stream (PostgreSQL wire messages, SSH channel data…). */
  Data: 0x01,
  /** Flow control: u32 big-endian number of additional DATA payload bytes the sender may now send. */
  Credit: 0x02,
  /** A JSON control message: `{ "t": "<kind>", ... }`. */
  Control: 0x03,
} as const;

/** The credit each side starts with, in DATA payload bytes, before any CREDIT frame. */
export const INITIAL_WINDOW = 1024 * 1024;
/** Largest WebSocket message either side may send (frame type byte included). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Largest DATA payload, so a DATA frame always fits in MAX_FRAME_BYTES. */
export const MAX_DATA_PAYLOAD = MAX_FRAME_BYTES - 1;

export type ControlMessage = { t: string; [key: string]: unknown };

export type Frame =
  | { type: typeof FrameType.Data; payload: Uint8Array }
  | { type: typeof FrameType.Credit; bytes: number }
  | { type: typeof FrameType.Control; message: ControlMessage };

export class FrameError extends Error {
  override name = "FrameError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** DATA frame: one byte of type, then the payload (copied once). */
export function encodeData(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_DATA_PAYLOAD) throw new FrameError(`DATA payload of ${payload.length} bytes exceeds ${MAX_DATA_PAYLOAD}`);
  const out = new Uint8Array(payload.length + 1);
  out[0] = FrameType.Data;
  out.set(payload, 1);
  return out;
}

/**
 * Split a payload of any size into DATA frames no larger than MAX_FRAME_BYTES.
 * Small payloads (the common case) produce exactly one frame.
 */
export function* encodeDataChunks(payload: Uint8Array): Generator<Uint8Array> {
  for (let off = 0; off < payload.length; off += MAX_DATA_PAYLOAD) {
    yield encodeData(payload.subarray(off, Math.min(payload.length, off + MAX_DATA_PAYLOAD)));
  }
}

export function encodeCredit(bytes: number): Uint8Array {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0xffffffff) throw new FrameError(`invalid credit ${bytes}`);
  const out = new Uint8Array(5);
  out[0] = FrameType.Credit;
  new DataView(out.buffer).setUint32(1, bytes);
  return out;
}

export function encodeControl(message: ControlMessage): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const out = new Uint8Array(json.length + 1);
  out[0] = FrameType.Control;
  out.set(json, 1);
  if (out.length > MAX_FRAME_BYTES) throw new FrameError("control message too large");
  return out;
}

/**
 * Decode one WebSocket message. DATA payloads are views into `bytes` (no copy):
 * copy them if they must outlive the message buffer.
 */
export function decodeFrame(input: ArrayBuffer | Uint8Array | string): Frame {
  if (typeof input === "string") throw new FrameError("text WebSocket messages are not part of the tunnel protocol");
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length === 0) throw new FrameError("empty frame");
  if (bytes.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  switch (bytes[0]) {
    case FrameType.Data:
      return { type: FrameType.Data, payload: bytes.subarray(1) };
    case FrameType.Credit: {
      if (bytes.length !== 5) throw new FrameError("CREDIT frame must be 5 bytes");
      const n = new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1);
      if (n === 0) throw new FrameError("CREDIT of zero bytes");
      return { type: FrameType.Credit, bytes: n };
    }
    case FrameType.Control: {
      let message: unknown;
      try {
        message = JSON.parse(decoder.decode(bytes.subarray(1)));
      } catch {
        throw new FrameError("CONTROL frame is not UTF-8 JSON");
      }
      if (typeof message !== "object" || message === null || Array.isArray(message) || typeof (message as ControlMessage).t !== "string") {
        throw new FrameError("CONTROL frame must be a JSON object with a string field t");
      }
      return { type: FrameType.Control, message: message as ControlMessage };
    }
    default:
      throw new FrameError(`unknown frame type 0x${bytes[0]!.toString(16).padStart(2, "0")}`);
  }
}
