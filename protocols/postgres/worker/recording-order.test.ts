/**
 * The PostgreSQL engine on the shared recording filter, against the real recorder and real Durable
 * Object storage (made to fail for the fail-closed case), the real policy engine, classifier, WASM
 * framer and masker: what was durable is read from storage at the moment bytes leave the engine.
 * A write is forwarded only once its query event and decision are durable (one write); a read may
 * go first, its answer waits; a failed write ends the session with the recorder's code.
 */
import { describe, expect, it } from "vitest";
import { PostgresEngine } from "./postgres-engine.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { concat, cstring, encodeQuery } from "../codec/codec.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { maskModule, pgFramerModule, sqlClassifier } from "../../../worker/wasm-modules.ts";
import { durableTrail, FlakyStorage, inSessionObject, newSessionId, openTestAudit } from "../../../worker/audit/test-helpers.ts";
import * as f from "../../../parsers/masking/fixtures.ts";

const POLICY = `
version: 1
rules:
  - name: everything
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, sql.write]
masking:
  rules:
    - name: detectors
      detectors: [email]
      style: redact
`;

interface Sent {
  types: string[];
  durable: string[];
}

async function harness(state: DurableObjectState, id: string, storage: FlakyStorage) {
  const audit = await openTestAudit(id, storage, { name: "db", type: "postgres" });
  const durable = () => durableTrail(state);
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "db", type: "postgres", labels: {} };
  const policy = new SessionPolicy(loaded.policy, sqlClassifier(), identity, resource);
  const toClient: Sent[] = [];
  const toConnector: Sent[] = [];
  const types = (parts: readonly Uint8Array[]) => f.splitMessages(concat([...parts])).map((m) => String.fromCharCode(m[0]!));
  let ended: SessionOutcome | undefined;
  let engine!: PostgresEngine;
  const host: EngineHost = {
    sessionId: id,
    identity,
    resource,
    policy,
    audit,
    sendToClient: (parts) => void toClient.push({ types: types(parts), durable: durable().map((e) => e.type) }),
    sendToConnector: (parts) => {
      if (new TextDecoder().decode(parts[0]!).includes("SELECT 'rel'")) {
        queueMicrotask(() => void engine.onConnectorData(concat([f.commandComplete("SELECT 0"), f.readyForQuery()])));
        return;
      }
      toConnector.push({ types: types(parts), durable: durable().map((e) => e.type) });
    },
    connectorControl: (m: ControlMessage) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready", parameters: [["client_encoding", "UTF8"]], txStatus: "I" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    // First ending wins, as in Session.end.
    end: (o) => void (ended ??= o),
  };
  engine = new PostgresEngine(host, { framerModule: pgFramerModule, masker: createMasker(maskModule, policy.maskingConfig()), registerCancelKey: async () => {} });
  const params = concat([cstring("user"), cstring("ci"), cstring("database"), cstring("db"), new Uint8Array([0])]);
  const startup = new Uint8Array(8 + params.length);
  new DataView(startup.buffer).setInt32(0, startup.length);
  new DataView(startup.buffer).setInt32(4, 196608);
  startup.set(params, 8);
  await engine.onClientData(startup);
  toClient.length = 0; // (the connect decision is durable: it was written before AuthenticationOk)
  return { engine, toClient, toConnector, durable, ended: () => ended };
}

describe("PostgresEngine on the shared recording filter (real recorder, real storage)", () => {
  it("forwards a write only once its query event and decision are durable, with the trail text masked", async () => {
    const id = newSessionId("pgrec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      const before = storage.transactions;
      await h.engine.onClientData(encodeQuery("delete from customers where email = 'alice@example.com'"));
      expect(h.toConnector).toEqual([{ types: ["Q"], durable: ["session.start", "decision", "query", "decision"] }]);
      expect(storage.transactions - before).toBe(1);
      const query = h.durable().find((e) => e.type === "query")!;
      expect(query.data.text).not.toContain("alice@example.com");
      expect(query.data.text).toMatch(/^delete from customers where email = /);
    });
  });

  it("lets a plain read reach the target before it is durable, and holds its answer until it is", async () => {
    const id = newSessionId("pgrec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      await h.engine.onClientData(encodeQuery("select 1"));
      expect(h.toConnector).toEqual([{ types: ["Q"], durable: ["session.start", "decision"] }]);
      await h.engine.onConnectorData(concat([f.rowDescription([{ name: "x" }]), f.dataRow(["1"]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
      expect(h.toClient).toEqual([{ types: ["T", "D", "C", "Z"], durable: ["session.start", "decision", "query", "decision", "result"] }]);
    });
  });

  it("a failed write: the write is never forwarded, the client gets FATAL 58030 and the session ends", async () => {
    const id = newSessionId("pgrec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const h = await harness(state, id, storage);
      storage.failing = true;
      await h.engine.onClientData(encodeQuery("drop table customers"));
      storage.failing = false;
      expect(h.toConnector).toEqual([]);
      expect(h.toClient.map((s) => s.types)).toEqual([["E"]]);
      expect(h.ended()).toMatchObject({ status: "error", code: "58030", reason: expect.stringMatching(/^gatehouse: session recording failed/) });
    });
  });
});
