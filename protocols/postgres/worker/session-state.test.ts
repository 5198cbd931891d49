/**
 * The engine's session-state steps (inside workerd) with the real policy engine, classifier and
 * framer; the test plays the server message for message. What matters: what is forwarded, when,
 * and what is refused or ends the session. (Against the real server: test/e2e/session-state.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { PostgresEngine } from "./postgres-engine.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import type { DecisionEvent, SessionAudit } from "../../../worker/session/session-audit.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { concat, cstring, encodeParse, encodeQuery, message, parameterStatus } from "../codec/codec.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { pgFramerModule, sqlClassifier } from "../../../worker/wasm-modules.ts";
import * as f from "../../../parsers/masking/fixtures.ts";

const POLICY = `
version: 1
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, sql.transaction]
`;

async function harness(startup: Array<[string, string]> = [], login: Array<[string, string]> = [["client_encoding", "UTF8"]]) {
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "db", type: "postgres", labels: {} };
  const decisions: DecisionEvent[] = [];
  const audit: SessionAudit = {
    onQuery: async () => {},
    onDecision: async (d) => void decisions.push(d),
    onResult: async () => {},
    onNotice: async () => {},
    onMasking: async () => {},
    onEvent: async () => {},
  };
  const toClient: Uint8Array[] = [];
  const toConnector: Uint8Array[] = [];
  let ended: SessionOutcome | undefined;
  let engine!: PostgresEngine;
  const host: EngineHost = {
    sessionId: "s1",
    identity,
    resource,
    policy: new SessionPolicy(loaded.policy, sqlClassifier(), identity, resource),
    audit,
    sendToClient: (parts) => void toClient.push(...parts),
    sendToConnector: (parts) => void toConnector.push(...parts),
    connectorControl: (m: ControlMessage) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready", parameters: login, txStatus: "I" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    end: (o) => void (ended = o),
  };
  engine = new PostgresEngine(host, { framerModule: pgFramerModule, registerCancelKey: async () => {} });
  const params = concat([...[["user", "ci"], ["database", "db"], ...startup].flatMap(([k, v]) => [cstring(k!), cstring(v!)]), new Uint8Array([0])]);
  const packet = new Uint8Array(8 + params.length);
  new DataView(packet.buffer).setInt32(0, packet.length);
  new DataView(packet.buffer).setInt32(4, 196608);
  packet.set(params, 8);
  await engine.onClientData(packet);
  const received = () => f.splitMessages(concat(toClient.splice(0))).map((m) => ({ type: String.fromCharCode(m[0]!), text: new TextDecoder().decode(m.subarray(5)) }));
  const forwarded = () => f.splitMessages(concat(toConnector.splice(0))).map((m) => ({ type: String.fromCharCode(m[0]!), text: new TextDecoder().decode(m.subarray(5)) }));
  return { engine, received, forwarded, decisions, ended: () => ended };
}

const sync = () => message("S", new Uint8Array(0));
const answered = () => concat([message("C", cstring("SELECT 1")), f.readyForQuery()]);

describe("session state in the engine", () => {
  it("refuses unsafe client encodings and pinned startup parameters before connecting", async () => {
    for (const startup of [[["client_encoding", "sjis"]], [["client_encoding", "Big5"]], [["options", "-c search_path=evil"]], [["search_path", "evil"]]] as Array<Array<[string, string]>>) {
      const h = await harness(startup);
      expect(h.ended()?.code, JSON.stringify(startup)).toBe("42501");
      expect(h.forwarded()).toEqual([]);
      expect(h.decisions.at(-1)?.rule).toBe("gatehouse:session-pin");
    }
  });

  it("refuses a login whose client or server encoding is unsafe", async () => {
    for (const login of [[["client_encoding", "GBK"]], [["server_encoding", "UTF8"], ["client_encoding", "GB18030"]]] as Array<Array<[string, string]>>) {
      const h = await harness([], login);
      expect(h.ended()?.code).toBe("42501");
      expect(h.received().some((m) => m.type === "E" && /is refused/.test(m.text))).toBe(true);
    }
  });

  it("holds a non-ASCII query until every earlier one is answered; ASCII ones flow", async () => {
    const h = await harness();
    h.received();
    const pending = h.engine.onClientData(concat([encodeQuery("select 1"), encodeQuery("select 2"), encodeQuery("select 'é'")]));
    await new Promise((r) => setTimeout(r, 0));
    expect(h.forwarded().map((m) => m.text)).toEqual(["select 1\0", "select 2\0"]);
    await h.engine.onConnectorData(answered());
    expect(h.forwarded()).toEqual([]);
    await h.engine.onConnectorData(answered());
    await pending;
    expect(h.forwarded().map((m) => m.text)).toEqual(["select 'é'\0"]);
  });

  it("refuses a non-ASCII Parse pipelined behind unsynced messages", async () => {
    const h = await harness();
    await h.engine.onClientData(concat([encodeParse("", "select 1"), encodeParse("", "select 'é'"), sync()]));
    const sent = h.forwarded();
    expect(sent[0]!.text).toContain("select 1");
    expect(sent[1]!.text).toContain("gatehouse_denied_");
    expect(h.decisions.at(-1)).toMatchObject({ effect: "deny", rule: "gatehouse:session-pin" });
  });

  it("ends the session when the server reports a pinned setting changed by code it could not see", async () => {
    const h = await harness([], [["client_encoding", "UTF8"], ["search_path", '"$user", public']]);
    h.received();
    await h.engine.onClientData(encodeQuery("select * from innocent_view"));
    await h.engine.onConnectorData(concat([parameterStatus("search_path", "evil, pg_catalog"), answered()]));
    expect(h.ended()?.code).toBe("42501");
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["E"]);
    expect(got[0]!.text).toMatch(/search_path changed/);
  });

  it("ends the session when the server reports an unsafe client encoding", async () => {
    const h = await harness();
    await h.engine.onClientData(encodeQuery("select * from innocent_view"));
    await h.engine.onConnectorData(concat([parameterStatus("client_encoding", "SJIS"), answered()]));
    expect(h.ended()?.code).toBe("42501");
  });
});
