/**
 * Per-operation SFTP policy on one channel. Client → server bytes are framed into SFTP packets;
 * each request is decided before it is forwarded, and a refused one is answered here with
 * SSH_FXP_STATUS PERMISSION_DENIED (the server never sees it). Server → client bytes pass
 * unchanged unless masking applies (then file contents are masked, see sftp-read-mask.ts); their
 * HANDLE replies are read to know which path each handle names, so operations on handles
 * (fsetstat) are decided on the path too.
 */
import { SftpFramer, decodeSftpRequest, decodeHandleReply, encodeStatus, normalizeSftpPath, FX, FXF, SFTP, SftpProtocolError, type SftpRequest } from "../codec/sftp/packets.ts";
import type { SftpOperation } from "../policy/ssh.ts";
import type { SftpReadMasker } from "./sftp-read-mask.ts";

export interface SftpVerdict {
  allowed: boolean;
  /** Shown to the SFTP client in the STATUS message when refused. */
  message: string;
}

export type SftpDecide = (request: SftpRequest, op: SftpOperation, paths: string[]) => Promise<SftpVerdict>;

const MAX_TRACKED = 4096;

export class SftpGate {
  private readonly fromClientFramer = new SftpFramer();
  private readonly fromServerFramer = new SftpFramer();
  private trackingBroken = false;
  private readonly pendingOpens = new Map<number, string>();
  private readonly handles = new Map<string, string>();
  private initialised = false;

  constructor(
    private readonly decide: SftpDecide,
    private readonly readMasker?: SftpReadMasker,
  ) {}

  /** Returns what to forward to the server and what to answer the client directly. */
  async fromClient(bytes: Uint8Array): Promise<{ forward: Uint8Array[]; reply: Uint8Array[] }> {
    const forward: Uint8Array[] = [];
    const reply: Uint8Array[] = [];
    for (const packet of this.fromClientFramer.push(bytes)) {
      const req = decodeSftpRequest(packet);
      if (req.type === SFTP.INIT) {
        if (this.initialised) throw new SftpProtocolError("second SFTP INIT");
        this.initialised = true;
        forward.push(packet);
        continue;
      }
      if (!this.initialised) throw new SftpProtocolError("SFTP request before INIT");
      const verdict = await this.check(req);
      if (verdict.allowed) {
        if ((req.type === SFTP.OPEN || req.type === SFTP.OPENDIR) && req.paths[0] !== undefined) this.remember(this.pendingOpens, req.id, normalizeSftpPath(req.paths[0]));
        if (req.type === SFTP.CLOSE && req.handle) this.handles.delete(req.handle);
        forward.push(req.type === SFTP.READ && this.readMasker ? this.readMasker.widenRead(packet) : packet);
      } else {
        reply.push(encodeStatus(req.id, req.op === "extended" && req.name.startsWith("type-") ? FX.OP_UNSUPPORTED : FX.PERMISSION_DENIED, verdict.message));
      }
    }
    return { forward, reply };
  }

  /**
   * Server → client bytes: without masking they are only observed (handle replies) and null says
   * "forward them unchanged"; with masking, the whole packets to send (file contents masked). A
   * server stream that cannot be framed while masking applies throws SftpProtocolError (fail
   * closed).
   */
  fromServer(bytes: Uint8Array): Uint8Array[] | null {
    if (this.readMasker) {
      const packets = this.fromServerFramer.push(bytes);
      for (const packet of packets) this.observe(packet);
      return packets.map((p) => this.readMasker!.reply(p));
    }
    if (this.trackingBroken) return null;
    try {
      for (const packet of this.fromServerFramer.push(bytes)) this.observe(packet);
    } catch {
      // Without reliable tracking, handle operations that need a path are refused (fail closed).
      this.trackingBroken = true;
      this.handles.clear();
    }
    return null;
  }

  private observe(packet: Uint8Array): void {
    if (packet[4] !== SFTP.HANDLE) {
      if (packet[4] === SFTP.STATUS && packet.length >= 9) this.pendingOpens.delete(new DataView(packet.buffer, packet.byteOffset).getUint32(5));
      return;
    }
    const h = decodeHandleReply(packet);
    if (!h) return;
    const path = this.pendingOpens.get(h.id);
    this.pendingOpens.delete(h.id);
    if (path !== undefined) this.remember(this.handles, h.handle, path);
  }

  private async check(req: SftpRequest): Promise<SftpVerdict> {
    if (req.op === null) return { allowed: true, message: "" };
    let paths = req.paths.map(normalizeSftpPath);
    if (req.handle !== undefined && paths.length === 0 && req.op === "setstat") {
      const path = this.handles.get(req.handle);
      if (path === undefined) return { allowed: false, message: "gatehouse: refused: the gateway cannot tell which file this handle names" };
      paths = [path];
    }
    if (req.type === SFTP.OPEN && req.op === "write" && (req.pflags! & FXF.READ) !== 0) {
      const read = await this.decide(req, "read", paths);
      if (!read.allowed) return read;
    }
    return this.decide(req, req.op, paths);
  }

  private remember<K>(map: Map<K, string>, key: K, value: string): void {
    if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value as K);
    map.set(key, value);
  }
}
