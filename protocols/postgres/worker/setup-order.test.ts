/**
 * Session setup overlaps what it can (bench/README.md "Connection setup"); these tests pin the
 * orderings that keep that safe.
 *
 * The connector's stream is asked for when the session starts, but the target is logged in to only
 * after the client's StartupMessage passed the gateway's checks and the connect decision was made.
 *
 * The taint catalogue is read while the client already holds its ReadyForQuery (the catalogue
 * query overlaps the client's first round trip). A client message that arrives before the catalogue has been read is held — not forwarded,
 * not decided on a missing view — and is decided on the catalogue this session read; a catalogue that
 * cannot be read ends the session before anything of the client reaches the target; a relation
 * created later in the session is still unknown to that catalogue (masked whole, as before).
 * The backend is played by the test, message for message (real server: test/e2e/masking-derived.test.ts).
 */
import { describe, expect, it } from "vitest";
import { PostgresEngine } from "./postgres-engine.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import type { SessionAudit } from "../../../worker/session/session-audit.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { concat, cstring, encodeQuery } from "../codec/codec.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { maskModule, pgFramerModule, sqlClassifier } from "../../../worker/wasm-modules.ts";
import * as f from "../../../parsers/masking/fixtures.ts";

const POLICY = `
version: 1
rules:
  - name: everything
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction]
masking:
  rules:
    - name: pii
      columns: [email]
      style: redact
`;

const CUSTOMERS = 16384;
const CATALOGUE_COLUMNS = ["?column?", "oid", "nspname", "relname", "relkind"].map((name) => ({ name }));
/** The answer to the gateway's catalogue query: one base table public.customers (email, note). */
const catalogueAnswer = () =>
  concat([
    f.rowDescription(CATALOGUE_COLUMNS),
    f.dataRow(["rel", String(CUSTOMERS), "public", "customers", "r"]),
    f.dataRow(["att", String(CUSTOMERS), "1", "email", ""]),
    f.dataRow(["att", String(CUSTOMERS), "2", "note", ""]),
    f.commandComplete("SELECT 3"),
    f.readyForQuery(),
  ]);

/** A microtask-and-timer turn: anything the engine could do without the test's next message is done. */
const settle = () => new Promise((r) => setTimeout(r, 10));

async function harness(
  startupParameters: Array<[string, string]> = [["user", "ci"], ["database", "db"]],
  registerCancelKey: (engine: PostgresEngine) => Promise<void> = async () => {},
  /** What the target's login reported (ParameterStatus), as the connector's ready hands it on. */
  loginParameters: Array<[string, string]> = [["client_encoding", "UTF8"]],
) {
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error("policy");
  const identity = { issuer: "https://idp", subject: "ci", claims: {} };
  const resource = { name: "db", type: "postgres", labels: {} };
  const policy = new SessionPolicy(loaded.policy, sqlClassifier(), identity, resource);
  const audit: SessionAudit = {
    onQuery: async () => {},
    onDecision: async () => {},
    onResult: async () => {},
    onNotice: async () => {},
    onMasking: async () => {},
    onEvent: async () => {},
  };
  const toClient: Uint8Array[] = [];
  const toConnector: Uint8Array[] = [];
  const controls: ControlMessage[] = [];
  let ended: SessionOutcome | undefined;
  let engine!: PostgresEngine;
  const streamsAsked: number[] = [];
  const host: EngineHost = {
    sessionId: "s1",
    identity,
    resource,
    policy,
    audit,
    sendToClient: (parts) => void toClient.push(...parts.map((p) => p.slice())),
    // Copied: parts may be views of the framer's memory, valid only until its next push (a hop sends them at once).
    sendToConnector: (parts) => void toConnector.push(...parts.map((p) => p.slice())),
    connectorControl: (m: ControlMessage) => {
      controls.push(m);
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready", parameters: loginParameters, txStatus: "I" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => void streamsAsked.push(controls.length),
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    end: (o) => void (ended = o),
  };
  engine = new PostgresEngine(host, { framerModule: pgFramerModule, masker: createMasker(maskModule, policy.maskingConfig()), registerCancelKey: () => registerCancelKey(engine) });
  const params = concat([...startupParameters.flatMap(([k, v]) => [cstring(k), cstring(v)]), new Uint8Array([0])]);
  const startup = new Uint8Array(8 + params.length);
  new DataView(startup.buffer).setInt32(0, startup.length);
  new DataView(startup.buffer).setInt32(4, 196608);
  startup.set(params, 8);
  await engine.onClientData(startup);
  const types = (parts: Uint8Array[]) => f.splitMessages(concat(parts.splice(0))).map((m) => ({ type: String.fromCharCode(m[0]!), m }));
  return {
    engine,
    /** Backend messages the client received since the last call. */
    received: () => types(toClient),
    /** Frontend messages sent towards the target since the last call (the gateway's own included). */
    forwarded: () => types(toConnector).map(({ type, m }) => ({ type, text: new TextDecoder().decode(m.subarray(5)).replace(/\0$/, "") })),
    controls,
    /** For each request for the connector's stream: how many control messages had gone to it before. */
    streamsAsked,
    ended: () => ended,
  };
}

describe("PostgresEngine: the connector's stream is asked for at session start, the target logged in to after the checks", () => {
  it("asks for the stream once, before the startup, and sends the login (open) only after the startup was accepted", async () => {
    const h = await harness();
    expect(h.streamsAsked).toEqual([0]);
    expect(h.controls.map((c) => c.t)).toEqual(["open"]);
    expect(h.received().map((m) => m.type)).toEqual(["R", "S", "K", "Z"]);
  });

  it("never logs in to the target for a startup the gateway refuses (replication, a pinned setting), though the stream was asked for", async () => {
    for (const refused of [[["user", "ci"], ["database", "db"], ["replication", "database"]], [["user", "ci"], ["database", "db"], ["options", "-c role=admin"]]] as Array<Array<[string, string]>>) {
      const h = await harness(refused);
      expect(h.streamsAsked).toEqual([0]);
      expect(h.controls).toEqual([]);
      expect(h.forwarded()).toEqual([]);
      const got = h.received();
      expect(got.map((m) => m.type)).toEqual(["E"]);
      expect(h.ended()?.status).toBe("denied");
    }
  });
});

describe("PostgresEngine: a session that ends while its cancel key is stored stays ended", () => {
  it("sends no ReadyForQuery and reads no catalogue after the session was terminated during the key write", async () => {
    const h = await harness(undefined, async (engine) => {
      engine.onTerminate("57P01", "the gateway is shutting down");
      await settle();
    });
    expect(h.received().map((m) => m.type)).toEqual(["E"]);
    expect(h.ended()?.code).toBe("57P01");
    // Not reopened: the catalogue query was never sent and a client query is not forwarded.
    await h.engine.onClientData(encodeQuery("select 1"));
    await settle();
    expect(h.forwarded()).toEqual([]);
    expect(h.received()).toEqual([]);
  });

  it("ends the session when the connector closes its stream or fails during the key write", async () => {
    for (const control of [{ t: "close", reason: "target went away" }, { t: "error", code: "08006", message: "target went away" }] as ControlMessage[]) {
      const h = await harness(undefined, async (engine) => {
        await engine.onConnectorControl(control);
        await settle();
      });
      expect(h.received().map((m) => m.type)).toEqual(["E"]);
      expect(h.ended()?.code).toBe("08006");
      expect(h.ended()?.reason).toMatch(/target went away/);
      await h.engine.onClientData(encodeQuery("select 1"));
      await settle();
      expect(h.forwarded()).toEqual([]);
    }
  });
});

describe("PostgresEngine: the taint catalogue is read while the client holds its ReadyForQuery", () => {
  it("holds a statement that arrives before the catalogue is read and decides it on that catalogue", async () => {
    const h = await harness();
    // The client is ready at once; the catalogue query is on its way to the target.
    expect(h.received().map((m) => m.type)).toEqual(["R", "S", "K", "Z"]);
    const sent = h.forwarded();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain("SELECT 'rel'");
    // The client's first statement arrives before the catalogue's answer: nothing of it moves.
    const first = h.engine.onClientData(encodeQuery("select email, note from customers"));
    await settle();
    expect(h.forwarded()).toEqual([]);
    expect(h.received()).toEqual([]);
    // A cancel now has nothing of the client's to cancel (the catalogue query is the gateway's own).
    h.engine.cancel("client");
    expect(h.controls.filter((c) => c.t === "cancel")).toEqual([]);
    // The catalogue arrives; only then is the statement decided and forwarded.
    await h.engine.onConnectorData(catalogueAnswer());
    await first;
    expect(h.forwarded().map((m) => m.text)).toEqual(["select email, note from customers"]);
    // Decided on this session's catalogue: customers is a base table, so note is a plain stored
    // value and email keeps its own rule (without the catalogue both would be derived and redacted).
    await h.engine.onConnectorData(
      concat([f.rowDescription([{ name: "email", tableOid: CUSTOMERS }, { name: "note", tableOid: CUSTOMERS }]), f.dataRow(["alice@example.com", "plain note"]), f.commandComplete("SELECT 1"), f.readyForQuery()]),
    );
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    expect(f.dataRowValues(got[1]!.m)).toEqual(["[REDACTED]", "plain note"]);
    expect(h.ended()).toBeUndefined();
  });

  it("reads generated columns as the server_version the login reported allows: directly from 12, through to_jsonb before 12 or when unreadable", async () => {
    const catalogueSent = async (login: Array<[string, string]>) => {
      const h = await harness(undefined, undefined, [["client_encoding", "UTF8"], ...login]);
      const sent = h.forwarded();
      expect(sent.map((m) => m.type)).toEqual(["Q"]);
      return sent[0]!.text;
    };
    const current = await catalogueSent([["server_version", "18.1 (Debian 18.1-1.pgdg13+2)"]]);
    expect(current).toContain(", a.attgenerated::pg_catalog.text FROM pg_catalog.pg_attribute");
    expect(current).not.toContain("to_jsonb");
    for (const other of [[["server_version", "11.22"]], [], [["server_version", "unknown"]]] as Array<Array<[string, string]>>) {
      expect(await catalogueSent(other)).toContain("COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'attgenerated', '') FROM pg_catalog.pg_attribute");
    }
  });

  it("keeps several early messages in their order behind the catalogue", async () => {
    const h = await harness();
    h.forwarded();
    // One call at a time, as the session's client chain delivers them.
    const both = h.engine.onClientData(encodeQuery("select 1")).then(() => h.engine.onClientData(encodeQuery("select 2")));
    await settle();
    expect(h.forwarded()).toEqual([]);
    await h.engine.onConnectorData(catalogueAnswer());
    await both;
    expect(h.forwarded().map((m) => m.text)).toEqual(["select 1", "select 2"]);
  });

  it("ends the session (08001) when the catalogue cannot be read, and the held statement never reaches the target", async () => {
    const h = await harness();
    h.received();
    h.forwarded();
    const first = h.engine.onClientData(encodeQuery("select email from customers"));
    await settle();
    await h.engine.onConnectorData(concat([f.errorResponse({ S: "ERROR", C: "42501", M: "permission denied for table pg_attribute" }), f.readyForQuery()]));
    await first;
    expect(h.forwarded()).toEqual([]);
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["E"]);
    const text = new TextDecoder().decode(got[0]!.m);
    expect(text).toContain("FATAL");
    expect(text).toContain("08001");
    expect(text).toContain("masking needs the target's catalogue");
    expect(h.ended()?.code).toBe("08001");
  });

  it("reads a catalogue whose answer frames into more messages than one batch holds (one chunk of 6,000 rows)", async () => {
    const h = await harness();
    h.received();
    h.forwarded();
    const first = h.engine.onClientData(encodeQuery("select email, note from customers"));
    const extra = Array.from({ length: 6000 }, (_, k) => f.dataRow(["att", String(CUSTOMERS), String(k + 3), `c${k + 3}`, ""]));
    const answer = catalogueAnswer();
    // The extra rows go in before CommandComplete + ReadyForQuery, all in one chunk from the connector.
    const tail = concat([f.commandComplete("SELECT 3"), f.readyForQuery()]);
    await h.engine.onConnectorData(concat([answer.subarray(0, answer.length - tail.length), ...extra, tail]));
    await first;
    expect(h.forwarded().map((m) => m.text)).toEqual(["select email, note from customers"]);
    expect(h.ended()).toBeUndefined();
  });

  it("does not re-read the catalogue after DDL: a relation created later in the session stays unknown and is masked whole", async () => {
    const h = await harness();
    h.forwarded();
    await h.engine.onConnectorData(catalogueAnswer());
    await h.engine.onClientData(encodeQuery("create table notes (note text)"));
    expect(h.forwarded().map((m) => m.text)).toEqual(["create table notes (note text)"]);
    await h.engine.onConnectorData(concat([f.commandComplete("CREATE TABLE"), f.readyForQuery()]));
    h.received();
    await h.engine.onClientData(encodeQuery("select note from notes"));
    // Only the client's statement: no second catalogue query.
    expect(h.forwarded().map((m) => m.text)).toEqual(["select note from notes"]);
    await h.engine.onConnectorData(concat([f.rowDescription([{ name: "note", tableOid: 16390 }]), f.dataRow(["plain note"]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    const got = h.received();
    expect(f.dataRowValues(got.find((m) => m.type === "D")!.m)).toEqual(["[REDACTED]"]);
  });
});
