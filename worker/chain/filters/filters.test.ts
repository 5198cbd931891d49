/**
 * The shared filters inside workerd, each on a real FilterChain: the policy decision with the real
 * policy engine and SQL classifier, the approval hold against the real ApprovalsObject, masking,
 * recording, admission and the request timeout.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../../env.ts";
import { FilterChain } from "../chain.ts";
import type { ChainEnds, ChainFrame, Filter, Refusal } from "../types.ts";
import { admissionFilter } from "./admission.ts";
import { policyDecisionFilter } from "./policy-decision.ts";
import { approvalHoldFilter } from "./approval-hold.ts";
import { requestMaskingFilter } from "./request-masking.ts";
import { resultMaskingFilter } from "./result-masking.ts";
import { recordingFilter } from "./recording.ts";
import { timeoutFilter } from "./timeout.ts";
import { SessionPolicy } from "../../session/session-policy.ts";
import { sqlClassifier } from "../../wasm-modules.ts";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { ApprovalHolds } from "../../approvals/session-hold.ts";
import { approvalsStub, getApproval } from "../../approvals/client.ts";
import { outcomeOf } from "../../approvals/core.ts";
import { principalOf } from "../../approvals/ci-context.ts";
import type { DecisionEvent } from "../../session/session-audit.ts";
import { sqlRequest } from "../../../protocols/postgres/policy/describe.ts";
import { sshRequest } from "../../../protocols/ssh/policy/describe.ts";
import { parseCommandLine } from "../../../protocols/ssh/codec/shell/parse.ts";

const testEnv = env as unknown as Env;
const POLICY = `
version: 1
roles:
  approver:
    - issuer: https://idp.example
      subject: alice
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, ssh.exec]
  - name: writes-need-approval
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
    approvers: [{ role: approver }]
  - name: no-ddl
    effect: deny
    subjects: any
    resources: any
    actions: [sql.ddl]
`;
const PIPELINE = { issuer: "https://token.actions.githubusercontent.com", subject: "repo:acme/shop:ref:refs/heads/main", claims: { repository: "acme/shop", run_id: "5" } };
const ALICE = principalOf({ issuer: "https://idp.example", subject: "alice", claims: { email: "alice@example.com" } });

async function sessionPolicy(type = "postgres") {
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return new SessionPolicy(loaded.policy, sqlClassifier(), PIPELINE, { name: "demo", type, labels: {} });
}

interface Ends extends ChainEnds<string> {
  forwarded: string[];
  delivered: string[];
  refused: Refusal[];
}
function ends(): Ends {
  const e: Ends = {
    forwarded: [],
    delivered: [],
    refused: [],
    forward: (f) => void e.forwarded.push(f.message),
    deliver: (f) => void e.delivered.push(f.message),
    refuse: (r) => void e.refused.push(r),
  };
  return e;
}

let n = 0;
const sessionId = () => `20000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;

afterEach(() => {
  vi.useRealTimers();
});

describe("policy decision filter", () => {
  it("decides with the one decide entry point, records the decision naming its rule, refuses a deny", async () => {
    const policy = await sessionPolicy();
    const decisions: DecisionEvent[] = [];
    const e = ends();
    const chain = new FilterChain<string>([policyDecisionFilter({ decide: (r) => policy.decide(r).decision, record: async (d) => void decisions.push(d) })], e);
    const ok = await chain.decode("q1", sqlRequest("select 1", true));
    const denied = await chain.decode("q2", sqlRequest("drop table orders", true));
    const sync = await chain.decode("sync");
    expect(ok.kind).toBe("passed");
    expect(ok.frame.decision?.rule).toBe("reads");
    expect(denied.kind).toBe("refused");
    expect(e.refused[0]).toMatchObject({ kind: "denied" });
    expect(e.refused[0]!.message).toMatch(/^gatehouse: request refused: rule 'no-ddl'/);
    expect(sync.kind).toBe("passed");
    expect(e.forwarded).toEqual(["q1", "sync"]);
    expect(decisions.map((d) => [d.effect, d.rule])).toEqual([
      ["allow", "reads"],
      ["deny", "no-ddl"],
    ]);
  });

  it("decides SSH requests through the rule kind the SSH module plugs in; unknown protocols are denied", async () => {
    const policy = await sessionPolicy("ssh");
    const chain = new FilterChain<string>([policyDecisionFilter({ decide: (r) => policy.decide(r).decision, record: async () => {} })], ends());
    const exec = await chain.decode("x", sshRequest({ kind: "exec", line: parseCommandLine("uptime") }));
    const shell = await chain.decode("s", sshRequest({ kind: "shell" }));
    const odd = await chain.decode("o", { protocol: "gopher", actions: ["get"], text: "/" });
    expect(exec.frame.decision).toMatchObject({ effect: "allow", rule: "reads" });
    expect(shell.kind).toBe("refused");
    expect(odd.kind).toBe("refused");
    expect(odd.frame.decision?.reason).toContain('no policy rules exist for protocol "gopher"');
  });

  it("an SQL decision follows standard_conforming_strings (a backslash reads differently)", async () => {
    const policy = await sessionPolicy();
    const text = "select 'a\\' ; drop table t; --'";
    expect(policy.decide(sqlRequest(text, true)).decision.effect).toBe("deny");
    expect(policy.decide(sqlRequest(text, false)).decision.effect).toBe("allow");
  });
});

describe("approval hold filter (real ApprovalsObject)", () => {
  async function setup() {
    const policy = await sessionPolicy();
    const id = sessionId();
    const holds = new ApprovalHolds({ env: testEnv, sessionId: id, audit: { onEvent: async () => {} } });
    const notices: string[] = [];
    const decisions: DecisionEvent[] = [];
    const requested: string[] = [];
    const e = ends();
    const filters: Filter<string>[] = [
      requestMaskingFilter({ display: (r) => ({ text: r.text.replace(/'[^']*'/g, "'…'") }) }),
      policyDecisionFilter({ decide: (r) => policy.decide(r).decision, record: async (d) => void decisions.push(d) }),
      approvalHoldFilter({
        hold: async (input) => {
          requested.push(input.displayText);
          return holds.hold({ resource: "demo", identity: PIPELINE, ...input });
        },
        notify: (line) => void notices.push(line),
        record: async (d) => void decisions.push(d),
      }),
    ];
    return { chain: new FilterChain(filters, e), e, notices, decisions, requested, holds };
  }

  it("stops the chain until approved, tells the client at once, then forwards the exact request", async () => {
    const { chain, e, notices, decisions, requested, holds } = await setup();
    const held = chain.decode("update", sqlRequest("update orders set note = 'secret'", true));
    const later = chain.decode("later", sqlRequest("select 1", true));
    await vi.waitFor(() => expect(notices.length).toBe(1));
    expect(chain.stopped).toBe(true);
    expect(e.forwarded).toEqual([]);
    expect(requested).toEqual(["update orders set note = '…'"]);
    const id = /approval (\S+)/.exec(notices[0]!)![1]!;
    await approvalsStub(testEnv).vote(id, ALICE, "approve", "ok", ["writes-need-approval"]);
    // What SessionObject.approvalDecided does when the ApprovalsObject calls back.
    await holds.deliver(id, outcomeOf((await getApproval(testEnv, id))!)!);
    expect((await held).kind).toBe("passed");
    await later;
    expect(e.forwarded).toEqual(["update", "later"]);
    expect(decisions.map((d) => [d.effect, d.rule])).toEqual([
      ["approve", "writes-need-approval"],
      ["allow", "writes-need-approval"],
      ["allow", "reads"],
    ]);
  });

  it("never shows approvers an invisible or reordering character, nor a lone carriage return as a line break", async () => {
    // MySQL's and the shell's displays are their masked text: what a terminal, the console or Slack
    // would reorder (U+202E), hide (U+200B) or overwrite (a lone \r) arrives as visible marks.
    const { chain, notices, requested, holds } = await setup();
    const held = chain.decode("update", sqlRequest("update orders set x = 1 -- \u202eevil\u200b\rdone", true));
    await vi.waitFor(() => expect(notices.length).toBe(1));
    expect(requested).toEqual(["update orders set x = 1 -- <U+202E>evil<U+200B><U+000D>done"]);
    await holds.withdrawAll("test over");
    expect((await held).kind).toBe("refused");
  });

  it("refuses a denied request with the approval's code, and the session goes on", async () => {
    const { chain, e, notices, holds } = await setup();
    const held = chain.decode("update", sqlRequest("update orders set x = 1", true));
    await vi.waitFor(() => expect(notices.length).toBe(1));
    const id = /approval (\S+)/.exec(notices[0]!)![1]!;
    await approvalsStub(testEnv).vote(id, ALICE, "deny", "no", ["writes-need-approval"]);
    await holds.deliver(id, outcomeOf((await getApproval(testEnv, id))!)!);
    const out = await held;
    expect(out.kind).toBe("refused");
    expect(e.refused[0]).toMatchObject({ kind: "approval", code: "42501" });
    expect((await chain.decode("next", sqlRequest("select 1", true))).kind).toBe("passed");
  });

  it("refuses when the approval request itself fails (fail closed), recording the deny", async () => {
    const policy = await sessionPolicy();
    const decisions: DecisionEvent[] = [];
    const e = ends();
    const chain = new FilterChain<string>(
      [
        policyDecisionFilter({ decide: (r) => policy.decide(r).decision, record: async (d) => void decisions.push(d) }),
        approvalHoldFilter({ hold: async () => Promise.reject(new Error("approvals unreachable")), notify: () => {}, record: async (d) => void decisions.push(d) }),
      ],
      e,
    );
    expect((await chain.decode("u", sqlRequest("update t set x = 1", true))).kind).toBe("refused");
    expect(e.refused[0]!.message).toContain("approvals unreachable");
    expect(decisions.at(-1)).toMatchObject({ effect: "deny", rule: "writes-need-approval" });
  });
});

describe("masking and recording filters", () => {
  it("records the request with its trail text joined to its decision, and the answer as the client receives it (masked)", async () => {
    const log: string[] = [];
    const audit = {
      onQuery: async (q: { text: string; readOnly?: boolean }) => void log.push(`query ${q.text} readOnly=${q.readOnly}`),
      onDecision: async (d: DecisionEvent) => void log.push(`decision ${d.effect}`),
    };
    let masked = 0;
    const masking = resultMaskingFilter<string>({
      masker: {
        process: (m) => m.replace(/\S+@\S+/g, () => (masked++, "[email]")),
        counts: () => ({ pii: masked }),
      },
    });
    const recording = recordingFilter<string>({
      audit,
      maskTexts: (texts) => texts.map((t) => t.replace(/\d+/g, "?")),
      answerEvents: (f) => [async () => void log.push(`result ${f.message}`)],
    });
    const chain = new FilterChain<string>(
      [recording, policyDecisionFilter({ decide: () => ({ effect: "allow", rule: "reads", reason: "ok", matched: [] }), record: (d) => recording.trail.decision(d) }), masking, recording.beforeForward],
      ends(),
    );
    await chain.decode("q", { protocol: "postgres", actions: [], text: "select 42", attributes: { readOnly: true } });
    await chain.encode("row a@example.com b@example.com");
    await chain.encode("row plain");
    expect(log).toEqual(["query select ? readOnly=true", "decision allow", "result row [email] [email]", "result row plain"]);
    expect(masking.counts()).toEqual({ pii: 2 });
  });

  it("a masker that fails ends the session: the answer is refused (fatal), never delivered unmasked", async () => {
    const e = ends();
    const chain = new FilterChain<string>(
      [
        resultMaskingFilter<string>({
          masker: {
            process: () => {
              throw new Error("gatehouse: the masking window overflowed");
            },
            counts: () => ({}),
          },
        }),
      ],
      e,
    );
    const out = await chain.encode("secret@example.com");
    expect(out).toMatchObject({ kind: "refused", by: "result-masking", refusal: { fatal: true, message: expect.stringContaining("the masking window overflowed") } });
    expect(e.delivered).toEqual([]);
  });
});

describe("admission filter", () => {
  it("refuses requests once the session may not run them, and requests too long to check", async () => {
    let closed: Refusal | null = null;
    const e = ends();
    const chain = new FilterChain<string>([admissionFilter({ sessionRefusal: () => closed, maxTextLength: 10 })], e);
    expect((await chain.decode("a", { protocol: "t", actions: [], text: "short" })).kind).toBe("passed");
    expect((await chain.decode("b", { protocol: "t", actions: [], text: "far too long to check" })).kind).toBe("refused");
    closed = { kind: "limit", message: "gatehouse: session over its maximum duration", fatal: true };
    expect((await chain.decode("c", { protocol: "t", actions: [], text: "x" })).kind).toBe("refused");
    expect((await chain.decode("sync")).kind).toBe("passed");
    expect(e.refused.map((r) => r.kind)).toEqual(["limit", "limit"]);
    expect(e.forwarded).toEqual(["a", "sync"]);
  });
});

describe("request masking filter", () => {
  it("computes what is shown only when something shows it, once", async () => {
    let computed = 0;
    const shown: string[] = [];
    const e = ends();
    const chain = new FilterChain<string>(
      [
        requestMaskingFilter({ display: (r) => (computed++, { text: r.text.replace(/\d+/g, "?") }) }),
        { name: "reader", decode: (f) => (f.message === "show" && shown.push(f.display!.text, f.display!.text), { kind: "continue" }) },
      ],
      e,
    );
    await chain.decode("quiet", sqlRequest("select 1", true));
    expect(computed).toBe(0);
    await chain.decode("show", sqlRequest("select 42", true));
    expect(shown).toEqual(["select ?", "select ?"]);
    expect(computed).toBe(1);
    expect(e.forwarded).toEqual(["quiet", "show"]);
  });

  it("a masking error where approvers would see the request: the approval request fails, recorded, refused, nothing forwarded", async () => {
    const policy = await sessionPolicy();
    const decisions: DecisionEvent[] = [];
    let asked = 0;
    const e = ends();
    const chain = new FilterChain<string>(
      [
        requestMaskingFilter({
          display: () => {
            throw new Error("the masker failed");
          },
        }),
        policyDecisionFilter({ decide: (r) => policy.decide(r).decision, record: async (d) => void decisions.push(d) }),
        approvalHoldFilter({
          hold: async () => {
            asked++;
            throw new Error("never asked");
          },
          notify: () => {},
          record: async (d) => void decisions.push(d),
        }),
      ],
      e,
    );
    const out = await chain.decode("update", sqlRequest("update orders set note = 'secret'", true));
    expect(out).toMatchObject({ kind: "refused", by: "approval-hold", refusal: { kind: "approval", message: expect.stringMatching(/approval request failed: the masker failed$/) } });
    expect(asked).toBe(0);
    expect(decisions.map((d) => [d.effect, d.rule])).toEqual([
      ["approve", "writes-need-approval"],
      ["deny", "writes-need-approval"],
    ]);
    expect(e.forwarded).toEqual([]);
    // Allowed requests are not affected: nothing shows them.
    await chain.decode("read", sqlRequest("select 1", true));
    expect(e.forwarded).toEqual(["read"]);
  });
});

describe("timeout filter", () => {
  it("cancels a request that is not answered in time, and not one that is", async () => {
    vi.useFakeTimers();
    const timeouts: number[] = [];
    const timeout = timeoutFilter<string>({ limitMs: () => 1000, completes: (f: ChainFrame<string>) => f.message === "ready", onTimeout: (ms) => void timeouts.push(ms) });
    const chain = new FilterChain<string>([timeout], ends());
    await chain.decode("q1", { protocol: "t", actions: [], text: "fast" });
    await chain.encode("ready");
    vi.advanceTimersByTime(5000);
    expect(timeouts).toEqual([]);
    await chain.decode("q2", { protocol: "t", actions: [], text: "slow" });
    await chain.encode("row");
    vi.advanceTimersByTime(1000);
    expect(timeouts).toEqual([1000]);
    timeout.clear();
  });

  it("gives each of several outstanding requests the whole limit from when the one before it completes", async () => {
    vi.useFakeTimers();
    const timeouts: number[] = [];
    const timeout = timeoutFilter<string>({ limitMs: () => 1000, completes: (f: ChainFrame<string>) => f.message === "ready", onTimeout: (ms) => void timeouts.push(ms) });
    const chain = new FilterChain<string>([timeout], ends());
    await chain.decode("q1", { protocol: "t", actions: [], text: "first" });
    await chain.decode("q2", { protocol: "t", actions: [], text: "second" });
    vi.advanceTimersByTime(900);
    await chain.encode("ready");
    vi.advanceTimersByTime(900);
    expect(timeouts).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(timeouts).toEqual([1000]);
    timeout.clear();
  });

  it("keeps one timer for many answered requests, and still times out the one that hangs", async () => {
    vi.useFakeTimers();
    const timeouts: number[] = [];
    const timeout = timeoutFilter<string>({ limitMs: () => 1000, completes: (f: ChainFrame<string>) => f.message === "ready", onTimeout: (ms) => void timeouts.push(ms) });
    const chain = new FilterChain<string>([timeout], ends());
    for (let i = 0; i < 50; i++) {
      await chain.decode(`q${i}`, { protocol: "t", actions: [], text: "fast" });
      await chain.encode("ready");
      vi.advanceTimersByTime(30);
    }
    expect(vi.getTimerCount()).toBe(1);
    await chain.decode("slow", { protocol: "t", actions: [], text: "slow" });
    vi.advanceTimersByTime(999);
    expect(timeouts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(timeouts).toEqual([1000]);
    timeout.clear();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("has no clock without a limit", async () => {
    vi.useFakeTimers();
    const timeouts: number[] = [];
    const chain = new FilterChain<string>([timeoutFilter<string>({ limitMs: () => null, completes: () => true, onTimeout: (ms) => void timeouts.push(ms) })], ends());
    await chain.decode("q", { protocol: "t", actions: [], text: "x" });
    vi.advanceTimersByTime(60_000);
    expect(timeouts).toEqual([]);
  });
});
