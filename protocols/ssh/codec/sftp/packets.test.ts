import { describe, expect, it } from "vitest";
import { SftpFramer, decodeSftpRequest, decodeHandleReply, encodeStatus, normalizeSftpPath, replyHeader, SFTP, FXF, FX, SftpProtocolError, MAX_SFTP_PACKET } from "./packets.ts";

const enc = new TextEncoder();

/** Build a packet: u32 length, type, then fields (numbers = u32, strings/bytes = SSH strings). */
function packet(type: number, ...fields: Array<number | string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(type)];
  for (const f of fields) {
    if (typeof f === "number") {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, f);
      parts.push(b);
    } else {
      const bytes = typeof f === "string" ? enc.encode(f) : f;
      const b = new Uint8Array(4 + bytes.length);
      new DataView(b.buffer).setUint32(0, bytes.length);
      b.set(bytes, 4);
      parts.push(b);
    }
  }
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(4 + len);
  new DataView(out.buffer).setUint32(0, len);
  let off = 4;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe("SFTP v3 codec", () => {
  it("frames packets split at any byte", () => {
    const a = packet(SFTP.OPEN, 7, "/etc/passwd", FXF.READ, 0);
    const b = packet(SFTP.REMOVE, 8, "/tmp/x");
    const all = new Uint8Array([...a, ...b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const f = new SftpFramer();
      const got = [...f.push(all.subarray(0, cut)), ...f.push(all.subarray(cut))];
      expect(got.map((p) => decodeSftpRequest(p).name)).toEqual(["open", "remove"]);
      expect(f.buffered).toBe(0);
    }
  });

  it("refuses absurd packet lengths", () => {
    const f = new SftpFramer();
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, MAX_SFTP_PACKET + 1);
    expect(() => f.push(bad)).toThrow(SftpProtocolError);
    expect(() => decodeSftpRequest(packet(SFTP.OPEN, 1).subarray(0, 9))).toThrow(SftpProtocolError);
  });

  it("maps requests to policy operations and paths", () => {
    const cases: Array<[Uint8Array, string | null, string[]]> = [
      [packet(SFTP.OPEN, 1, "/a", FXF.READ, 0), "read", ["/a"]],
      [packet(SFTP.OPEN, 1, "/a", FXF.WRITE | FXF.CREAT | FXF.TRUNC, 0), "write", ["/a"]],
      [packet(SFTP.OPEN, 1, "/a", FXF.APPEND, 0), "write", ["/a"]],
      [packet(SFTP.REMOVE, 1, "/a"), "remove", ["/a"]],
      [packet(SFTP.RENAME, 1, "/a", "/b"), "rename", ["/a", "/b"]],
      [packet(SFTP.MKDIR, 1, "/d", 0), "mkdir", ["/d"]],
      [packet(SFTP.RMDIR, 1, "/d"), "rmdir", ["/d"]],
      [packet(SFTP.SETSTAT, 1, "/a", 0), "setstat", ["/a"]],
      [packet(SFTP.SYMLINK, 1, "/target", "/link"), "symlink", ["/target", "/link"]],
      [packet(SFTP.STAT, 1, "/a"), "list", ["/a"]],
      [packet(SFTP.REALPATH, 1, "."), "list", ["."]],
      [packet(SFTP.OPENDIR, 1, "/d"), "list", ["/d"]],
      [packet(SFTP.READ, 1, Uint8Array.of(1, 2), 0, 0, 10), null, []],
      [packet(SFTP.FSETSTAT, 1, Uint8Array.of(1, 2), 0), "setstat", []],
      [packet(SFTP.EXTENDED, 1, "posix-rename@openssh.com", "/a", "/b"), "rename", ["/a", "/b"]],
      [packet(SFTP.EXTENDED, 1, "hardlink@openssh.com", "/a", "/b"), "symlink", ["/a", "/b"]],
      [packet(SFTP.EXTENDED, 1, "statvfs@openssh.com", "/"), "list", ["/"]],
      [packet(SFTP.EXTENDED, 1, "users-groups-by-id@openssh.com", Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 0), Uint8Array.of(0, 0, 0, 0)), "list", []],
      [packet(SFTP.EXTENDED, 1, "something@vendor"), "extended", []],
      [packet(99, 1), "extended", []],
    ];
    for (const [p, op, paths] of cases) {
      const r = decodeSftpRequest(p);
      expect([r.op, r.paths], r.name).toEqual([op, paths]);
    }
    expect(decodeSftpRequest(packet(SFTP.INIT, 3)).name).toBe("init");
    expect(decodeSftpRequest(packet(SFTP.READ, 5, Uint8Array.of(0xab, 0x01), 0, 0, 10)).handle).toBe("ab01");
  });

  it("encodes the refusal STATUS and reads HANDLE replies", () => {
    const status = encodeStatus(42, FX.PERMISSION_DENIED, "gatehouse: refused");
    expect(replyHeader(status)).toEqual({ type: SFTP.STATUS, id: 42 });
    expect(new DataView(status.buffer).getUint32(9)).toBe(FX.PERMISSION_DENIED);
    expect(new TextDecoder().decode(status.subarray(17, 17 + 18))).toBe("gatehouse: refused");
    expect(decodeHandleReply(packet(SFTP.HANDLE, 9, Uint8Array.of(0, 255)))).toEqual({ id: 9, handle: "00ff" });
    expect(decodeHandleReply(status)).toBeNull();
  });

  it("normalises paths lexically", () => {
    expect(normalizeSftpPath("/srv//upload/./a/../b")).toBe("/srv/upload/b");
    expect(normalizeSftpPath("/../../etc/passwd")).toBe("/etc/passwd");
    expect(normalizeSftpPath("../x")).toBe("../x");
    expect(normalizeSftpPath("a/../../x")).toBe("../x");
    expect(normalizeSftpPath(".")).toBe(".");
    expect(normalizeSftpPath("")).toBe(".");
  });
});
