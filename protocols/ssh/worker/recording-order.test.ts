/**
 * The SSH engine on the shared recording filter, against the real recorder and real Durable Object
 * storage (made to fail for the fail-closed case), the real policy engine, shell parser and WASM
 * masker. The host does not commit: what is durable when a request reaches the host or output
 * reaches the client is the engine's (the filter's) doing, read from storage at that moment.
 * Typed input (a shell with a terminal) is durable before it is relayed, chunk by chunk, in order,
 * with a secret typed key by key never in the trail unmasked.
 */
import { describe, expect, it } from "vitest";
import { SshEngine } from "./ssh-engine.ts";
import { textMaskFromSessionMasker } from "./text-mask.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { decodeSshData, encodeChannelEvent, encodeSshData } from "../codec/frames.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { createMasker, type MaskingConfig } from "../../../wasm/loader/mask.ts";
import maskWasm from "../../../wasm/build/mask.wasm";
import { durableCount, durableTrail, FlakyStorage, inSessionObject, newSessionId, openTestAudit, wholeTrail } from "../../../worker/audit/test-helpers.ts";
import type { RecorderLimits } from "../../../worker/audit/recorder.ts";

const POLICY = `
version: 1
rules:
  - name: ops
    effect: allow
    subjects: any
    resources: any
    actions: [connect, ssh.exec, ssh.shell]
`;
const TOKEN = `ghp_${"a1B2c3D4e5".repeat(3)}123456`;

async function harness(state: DurableObjectState, id: string, storage: FlakyStorage, limits?: Partial<RecorderLimits>) {
  const audit = await openTestAudit(id, storage, { name: "web-1", type: "ssh" }, limits);
  const durable = () => durableTrail(state);
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "web-1", type: "ssh", labels: {} };
  const forwarded: Array<{ t: string; durable: string[] }> = [];
  const delivered: Array<{ bytes: number; durable: string[] }> = [];
  /** Stdin relayed to the host, with how many events were durable at that moment. */
  const stdin: Array<{ text: string; durableEvents: number }> = [];
  let ended: SessionOutcome | undefined;
  let engine!: SshEngine;
  const host: EngineHost = {
    sessionId: id,
    identity,
    resource,
    policy: new SessionPolicy(loaded.policy, { classify: () => [] }, identity, resource),
    audit,
    sendToClient: (parts) => void delivered.push({ bytes: parts.reduce((n, p) => n + p.length, 0), durable: durable().map((e) => e.type) }),
    sendToConnector: (parts) => {
      for (const p of parts) {
        const frame = decodeSshData(p);
        if (frame.stream === 0) stdin.push({ text: new TextDecoder().decode(frame.bytes), durableEvents: durableCount(state) });
      }
    },
    connectorControl: (m: ControlMessage) => {
      forwarded.push({ t: String(m.t), durable: durable().map((e) => e.type) });
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    // First ending wins, as in Session.end.
    end: (o) => void (ended ??= o),
  };
  const config = { rules: [{ name: "secrets", detectors: ["github_token"], style: "redact" }] } as MaskingConfig;
  engine = new SshEngine(host, { textMask: () => textMaskFromSessionMasker(createMasker(maskWasm, config), config) });
  await engine.onClientControl({ t: "ssh.start" });
  forwarded.length = 0;
  return { engine, forwarded, delivered, stdin, durable, ended: () => ended };
}

describe("SshEngine on the shared recording filter (real recorder, real storage)", () => {
  it("an exec reaches the host only once its request and decision are durable (trail text masked); its output waits for its events", async () => {
    const id = newSessionId("sshrec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: `deploy --token ${TOKEN}` });
      expect(h.forwarded).toEqual([{ t: "ssh.exec", durable: ["session.start", "decision", "query", "decision"] }]);
      const query = h.durable().find((e) => e.type === "query")!;
      expect(query.data.text).not.toContain(TOKEN);
      expect(query.data.text).toMatch(/^deploy --token /);
      await h.engine.onConnectorData(encodeSshData(0, 0, new TextEncoder().encode("deployed\n")));
      await h.engine.onConnectorData(encodeChannelEvent(0, { t: "exit", code: 0 }));
      // Every send to the client came after the events describing it were durable.
      expect(h.delivered).toHaveLength(2);
      expect(h.delivered[0]!.durable.at(-1)).toBe("term.output");
      const last = h.delivered.at(-1)!;
      expect(last.durable).toContain("term.output");
      expect(last.durable).toContain("result");
    });
  });

  it("a failed write: the exec never reaches the host and the session ends with the recorder's code", async () => {
    const id = newSessionId("sshrec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      storage.failing = true;
      await h.engine.onClientControl({ t: "ssh.exec", ch: 0, command: "rm -rf /srv/data" });
      storage.failing = false;
      expect(h.forwarded).toEqual([]);
      expect(h.ended()).toMatchObject({ status: "error", code: "58030", reason: expect.stringMatching(/^gatehouse: session recording failed/) });
    });
  });
});

const PTY = { term: "xterm", cols: 80, rows: 24, width: 0, height: 0 };
const typed = (ch: number, text: string) => encodeSshData(ch, 0, new TextEncoder().encode(text));

describe("typed input is durable before it reaches the host (real recorder, real storage)", () => {
  it("each keystroke reaches the host only once a term.input describing it is durable; a secret typed key by key is held as a placeholder, never recorded unmasked", async () => {
    const id = newSessionId("sshin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: PTY });
      const line = `export T=${TOKEN}\r`;
      for (const key of line) {
        const before = storage.transactions;
        await h.engine.onClientData(typed(0, key));
        // One write per chunk of input, before it is relayed.
        expect(storage.transactions - before).toBe(1);
      }
      expect(h.stdin.map((s) => s.text).join("")).toBe(line);
      const trail = h.durable();
      const inputs = trail.filter((e) => e.type === "term.input");
      // Every relayed keystroke had its own event durable first (the k-th relay after the k-th term.input).
      const seqOfInput = trail.flatMap((e, i) => (e.type === "term.input" ? [i] : []));
      expect(inputs).toHaveLength(line.length);
      h.stdin.forEach((s, k) => expect(s.durableEvents).toBeGreaterThan(seqOfInput[k]!));
      // The token was held by the input window: placeholders (byte counts), resolved masked at Enter.
      expect(inputs.some((e) => typeof e.data.held === "number" && (e.data.held as number) >= TOKEN.length)).toBe(true);
      expect(JSON.stringify(trail)).not.toContain(TOKEN.slice(0, 12));
      const text = inputs.map((e) => e.data.data).join("");
      expect(text).toMatch(/^export T=\[REDACTED[^\]]*\]\r$/);
      expect(inputs.at(-1)!.data.held).toBeUndefined();
    });
  });

  it("many small chunks sent back to back, with chunks sealed to R2 meanwhile: relayed in arrival order, each after its event", async () => {
    const id = newSessionId("sshin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      // Tiny chunks: the recorder seals and uploads while input arrives (its events then wait their turn).
      const h = await harness(state, id, storage, { chunkMaxEvents: 4 });
      await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: PTY });
      const keys = Array.from({ length: 60 }, (_, i) => String.fromCharCode(97 + (i % 26)) + (i % 7 === 6 ? "\r" : ""));
      // As the session object hands them over: one after the other, each awaited before the next.
      for (const key of keys) await h.engine.onClientData(typed(0, key));
      await h.engine.onClientData(encodeChannelEvent(0, { t: "eof" }));
      expect(h.stdin.map((s) => s.text)).toEqual(keys);
      const all = await wholeTrail(state, id);
      const inputs = all.filter((e) => e.type === "term.input");
      expect(inputs.map((e) => e.data.data).join("")).toBe(keys.join(""));
      // The k-th relay happened when the event describing the k-th chunk was already durable: every
      // byte typed so far in a term.input's data or counted by the last one's placeholder (`held`).
      h.stdin.forEach((s, k) => expect(s.durableEvents).toBeGreaterThan(inputs[k]!.seq));
      let typedSoFar = "";
      for (const s of h.stdin) {
        typedSoFar += s.text;
        const durable = inputs.filter((e) => e.seq < s.durableEvents);
        const recorded = durable.map((e) => e.data.data).join("");
        expect(typedSoFar.startsWith(recorded)).toBe(true);
        expect(recorded.length + ((durable.at(-1)?.data.held as number | undefined) ?? 0)).toBe(typedSoFar.length);
      }
      expect(h.ended()).toBeUndefined();
    });
  });

  it("a signal and a terminal resize reach the host only once their events are durable", async () => {
    const id = newSessionId("sshin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: PTY });
      h.forwarded.length = 0;
      await h.engine.onClientControl({ t: "ssh.signal", ch: 0, name: "INT" });
      await h.engine.onClientControl({ t: "ssh.window", ch: 0, cols: 100, rows: 30, width: 0, height: 0 });
      expect(h.forwarded.map((f) => [f.t, f.durable.at(-1)])).toEqual([
        ["ssh.signal", "ssh.signal"],
        ["ssh.window", "term.resize"],
      ]);
    });
  });

  it("a failed write: the typed chunk never reaches the host and the session ends with the recorder's code", async () => {
    const id = newSessionId("sshin");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      await h.engine.onClientControl({ t: "ssh.shell", ch: 0, pty: PTY });
      await h.engine.onClientData(typed(0, "l"));
      storage.failing = true;
      await h.engine.onClientData(typed(0, "s"));
      await h.engine.onClientData(typed(0, "\r"));
      storage.failing = false;
      expect(h.stdin.map((s) => s.text)).toEqual(["l"]);
      expect(h.ended()).toMatchObject({ status: "error", code: "58030", reason: expect.stringMatching(/^gatehouse: session recording failed/) });
    });
  });
});
