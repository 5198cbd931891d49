/**
 * SFTP version 3 (draft-ietf-secsh-filexfer-02, what OpenSSH speaks) — just enough to decide
 * policy per operation: frame the byte stream into packets, decode client requests into
 * (operation, paths), decode the server's HANDLE replies (to know which path a handle names),
 * and encode the STATUS reply that refuses a request. Codec only: never touches a socket.
 */
/** The SFTP operations policy rules name (`{ ssh: { sftp: [read, write…] } }`): the codec sorts every request into one. */
export const SFTP_OPERATIONS = ["read", "write", "list", "remove", "rename", "mkdir", "rmdir", "setstat", "symlink", "extended"] as const;
export type SftpOperation = (typeof SFTP_OPERATIONS)[number];

export const SFTP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const FXF = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;
export const FX = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, OP_UNSUPPORTED: 8 } as const;

/** OpenSSH refuses packets over 256 KiB; allow a little more for other servers, never unbounded. */
export const MAX_SFTP_PACKET = 256 * 1024 + 1024;

export class SftpProtocolError extends Error {
  override name = "SftpProtocolError";
}

/** Splits a byte stream into whole packets (4-byte length + body). */
export class SftpFramer {
  private buf = new Uint8Array(0);

  /** Append bytes; returns every complete packet (length prefix included). */
  push(bytes: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buf.length + bytes.length);
    merged.set(this.buf);
    merged.set(bytes, this.buf.length);
    const out: Uint8Array[] = [];
    let off = 0;
    while (merged.length - off >= 4) {
      const len = new DataView(merged.buffer, merged.byteOffset + off, 4).getUint32(0);
      if (len < 1 || len > MAX_SFTP_PACKET) throw new SftpProtocolError(`SFTP packet length ${len} out of range`);
      if (merged.length - off < 4 + len) break;
      out.push(merged.slice(off, off + 4 + len));
      off += 4 + len;
    }
    this.buf = merged.slice(off);
    return out;
  }

  get buffered(): number {
    return this.buf.length;
  }
}

const utf8 = new TextDecoder("utf-8");

class Reader {
  off: number;
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    start: number,
  ) {
    this.off = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  u8(): number {
    if (this.off + 1 > this.bytes.length) throw new SftpProtocolError("truncated SFTP packet");
    return this.bytes[this.off++]!;
  }
  u32(): number {
    if (this.off + 4 > this.bytes.length) throw new SftpProtocolError("truncated SFTP packet");
    const v = this.view.getUint32(this.off);
    this.off += 4;
    return v;
  }
  bytesField(): Uint8Array {
    const n = this.u32();
    if (this.off + n > this.bytes.length) throw new SftpProtocolError("truncated SFTP string");
    const v = this.bytes.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  string(): string {
    return utf8.decode(this.bytesField());
  }
  handle(): string {
    // Handles are opaque bytes; hex keeps them exact as map keys.
    return Array.from(this.bytesField(), (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/** A decoded client request, as policy sees it. */
export interface SftpRequest {
  type: number;
  /** Request id (0 for INIT). */
  id: number;
  /** Packet type name for the audit trail: "open", "remove", "posix-rename@openssh.com"… */
  name: string;
  /**
   * The policy operation, or null for requests that need no decision of their own: INIT, and
   * operations on a handle already decided when it was opened (read/write/close/readdir/fstat).
   */
  op: SftpOperation | null;
  /** Paths the request names, as sent (relative paths are relative to the login directory). */
  paths: string[];
  /** Handle the request operates on (hex), when it names one. */
  handle?: string;
  /** OPEN only: the open flags. */
  pflags?: number;
}

/** Decode a client→server packet (length prefix included). */
export function decodeSftpRequest(packet: Uint8Array): SftpRequest {
  const r = new Reader(packet, 4);
  const type = r.u8();
  if (type === SFTP.INIT) return { type, id: 0, name: "init", op: null, paths: [] };
  const id = r.u32();
  const req = (name: string, op: SftpOperation | null, paths: string[], extra: Partial<SftpRequest> = {}): SftpRequest => ({ type, id, name, op, paths, ...extra });
  switch (type) {
    case SFTP.OPEN: {
      const path = r.string();
      const pflags = r.u32();
      const writes = (pflags & (FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC)) !== 0;
      // read+write opens are decided as write (and read separately by the caller: see openOperations).
      return req("open", writes ? "write" : "read", [path], { pflags });
    }
    case SFTP.CLOSE:
      return req("close", null, [], { handle: r.handle() });
    case SFTP.READ:
      return req("read", null, [], { handle: r.handle() });
    case SFTP.WRITE:
      return req("write", null, [], { handle: r.handle() });
    case SFTP.FSTAT:
      return req("fstat", null, [], { handle: r.handle() });
    case SFTP.READDIR:
      return req("readdir", null, [], { handle: r.handle() });
    case SFTP.FSETSTAT:
      return req("fsetstat", "setstat", [], { handle: r.handle() });
    case SFTP.LSTAT:
      return req("lstat", "list", [r.string()]);
    case SFTP.STAT:
      return req("stat", "list", [r.string()]);
    case SFTP.REALPATH:
      return req("realpath", "list", [r.string()]);
    case SFTP.READLINK:
      return req("readlink", "list", [r.string()]);
    case SFTP.OPENDIR:
      return req("opendir", "list", [r.string()]);
    case SFTP.SETSTAT:
      return req("setstat", "setstat", [r.string()]);
    case SFTP.REMOVE:
      return req("remove", "remove", [r.string()]);
    case SFTP.MKDIR:
      return req("mkdir", "mkdir", [r.string()]);
    case SFTP.RMDIR:
      return req("rmdir", "rmdir", [r.string()]);
    case SFTP.RENAME: {
      const from = r.string();
      return req("rename", "rename", [from, r.string()]);
    }
    case SFTP.SYMLINK: {
      // OpenSSH sends (targetpath, linkpath), the reverse of the draft; both are checked anyway.
      const a = r.string();
      return req("symlink", "symlink", [a, r.string()]);
    }
    case SFTP.EXTENDED: {
      const name = r.string();
      switch (name) {
        case "posix-rename@openssh.com": {
          const from = r.string();
          return req(name, "rename", [from, r.string()]);
        }
        case "hardlink@openssh.com": {
          const from = r.string();
          return req(name, "symlink", [from, r.string()]);
        }
        case "statvfs@openssh.com":
        case "expand-path@openssh.com":
          return req(name, "list", [r.string()]);
        case "lsetstat@openssh.com":
          return req(name, "setstat", [r.string()]);
        case "fstatvfs@openssh.com":
        case "fsync@openssh.com":
          return req(name, null, [], { handle: r.handle() });
        case "limits@openssh.com":
          return req(name, "list", []);
        // OpenSSH's sftp sends it on every `ls -l` to name file owners: a read-only lookup of
        // user and group names by id, decided like listing (no refusal noise where listing is allowed).
        case "users-groups-by-id@openssh.com":
          return req(name, "list", []);
        default:
          return req(name, "extended", []);
      }
    }
    default:
      return { type, id, name: `type-${type}`, op: "extended", paths: [] };
  }
}

/** A server→client HANDLE reply: which request id it answers and the handle (hex). */
export function decodeHandleReply(packet: Uint8Array): { id: number; handle: string } | null {
  const r = new Reader(packet, 4);
  if (r.u8() !== SFTP.HANDLE) return null;
  const id = r.u32();
  return { id, handle: r.handle() };
}

/** The reply type of a server→client packet (STATUS, HANDLE…), and its id. */
export function replyHeader(packet: Uint8Array): { type: number; id: number } {
  const r = new Reader(packet, 4);
  const type = r.u8();
  return { type, id: type === SFTP.VERSION ? 0 : r.u32() };
}

/** SSH_FXP_STATUS reply (the refusal the client sees instead of the server's answer). */
export function encodeStatus(id: number, code: number, message: string): Uint8Array {
  const msg = new TextEncoder().encode(message);
  const lang = new Uint8Array(0);
  const len = 1 + 4 + 4 + 4 + msg.length + 4 + lang.length;
  const out = new Uint8Array(4 + len);
  const v = new DataView(out.buffer);
  v.setUint32(0, len);
  out[4] = SFTP.STATUS;
  v.setUint32(5, id);
  v.setUint32(9, code);
  v.setUint32(13, msg.length);
  out.set(msg, 17);
  v.setUint32(17 + msg.length, lang.length);
  return out;
}

/**
 * Lexical normalisation of an SFTP path for policy: collapse `//`, `.` and `..` (symlinks on the
 * host are not resolved). Relative paths stay relative (they are relative to the login
 * directory); a relative path that climbs above it keeps its leading `..`.
 */
export function normalizeSftpPath(path: string): string {
  const abs = path.startsWith("/");
  const parts: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!abs) parts.push("..");
      continue;
    }
    parts.push(seg);
  }
  const joined = parts.join("/");
  if (abs) return `/${joined}`;
  return joined === "" ? "." : joined;
}
