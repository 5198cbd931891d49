/**
 * SSH forwarding over the Gatehouse tunnel (docs/PROTOCOL.md §SSH forwarding): the messages, their
 * validation, and the canonical target strings policy decides on.
 *
 *   client ─ssh.forward {kind: local|streamlocal, ch}──▶ worker ─ssh.direct──▶ connector (forwardOut)
 *   client ─ssh.forward {kind: remote|remote-streamlocal}─▶ worker ─ssh.listen──▶ connector (forwardIn)
 *          ◀─ssh.forward-result {id, ok, port}──────────── worker ◀─ssh.listen-result── connector
 *   client ◀─ssh.incoming {ch ≥ 2^31, kind}─────────────── worker ◀─ssh.incoming────── connector
 *          (a connection to a remote listener, an agent request, an X11 client on the host)
 *
 * Channel ids below 2^31 are opened by the client, ids from 2^31 by the connector, so the two
 * sides never collide. A direct channel is confirmed in-band with the channel event {"t":"open"}
 * (or refused with "error" + "close") so the SSH client learns the real outcome of its open.
 *
 * Hosts are canonicalised before policy sees them (IPv4 in any inet_aton spelling → dotted quad,
 * IPv4-mapped IPv6 → IPv4, IPv6 → RFC 5952, names lower-cased without a trailing dot) and the
 * canonical form is what the connector dials: what was decided is what is dialled. Names are
 * resolved by the host, not the gateway — deny lists on names are only as good as DNS; allow
 * lists are the way to confine forwarding.
 *
 * Runtime-neutral: no Node or Workers APIs.
 */
import { normalizeSftpPath } from "./sftp/packets.ts";

/** First channel id of channels the connector opens (remote forwards, agent, X11). */
export const INCOMING_CHANNEL_BASE = 0x8000_0000;

export type ForwardKind = "local" | "streamlocal" | "remote" | "remote-streamlocal";
export type IncomingKind = "remote" | "remote-streamlocal" | "agent" | "x11";

/** Client → worker: open a direct channel (local kinds, with `ch`) or ask for a listener (remote kinds). */
export type ForwardRequest = {
  t: "ssh.forward";
  id: number;
  kind: ForwardKind;
  /** Local kinds: the channel id the client will use (never reused). */
  ch?: number;
  host?: string;
  port?: number;
  path?: string;
  originHost?: string;
  originPort?: number;
  /** Remote kinds: cancel an earlier listener instead (never needs policy: it removes access). */
  cancel?: boolean;
};

/** Worker → connector: open a direct channel on the host (already allowed). */
export type DirectOpen = {
  t: "ssh.direct";
  ch: number;
  kind: "local" | "streamlocal";
  host?: string;
  port?: number;
  path?: string;
  originHost: string;
  originPort: number;
};

/** Worker → connector: start (or cancel) a listener on the host (already allowed). */
export type ListenRequest = {
  t: "ssh.listen";
  id: number;
  kind: "remote" | "remote-streamlocal";
  host?: string;
  port?: number;
  path?: string;
  cancel?: boolean;
};

/** Connector → worker: outcome of ssh.listen. */
export type ListenResult = {
  t: "ssh.listen-result";
  id: number;
  ok: boolean;
  port?: number;
  message?: string;
};

/** Connector → worker → client: the host opened a channel towards the client. */
export type IncomingOpen = {
  t: "ssh.incoming";
  ch: number;
  kind: IncomingKind;
  /** remote: the listener's address and port; x11 / remote: the originator. */
  host?: string;
  port?: number;
  path?: string;
  originHost?: string;
  originPort?: number;
};

/** X11 request details relayed with exec/shell (the cookie is the client's fake cookie, as in OpenSSH). */
export type X11Request = {
  single: boolean;
  protocol: string;
  cookie: string;
  screen: number;
};

const isInt = (v: unknown, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
const isPort = (v: unknown): v is number => isInt(v, 65535);

// ------------------------------------------------------------------ canonical hosts

/** inet_aton: 1–4 parts, each decimal, octal (0…) or hex (0x…); the last part fills the remaining bytes. */
function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]+$/i.test(p)) n = parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = parseInt(p, 10);
    else return null;
    if (!Number.isSafeInteger(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return null;
  const restBytes = 4 - nums.length;
  if (last >= 2 ** (8 * restBytes)) return null;
  const bytes = [...nums];
  for (let i = restBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return bytes;
}

function parseIpv6(text: string): number[] | null {
  if (text.includes("%")) return null; // zone ids are local to the host: refuse rather than guess
  let s = text;
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
    const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(last) ? parseIpv4(last) : null;
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const group = (g: string) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN);
  const head = halves[0] === "" ? [] : halves[0]!.split(":").map(group);
  const rest = halves.length === 2 ? (halves[1] === "" ? [] : halves[1]!.split(":").map(group)) : [];
  if ([...head, ...rest].some((n) => Number.isNaN(n))) return null;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  return [...head, ...new Array<number>(8 - total).fill(0), ...rest];
}

function formatIpv6(g: number[]): string {
  // RFC 5952: longest run (≥ 2) of zero groups becomes "::", first one on ties; lower-case hex.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * The canonical spelling of a forwarding host, or null when it is not a host name or address.
 * `allowAny` admits the remote-forward wildcard bind ("" / "*" → "*").
 */
export function canonicalHost(raw: string, allowAny = false): string | null {
  let h = raw.trim().toLowerCase();
  if (h === "" || h === "*") return allowAny ? "*" : null;
  if (h.length > 255) return null;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.includes(":")) {
    const g = parseIpv6(h);
    if (!g) return null;
    if (g.slice(0, 5).every((n) => n === 0) && g[5] === 0xffff) return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
    return formatIpv6(g);
  }
  if (/^[0-9a-fx.]+$/.test(h) && /^[0-9]/.test(h)) {
    const v4 = parseIpv4(h.replace(/\.$/, ""));
    if (v4) return v4.join(".");
    if (/^[0-9.]+$/.test(h)) return null; // digits and dots that are no address: refuse
  }
  h = h.replace(/\.$/, "");
  if (!/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/.test(h)) return null;
  return h;
}

/** Unix socket paths: absolute, lexically normalised, no NUL. */
export function canonicalSocketPath(raw: string): string | null {
  if (raw.length === 0 || raw.length > 512 || raw.includes("\0") || !raw.startsWith("/")) return null;
  return normalizeSftpPath(raw);
}

/** The string policy matches (`{ ssh: { forward: [...] } }` patterns): `local:db.internal:5432`, `remote:127.0.0.1:8080`, `streamlocal:/run/x.sock`. */
export function forwardTarget(kind: ForwardKind, where: { host?: string; port?: number; path?: string }): string {
  return kind === "local" || kind === "remote" ? `${kind}:${where.host}:${where.port}` : `${kind}:${where.path}`;
}

// ------------------------------------------------------------------ validation

const FORWARD_KINDS: readonly ForwardKind[] = ["local", "streamlocal", "remote", "remote-streamlocal"];
const INCOMING_KINDS: readonly IncomingKind[] = ["remote", "remote-streamlocal", "agent", "x11"];

function endpoint(m: Record<string, unknown>, kind: "tcp" | "unix", allowAny: boolean): { host?: string; port?: number; path?: string } | null {
  if (kind === "unix") {
    const path = typeof m.path === "string" ? canonicalSocketPath(m.path) : null;
    return path ? { path } : null;
  }
  const host = typeof m.host === "string" ? canonicalHost(m.host, allowAny) : null;
  if (!host || !isPort(m.port)) return null;
  return { host, port: m.port };
}

function origin(m: Record<string, unknown>): { originHost: string; originPort: number } {
  const host = typeof m.originHost === "string" ? canonicalHost(m.originHost) : null;
  return { originHost: host ?? "127.0.0.1", originPort: isPort(m.originPort) ? m.originPort : 0 };
}

/** Client → worker `ssh.forward`; null when malformed or when the target is not a host/port or socket path. */
export function parseForwardRequest(m: Record<string, unknown>): ForwardRequest | null {
  if (m.t !== "ssh.forward" || !isInt(m.id, 0xffffffff) || !FORWARD_KINDS.includes(m.kind as ForwardKind)) return null;
  const kind = m.kind as ForwardKind;
  const unix = kind === "streamlocal" || kind === "remote-streamlocal";
  const where = endpoint(m, unix ? "unix" : "tcp", kind === "remote");
  if (!where) return null;
  if (kind === "local" || kind === "streamlocal") {
    if (!isInt(m.ch, INCOMING_CHANNEL_BASE - 1) || m.cancel !== undefined) return null;
    return { t: "ssh.forward", id: m.id, kind, ch: m.ch, ...where, ...origin(m) };
  }
  if (m.ch !== undefined || (m.cancel !== undefined && typeof m.cancel !== "boolean")) return null;
  return { t: "ssh.forward", id: m.id, kind, ...where, ...(m.cancel === true ? { cancel: true } : {}) };
}

export function parseDirectOpen(m: Record<string, unknown>): DirectOpen | null {
  if (m.t !== "ssh.direct" || !isInt(m.ch, INCOMING_CHANNEL_BASE - 1) || (m.kind !== "local" && m.kind !== "streamlocal")) return null;
  const where = endpoint(m, m.kind === "local" ? "tcp" : "unix", false);
  if (!where) return null;
  return { t: "ssh.direct", ch: m.ch, kind: m.kind, ...where, ...origin(m) };
}

export function parseListenRequest(m: Record<string, unknown>): ListenRequest | null {
  if (m.t !== "ssh.listen" || !isInt(m.id, 0xffffffff) || (m.kind !== "remote" && m.kind !== "remote-streamlocal")) return null;
  const where = endpoint(m, m.kind === "remote" ? "tcp" : "unix", true);
  if (!where) return null;
  return { t: "ssh.listen", id: m.id, kind: m.kind, ...where, ...(m.cancel === true ? { cancel: true } : {}) };
}

export function parseListenResult(m: Record<string, unknown>): ListenResult | null {
  if (m.t !== "ssh.listen-result" || !isInt(m.id, 0xffffffff) || typeof m.ok !== "boolean") return null;
  if (m.port !== undefined && !isPort(m.port)) return null;
  return { t: "ssh.listen-result", id: m.id, ok: m.ok, ...(m.port !== undefined ? { port: m.port as number } : {}), ...(typeof m.message === "string" ? { message: m.message.slice(0, 512) } : {}) };
}

export function parseIncomingOpen(m: Record<string, unknown>): IncomingOpen | null {
  if (m.t !== "ssh.incoming" || !isInt(m.ch, 0xffffffff) || m.ch < INCOMING_CHANNEL_BASE || !INCOMING_KINDS.includes(m.kind as IncomingKind)) return null;
  const kind = m.kind as IncomingKind;
  const out: IncomingOpen = { t: "ssh.incoming", ch: m.ch, kind };
  if (kind === "remote") {
    const where = endpoint(m, "tcp", true);
    if (!where) return null;
    Object.assign(out, where, origin(m));
  } else if (kind === "remote-streamlocal") {
    const where = endpoint(m, "unix", false);
    if (!where) return null;
    Object.assign(out, where);
  } else if (kind === "x11") {
    Object.assign(out, origin(m));
  }
  return out;
}

export function parseX11Request(v: unknown): X11Request | undefined | null {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.single !== "boolean" || typeof o.protocol !== "string" || !/^[\x21-\x7e]{1,64}$/.test(o.protocol)) return null;
  if (typeof o.cookie !== "string" || !/^[0-9a-f]{2,256}$/i.test(o.cookie) || !isInt(o.screen, 1000)) return null;
  return { single: o.single, protocol: o.protocol, cookie: o.cookie.toLowerCase(), screen: o.screen };
}
