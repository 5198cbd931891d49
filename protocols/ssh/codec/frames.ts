/**
 * SSH over the Gatehouse tunnel (docs/PROTOCOL.md §SSH): structured frames, not an opaque SSH
 * byte stream. The client terminates SSH locally and sends what the SSH client asked for as
 * CONTROL messages; channel bytes travel as DATA with a 5-byte channel header. The worker
 * checks every request against policy before the connector (which holds the real SSH session)
 * sees it.
 *
 *   DATA payload:  u32 BE channel id | u8 stream | bytes
 *     stream 0: stdin (client → target) / stdout (target → client)
 *     stream 1: stderr (target → client)
 *     stream 2: a channel event, UTF-8 JSON ({"t":"eof"}, {"t":"exit",…}, {"t":"close"}, {"t":"error",…}).
 *       Events travel in-band so they stay ordered with the channel's bytes under flow control
 *       (a CONTROL frame is sent at once and could overtake DATA still waiting for credit).
 *
 * Forwarding (ssh -L/-W/-R/-A/-X) messages live in forward.ts.
 *
 * Runtime-neutral: no Node or Workers APIs.
 */
import { INCOMING_CHANNEL_BASE, parseForwardRequest, parseX11Request, type ForwardRequest, type IncomingOpen, type X11Request } from "./forward.ts";

export const SSH_DATA_HEADER = 5;
export const STREAM_STDOUT = 0;
export const STREAM_STDERR = 1;
export const STREAM_EVENT = 2;
/** Channels per session (OpenSSH multiplexing opens a few; more is an abuse). */
export const MAX_SSH_CHANNELS = 64;
/** Largest command line accepted in an exec request. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** Exit status used for refusals (like a shell's "command found but not executable"). */
export const EXIT_REFUSED = 126;
/** Exit status when the gateway or the target failed (like ssh's own 255). */
export const EXIT_GATEWAY_ERROR = 255;

export interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

/** Client → worker (and, once checked, worker → connector). */
export type SshClientMessage =
  | { t: "ssh.start"; client?: string }
  | ({ t: "ssh.exec"; ch: number; command: string; pty?: PtyRequest; env?: Record<string, string> } & SessionForwarding)
  | ({ t: "ssh.shell"; ch: number; pty?: PtyRequest; env?: Record<string, string> } & SessionForwarding)
  | { t: "ssh.subsystem"; ch: number; name: string; env?: Record<string, string> }
  | { t: "ssh.window"; ch: number; cols: number; rows: number; width: number; height: number }
  | { t: "ssh.signal"; ch: number; name: string }
  /** A forwarding request (forward.ts; the connector never sees it unless allowed). */
  | ForwardRequest;

/** Agent (-A) and X11 (-X) forwarding ride on the exec/shell request of the session channel, as in SSH. */
export type SessionForwarding = {
  agent?: true;
  x11?: X11Request;
};

/** Worker → client CONTROL messages. */
export type SshServerMessage =
  | { t: "ssh.ready" }
  /** Answer to a refused ssh.forward, or to a remote listener request (with the bound port). */
  | { t: "ssh.forward-result"; id: number; ok: boolean; message: string; port?: number }
  | IncomingOpen;

/**
 * In-band channel events (DATA stream 2), in both directions:
 *   eof    no more bytes in this direction        close  the channel is closed
 *   exit   (target → client) exit status or signal
 *   error  (connector → worker) the target refused to open the channel or run the request
 *   open   (target → client) a forwarded channel (ssh.direct) was opened by the host
 */
export type ChannelEvent =
  | { t: "open" }
  | { t: "eof" }
  | { t: "close" }
  | { t: "exit"; code?: number; signal?: string; coreDumped?: boolean; message?: string }
  | { t: "error"; message: string };

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeChannelEvent(ch: number, event: ChannelEvent): Uint8Array {
  return encodeSshData(ch, STREAM_EVENT, enc.encode(JSON.stringify(event)));
}

export function parseChannelEvent(bytes: Uint8Array): ChannelEvent {
  if (bytes.length > 4096) throw new SshFrameError("channel event too large");
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    throw new SshFrameError("channel event is not JSON");
  }
  const o = v as Record<string, unknown>;
  if (typeof v !== "object" || v === null) throw new SshFrameError("channel event is not an object");
  switch (o.t) {
    case "open":
    case "eof":
    case "close":
      return { t: o.t };
    case "exit": {
      const e: ChannelEvent = { t: "exit" };
      if (typeof o.code === "number" && Number.isInteger(o.code) && o.code >= 0 && o.code <= 0xffffffff) e.code = o.code;
      if (typeof o.signal === "string" && /^[A-Z0-9]{1,32}$/.test(o.signal)) e.signal = o.signal;
      if (o.coreDumped === true) e.coreDumped = true;
      if (typeof o.message === "string") e.message = o.message.slice(0, 1024);
      if (e.code === undefined && e.signal === undefined) throw new SshFrameError("exit event without code or signal");
      return e;
    }
    case "error":
      return { t: "error", message: typeof o.message === "string" ? o.message.slice(0, 1024) : "channel error" };
    default:
      throw new SshFrameError("unknown channel event");
  }
}

export class SshFrameError extends Error {
  override name = "SshFrameError";
}

export function encodeSshData(ch: number, stream: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(SSH_DATA_HEADER + bytes.length);
  new DataView(out.buffer).setUint32(0, ch >>> 0);
  out[4] = stream;
  out.set(bytes, SSH_DATA_HEADER);
  return out;
}

export function decodeSshData(payload: Uint8Array): { ch: number; stream: number; bytes: Uint8Array } {
  if (payload.length < SSH_DATA_HEADER) throw new SshFrameError("SSH DATA frame shorter than its channel header");
  const ch = new DataView(payload.buffer, payload.byteOffset, SSH_DATA_HEADER).getUint32(0);
  const stream = payload[4]!;
  if (stream !== STREAM_STDOUT && stream !== STREAM_STDERR && stream !== STREAM_EVENT) throw new SshFrameError(`unknown SSH stream ${stream}`);
  return { ch, stream, bytes: payload.subarray(SSH_DATA_HEADER) };
}

const isInt = (v: unknown, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
const isStr = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

function validPty(p: unknown): PtyRequest | undefined | null {
  if (p === undefined) return undefined;
  if (typeof p !== "object" || p === null) return null;
  const o = p as Record<string, unknown>;
  if (!isStr(o.term, 64) || !isInt(o.cols, 10_000) || !isInt(o.rows, 10_000) || !isInt(o.width, 100_000) || !isInt(o.height, 100_000)) return null;
  return { term: o.term, cols: o.cols, rows: o.rows, width: o.width, height: o.height };
}

function validEnv(e: unknown): Record<string, string> | undefined | null {
  if (e === undefined) return undefined;
  if (typeof e !== "object" || e === null || Array.isArray(e)) return null;
  const out: Record<string, string> = {};
  const entries = Object.entries(e as Record<string, unknown>);
  if (entries.length > 64) return null;
  for (const [k, v] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(k) || !isStr(v, 4096)) return null;
    out[k] = v;
  }
  return out;
}

function validSessionForwarding(m: Record<string, unknown>): SessionForwarding | null {
  if (m.agent !== undefined && m.agent !== true) return null;
  const x11 = parseX11Request(m.x11);
  if (x11 === null) return null;
  return { ...(m.agent === true ? { agent: true as const } : {}), ...(x11 ? { x11 } : {}) };
}

/**
 * Validate a client control message: shapes and bounds. Returns null for anything malformed
 * (the worker ends the session: nothing unchecked is forwarded).
 */
export function parseSshClientMessage(m: { t: string; [k: string]: unknown }): SshClientMessage | null {
  const ch = m.ch;
  // Session channels are opened by the client: ids below INCOMING_CHANNEL_BASE (forward.ts).
  const chOk = isInt(ch, INCOMING_CHANNEL_BASE - 1);
  switch (m.t) {
    case "ssh.start":
      return m.client === undefined || isStr(m.client, 256) ? { t: "ssh.start", ...(m.client !== undefined ? { client: m.client as string } : {}) } : null;
    case "ssh.exec": {
      const pty = validPty(m.pty);
      const env = validEnv(m.env);
      const fwd = validSessionForwarding(m);
      if (!chOk || !isStr(m.command, MAX_COMMAND_BYTES) || pty === null || env === null || fwd === null) return null;
      return { t: "ssh.exec", ch, command: m.command, ...(pty ? { pty } : {}), ...(env ? { env } : {}), ...fwd };
    }
    case "ssh.shell": {
      const pty = validPty(m.pty);
      const env = validEnv(m.env);
      const fwd = validSessionForwarding(m);
      if (!chOk || pty === null || env === null || fwd === null) return null;
      return { t: "ssh.shell", ch, ...(pty ? { pty } : {}), ...(env ? { env } : {}), ...fwd };
    }
    case "ssh.subsystem": {
      const env = validEnv(m.env);
      if (!chOk || !isStr(m.name, 256) || env === null) return null;
      return { t: "ssh.subsystem", ch, name: m.name, ...(env ? { env } : {}) };
    }
    case "ssh.window":
      if (!chOk || !isInt(m.cols, 10_000) || !isInt(m.rows, 10_000) || !isInt(m.width, 100_000) || !isInt(m.height, 100_000)) return null;
      return { t: "ssh.window", ch, cols: m.cols, rows: m.rows, width: m.width, height: m.height };
    case "ssh.signal":
      if (!chOk || !isStr(m.name, 32) || !/^[A-Z0-9]+$/.test(m.name)) return null;
      return { t: "ssh.signal", ch, name: m.name };
    case "ssh.forward":
      return parseForwardRequest(m);
    default:
      return null;
  }
}

const SAFE_LOCALE = /^(|C|POSIX|C\.(UTF-8|utf8)|[A-Za-z]{2,3}(_[A-Za-z]{2})?\.(UTF-8|utf8)(@[A-Za-z0-9]+)?)$/;

/** Environment variables forwarded to the target (others are dropped and recorded): locale only,
 * and only C/POSIX/UTF-8 locales. */
export function forwardedEnv(env: Record<string, string> | undefined): { kept: Record<string, string>; dropped: string[] } {
  const kept: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(env ?? {})) {
    // Only C/POSIX and UTF-8 locales: bash parses the command in the client's LC_CTYPE, and in
    // BIG5/GBK/SJIS a multibyte character may end in 0x5C or 0x60 — a `\` or backtick to the gateway's
    // parser, part of a letter to bash's (the command would not mean what was decided).
    if ((k === "LANG" || k.startsWith("LC_")) && SAFE_LOCALE.test(v)) kept[k] = v;
    else dropped.push(k);
  }
  return { kept, dropped };
}
