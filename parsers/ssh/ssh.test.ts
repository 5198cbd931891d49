import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StreamingMasker } from "./stream-mask.ts";
import { decodeSshData, encodeChannelEvent, encodeSshData, parseChannelEvent, parseSshClientMessage, forwardedEnv, STREAM_EVENT, SshFrameError } from "./frames.ts";

/** A stand-in detector with the shape of the real ones: tokens that never cross a line. */
const maskTokens = (text: string) => text.replace(/ghp_[A-Za-z0-9]{36}/g, "[github_token]").replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[private_key]");

describe("streaming masking", () => {
  const secret = `ghp_${"a1B2".repeat(9)}`;
  const text = `line one\ntoken=${secret} tail\nmore output\n`;

  it("masks a secret split across chunks at every possible position", () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const m = new StreamingMasker(maskTokens);
      const out = m.push(text.slice(0, cut)) + m.push(text.slice(cut)) + m.flush();
      expect(out).toBe(maskTokens(text));
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
          out += m.push(text.slice(prev, p));
          prev = p;
        }
        out += m.flush();
        expect(out).toBe(maskTokens(text));
      }),
    );
  });

  it("holds a PEM private key until its END line", () => {
    const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${"QUJD\n".repeat(30)}-----END OPENSSH PRIVATE KEY-----\n`;
    const m = new StreamingMasker(maskTokens);
    let out = "";
    for (let i = 0; i < pem.length; i += 7) out += m.push(pem.slice(i, i + 7));
    out += m.flush();
    expect(out).toBe("[private_key]\n");
  });

  it("releases complete lines at once and holds only the unfinished one", () => {
    const m = new StreamingMasker(maskTokens);
    expect(m.push("done\npartial")).toBe("done\n");
    expect(m.pending).toBe(true);
    expect(m.flush()).toBe("partial");
    expect(m.pending).toBe(false);
  });

  it("bounds what it holds in a very long line", () => {
    const m = new StreamingMasker(maskTokens, { maxHold: 100 });
    const out = m.push("x".repeat(1000));
    expect(out.length).toBeGreaterThanOrEqual(900);
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
    expect(parseSshClientMessage({ t: "ssh.forward", id: 1, kind: "local", target: "127.0.0.1:22" })).not.toBeNull();
    expect(parseSshClientMessage({ t: "ssh.forward", id: 1, kind: "tunnel" })).toBeNull();
    expect(parseSshClientMessage({ t: "ssh.unknown" })).toBeNull();
  });

  it("forwards only locale variables", () => {
    expect(forwardedEnv({ LANG: "C.UTF-8", LC_ALL: "C", LD_PRELOAD: "/x.so", PATH: "/tmp" })).toEqual({ kept: { LANG: "C.UTF-8", LC_ALL: "C" }, dropped: ["LD_PRELOAD", "PATH"] });
  });
});
