/**
 * Masking of SFTP file contents (SSH_FXP_DATA replies to SSH_FXP_READ) and names, exactly and
 * without breaking the protocol.
 *
 * - **Same length.** Each match is overwritten with as many `*` bytes, so the reply keeps its
 *   length and every file offset stays valid (a client that resumes or reads in parallel still
 *   assembles the file correctly, with the secret overwritten).
 * - **Nothing is missed at read boundaries.** The gateway asks the server for a little more than
 *   the client asked: READ_BEHIND bytes before the offset and READ_AHEAD after the end (up to
 *   16 KiB each, as long as the longest viable tail of a stream). Detectors see the read with that context, so a secret that starts before the
 *   client's offset or ends after its last byte is still found and its part inside the read
 *   overwritten — a client reading a file in tiny pieces, or starting mid-secret, gets no raw
 *   piece of it. The client gets exactly the bytes it asked for (never the extra context).
 * - **Short replies.** When the server returns less than asked (end of file, or its own read
 *   limit), the end of what came may still be the start of a secret: the reply is cut before that
 *   viable tail (a short read, which SFTP clients re-request), unless the tail is all of it — then
 *   it is the end of the file and masked as it stands. A read whose offset is at or past the end
 *   of the file is answered SSH_FX_EOF, as the server would have.
 * - **Names.** File names and `ls -l` lines in SSH_FXP_NAME replies (directory listings,
 *   realpath, readlink) are masked in place, same length: a file named after a secret is listed
 *   with `*` in its name (and cannot be opened by that name — fail closed).
 */
import { SftpProtocolError, SFTP, FX, encodeStatus } from "../codec/sftp/packets.ts";
import { findMatches, viableRawStart, type SpanScanner } from "../codec/stream-window.ts";
import { terminalViews } from "../codec/terminal-view.ts";
import type { Shape } from "../codec/match-shapes.ts";

const READ_BEHIND = 16384;
const READ_AHEAD = 16384;
/** Reads in flight per channel (OpenSSH keeps at most 64; a client with more is refused). */
const MAX_PENDING_READS = 1024;
const MAX_U32 = 0xffffffff;

interface PendingRead {
  behind: number;
  len: number;
}

export class SftpReadMasker {
  private readonly pending = new Map<number, PendingRead>();

  constructor(
    private readonly scanner: SpanScanner,
    private readonly shapes: readonly Shape[],
  ) {}

  /** A client READ (already allowed): the same request widened by the context the masker needs. */
  widenRead(packet: Uint8Array): Uint8Array {
    const view = new DataView(packet.buffer, packet.byteOffset, packet.length);
    if (packet.length < 9 + 4) throw new SftpProtocolError("truncated SFTP READ");
    const id = view.getUint32(5);
    const handleLen = view.getUint32(9);
    const at = 13 + handleLen;
    if (packet.length !== at + 12) throw new SftpProtocolError("malformed SFTP READ");
    const offset = view.getBigUint64(at);
    const len = view.getUint32(at + 8);
    if (this.pending.has(id)) throw new SftpProtocolError(`SFTP request id ${id} reused while a read with it is in flight`);
    if (this.pending.size >= MAX_PENDING_READS) throw new SftpProtocolError(`more than ${MAX_PENDING_READS} SFTP reads in flight`);
    const behind = offset < BigInt(READ_BEHIND) ? Number(offset) : READ_BEHIND;
    this.pending.set(id, { behind, len });
    const out = packet.slice();
    const w = new DataView(out.buffer);
    w.setBigUint64(at, offset - BigInt(behind));
    w.setUint32(at + 8, Math.min(MAX_U32, len + behind + READ_AHEAD));
    return out;
  }

  /**
   * A server reply: the DATA of a widened read becomes the masked bytes the client asked for; the
   * names in a NAME reply (directory listings, realpath) are masked in place, same length.
   */
  reply(packet: Uint8Array): Uint8Array {
    const type = packet[4];
    if (type === SFTP.NAME) return this.maskNames(packet);
    if ((type !== SFTP.DATA && type !== SFTP.STATUS) || packet.length < 9) return packet;
    const view = new DataView(packet.buffer, packet.byteOffset, packet.length);
    const id = view.getUint32(5);
    const read = this.pending.get(id);
    if (!read) return packet;
    this.pending.delete(id);
    if (type === SFTP.STATUS) return packet;
    if (packet.length < 13) throw new SftpProtocolError("truncated SFTP DATA");
    const n = view.getUint32(9);
    if (13 + n !== packet.length) throw new SftpProtocolError("malformed SFTP DATA");
    const data = packet.subarray(13);
    if (data.length <= read.behind) return encodeStatus(id, FX.EOF, "End of file");
    const start = read.behind;
    let end = Math.min(data.length, start + read.len);
    const tv = terminalViews(data);
    const matches = findMatches(this.scanner, data, tv);
    if (data.length - end < READ_AHEAD) {
      // Less context after the read than asked: its end may be the start of a secret.
      let cut = viableRawStart(data, tv, this.shapes, READ_AHEAD);
      for (const m of matches) if (m.start < cut && m.end > cut) cut = m.start;
      if (cut > start && cut < end) end = cut;
    }
    const out = data.slice(start, end);
    const released = [];
    for (const m of matches) {
      if (m.end <= start || m.start >= end) continue;
      out.fill(0x2a, Math.max(m.start, start) - start, Math.min(m.end, end) - start);
      if (m.start >= start) released.push({ rule: m.rule, start: m.start, end: m.end, outStart: 0, outEnd: 0 });
    }
    this.scanner.count(released);
    const reply = new Uint8Array(13 + out.length);
    const w = new DataView(reply.buffer);
    w.setUint32(0, 9 + out.length);
    reply[4] = SFTP.DATA;
    w.setUint32(5, id);
    w.setUint32(9, out.length);
    reply.set(out, 13);
    return reply;
  }

  /** NAME: id, count, then per entry filename, longname (`ls -l` line) and attributes. */
  private maskNames(packet: Uint8Array): Uint8Array {
    const out = packet.slice();
    const view = new DataView(out.buffer);
    const need = (at: number, n: number) => {
      if (at + n > out.length) throw new SftpProtocolError("truncated SFTP NAME");
    };
    need(9, 4);
    const count = view.getUint32(9);
    let at = 13;
    const released = [];
    for (let k = 0; k < count; k++) {
      for (let field = 0; field < 2; field++) {
        need(at, 4);
        const n = view.getUint32(at);
        need(at + 4, n);
        const text = out.subarray(at + 4, at + 4 + n);
        for (const m of findMatches(this.scanner, text)) {
          text.fill(0x2a, m.start, m.end);
          released.push({ rule: m.rule, start: m.start, end: m.end, outStart: 0, outEnd: 0 });
        }
        at += 4 + n;
      }
      at = skipAttrs(view, at, need);
    }
    this.scanner.count(released);
    return out;
  }
}

/** SFTP v3 ATTRS: flags, then size, uid/gid, permissions, times, extended pairs as flagged. */
function skipAttrs(view: DataView, at: number, need: (at: number, n: number) => void): number {
  need(at, 4);
  const flags = view.getUint32(at);
  at += 4;
  if (flags & 0x1) at += 8;
  if (flags & 0x2) at += 8;
  if (flags & 0x4) at += 4;
  if (flags & 0x8) at += 8;
  if (flags & 0x80000000) {
    need(at, 4);
    const pairs = view.getUint32(at);
    at += 4;
    for (let k = 0; k < pairs * 2; k++) {
      need(at, 4);
      at += 4 + view.getUint32(at);
    }
  }
  need(at, 0);
  return at;
}
