import { describe, expect, it } from "vitest";
import { approvalsCommand } from "./approvals.ts";
import { accessCommand } from "./access.ts";
import { checkRequestId, renderRequest, renderTable, type RequestView } from "./approvals-api.ts";
import { CliError, UsageError } from "../errors.ts";

const io = () => {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), env: {} } };
};

const record: RequestView = {
  id: "apr_abcdefghijkmnpqr",
  kind: "statement",
  status: "pending",
  resource: "demo-pg",
  url: "http://127.0.0.1:8787/v1/approvals/apr_abcdefghijkmnpqr",
  can_vote: true,
  requester: { issuer: "https://token.actions.githubusercontent.com", subject: "repo:acme/shop:ref:refs/heads/main", label: "acme/shop@refs/heads/main (deploy)", ci: { repository: "acme/shop", sha: "cafe", runUrl: "https://github.com/acme/shop/actions/runs/1" } },
  requestReason: null,
  rule: "writes-need-approval",
  requirements: [{ rule: "writes-need-approval", required: 2 }],
  createdAt: Date.UTC(2026, 10, 27, 4, 0, 0),
  expiresAt: Date.UTC(2026, 10, 27, 4, 15, 0),
  decidedAt: null,
  outcomeReason: null,
  votes: [],
  statement: { sessionId: "s", text: "UPDATE orders SET note = 'x\u001b[31mred' WHERE id = 1", sha256: "a".repeat(64), consumedAt: null },
};

describe("gatehouse approvals / access (offline parts)", () => {
  it("validates arguments before touching the network", async () => {
    await expect(approvalsCommand(["deny", "apr_abcdefghijkmnpqr"], io().io)).rejects.toThrow(UsageError);
    await expect(approvalsCommand(["approve", "nope"], io().io)).rejects.toThrow(CliError);
    await expect(approvalsCommand(["frobnicate"], io().io)).rejects.toThrow(UsageError);
    await expect(accessCommand(["request", "demo-pg", "--reason", "x"], io().io)).rejects.toThrow(/--for/);
    await expect(accessCommand(["request", "demo-pg", "--for", "30m"], io().io)).rejects.toThrow(/--reason/);
    await expect(accessCommand(["revoke", "apr_abcdefghijkmnpqr"], io().io)).rejects.toThrow(/not a grant id/);
    expect(checkRequestId("grt_abcdefghijkmnpqr", "grt")).toBe("grt_abcdefghijkmnpqr");
  });

  it("prints usage", async () => {
    const t = io();
    expect(await approvalsCommand(["--help"], t.io)).toBe(0);
    expect(t.out.stdout).toContain("gatehouse approvals approve <id>");
    expect(await accessCommand([], t.io)).toBe(2);
  });

  it("renders requests without passing terminal control characters through", () => {
    const text = renderRequest(record);
    expect(text).toContain("requires:     2 approvals under writes-need-approval");
    expect(text).toContain("run:          https://github.com/acme/shop/actions/runs/1");
    expect(text).toContain("approve: gatehouse approvals approve apr_abcdefghijkmnpqr");
    expect(text).not.toContain("\u001b");
    const table = renderTable([record]);
    expect(table).toMatch(/apr_abcdefghijkmnpqr\s+statement\s+pending\*\s+demo-pg/);
    expect(table).toContain("(* = you may approve or deny it)");
  });
});
