/**
 * The SSH engine on the shared recording filter, against the real recorder and real Durable Object
 * storage (made to fail for the fail-closed case), the real policy engine, shell parser and WASM
 * masker. The host does not commit: what is durable when a request reaches the host or output
 * reaches the client is the engine's (the filter's) doing, read from storage at that moment.
 */
import { describe, expect, it } from "vitest";
import { SshEngine } from "./ssh-engine.ts";
import { textMaskFromSessionMasker } from "./text-mask.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { encodeChannelEvent, encodeSshData } from "../codec/frames.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { createMasker, type MaskingConfig } from "../../../wasm/loader/mask.ts";
import maskWasm from "../../../wasm/build/mask.wasm";
import { durableTrail, FlakyStorage, inSessionObject, newSessionId, openTestAudit } from "../../../worker/audit/test-helpers.ts";

const POLICY = `
version: 1
rules:
  - name: ops
    effect: allow
    subjects: any
    resources: any
    actions: [connect, ssh.exec]
`;
const TOKEN = `ghp_${"a1B2c3D4e5".repeat(3)}123456`;

async function harness(state: DurableObjectState, id: string, storage: FlakyStorage) {
  const audit = await openTestAudit(id, storage, { name: "web-1", type: "ssh" });
  const durable = () => durableTrail(state);
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "web-1", type: "ssh", labels: {} };
  const forwarded: Array<{ t: string; durable: string[] }> = [];
  const delivered: Array<{ bytes: number; durable: string[] }> = [];
  let ended: SessionOutcome | undefined;
  let engine!: SshEngine;
  const host: EngineHost = {
    sessionId: id,
    identity,
    resource,
    policy: new SessionPolicy(loaded.policy, { classify: () => [] }, identity, resource),
    audit,
    sendToClient: (parts) => void delivered.push({ bytes: parts.reduce((n, p) => n + p.length, 0), durable: durable().map((e) => e.type) }),
    sendToConnector: () => {},
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
  return { engine, forwarded, delivered, durable, ended: () => ended };
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
