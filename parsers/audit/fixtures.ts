/** Test fixtures: a realistic recorded PostgreSQL session (used by unit tests here and in worker/ and client/). */
import type { UnchainedEvent } from "./types.ts";

export const PIPELINE_CLAIMS = {
  iss: "https://token.actions.githubusercontent.com",
  sub: "repo:acme/shop:environment:production",
  aud: "gatehouse",
  repository: "acme/shop",
  ref: "refs/heads/main",
  workflow: "deploy",
  environment: "production",
  run_id: "42",
  actor: "octocat",
};

export function samplePgSession(sessionId: string, t0 = Date.UTC(2026, 10, 27, 3, 0, 0)): UnchainedEvent[] {
  let t = t0;
  const at = (ms: number) => (t += ms);
  return [
    {
      type: "session.start",
      ts: t0,
      data: {
        session_id: sessionId,
        identity: { issuer: PIPELINE_CLAIMS.iss, subject: PIPELINE_CLAIMS.sub, claims: PIPELINE_CLAIMS },
        resource: "demo-pg",
        resource_type: "postgres",
        connector: "onprem-1",
        client_addr: "203.0.113.7",
        policy_hash: "a".repeat(64),
        recording: { mode: "fail-closed", rows_sample: 20 },
      },
    },
    { type: "query", ts: at(10), data: { text: "SELECT id, email FROM users ORDER BY id LIMIT 2", statements: [{ kind: "read", command: "SELECT" }], via: "simple" } },
    { type: "decision", ts: at(1), data: { effect: "allow", rule: "pipelines-read", reason: "read allowed for acme/shop" } },
    {
      type: "result",
      ts: at(5),
      data: {
        columns: [{ name: "id", type: "int4" }, { name: "email", type: "text" }],
        rows_sample: [["1", "a***@example.com"], ["2", "b***@example.com"]],
        rows: 2,
        command_tag: "SELECT 2",
        duration_ms: 6,
      },
    },
    { type: "masking.counts", ts: at(0), data: { counts: { "email-partial": 2 } } },
    { type: "query", ts: at(20), data: { text: "DROP TABLE users", statements: [{ kind: "ddl", command: "DROP TABLE" }], via: "simple" } },
    { type: "decision", ts: at(1), data: { effect: "deny", rule: "no-ddl-in-prod", reason: "DDL is not allowed on production" } },
    { type: "result", ts: at(0), data: { rows: 0, command_tag: "", error: { code: "42501", message: "gatehouse: denied by policy rule no-ddl-in-prod" } } },
    { type: "query", ts: at(15), data: { text: "UPDATE orders SET status = $1 WHERE id = $2", params: ["shipped", "17"], statements: [{ kind: "write", command: "UPDATE" }], via: "parse" } },
    { type: "decision", ts: at(1), data: { effect: "approve", rule: "writes-need-approval", reason: "writes on production need approval" } },
    { type: "approval.granted", ts: at(3000), data: { request_id: "apr-1", approver: "alice@acme.example", text: "UPDATE orders SET status = $1 WHERE id = $2" } },
    { type: "decision", ts: at(0), data: { effect: "allow", rule: "writes-need-approval", reason: "approved by alice@acme.example" } },
    { type: "result", ts: at(4), data: { rows: 1, command_tag: "UPDATE 1", duration_ms: 3005 } },
    { type: "notice", ts: at(1), data: { severity: "WARNING", code: "01000", message: "there is no transaction in progress" } },
    { type: "session.end", ts: at(50), data: { reason: "client closed", status: "ok", bytes_in: 512, bytes_out: 2048, rows: 3 } },
  ];
}
