/**
 * The worker's PostgreSQL engine (inside workerd) with a recording EngineHost, the real policy
 * engine and SQL classifier, the real WASM framer and masker. The backend side is played by the
 * test, message for message as PostgreSQL answers (the real server is in test/e2e/masking.test.ts):
 * what matters here is what the engine forwards, injects, swallows and masks.
 */
import { describe, expect, it } from "vitest";
import { PostgresEngine } from "./postgres-engine.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import type { ResultEvent, SessionAudit } from "../../../worker/session/session-audit.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { concat, cstring, encodeParse, encodeQuery, errorResponse, message } from "../codec/codec.ts";
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
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction, sql.procedural]
masking:
  rules:
    - name: pii
      columns: [email]
      style: redact
    - name: detectors
      detectors: [email]
      style: redact
`;

const ALICE = "alice@example.com";
const BOB = "bob@example.com";

async function harness(extra: Partial<EngineHost> = {}) {
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
  let ended: SessionOutcome | undefined;
  let engine!: PostgresEngine;
  const host: EngineHost = {
    sessionId: "s1",
    identity,
    resource,
    policy,
    audit,
    // Copied, as the session's hop does: the engine may pass views of the framer's or masker's memory.
    sendToClient: (parts) => void toClient.push(...parts.map((p) => p.slice())),
    sendToConnector: (parts) => {
      // The gateway's catalogue query at session start (taint analysis): an empty catalogue.
      if (String.fromCharCode(parts[0]![0]!) === "Q" && new TextDecoder().decode(parts[0]!).includes("SELECT 'rel'")) {
        queueMicrotask(() => void engine.onConnectorData(concat([f.commandComplete("SELECT 0"), f.readyForQuery()])));
        return;
      }
      toConnector.push(...parts);
    },
    connectorControl: (m: ControlMessage) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready", parameters: [["client_encoding", "UTF8"]], txStatus: "I" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    end: (o) => void (ended = o),
    ...extra,
  };
  const masker = createMasker(maskModule, policy.maskingConfig());
  engine = new PostgresEngine(host, { framerModule: pgFramerModule, masker, registerCancelKey: async () => {} });
  const params = concat([cstring("user"), cstring("ci"), cstring("database"), cstring("db"), new Uint8Array([0])]);
  const startup = new Uint8Array(8 + params.length);
  new DataView(startup.buffer).setInt32(0, startup.length);
  new DataView(startup.buffer).setInt32(4, 196608);
  startup.set(params, 8);
  await engine.onClientData(startup);
  toClient.length = 0;
  /** Backend messages the client received since the last call (type letters and bodies). */
  const received = () => {
    const all = f.splitMessages(concat(toClient.splice(0)));
    return all.map((m) => ({ type: String.fromCharCode(m[0]!), m }));
  };
  /** Frontend messages forwarded to the server since the last call. */
  const forwarded = () => f.splitMessages(concat(toConnector.splice(0))).map((m) => ({ type: String.fromCharCode(m[0]!), body: m.subarray(5) }));
  return { engine, received, forwarded, masker, ended: () => ended };
}

const bind = (portal: string, statement: string, resultFormats: number[] = []) => {
  const formats = new Uint8Array(2 + resultFormats.length * 2);
  const v = new DataView(formats.buffer);
  v.setInt16(0, resultFormats.length);
  resultFormats.forEach((x, k) => v.setInt16(2 + k * 2, x));
  return message("B", concat([cstring(portal), cstring(statement), new Uint8Array([0, 0, 0, 0]), formats]));
};
const describe_ = (kind: "S" | "P", name: string) => message("D", concat([new Uint8Array([kind.charCodeAt(0)]), cstring(name)]));
const execute = (portal: string) => message("E", concat([cstring(portal), new Uint8Array(4)]));
const close = (kind: "S" | "P", name: string) => message("C", concat([new Uint8Array([kind.charCodeAt(0)]), cstring(name)]));
const sync = () => message("S", new Uint8Array(0));
const b = (t: string) => message(t, new Uint8Array(0));

const SHAPE = [{ name: "email" }, { name: "note" }];
const text = (m: Uint8Array) => f.dataRowValues(m);

describe("PostgresEngine masking: rows of an Execute without Describe", () => {
  it("describes the portal itself for pgjdbc's Bind+Execute re-executions and masks by the real shape", async () => {
    const h = await harness();
    // First execution: Parse + Describe S + Bind + Execute + Sync (no Describe of the portal).
    await h.engine.onClientData(concat([encodeParse("S_1", "select email, note from customers"), describe_("S", "S_1"), bind("", "S_1"), execute(""), sync()]));
    expect(h.forwarded().map((m) => m.type + (m.type === "D" ? String.fromCharCode(m.body[0]!) : ""))).toEqual(["P", "DS", "B", "DP", "E", "S"]);
    await h.engine.onConnectorData(concat([b("1"), message("t", new Uint8Array([0, 0])), f.rowDescription(SHAPE), b("2"), f.rowDescription(SHAPE), f.dataRow([ALICE, `write to ${BOB}`]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    let got = h.received();
    // The injected Describe's RowDescription never reaches the client: it sees exactly the answers to what it sent.
    expect(got.map((m) => m.type)).toEqual(["1", "t", "T", "2", "D", "C", "Z"]);
    // (these fake columns have table OID 0: computed, in a statement that reads email → derived)
    expect(text(got[4]!.m)).toEqual(["[REDACTED]", "[REDACTED]"]);
    // Re-executions: Bind + Execute + Sync, twice.
    for (let k = 0; k < 2; k++) {
      await h.engine.onClientData(concat([bind("", "S_1"), execute(""), sync()]));
      expect(h.forwarded().map((m) => m.type)).toEqual(["B", "D", "E", "S"]);
      await h.engine.onConnectorData(concat([b("2"), f.rowDescription(SHAPE), f.dataRow([ALICE, "plain"]), f.dataRow([null, BOB]), f.commandComplete("SELECT 2"), f.readyForQuery()]));
      got = h.received();
      expect(got.map((m) => m.type)).toEqual(["2", "D", "D", "C", "Z"]);
      expect(text(got[1]!.m)).toEqual(["[REDACTED]", "[REDACTED]"]);
      expect(text(got[2]!.m)).toEqual([null, "[REDACTED]"]);
    }
    expect(h.masker.counts()).toEqual({ pii: 0, detectors: 0, "(derived-from-masked)": 8 });
    expect(h.ended()).toBeUndefined();
  });

  it("keeps the binary result formats the Bind asked for (from the portal's own Describe)", async () => {
    const h = await harness();
    // (a statement parsed through the protocol: one made by SQL PREPARE would be treated as derived)
    await h.engine.onClientData(concat([encodeParse("S_2", "select 7 as id, 'x' as e"), bind("", "S_2", [1, 0]), execute(""), sync()]));
    h.forwarded();
    const id = new Uint8Array([0, 0, 0, 7]);
    await h.engine.onConnectorData(concat([b("1"), b("2"), f.rowDescription([{ name: "id", typeOid: 23, format: 1 }, { name: "email", format: 0 }]), f.dataRow([id, ALICE]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["1", "2", "D", "C", "Z"]);
    expect(Array.from(got[2]!.m.subarray(7, 15))).toEqual([0, 0, 0, 4, 0, 0, 0, 7]); // binary int4 untouched
    expect(text(got[2]!.m)[1]).toBe("[REDACTED]");
  });

  it("does not add a Describe when the client described the portal right before (pg, libpq)", async () => {
    const h = await harness();
    await h.engine.onClientData(concat([encodeParse("", "select email from customers"), bind("", ""), describe_("P", ""), execute(""), sync()]));
    expect(h.forwarded().map((m) => m.type)).toEqual(["P", "B", "D", "E", "S"]);
    await h.engine.onConnectorData(concat([b("1"), b("2"), f.rowDescription([{ name: "email" }]), f.dataRow([ALICE]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["1", "2", "T", "D", "C", "Z"]);
    expect(text(got[3]!.m)).toEqual(["[REDACTED]"]);
  });

  it("never masks one portal's rows by another portal's RowDescription", async () => {
    const h = await harness();
    // p2 is described last, but p1 is executed: the engine describes p1 for the masker.
    await h.engine.onClientData(concat([bind("p1", "secret"), bind("p2", "harmless"), describe_("P", "p2"), execute("p1"), sync()]));
    expect(h.forwarded().map((m) => m.type)).toEqual(["B", "B", "D", "D", "E", "S"]);
    await h.engine.onConnectorData(concat([b("2"), b("2"), f.rowDescription([{ name: "n", typeOid: 23 }]), f.rowDescription([{ name: "email" }]), f.dataRow([ALICE]), f.commandComplete("SELECT 1"), f.readyForQuery("T")]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["2", "2", "T", "D", "C", "Z"]);
    expect(text(got[3]!.m)).toEqual(["[REDACTED]"]);
  });

  it("after Close and re-Parse of the same name, masks by the new statement's shape", async () => {
    const h = await harness();
    await h.engine.onClientData(concat([close("S", "S_1"), encodeParse("S_1", "select note as email from t"), bind("", "S_1"), execute(""), sync()]));
    expect(h.forwarded().map((m) => m.type)).toEqual(["C", "P", "B", "D", "E", "S"]);
    await h.engine.onConnectorData(concat([b("3"), b("1"), b("2"), f.rowDescription([{ name: "note" }]), f.dataRow(["see " + BOB]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["3", "1", "2", "D", "C", "Z"]);
    // the statement names a masked column (even as an alias): its computed column is derived
    expect(text(got[3]!.m)).toEqual(["[REDACTED]"]);
    // Bind of a closed statement: the error reaches the client, the rest of the batch is skipped.
    await h.engine.onClientData(concat([close("S", "S_1"), sync(), bind("", "S_1"), execute(""), sync()]));
    h.forwarded();
    await h.engine.onConnectorData(concat([b("3"), f.readyForQuery(), f.errorResponse({ S: "ERROR", C: "26000", M: 'prepared statement "S_1" does not exist' }), f.readyForQuery()]));
    expect(h.received().map((m) => m.type)).toEqual(["3", "Z", "E", "Z"]);
    expect(h.ended()).toBeUndefined();
  });

  it("ends the session when the server's answers do not fit the requests", async () => {
    const h = await harness();
    await h.engine.onClientData(concat([bind("", "S_1"), execute(""), sync()]));
    h.forwarded();
    await h.engine.onConnectorData(concat([b("2"), f.dataRow([ALICE])])); // rows where the Describe answer belongs
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["E"]);
    expect(new TextDecoder().decode(got[0]!.m)).toContain("do not match the client's requests");
    expect(new TextDecoder().decode(got[0]!.m)).not.toContain(ALICE);
    expect(h.ended()).toMatchObject({ status: "error", code: "08P01" });
  });
});

describe("PostgresEngine masking: COPY … TO STDOUT with HEADER", () => {
  const copyAnswers = (lines: string[]) => concat([f.copyOutResponse(0, 1), ...lines.map((l) => f.copyData(l)), f.copyDone(), f.commandComplete(`COPY ${lines.length - 1}`)]);

  it("passes the header line unmasked and masks the rows (simple query, probe for the columns)", async () => {
    const h = await harness();
    await h.engine.onClientData(encodeQuery("COPY (SELECT email FROM customers) TO STDOUT (FORMAT csv, HEADER)"));
    expect(h.forwarded().map((m) => m.type)).toEqual(["P", "D", "S", "Q"]);
    await h.engine.onConnectorData(concat([b("1"), message("t", new Uint8Array([0, 0])), f.rowDescription([{ name: "email" }]), f.readyForQuery()]));
    expect(h.received()).toEqual([]);
    await h.engine.onConnectorData(concat([copyAnswers(["email\n", `${ALICE}\n`]), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["H", "d", "d", "c", "C", "Z"]);
    expect(new TextDecoder().decode(got[1]!.m.subarray(5))).toBe("email\n");
    expect(new TextDecoder().decode(got[2]!.m.subarray(5))).toBe("[REDACTED]\n");
    // the probed column has table OID 0 (computed) in a statement reading email: derived
    expect(h.masker.counts()).toEqual({ pii: 0, detectors: 0, "(derived-from-masked)": 1 });
  });

  it("without HEADER in the statement — or HEADER only in a string — the first line is masked like a row", async () => {
    for (const sql of ["COPY t (email) TO STDOUT (FORMAT csv)", "COPY t (email) TO STDOUT (FORMAT csv, NULL 'HEADER')", "COPY t (email) TO STDOUT CSV FORCE QUOTE header"]) {
      const h = await harness();
      await h.engine.onClientData(encodeQuery(sql));
      expect(h.forwarded().map((m) => m.type)).toEqual(["Q"]);
      await h.engine.onConnectorData(concat([copyAnswers([`${ALICE}\n`, `${BOB}\n`]), f.readyForQuery()]));
      const lines = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
      expect(lines, sql).toEqual(["[REDACTED]\n", "[REDACTED]\n"]);
    }
  });

  it("options the masker cannot take leave the COPY of unknown shape: every value nulled", async () => {
    const h = await harness();
    await h.engine.onClientData(encodeQuery(`COPY t (email) TO STDOUT (FORMAT csv, HEADER, NULL '${"n".repeat(100)}')`));
    h.forwarded();
    await h.engine.onConnectorData(concat([copyAnswers(["email\n", `${ALICE}\n`]), f.readyForQuery()]));
    const lines = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
    expect(lines).toEqual(["\\N\n", "\\N\n"]);
    expect(h.ended()).toBeUndefined();
  });

  it("a HEADER format never reaches another statement's COPY", async () => {
    const h = await harness();
    // Two COPYs in one string: HEADER is not honoured at all; each gets its own column list.
    await h.engine.onClientData(encodeQuery("COPY t (email) TO STDOUT; COPY u (email) TO STDOUT CSV HEADER"));
    h.forwarded();
    await h.engine.onConnectorData(concat([copyAnswers([`${ALICE}\n`]), copyAnswers(["email\n", `${BOB}\n`]), f.readyForQuery()]));
    const lines = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
    expect(lines).toEqual(["[REDACTED]\n", "[REDACTED]\n", "[REDACTED]\n"]);
    // A prepared COPY with HEADER, then another statement executed: its output gets no header format.
    await h.engine.onClientData(concat([encodeParse("c", "COPY t (email) TO STDOUT (FORMAT csv, HEADER)"), encodeParse("plain", "COPY t (email) TO STDOUT (FORMAT csv)"), bind("", "plain"), execute(""), sync()]));
    h.forwarded();
    await h.engine.onConnectorData(concat([b("1"), b("1"), b("2"), b("n"), copyAnswers([`${ALICE}\n`, `${BOB}\n`]), f.readyForQuery()]));
    const rows = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
    expect(rows).toEqual(["[REDACTED]\n", "[REDACTED]\n"]);
    // …while the prepared COPY itself keeps its header on every execution.
    for (let k = 0; k < 2; k++) {
      await h.engine.onClientData(concat([bind("", "c"), execute(""), sync()]));
      h.forwarded();
      await h.engine.onConnectorData(concat([b("2"), b("n"), copyAnswers(["email\n", `${ALICE}\n`]), f.readyForQuery()]));
      const out = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
      expect(out).toEqual(["email\n", "[REDACTED]\n"]);
    }
  });
});

describe("PostgresEngine masking: output borrowed from the masker", () => {
  it("delivers each batch intact although the masker is used (and its memory grows) before the next one and while the trail writes", async () => {
    let masker!: ReturnType<typeof createMasker>;
    // What the client side may do meanwhile (the trail masking a request's text): 3 MB, so the
    // masker's WASM memory grows and a view of the old memory would be emptied.
    const busy = () => masker.maskText(f.utf8(`${BOB} `.repeat(200_000)));
    const quiet = async () => {};
    const h = await harness({ audit: { onQuery: quiet, onDecision: quiet, onResult: async () => void busy(), onNotice: quiet, onMasking: quiet, onEvent: quiet } });
    masker = h.masker;
    await h.engine.onClientData(encodeQuery("COPY t (note) TO STDOUT (FORMAT csv)"));
    expect(h.forwarded().map((m) => m.type)).toEqual(["Q"]);
    const lines = (from: number) => Array.from({ length: 500 }, (_, k) => f.copyData(`mail ${ALICE} ${from + k}\n`));
    // No event describes these batches: each is sent straight from the masker's memory.
    await h.engine.onConnectorData(concat([f.copyOutResponse(0, 1), ...lines(0)]));
    busy();
    await h.engine.onConnectorData(concat(lines(500)));
    // The result event is written (the masker used meanwhile) before this batch is sent.
    await h.engine.onConnectorData(concat([...lines(1000), f.copyDone(), f.commandComplete("COPY 1500"), f.readyForQuery()]));
    const got = h.received().filter((m) => m.type === "d").map((m) => new TextDecoder().decode(m.m.subarray(5)));
    expect(got).toEqual(Array.from({ length: 1500 }, (_, k) => `mail [REDACTED] ${k}\n`));
    expect(h.ended()).toBeUndefined();
  });
});

describe("PostgresEngine: the tenant's request rate (hosted mode)", () => {
  const THROTTLE = { message: "gatehouse: request refused: the tenant's request rate limit is reached (max_requests_per_second: 1, burst 2); retry in 1 s", retryAfterSeconds: 1 };
  /** The server's answer to a sentinel the engine forwarded: a syntax error naming it. */
  const syntaxErrorFor = (forwardedText: string) => errorResponse({ severity: "ERROR", code: "42601", message: `syntax error at or near "${/gatehouse_denied_[0-9a-f]+/.exec(forwardedText)![0]}"` });

  it("a simple query costs its statements; refused, nothing of it reaches the server and the client gets 53400", async () => {
    const costs: number[] = [];
    const h = await harness({ admitRequest: async (cost?: number) => (costs.push(cost ?? 1), (cost ?? 1) > 1 ? THROTTLE : null) });
    await h.engine.onClientData(encodeQuery("select 1; select 2; select 3"));
    const sent = h.forwarded();
    expect(sent.map((m) => m.type)).toEqual(["Q"]);
    const text = new TextDecoder().decode(sent[0]!.body);
    expect(text).not.toContain("select");
    await h.engine.onConnectorData(concat([syntaxErrorFor(text), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
    const err = new TextDecoder().decode(got[0]!.m);
    expect(err).toContain("C53400");
    expect(err).toContain("request rate limit is reached");
    expect(costs).toEqual([3]);
    // The session stays usable: the next (single) statement is admitted and forwarded as sent.
    await h.engine.onClientData(encodeQuery("select 4"));
    expect(new TextDecoder().decode(h.forwarded()[0]!.body)).toContain("select 4");
    expect(h.ended()).toBeUndefined();
  });

  it("every Execute of a prepared statement is a request: a refused one never runs", async () => {
    let calls = 0;
    // Parse admitted, first Execute admitted, the second refused.
    const h = await harness({ admitRequest: async () => (++calls === 3 ? THROTTLE : null) });
    await h.engine.onClientData(concat([encodeParse("S_1", "select 1"), bind("", "S_1"), describe_("P", ""), execute(""), sync()]));
    expect(h.forwarded().map((m) => m.type)).toEqual(["P", "B", "D", "E", "S"]);
    await h.engine.onConnectorData(concat([b("1"), b("2"), f.rowDescription([{ name: "x" }]), f.dataRow(["1"]), f.commandComplete("SELECT 1"), f.readyForQuery()]));
    h.received();
    await h.engine.onClientData(concat([bind("", "S_1"), describe_("P", ""), execute(""), sync()]));
    const sent = h.forwarded();
    // The Execute was replaced by a failing sentinel Parse: the statement does not run again.
    expect(sent.map((m) => m.type)).toEqual(["B", "D", "P", "S"]);
    const sentinel = new TextDecoder().decode(sent[2]!.body);
    await h.engine.onConnectorData(concat([b("2"), f.rowDescription([{ name: "x" }]), syntaxErrorFor(sentinel), f.readyForQuery()]));
    const got = h.received();
    expect(got.map((m) => m.type)).toEqual(["2", "T", "E", "Z"]);
    expect(new TextDecoder().decode(got[2]!.m)).toContain("C53400");
    expect(calls).toBe(3);
  });

  describe("refused before parsing (an empty bucket: cheap, already counted in the trail)", () => {
    const EARLY = { ...THROTTLE, recorded: true };
    /** A host whose bucket is empty: every request is refused before parsing; nothing else may be asked or recorded. */
    const emptyBucket = () => {
      const asked = { admit: 0, recorded: 0 };
      const record = async () => void asked.recorded++;
      const extra: Partial<EngineHost> = {
        refuseBeforeParse: async () => EARLY,
        admitRequest: async () => (asked.admit++, null),
        audit: { onQuery: record, onDecision: record, onResult: async () => {}, onNotice: async () => {}, onMasking: async () => {}, onEvent: async () => {} },
      };
      return { asked, extra };
    };

    it("a simple query alone, outside a transaction, is answered by the gateway: nothing reaches the server, nothing is classified or recorded", async () => {
      const { asked, extra } = emptyBucket();
      const h = await harness(extra);
      asked.recorded = 0; // (the session's connect decision)
      await h.engine.onClientData(encodeQuery("select pg_sleep(10); delete from orders"));
      expect(h.forwarded()).toEqual([]);
      const got = h.received();
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(new TextDecoder().decode(got[0]!.m)).toContain("C53400");
      expect(got[1]!.m.at(-1)).toBe("I".charCodeAt(0));
      expect(asked).toEqual({ admit: 0, recorded: 0 });
      expect(h.ended()).toBeUndefined();
    });

    it("inside a transaction block the refusal travels as a sentinel, so the server aborts the transaction as for any failed statement", async () => {
      let refuse = false;
      const h = await harness({ refuseBeforeParse: async () => (refuse ? EARLY : null) });
      await h.engine.onClientData(encodeQuery("begin"));
      h.forwarded();
      await h.engine.onConnectorData(concat([f.commandComplete("BEGIN"), f.readyForQuery("T")]));
      h.received();
      refuse = true;
      await h.engine.onClientData(encodeQuery("delete from orders"));
      const sent = h.forwarded();
      expect(sent.map((m) => m.type)).toEqual(["Q"]);
      const text = new TextDecoder().decode(sent[0]!.body);
      expect(text).not.toContain("orders");
      await h.engine.onConnectorData(concat([syntaxErrorFor(text), f.readyForQuery("E")]));
      const got = h.received();
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(new TextDecoder().decode(got[0]!.m)).toContain("C53400");
    });

    it("a Parse refused before parsing takes its name with a failing sentinel; the SQL never reaches the server", async () => {
      const { asked, extra } = emptyBucket();
      const h = await harness(extra);
      asked.recorded = 0; // (the session's connect decision)
      await h.engine.onClientData(concat([encodeParse("S_9", "delete from orders"), sync()]));
      const sent = h.forwarded();
      expect(sent.map((m) => m.type)).toEqual(["P", "S"]);
      const body = new TextDecoder().decode(sent[0]!.body);
      expect(body.startsWith("S_9\0")).toBe(true);
      expect(body).not.toContain("orders");
      await h.engine.onConnectorData(concat([syntaxErrorFor(body), f.readyForQuery()]));
      expect(new TextDecoder().decode(h.received()[0]!.m)).toContain("C53400");
      expect(asked).toEqual({ admit: 0, recorded: 0 });
    });
  });
});

describe("PostgresEngine: result events of a response", () => {
  it("counts and samples each statement's rows into its own result, also when the answers arrive as one chunk in several masked parts", async () => {
    const results: ResultEvent[] = [];
    const audit: SessionAudit = {
      onQuery: async () => {},
      onDecision: async () => {},
      onResult: async (e) => void results.push(e),
      onNotice: async () => {},
      onMasking: async () => {},
      onEvent: async () => {},
    };
    const h = await harness({ audit });
    await h.engine.onClientData(encodeQuery("select 1 as a; select email from customers; select 2 as b"));
    h.forwarded();
    // One chunk: the second RowDescription starts a run of its own (its plan), so the client gets several parts.
    await h.engine.onConnectorData(
      concat([
        f.rowDescription([{ name: "a", typeOid: 23 }]),
        f.dataRow(["1"]),
        f.commandComplete("SELECT 1"),
        f.rowDescription([{ name: "email", tableOid: 16384 }]),
        f.dataRow([ALICE]),
        f.dataRow([BOB]),
        f.commandComplete("SELECT 2"),
        f.rowDescription([{ name: "b", typeOid: 23 }]),
        f.commandComplete("SELECT 0"),
        f.readyForQuery(),
      ]),
    );
    expect(h.received().map((m) => m.type)).toEqual(["T", "D", "C", "T", "D", "D", "C", "T", "C", "Z"]);
    expect(results.map(({ columns, rows, rowsSample, commandTag }) => ({ columns, rows, rowsSample, commandTag }))).toEqual([
      // (a computed int4 of a query that reads a masked column: derived, NULL as the client sees it)
      { columns: ["a"], rows: 1, rowsSample: [[null]], commandTag: "SELECT 1" },
      { columns: ["email"], rows: 2, rowsSample: [["[REDACTED]"], ["[REDACTED]"]], commandTag: "SELECT 2" },
      { columns: ["b"], rows: 0, rowsSample: undefined, commandTag: "SELECT 0" },
    ]);
  });
});
