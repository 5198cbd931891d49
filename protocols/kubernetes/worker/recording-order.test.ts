/**
 * The Kubernetes engine (HTTP engine + KubeHooks) against the real recorder and real Durable Object
 * storage (made to fail for the fail-closed case), the real policy engine and WASM detectors. The
 * host does not commit: what is durable when upgraded bytes reach the API server is the engine's
 * doing, read from storage at that moment. exec stdin is durable before it is relayed (one write
 * per message, in order, a secret typed key by key never recorded unmasked); an allowed
 * port-forward stream's event is durable before its SYN_STREAM and data are relayed; a failed
 * write ends the session with nothing relayed.
 */
import { describe, expect, it } from "vitest";
import { HttpEngine } from "../../http/worker/http-engine.ts";
import { KubeHooks } from "./kube-hooks.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import { mustLoad, devClaims, identityOf } from "../../../parsers/policy/test-fixtures.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { maskModule } from "../../../worker/wasm-modules.ts";
import type { MaskingConfig } from "../../../parsers/masking/config.ts";
import { createResponseMasking, type ResponseMasking } from "../../http/worker/response-masking.ts";
import { encodeFrame, WebSocketMessageReader } from "../codec/websocket-frames.ts";
import { CH_CLOSE, CH_STDIN, channelMessage } from "../codec/channel.ts";
import { dataFrame } from "../codec/spdy.ts";
import { encodeNameValues, StoredHeaderEncoder } from "../codec/spdy-stored.ts";
import { durableCount, durableTrail, FlakyStorage, inSessionObject, newSessionId, openTestAudit, wholeTrail } from "../../../worker/audit/test-helpers.ts";
import type { RecorderLimits } from "../../../worker/audit/recorder.ts";

const POLICY = `
version: 1
rules:
  - { name: connect, effect: allow, subjects: any, resources: { type: kubernetes }, actions: [connect] }
  - { name: shell, effect: allow, subjects: any, resources: { type: kubernetes }, actions: [{ k8s: { verbs: [exec], namespaces: [apps] } }] }
  - { name: tunnel, effect: allow, subjects: any, resources: { type: kubernetes }, actions: [{ k8s: { verbs: [portforward], namespaces: [apps], ports: [8080] } }] }
`;
const CONFIG = { rules: [{ name: "detectors", detectors: ["github_token"], style: "redact" }] } as unknown as MaskingConfig;
const TOKEN = `ghp_${"a1B2c3D4e5".repeat(3)}123456`;
const dec = new TextDecoder();
const enc = new TextEncoder();

const EXEC = "GET /api/v1/namespaces/apps/pods/web/exec?command=cat&stdin=true&stdout=true&tty=true HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";
const PORTFORWARD = "GET /api/v1/namespaces/apps/pods/web/portforward HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n";
const switched = (protocol: string) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;

async function harness(state: DurableObjectState, id: string, storage: FlakyStorage, opts: { upgrade: string; protocol: string; limits?: Partial<RecorderLimits> }) {
  const audit = await openTestAudit(id, storage, { name: "cluster", type: "kubernetes" }, opts.limits);
  const policy = await mustLoad(POLICY);
  const identity = identityOf(devClaims("pipeline"));
  const resource = { name: "cluster", type: "kubernetes", labels: {} };
  /** WebSocket messages relayed to the API server after the upgrade, with how many events were durable then. */
  const upstream: Array<{ data: Uint8Array; durableEvents: number }> = [];
  const reader = new WebSocketMessageReader(true, { keepControl: true });
  let upgraded = false;
  let ended: SessionOutcome | undefined;
  let engine!: HttpEngine;
  const masking: ResponseMasking = createResponseMasking(createMasker(maskModule, CONFIG), CONFIG);
  const host = {
    sessionId: id,
    identity,
    resource,
    policy: new SessionPolicy(policy, { classify: () => [] }, identity, resource),
    audit,
    sendToClient: () => {},
    sendToConnector: (parts: Uint8Array[]) => {
      if (!upgraded) {
        upgraded = true;
        queueMicrotask(() => void engine.onConnectorData(enc.encode(switched(opts.protocol))));
        return;
      }
      const durableEvents = durableCount(state);
      for (const p of parts) for (const m of reader.push(p)) upstream.push({ data: m.data, durableEvents });
    },
    connectorControl: (m: { t: string }) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    // First ending wins, as in Session.end.
    end: (o: SessionOutcome) => void (ended ??= o),
  } as unknown as EngineHost;
  engine = new HttpEngine(host, { hooks: new KubeHooks(host, () => masking) });
  await engine.onClientData(enc.encode(opts.upgrade));
  // The 101 answer went through the connector's side (a microtask away): wait until the engine saw it.
  for (let i = 0; i < 50 && !durableTrail(state).some((e) => e.type === "http.response"); i++) {
    audit.commit?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  return { engine, upstream, ended: () => ended, durable: () => durableTrail(state) };
}

const stdin = (text: string) => encodeFrame(2, channelMessage(CH_STDIN, enc.encode(text)), true);

describe("exec stdin is durable before it reaches the API server (real recorder, real storage)", () => {
  it("each stdin message is relayed only once a term.input describing it is durable; a token typed key by key is a placeholder, then masked", async () => {
    const id = newSessionId("k8sin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage, { upgrade: EXEC, protocol: "v5.channel.k8s.io" });
      const line = `export T=${TOKEN}\r`;
      for (const key of line) {
        const before = storage.transactions;
        await h.engine.onClientData(stdin(key));
        expect(storage.transactions - before).toBe(1);
      }
      expect(h.upstream.map((m) => dec.decode(m.data.subarray(1))).join("")).toBe(line);
      const trail = h.durable();
      const inputAt = trail.flatMap((e, i) => (e.type === "term.input" ? [i] : []));
      expect(inputAt).toHaveLength(line.length);
      h.upstream.forEach((m, k) => expect(m.durableEvents).toBeGreaterThan(inputAt[k]!));
      const inputs = trail.filter((e) => e.type === "term.input");
      expect(inputs.some((e) => typeof e.data.held === "number" && (e.data.held as number) >= TOKEN.length)).toBe(true);
      expect(JSON.stringify(trail)).not.toContain(TOKEN.slice(0, 12));
      expect(inputs.map((e) => e.data.data).join("")).toMatch(/^export T=\[REDACTED[^\]]*\]\r$/);
      expect(h.ended()).toBeUndefined();
    });
  });

  it("many small messages, chunks sealed to R2 meanwhile: relayed in arrival order, each after its event", async () => {
    const id = newSessionId("k8sin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage, { upgrade: EXEC, protocol: "v5.channel.k8s.io", limits: { chunkMaxEvents: 4 } });
      const keys = Array.from({ length: 60 }, (_, i) => String.fromCharCode(97 + (i % 26)) + (i % 7 === 6 ? "\r" : ""));
      // Several messages in one read, and messages cut across reads: each read relayed after its events.
      const frames = keys.map(stdin);
      const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let o = 0;
      for (const f of frames) {
        wire.set(f, o);
        o += f.length;
      }
      for (let at = 0; at < wire.length; at += 5) await h.engine.onClientData(wire.subarray(at, Math.min(wire.length, at + 5)));
      // kubectl closes stdin (v5): what the input window still holds is recorded, masked.
      await h.engine.onClientData(encodeFrame(2, Uint8Array.of(CH_CLOSE, CH_STDIN), true));
      expect(h.upstream.slice(0, -1).map((m) => dec.decode(m.data.subarray(1)))).toEqual(keys);
      const all = await wholeTrail(state, id);
      const inputs = all.filter((e) => e.type === "term.input");
      expect(inputs.map((e) => e.data.data).join("")).toBe(keys.join(""));
      // Every relayed message: every byte typed so far was durable already, in a term.input's data
      // or counted by the placeholder (`held`) of the last one (nothing here is a secret: data is the text as typed).
      let typedSoFar = "";
      for (const m of h.upstream.slice(0, -1)) {
        typedSoFar += dec.decode(m.data.subarray(1));
        const durable = inputs.filter((e) => e.seq < m.durableEvents);
        const recorded = durable.map((e) => e.data.data).join("");
        const held = (durable.at(-1)?.data.held as number | undefined) ?? 0;
        expect(typedSoFar.startsWith(recorded)).toBe(true);
        expect(recorded.length + held).toBe(typedSoFar.length);
      }
      expect(h.ended()).toBeUndefined();
    });
  });

  it("output arriving while typed input waits for its write (half frames that make no event) does not let the input overtake its event", async () => {
    const id = newSessionId("k8sin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      // Small chunks: sealing and uploading keep the recorder busy across macrotasks.
      const h = await harness(state, id, storage, { upgrade: EXEC, protocol: "v5.channel.k8s.io", limits: { chunkMaxEvents: 2 } });
      const out = encodeFrame(2, channelMessage(1, enc.encode("output line\r\n")), false);
      const keys = Array.from({ length: 24 }, (_, i) => String.fromCharCode(97 + (i % 26)));
      for (const key of keys) {
        // The client's and the server's sides run on separate chains in the session: interleave them.
        const typed = h.engine.onClientData(stdin(key));
        const half1 = h.engine.onConnectorData(out.subarray(0, 3));
        await Promise.all([typed, half1]);
        await h.engine.onConnectorData(out.subarray(3));
      }
      expect(h.upstream.map((m) => dec.decode(m.data.subarray(1)))).toEqual(keys);
      const all = await wholeTrail(state, id);
      const inputs = all.filter((e) => e.type === "term.input");
      let typedSoFar = "";
      for (const m of h.upstream) {
        typedSoFar += dec.decode(m.data.subarray(1));
        const durable = inputs.filter((e) => e.seq < m.durableEvents);
        const held = (durable.at(-1)?.data.held as number | undefined) ?? 0;
        expect(durable.map((e) => e.data.data).join("").length + held).toBe(typedSoFar.length);
      }
      expect(h.ended()).toBeUndefined();
    });
  });

  it("a failed write: the stdin message never reaches the API server and the session ends", async () => {
    const id = newSessionId("k8sin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage, { upgrade: EXEC, protocol: "v5.channel.k8s.io" });
      await h.engine.onClientData(stdin("l"));
      storage.failing = true;
      await h.engine.onClientData(stdin("s"));
      await h.engine.onClientData(stdin("\r"));
      storage.failing = false;
      expect(h.upstream.map((m) => dec.decode(m.data.subarray(1)))).toEqual(["l"]);
      expect(h.ended()).toMatchObject({ status: "error", reason: expect.stringMatching(/^gatehouse: session recording failed/) });
    });
  });
});

/** kubectl's SPDY frames for one port-forward connection (header blocks stored-compressed, as any valid zlib stream does). */
function kubectlSpdy() {
  const headers = new StoredHeaderEncoder();
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const syn = (sid: number, type: string, port: string) => {
    const body = [...u32(sid), ...u32(0), 0, 0, ...headers.encode(encodeNameValues(new Map([["streamtype", type], ["port", port], ["requestid", "0"]])))];
    return Uint8Array.from([0x80, 3, 0, 1, 0, 0, (body.length >> 8) & 255, body.length & 255, ...body]);
  };
  return { syn, send: (frame: Uint8Array) => encodeFrame(2, frame, true) };
}

describe("a port-forward stream's event is durable before the stream reaches the API server", () => {
  it("an allowed SYN_STREAM and the data after it are relayed after k8s.portforward.stream is durable; data of open streams costs no write", async () => {
    const id = newSessionId("k8spf");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage, { upgrade: PORTFORWARD, protocol: "SPDY/3.1+portforward.k8s.io" });
      const k = kubectlSpdy();
      // The stream open and its first data in one read.
      const open = k.send(k.syn(1, "data", "8080"));
      const first = k.send(dataFrame(1, enc.encode("ping"), false));
      const both = new Uint8Array(open.length + first.length);
      both.set(open);
      both.set(first, open.length);
      await h.engine.onClientData(both);
      const trail = h.durable();
      const streamAt = trail.findIndex((e) => e.type === "k8s.portforward.stream");
      expect(trail[streamAt]!.data).toMatchObject({ stream: 1, port: 8080, effect: "allow", rule: "tunnel" });
      expect(h.upstream).toHaveLength(2);
      for (const m of h.upstream) expect(m.durableEvents).toBeGreaterThan(streamAt);
      const before = storage.transactions;
      for (let i = 0; i < 5; i++) await h.engine.onClientData(k.send(dataFrame(1, enc.encode(`more ${i}`), false)));
      expect(storage.transactions).toBe(before);
      expect(h.upstream).toHaveLength(7);
    });
  });

  it("a failed write: the stream open is never relayed and the session ends", async () => {
    const id = newSessionId("k8spf");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage, { upgrade: PORTFORWARD, protocol: "SPDY/3.1+portforward.k8s.io" });
      const k = kubectlSpdy();
      storage.failing = true;
      await h.engine.onClientData(k.send(k.syn(1, "data", "8080")));
      await h.engine.onClientData(k.send(dataFrame(1, enc.encode("ping"), false)));
      storage.failing = false;
      expect(h.upstream).toEqual([]);
      expect(h.ended()).toMatchObject({ status: "error", reason: expect.stringMatching(/^gatehouse: session recording failed/) });
    });
  });
});
