/**
 * exec/attach output masked in flight with the real WASM detectors: a secret split across two
 * WebSocket messages (and across frames cut anywhere) is masked in what kubectl gets; the held
 * tail leaves on the exit Status, a v5 close and the close frame; the relayed messages are what
 * the recorder reads; a text message or a masker failure relays nothing.
 */
import { describe, expect, it } from "vitest";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { maskModule } from "../../../worker/wasm-modules.ts";
import type { MaskingConfig } from "../../../parsers/masking/config.ts";
import { createResponseMasking } from "../../http/worker/response-masking.ts";
import { ExecOutputMasker, type ExecOutputMasking } from "./kube-exec-output.ts";
import { serverFrame, WebSocketMessageReader } from "../codec/websocket-frames.ts";
import { channelMessage } from "../codec/channel.ts";

const CARD = "4111111111111111";
const CONFIG = { rules: [{ name: "detectors", detectors: ["all"], style: "redact" }] } as unknown as MaskingConfig;
const dec = new TextDecoder();

function masking(): ExecOutputMasking {
  return createResponseMasking(createMasker(maskModule, CONFIG), CONFIG);
}

/** Feeds server frames (cut into pieces of `cut` bytes) and reads back what kubectl would get. */
function run(frames: Uint8Array[], opts: { cut?: number; masking?: ExecOutputMasking; sameLength?: boolean } = {}) {
  const relayed: Uint8Array[] = [];
  const m = new ExecOutputMasker(opts.masking ?? masking(), (msg) => relayed.push(msg), { sameLength: opts.sameLength });
  const all = Buffer.concat(frames);
  const out: Uint8Array[] = [];
  const cut = opts.cut ?? all.length;
  for (let o = 0; o < all.length; o += cut) out.push(...m.push(all.subarray(o, o + cut)));
  out.push(...m.end());
  const reader = new WebSocketMessageReader(false, { keepControl: true });
  const messages = reader.push(Buffer.concat(out));
  const text = (ch: number) =>
    messages
      .filter((x) => x.control === undefined && x.data[0] === ch)
      .map((x) => dec.decode(x.data.subarray(1)))
      .join("");
  return { messages, relayed, stdout: text(1), stderr: text(2) };
}

const out = (ch: number, s: string) => serverFrame(2, channelMessage(ch, s));
const exit0 = serverFrame(2, channelMessage(3, JSON.stringify({ metadata: {}, status: "Success" })));

describe("ExecOutputMasker", () => {
  it("a card number split across two stdout messages is masked; the recorder reads what is relayed", () => {
    for (const cut of [1, 3, 7, 1000]) {
      const r = run([out(1, `card ${CARD.slice(0, 6)}`), out(1, `${CARD.slice(6)} ok\n`), exit0], { cut });
      expect(r.stdout).not.toContain(CARD.slice(0, 6));
      expect(r.stdout).toBe("card [REDACTED] ok\n");
      expect(r.relayed.filter((m) => m[0] === 1).map((m) => dec.decode(m.subarray(1))).join("")).toBe(r.stdout);
      // The exit Status comes last, after the held tail was flushed.
      expect(r.messages.at(-1)!.data[0]).toBe(3);
    }
  });

  it("stdout and stderr have their own windows; a v5 close flushes its channel first", () => {
    const r = run([out(2, `err ${CARD.slice(0, 8)}`), out(1, "plain\n"), out(2, `${CARD.slice(8)}\n`), serverFrame(2, Uint8Array.of(255, 2)), exit0]);
    expect(r.stderr).not.toContain(CARD.slice(0, 8));
    expect(r.stderr).toBe("err [REDACTED]\n");
    expect(r.stdout).toBe("plain\n");
    const closeAt = r.messages.findIndex((m) => m.data[0] === 255);
    const lastStderr = r.messages.map((m) => m.data[0]).lastIndexOf(2);
    expect(lastStderr).toBeLessThan(closeAt);
  });

  it("a held tail leaves (masked) before the close frame; pings pass", () => {
    const r = run([serverFrame(0x9, Uint8Array.of(1, 2)), out(1, `token ghp_${"a".repeat(36)}`), serverFrame(0x8, Uint8Array.of(0x03, 0xe8))]);
    expect(r.stdout).not.toContain("ghp_");
    expect(r.stdout).toBe("token [REDACTED]");
    expect(r.messages[0]!.control).toBe(0x9);
    expect(r.messages.at(-1)!.control).toBe(0x8);
  });

  it("the error channel's Status message is masked; unchanged when nothing matches", () => {
    const failure = JSON.stringify({ metadata: {}, status: "Failure", message: `command failed for ${CARD}`, reason: "InternalError" });
    const r = run([serverFrame(2, channelMessage(3, failure))]);
    const status = JSON.parse(dec.decode(r.messages[0]!.data.subarray(1))) as { message: string; reason: string };
    expect(status.message).toBe("command failed for [REDACTED]");
    expect(status.reason).toBe("InternalError");
    const plain = run([exit0]);
    expect(Buffer.from(plain.messages[0]!.data).equals(Buffer.from(channelMessage(3, JSON.stringify({ metadata: {}, status: "Success" }))))).toBe(true);
  });

  it("same length (tar for kubectl cp): a split match becomes as many * bytes, so the byte count is kept", () => {
    const body = `file: ${CARD.slice(0, 5)}`;
    const rest = `${CARD.slice(5)}\n${"\0".repeat(20)}`;
    const r = run([out(1, body), out(1, rest), exit0], { sameLength: true });
    expect(r.stdout).toBe(`file: ${"*".repeat(16)}\n${"\0".repeat(20)}`);
    expect(r.stdout.length).toBe(body.length + rest.length);
  });

  it("a message over 64 KiB is re-framed with a 64-bit length", () => {
    const big = `${"x".repeat(70_000)}\n`;
    const r = run([out(1, big)]);
    expect(r.stdout).toBe(big);
  });

  it("a text message relays nothing (throws); so does a window that fails", () => {
    const m = new ExecOutputMasker(masking(), () => {});
    expect(() => m.push(serverFrame(0x1, new TextEncoder().encode("\u0001hi")))).toThrow(/text message/);
    const broken: ExecOutputMasking = {
      window: () => {
        throw new Error("the masker is unavailable");
      },
      text: (s) => s,
    };
    expect(() => new ExecOutputMasker(broken, () => {})).toThrow(/unavailable/);
    const failing = masking();
    const w = failing.window();
    const push = (): Uint8Array => {
      throw new Error("scan failed");
    };
    const m2 = new ExecOutputMasker({ window: () => Object.assign(w, { push }), text: failing.text }, () => {});
    expect(() => m2.push(out(1, "anything"))).toThrow(/scan failed/);
  });
});
