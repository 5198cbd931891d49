import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StreamingMasker } from "./stream-mask.ts";
import { decodeSshData, encodeChannelEvent, encodeSshData, parseChannelEvent, parseSshClientMessage, forwardedEnv, STREAM_EVENT, SshFrameError } from "./frames.ts";

/** A stand-in detector with the shape of the real ones: tokens that never cross a line. */
const maskText = (text: string) => text.replace(/ghp_[A-Za-z0-9]{36}/g, "[github_token]").replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[private_key]");

const enc = new TextEncoder();
const dec = new TextDecoder();
const maskTokens = (bytes: Uint8Array) => enc.encode(maskText(dec.decode(bytes)));
const str = (b: Uint8Array) => dec.decode(b);

describe("streaming masking", () => {
  const secret = `ghp_${"a1B2".repeat(9)}`;
  const text = `line one\ntoken=${secret} tail\nmore output\n`;

  it("masks a secret split across chunks at every possible position", () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const m = new StreamingMasker(maskTokens);
      const out = str(m.push(enc.encode(text.slice(0, cut)))) + str(m.push(enc.encode(text.slice(cut)))) + str(m.flush());
      expect(out).toBe(maskText(text));
      expect(out).not.toContain(secret);
    }
  });

  it("masks whatever the chunking (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const m = new StreamingMasker(maskTokens);
        let out = "";
        let prev = 0;
        for (const p of [...points, text.length]) {
          out += str(m.push(enc.encode(text.slice(prev, p))));
          prev = p;
        }
        out += str(m.flush());
        expect(out).toBe(maskText(text));
      }),
    );
  });

  it("holds a PEM private key until its END line", () => {
    const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${"QUJD\n".repeat(30)}-----END OPENSSH PRIVATE KEY-----\n`;
    const m = new StreamingMasker(maskTokens);
    let out = "";
    for (let i = 0; i < pem.length; i += 7) out += str(m.push(enc.encode(pem.slice(i, i + 7))));
    out += str(m.flush());
    expect(out).toBe("[private_key]\n");
  });

  it("releases complete lines at once and holds only the unfinished one", () => {
    const m = new StreamingMasker(maskTokens);
    expect(str(m.push(enc.encode("done\npartial")))).toBe("done\n");
    expect(m.pending).toBe(true);
    expect(str(m.flush())).toBe("partial");
    expect(m.pending).toBe(false);
  });

  it("bounds what it holds in a very long line", () => {
    const m = new StreamingMasker(maskTokens, { maxHold: 100 });
    const out = m.push(enc.encode("x".repeat(1000)));
    expect(out.length).toBeGreaterThanOrEqual(900);
  });

  it("passes bytes no detector matches through exactly, even when they are not UTF-8", () => {
    const identity = (b: Uint8Array) => b;
    const m = new StreamingMasker(identity);
    const binary = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256);
    const out = [m.push(binary.subarray(0, 1234)), m.push(binary.subarray(1234)), m.flush()];
    const joined = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
    let off = 0;
    for (const b of out) {
      joined.set(b, off);
      off += b.length;
    }
    expect(joined).toEqual(binary);
  });
});

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
