import { describe, expect, it } from "vitest";
import { decodeSshData, encodeChannelEvent, encodeSshData, parseChannelEvent, parseSshClientMessage, forwardedEnv, STREAM_EVENT, SshFrameError } from "./frames.ts";

describe("SSH tunnel frames", () => {
  it("round-trips channel data and events", () => {
    const d = decodeSshData(encodeSshData(7, 1, Uint8Array.of(1, 2, 3)));
    expect([d.ch, d.stream, [...d.bytes]]).toEqual([7, 1, [1, 2, 3]]);
    const e = decodeSshData(encodeChannelEvent(3, { t: "exit", code: 126 }));
    expect(e.stream).toBe(STREAM_EVENT);
    expect(parseChannelEvent(e.bytes)).toEqual({ t: "exit", code: 126 });
    expect(() => decodeSshData(Uint8Array.of(0, 0, 0, 1, 9))).toThrow(SshFrameError);
    expect(() => decodeSshData(Uint8Array.of(0, 0))).toThrow(SshFrameError);
    expect(() => parseChannelEvent(new TextEncoder().encode('{"t":"exit"}'))).toThrow(SshFrameError);
  });

  it("validates client control messages strictly", () => {
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0, command: "ls" })).toEqual({ t: "ssh.exec", ch: 0, command: "ls" });
    expect(parseSshClientMessage({ t: "ssh.exec", ch: -1, command: "ls" })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0, command: 5 })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0, command: "x".repeat(70_000) })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.shell", ch: 1, pty: { term: "xterm", cols: 80, rows: 24, width: 0, height: 0 } })).not.toBeNull();
    expect(parseSshClientMessage({ t: "ssh.shell", ch: 1, pty: { term: "xterm", cols: "80" } })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.shell", ch: 1, env: { "BAD-NAME": "x" } })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.signal", ch: 1, name: "KILL; rm" })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.forward", id: 1, kind: "local", ch: 2, host: "127.0.0.1", port: 22 })).toMatchObject({ ch: 2, host: "127.0.0.1", port: 22 });
    expect(parseSshClientMessage({ t: "ssh.forward", id: 1, kind: "local", host: "127.0.0.1", port: 22 })).toBeNull(); // a direct forward names its channel
    expect(parseSshClientMessage({ t: "ssh.forward", id: 1, kind: "tunnel" })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0, command: "ls", agent: true, x11: { single: false, protocol: "MIT-MAGIC-COOKIE-1", cookie: "ABcd", screen: 0 } })).toEqual({
      t: "ssh.exec",
      ch: 0,
      command: "ls",
      agent: true,
      x11: { single: false, protocol: "MIT-MAGIC-COOKIE-1", cookie: "abcd", screen: 0 },
    });
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0, command: "ls", x11: { single: false, protocol: "MIT", cookie: "not hex", screen: 0 } })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.exec", ch: 0x8000_0000, command: "ls" })).toBeNull(); // ids from 2^31 belong to the host
    expect(parseSshClientMessage({ t: "ssh.unknown" })).toBeNull();
  });

  it("forwards only locale variables", () => {
    expect(forwardedEnv({ LANG: "C.UTF-8", LC_ALL: "C", LD_PRELOAD: "/x.so", PATH: "/tmp" })).toEqual({ kept: { LANG: "C.UTF-8", LC_ALL: "C" }, dropped: ["LD_PRELOAD", "PATH"] });
    // Locales whose multibyte characters can end in `\` or a backtick would make bash read the command differently.
    expect(forwardedEnv({ LC_ALL: "zh_TW.BIG5", LC_CTYPE: "ja_JP.SJIS", LANG: "en_US.UTF-8", LC_MESSAGES: "de_DE.utf8@euro", LC_TIME: "zh_CN.GBK" })).toEqual({ kept: { LANG: "en_US.UTF-8", LC_MESSAGES: "de_DE.utf8@euro" }, dropped: ["LC_ALL", "LC_CTYPE", "LC_TIME"] });
  });
});
