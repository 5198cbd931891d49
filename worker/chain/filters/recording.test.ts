/**
 * The shared recording filter's durability ordering, on a real FilterChain over the real recorder
 * and real Durable Object storage (made to fail for the fail-closed case): what is durable is read
 * from storage itself, at the moment the forwarder or the delivery runs.
 */
import { describe, expect, it } from "vitest";
import { FilterChain } from "../chain.ts";
import type { ChainEnds, Refusal, RequestDescription } from "../types.ts";
import { recordingFilter } from "./recording.ts";
import { policyDecisionFilter } from "./policy-decision.ts";
import type { RecorderAudit } from "../../audit/open-recorder-audit.ts";
import { durableTrail, FlakyStorage, inSessionObject, newSessionId, openTestAudit } from "../../audit/test-helpers.ts";

const durableEvents = (state: DurableObjectState) => durableTrail(state).map((e) => e.type);

async function openAudit(id: string, storage: FlakyStorage): Promise<RecorderAudit> {
  return openTestAudit(id, storage, { name: "demo-pg", type: "postgres" });
}

/** A chain recording → decision (allow) → recording gate → forwarder; each end notes what was durable when it ran. */
function chainOver(state: DurableObjectState, audit: RecorderAudit) {
  const seen = { forwarded: [] as Array<{ message: string; durable: string[] }>, delivered: [] as Array<{ message: string; durable: string[] }>, refused: [] as Refusal[] };
  const recording = recordingFilter<string>({
    audit,
    maskTexts: (texts) => texts.map((t) => t.replace(/'[^']*'/g, "'***'")),
    requestEvent: (f) => ({ protocol: "postgres", message: "simple", text: f.request!.text }),
    answerEvents: (f) => [() => audit.onResult({ rows: 1, commandTag: f.message })],
  });
  const ends: ChainEnds<string> = {
    forward: (f) => void seen.forwarded.push({ message: f.message, durable: durableEvents(state) }),
    deliver: (f) => void seen.delivered.push({ message: f.message, durable: durableEvents(state) }),
    refuse: (r) => void seen.refused.push(r),
  };
  const chain = new FilterChain<string>(
    [recording, policyDecisionFilter({ decide: () => ({ effect: "allow", rule: "any", reason: "ok", matched: [] }), record: (d) => recording.trail.decision(d) }), recording.beforeForward],
    ends,
  );
  return { chain, seen };
}

const read = (text: string): RequestDescription => ({ protocol: "postgres", actions: ["read"], text, attributes: { readOnly: true } });
const write = (text: string): RequestDescription => ({ protocol: "postgres", actions: ["write"], text });

describe("recording filter: durability ordering (real recorder, real storage)", () => {
  it("a write is not forwarded before its event and decision are durable, in one write", async () => {
    const id = newSessionId("rec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const audit = await openAudit(id, storage);
      const { chain, seen } = chainOver(state, audit);
      const before = storage.transactions;
      expect((await chain.decode("Q", write("delete from t where note = 'x'"))).kind).toBe("passed");
      expect(seen.forwarded).toEqual([{ message: "Q", durable: ["session.start", "query", "decision"] }]);
      expect(storage.transactions - before).toBe(1);
      // The trail text was masked by the filter (detectors), the request itself forwarded as sent.
      expect(durableTrail(state).find((e) => e.type === "query")!.data.text).toBe("delete from t where note = '***'");
    });
  });

  it("a read may go ahead before it is durable, but its answer is held until it is", async () => {
    const id = newSessionId("rec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const audit = await openAudit(id, storage);
      const { chain, seen } = chainOver(state, audit);
      await chain.decode("Q", read("select 1"));
      expect(seen.forwarded).toEqual([{ message: "Q", durable: ["session.start"] }]);
      await chain.encode("SELECT 1");
      expect(seen.delivered).toEqual([{ message: "SELECT 1", durable: ["session.start", "query", "decision", "result"] }]);
    });
  });

  it("a failed write ends the session: the request is refused (fatal, the recorder's own code), never forwarded; an answer is never delivered unrecorded", async () => {
    const id = newSessionId("rec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const audit = await openAudit(id, storage);
      const { chain, seen } = chainOver(state, audit);
      storage.failing = true;
      const out = await chain.decode("Q", write("drop table t"));
      storage.failing = false;
      expect(out).toMatchObject({ kind: "refused", by: "recording-gate", refusal: { fatal: true, code: "58030", message: expect.stringMatching(/^gatehouse: session recording failed/) } });
      expect(seen.forwarded).toEqual([]);
      const answer = await chain.encode("SELECT 1");
      expect(answer).toMatchObject({ kind: "refused", by: "recording", refusal: { fatal: true } });
      expect(seen.delivered).toEqual([]);
    });
  });

  it("a read's answer whose write fails is not delivered (the session ends)", async () => {
    const id = newSessionId("rec");
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const audit = await openAudit(id, storage);
      const { chain, seen } = chainOver(state, audit);
      await chain.decode("Q", read("select secret from t"));
      expect(seen.forwarded).toHaveLength(1);
      storage.failing = true;
      const out = await chain.encode("the secret row");
      storage.failing = false;
      expect(out).toMatchObject({ kind: "refused", by: "recording", refusal: { fatal: true, code: "58030" } });
      expect(seen.delivered).toEqual([]);
    });
  });
});
