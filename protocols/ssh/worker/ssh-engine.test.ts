/**
 * The worker's SSH engine (inside workerd) with a recording EngineHost (the session glue is the lead's; here we
 * watch exactly what the engine forwards, answers and records), the real policy engine, the real
 * shell parser and the real WASM masker (same detectors as SQL results).
 */
import { describe, expect, it } from "vitest";
import { SshEngine } from "./ssh-engine.ts";
import { textMaskFromSessionMasker } from "./text-mask.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import type { SessionAudit } from "../../../worker/session/session-audit.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { decodeSshData, encodeChannelEvent, encodeSshData, parseChannelEvent, STREAM_EVENT, STREAM_STDERR } from "../codec/frames.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { createMasker, type MaskingConfig } from "../../../wasm/loader/mask.ts";
import maskWasm from "../../../wasm/build/mask.wasm";

const POLICY = `
version: 1
rules:
  - name: ops
    effect: allow
    subjects: any
    resources: any
    actions: [connect, ssh.exec, ssh.shell, { ssh: { sftp: [read, list] } }]
  - name: no-reboot
    effect: deny
    subjects: any
    resources: any
    actions: [{ ssh: { exec: ["reboot **"] } }]
`;

const FORWARDING_POLICY = `${POLICY}
  - name: tunnels
    effect: allow
    subjects: any
    resources: any
    actions: [ssh.x11, { ssh: { forward: ["local:10.0.0.7:5432", "remote:127.0.0.1:*"] } }]
`;

async function harness(opts: { mask?: boolean; policy?: string; beforeReady?: (engine: SshEngine) => void } = {}) {
  const loaded = await loadPolicy(opts.policy ?? POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const compiled = loaded.policy;
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "web-1", type: "ssh", labels: {} };
  const events: Array<{ type: string; data: unknown }> = [];
  const audit: SessionAudit = {
    onQuery: async (e) => void events.push({ type: "query", data: e }),
    onDecision: async (e) => void events.push({ type: "decision", data: e }),
    onResult: async (e) => void events.push({ type: "result", data: e }),
    onNotice: async () => {},
    onMasking: async (counts) => void events.push({ type: "masking", data: counts }),
    onEvent: async (type, data) => void events.push({ type, data }),
  };
  const toClient: Uint8Array[] = [];
  const toConnector: Uint8Array[] = [];
  const connectorControls: ControlMessage[] = [];
  const clientControls: ControlMessage[] = [];
  let ended: SessionOutcome | undefined;
  let engine!: SshEngine;
  const host: EngineHost = {
    sessionId: "s1",
    identity,
    resource,
    policy: new SessionPolicy(compiled, { classify: () => [] }, identity, resource),
    audit,
    sendToClient: (parts) => void toClient.push(...parts),
    sendToConnector: (parts) => void toConnector.push(...parts),
    connectorControl: (m) => {
      connectorControls.push(m);
      if (m.t === "open")
        queueMicrotask(() => {
          opts.beforeReady?.(engine);
          void engine.onConnectorControl({ t: "ready" });
        });
    },
    sendControlToClient: (m) => void clientControls.push(m),
    openConnectorStream: async () => {},
    // The approval workflow is exercised end to end in test/ssh/ssh-e2e.test.ts; here an
    // unreachable approval service must refuse (fail closed).
    holdForApproval: async () => {
      throw new Error("approval service unreachable");
    },
    end: (o) => void (ended = o),
  };
  const maskModule = opts.mask ? maskWasm : undefined;
  engine = new SshEngine(host, {
    textMask: maskModule
      ? () => {
          const config = { rules: [{ name: "secrets", detectors: ["github_token", "aws_access_key"], style: "redact" }] } as MaskingConfig;
          return textMaskFromSessionMasker(createMasker(maskModule, config), config);
        }
      : undefined,
  });
  await engine.onClientControl({ t: "ssh.start" });
  const clientView = () =>
    toClient.map((p) => {
      const d = decodeSshData(p);
      return d.stream === STREAM_EVENT ? { ch: d.ch, event: parseChannelEvent(d.bytes) } : { ch: d.ch, stream: d.stream, text: new TextDecoder().decode(d.bytes) };
    });
  return { engine, events, toClient, toConnector, connectorControls, clientControls, clientView, ended: () => ended };
}

describe("worker SSH engine", () => {
  it("stays ended when terminated while the connector dials: no ssh.ready, nothing forwarded", async () => {
    const h = await harness({ beforeReady: (engine) => engine.onTerminate("57P01", "the gateway is shutting down") });
    expect(h.clientControls).toEqual([]);
    expect(h.ended()).toMatchObject({ status: "error", code: "57P01" });
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "uname -a" });
    expect(h.connectorControls.map((m) => m.t)).toEqual(["open"]);
  });

  it("forwards an allowed exec only after policy, and records its output", async () => {
    const h = await harness();
    expect(h.clientControls).toEqual([{ t: "ssh.ready" }]);
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "uname -a", env: { LANG: "C", LD_PRELOAD: "/evil.so" } });
    expect(h.connectorControls.at(-1)).toEqual({ t: "ssh.exec", ch: 0, command: "uname -a", env: { LANG: "C" } });
    expect(h.events.find((e) => e.type === "ssh.env-dropped")?.data).toEqual({ ch: 0, names: ["LD_PRELOAD"] });
    await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode("Linux host\n")));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "exit", code: 0 }));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "close" }));
    expect(h.clientView()).toEqual([{ ch: 0, stream: 0, text: "Linux host\n" }, { ch: 0, event: { t: "exit", code: 0 } }, { ch: 0, event: { t: "close" } }]);
    expect(h.events.filter((e) => e.type === "term.output").map((e) => e.data)).toEqual([{ ch: 0, data: "Linux host\n" }]);
    expect(h.events.find((e) => e.type === "result")?.data).toMatchObject({ commandTag: "exit 0" });
  });

  it("answers a denied exec itself: stderr naming the rule, status 126, nothing forwarded", async () => {
    const h = await harness();
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "echo ok && reboot" });
    expect(h.connectorControls.filter((m) => m.t === "ssh.exec")).toEqual([]);
    await h.engine.onClientData(encodeSshData(0, 0, new TextEncoder().encode("stdin for a refused command")));
    expect(h.toConnector).toEqual([]);
    const view = h.clientView();
    expect(view[0]).toMatchObject({ ch: 0, stream: STREAM_STDERR });
    expect((view[0] as { text: string }).text).toMatch(/^gatehouse: command refused: rule 'no-reboot' \(p\.yaml:9\) denies exec on web-1 \(command 2 of 2: reboot\)/);
    expect(view.slice(1)).toEqual([{ ch: 0, event: { t: "exit", code: 126 } }, { ch: 0, event: { t: "close" } }]);
    expect(h.events.find((e) => e.type === "decision")).toBeDefined();
  });

  it("records a shell's input, resizes and output (asciicast events)", async () => {
    const h = await harness();
    await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: { term: "xterm-256color", cols: 120, rows: 40, width: 0, height: 0 } });
    await h.engine.onClientData(encodeSshData(0, 0, new TextEncoder().encode("ls\r")));
    await h.engine.onClientControl({ t: "ssh.window", ch: 0, cols: 100, rows: 30, width: 0, height: 0 });
    await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode("file\r\n$ ")));
    const term = h.events.filter((e) => e.type.startsWith("term.")).map((e) => [e.type, e.data]);
    expect(term).toEqual([
      ["term.resize", { ch: 0, cols: 120, rows: 40, term: "xterm-256color" }],
      ["term.input", { ch: 0, data: "ls\r" }],
      ["term.resize", { ch: 0, cols: 100, rows: 30 }],
      ["term.output", { ch: 0, data: "file\r\n$ " }],
    ]);
    expect(h.connectorControls.at(-1)).toEqual({ t: "ssh.window", ch: 0, cols: 100, rows: 30, width: 0, height: 0 });
  });

  it("masks secrets in output with the SQL detectors, across chunk boundaries, and records the masked text", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "cat token.txt" });
    const secret = `ghp_${"Ab12".repeat(9)}`;
    const text = `token: ${secret}\nAKIAIOSFODNN7EXAMPLE\n`;
    const cut = text.indexOf(secret) + 10;
    await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode(text.slice(0, cut))));
    await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode(text.slice(cut))));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "eof" }));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "close" }));
    expect(h.events.find((e) => e.type === "masking")?.data).toEqual({ secrets: 2 });
    const out = h
      .clientView()
      .filter((v) => "text" in v)
      .map((v) => (v as { text: string }).text)
      .join("");
    expect(out).not.toContain(secret);
    expect(out).not.toContain("AKIAIOSFODNN7EXAMPLE");
    expect(out).toMatch(/^token: /);
    const recorded = h.events.filter((e) => e.type === "term.output").map((e) => (e.data as { data: string }).data).join("");
    expect(recorded).toBe(out);
  });

  it("refuses SFTP operations per policy with a STATUS reply the server never sees", async () => {
    const h = await harness();
    await h.engine.onClientControl({ t: "ssh.subsystem", ch: 0, name: "sftp" });
    const pkt = (type: number, id: number | null, ...strings: string[]) => {
      const body: number[] = [type];
      const u32 = (n: number) => body.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
      if (id !== null) u32(id);
      for (const s of strings) {
        const b = new TextEncoder().encode(s);
        u32(b.length);
        body.push(...b);
      }
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      return out;
    };
    const init = pkt(1, 3);
    await h.engine.onClientData(encodeSshData(0, 0, init));
    await h.engine.onClientData(encodeSshData(0, 0, pkt(13, 5, "/etc/passwd"))); // REMOVE: not allowed
    await h.engine.onClientData(encodeSshData(0, 0, pkt(17, 6, "/etc/passwd"))); // STAT: list, allowed
    const forwarded = h.toConnector.map((p) => decodeSshData(p).bytes[4]);
    expect(forwarded).toEqual([1, 17]);
    const reply = decodeSshData(h.toClient[0]!).bytes;
    expect(reply[4]).toBe(101); // STATUS
    expect(new DataView(reply.buffer, reply.byteOffset).getUint32(5)).toBe(5);
    expect(new DataView(reply.buffer, reply.byteOffset).getUint32(9)).toBe(3); // PERMISSION_DENIED
  });

  it("refuses forwarding and ends the session on malformed or premature frames", async () => {
    const h = await harness();
    await h.engine.onClientControl({ t: "ssh.forward", id: 1, kind: "local", ch: 5, host: "127.0.0.1", port: 5432 });
    expect(h.clientControls.at(-1)).toMatchObject({ t: "ssh.forward-result", id: 1, ok: false });
    expect(h.connectorControls.some((m) => m.t === "ssh.direct")).toBe(false);
    await h.engine.onClientData(encodeSshData(9, 0, Uint8Array.of(1)));
    expect(h.ended()).toMatchObject({ status: "error" });
    expect(h.ended()?.reason).toMatch(/unknown SSH channel 9/);
  });

  it("relays an allowed direct forward to the canonical target, confirmed by the host, and records it by byte counts", async () => {
    const h = await harness({ policy: FORWARDING_POLICY });
    // 10.7 is 10.0.0.7 (inet_aton): policy and the connector both see the canonical address.
    await h.engine.onClientControl({ t: "ssh.forward", id: 1, kind: "local", ch: 0, host: "10.7", port: 5432, originHost: "127.0.0.1", originPort: 40000 });
    expect(h.connectorControls.at(-1)).toEqual({ t: "ssh.direct", ch: 0, kind: "local", host: "10.0.0.7", port: 5432, path: undefined, originHost: "127.0.0.1", originPort: 40000 });
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "open" }));
    await h.engine.onClientData(encodeSshData(0, 0, new TextEncoder().encode("ping")));
    await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode("pong!")));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "close" }));
    expect(h.clientView()).toEqual([{ ch: 0, event: { t: "open" } }, { ch: 0, stream: 0, text: "pong!" }, { ch: 0, event: { t: "close" } }]);
    expect(h.events.find((e) => e.type === "ssh.forward-close")?.data).toEqual({ ch: 0, kind: "local", target: "local:10.0.0.7:5432", by: "host", bytesUp: 4, bytesDown: 5 });
    // Forwarded bytes are not terminal output.
    expect(h.events.some((e) => e.type === "term.output")).toBe(false);

    // Another port on the same host is refused here; the connector never hears of it.
    await h.engine.onClientControl({ t: "ssh.forward", id: 2, kind: "local", ch: 1, host: "10.0.0.7", port: 22 });
    expect(h.clientControls.at(-1)).toMatchObject({ t: "ssh.forward-result", id: 2, ok: false, message: expect.stringMatching(/local:10\.0\.0\.7:22 refused: no rule allows/) });
    expect(h.connectorControls.filter((m) => m.t === "ssh.direct")).toHaveLength(1);
  });

  it("relays channels the host opens only for what this session was granted", async () => {
    const h = await harness({ policy: FORWARDING_POLICY });
    // No listener yet: a forwarded-tcpip from the host is refused and recorded.
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0000, kind: "remote", host: "127.0.0.1", port: 8080, originHost: "127.0.0.1", originPort: 5555 });
    expect(h.toConnector.map((p) => ({ ch: decodeSshData(p).ch, event: parseChannelEvent(decodeSshData(p).bytes) }))).toEqual([{ ch: 0x8000_0000, event: { t: "close" } }]);
    expect(h.events.find((e) => e.type === "ssh.forward-refused")?.data).toMatchObject({ kind: "remote", reason: expect.stringMatching(/did not get/) });
    // An agent channel nobody asked for (agent forwarding is not in this policy).
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0001, kind: "agent" });
    expect(h.clientControls.some((m) => m.t === "ssh.incoming")).toBe(false);

    // -R 127.0.0.1:0 → the host allocates 41000 → connections to it are relayed.
    await h.engine.onClientControl({ t: "ssh.forward", id: 7, kind: "remote", host: "127.0.0.1", port: 0 });
    expect(h.connectorControls.at(-1)).toEqual({ t: "ssh.listen", id: 7, kind: "remote", host: "127.0.0.1", port: 0, path: undefined });
    await h.engine.onConnectorControl({ t: "ssh.listen-result", id: 7, ok: true, port: 41000 });
    expect(h.clientControls.at(-1)).toEqual({ t: "ssh.forward-result", id: 7, ok: true, message: "", port: 41000 });
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0002, kind: "remote", host: "127.0.0.1", port: 41000, originHost: "127.0.0.1", originPort: 5556 });
    expect(h.clientControls.at(-1)).toMatchObject({ t: "ssh.incoming", ch: 0x8000_0002, kind: "remote", port: 41000 });
    // A reused host channel id is a connector fault: the session ends.
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0002, kind: "remote", host: "127.0.0.1", port: 41000 });
    expect(h.ended()).toMatchObject({ status: "error", reason: expect.stringMatching(/reused channel/) });
  });

  it("decides agent and X11 forwarding on the exec request: a refused one is stripped and explained", async () => {
    const h = await harness({ policy: FORWARDING_POLICY });
    const x11 = { single: false, protocol: "MIT-MAGIC-COOKIE-1", cookie: "00ff", screen: 0 };
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "xterm", agent: true, x11 });
    expect(h.connectorControls.at(-1)).toEqual({ t: "ssh.exec", ch: 0, command: "xterm", x11 });
    expect(h.clientView()).toEqual([{ ch: 0, stream: STREAM_STDERR, text: expect.stringMatching(/^gatehouse: agent forwarding refused: no rule allows/) }]);
    // X11 was granted: the host's X11 channel is relayed; an agent channel still is not.
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0000, kind: "x11", originHost: "127.0.0.1", originPort: 6010 });
    expect(h.clientControls.at(-1)).toMatchObject({ t: "ssh.incoming", kind: "x11" });
    await h.engine.onConnectorControl({ t: "ssh.incoming", ch: 0x8000_0001, kind: "agent" });
    expect(h.clientControls.filter((m) => m.t === "ssh.incoming")).toHaveLength(1);
  });
});

describe("worker SSH engine: masking streams and the trail", () => {
  const enc = new TextEncoder();
  const SECRET = `ghp_${"Ab12".repeat(9)}`;
  const text = (h: Awaited<ReturnType<typeof harness>>, stream: number) =>
    h
      .clientView()
      .filter((v) => "stream" in v && v.stream === stream)
      .map((v) => (v as { text: string }).text)
      .join("");
  const trail = (h: Awaited<ReturnType<typeof harness>>) => JSON.stringify(h.events);

  it("masks stdout and stderr each in its own window, holding a split secret until it is settled", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "deploy" });
    await h.engine.onConnectorData(encodeSshData(0, STREAM_STDERR, enc.encode(`warn: ${SECRET.slice(0, 9)}`)));
    await h.engine.onConnectorData(encodeSshData(0, 0, enc.encode("progress 1/2\n")));
    // Only what cannot be part of a secret has reached the client so far.
    expect(text(h, STREAM_STDERR)).toBe("warn: ");
    await h.engine.onConnectorData(encodeSshData(0, STREAM_STDERR, enc.encode(`${SECRET.slice(9)}\n`)));
    await h.engine.onConnectorData(encodeSshData(0, 0, enc.encode(`tail ${SECRET.slice(0, 20)}`)));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "exit", code: 0 }));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "close" }));
    expect(text(h, STREAM_STDERR)).toBe("warn: [REDACTED]\n");
    // A prefix of a secret left at the end of the stream is released when the channel ends.
    expect(text(h, 0)).toBe(`progress 1/2\ntail ${SECRET.slice(0, 20)}`);
    expect(trail(h)).not.toContain(SECRET);
  });

  it("records typed input masked, even when a secret is typed one key at a time", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: { term: "xterm", cols: 80, rows: 24, width: 0, height: 0 } });
    for (const key of `export T=${SECRET}\r`) await h.engine.onClientData(encodeSshData(0, 0, enc.encode(key)));
    await h.engine.onClientData(encodeSshData(0, 0, enc.encode("echo AKIAIOSF\x7fFODNN7EXAMPLE\r")));
    await h.engine.onConnectorData(encodeChannelEvent(0, { t: "exit", code: 0 }));
    const typed = h.events.filter((e) => e.type === "term.input").map((e) => (e.data as { data: string }).data).join("");
    expect(typed).toContain("export T=[REDACTED]\r");
    expect(typed).not.toContain(SECRET);
    expect(typed).not.toContain("AKIAIOSFODNN7EXAMPLE");
    // The host got every key unchanged.
    const sent = h.toConnector.map((p) => new TextDecoder().decode(decodeSshData(p).bytes)).join("");
    expect(sent).toContain(SECRET);
  });

  it("masks the command line, the parsed command names and decision reasons in the trail", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: `curl -H 'Authorization: token ${SECRET}' https://x; reboot ${SECRET}` });
    expect(h.connectorControls.some((m) => m.t === "ssh.exec")).toBe(false);
    expect(trail(h)).not.toContain(SECRET);
    expect(JSON.stringify(h.events.find((e) => e.type === "query")?.data)).toContain("[REDACTED]");
  });

  it("refuses transfers that cannot be masked exactly (rsync/git downloads, sftp-server by exec) and masks scp -f output same-length", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "rsync --server --sender -logDtpre.iLsfxCIvu . /srv/data/" });
    expect(h.connectorControls.some((m) => m.t === "ssh.exec")).toBe(false);
    expect(text(h, STREAM_STDERR)).toMatch(/rsync download cannot be masked exactly/);

    await h.engine.onClientControl({ t: "ssh.exec", ch: 1, command: "scp -f /srv/token.txt" });
    const body = `token=${SECRET}\n`;
    await h.engine.onConnectorData(encodeSshData(1, 0, enc.encode(`C0644 ${body.length} token.txt\n${body}\0`)));
    await h.engine.onConnectorData(encodeChannelEvent(1, { t: "exit", code: 0 }));
    const out = h.clientView().filter((v) => v.ch === 1 && "stream" in v && v.stream === 0).map((v) => (v as { text: string }).text).join("");
    expect(out).toBe(`C0644 ${body.length} token.txt\ntoken=${"*".repeat(SECRET.length)}\n\0`);

    // Request/response protocols whose output holds no host content are not held (they would stall).
    await h.engine.onClientControl({ t: "ssh.exec", ch: 2, command: "rsync --server -logDtpre.iLsfxCIvu . /srv/upload/" });
    await h.engine.onConnectorData(encodeSshData(2, 0, Uint8Array.of(0x1f, 0, 0, 0, 0x30, 0x41)));
    expect(h.clientView().filter((v) => v.ch === 2 && "stream" in v)).toHaveLength(1);
    // …but only a line that is nothing else: other output in the line is held as usual.
    await h.engine.onClientControl({ t: "ssh.exec", ch: 6, command: "cat token.txt; rsync --server . /srv/upload/" });
    await h.engine.onConnectorData(encodeSshData(6, 0, enc.encode(SECRET.slice(0, 12))));
    expect(h.clientView().filter((v) => v.ch === 6 && "stream" in v)).toHaveLength(0);
    for (const [ch, command] of [[3, "/usr/lib/openssh/sftp-server"], [4, "git-upload-pack '/srv/repo.git'"], [5, "rsync --server --send . /x"]] as const) {
      await h.engine.onClientControl({ t: "ssh.exec", ch, command });
      expect(h.connectorControls.some((m) => m.t === "ssh.exec" && m.ch === ch), command).toBe(false);
    }

    const plain = await harness();
    await plain.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "rsync --server --sender -logDtpre.iLsfxCIvu . /srv/data/" });
    expect(plain.connectorControls.some((m) => m.t === "ssh.exec")).toBe(true);
  });

  it("masks SFTP file contents and names same-length, reading context around each READ the client sent", async () => {
    const h = await harness({ mask: true });
    await h.engine.onClientControl({ t: "ssh.subsystem", ch: 0, name: "sftp" });
    const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    const frame = (body: number[]) => Uint8Array.from([...u32(body.length), ...body]);
    const handle = [...enc.encode("h1")];
    const read = (id: number, offset: number, len: number) => frame([5, ...u32(id), ...u32(handle.length), ...handle, 0, 0, 0, 0, ...u32(offset), ...u32(len)]);
    const data = (id: number, bytes: Uint8Array) => frame([103, ...u32(id), ...u32(bytes.length), ...bytes]);
    await h.engine.onClientData(encodeSshData(0, 0, frame([1, 0, 0, 0, 3])));
    const file = enc.encode(`key: ${SECRET} end\n`);
    // The client reads 10 bytes from offset 12, in the middle of the secret.
    await h.engine.onClientData(encodeSshData(0, 0, read(7, 12, 10)));
    const widened = decodeSshData(h.toConnector.at(-1)!).bytes;
    const wv = new DataView(widened.buffer, widened.byteOffset);
    const at = 13 + handle.length;
    expect(Number(wv.getBigUint64(at))).toBe(0); // read-behind (clamped at the start of the file)
    expect(wv.getUint32(at + 8)).toBe(12 + 10 + 16384); // ... and read-ahead
    // The server answers the widened read with the whole (short) file.
    await h.engine.onConnectorData(encodeSshData(0, 0, data(7, file)));
    const reply = decodeSshData(h.toClient.at(-1)!).bytes;
    expect(reply[4]).toBe(103);
    expect(new DataView(reply.buffer, reply.byteOffset).getUint32(9)).toBe(10);
    expect(new TextDecoder().decode(reply.subarray(13))).toBe("*".repeat(10));
    // A read at the end of the file: the server's DATA holds only read-behind bytes → EOF.
    await h.engine.onClientData(encodeSshData(0, 0, read(8, file.length, 100)));
    await h.engine.onConnectorData(encodeSshData(0, 0, data(8, file)));
    const eof = decodeSshData(h.toClient.at(-1)!).bytes;
    expect([eof[4], new DataView(eof.buffer, eof.byteOffset).getUint32(9)]).toEqual([101, 1]);
    // A short answer (its own read limit, or the end of the file) whose end may be the start of a
    // secret: the reply stops before it (a short read the client re-requests).
    const partial = enc.encode(`hello ${SECRET.slice(0, 12)}`);
    await h.engine.onClientData(encodeSshData(0, 0, read(9, 0, partial.length)));
    await h.engine.onConnectorData(encodeSshData(0, 0, data(9, partial)));
    const short = decodeSshData(h.toClient.at(-1)!).bytes;
    expect(new TextDecoder().decode(short.subarray(13))).toBe("hello ");
    // Directory listings: names and ls -l lines masked in place, attributes untouched.
    const str = (t: string) => [...u32(enc.encode(t).length), ...enc.encode(t)];
    const attrs = [...u32(0x5), 0, 0, 0, 0, 0, 0, 0, 42, ...u32(0o100644)];
    await h.engine.onConnectorData(encodeSshData(0, 0, frame([104, ...u32(10), ...u32(1), ...str(`${SECRET}.txt`), ...str(`-rw-r--r-- 1 u u 42 Jan 1 ${SECRET}.txt`), ...attrs])));
    const names = decodeSshData(h.toClient.at(-1)!).bytes;
    const listing = new TextDecoder().decode(names);
    expect(listing).not.toContain(SECRET);
    expect(listing).toContain(`${"*".repeat(SECRET.length)}.txt`);
    expect(names.length).toBe(4 + 1 + 4 + 4 + 4 + SECRET.length + 4 + 4 + `-rw-r--r-- 1 u u 42 Jan 1 ${SECRET}.txt`.length + attrs.length);
    expect(h.events.find((e) => e.type === "masking")).toBeUndefined(); // counts are written at channel close
  });
});
