/**
 * `gatehouse approvals list|show|approve|deny` — decide on held statements and grant requests
 * (docs/APPROVALS.md). The approver authenticates with an OIDC token like everyone else
 * (GATEHOUSE_TOKEN, GitHub Actions or GitLab CI); the policy decides who may approve what.
 */
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import { parseArgs } from "../args.ts";
import { UsageError } from "../errors.ts";
import { ApprovalsApi, checkRequestId, renderRequest, renderTable, type CliIO, type RequestView } from "./approvals-api.ts";

export const APPROVALS_USAGE = `usage:
  gatehouse approvals list [--all | --status S] [--kind statement|grant] [--mine] [--limit N] [--json]
  gatehouse approvals show <id> [--json]
  gatehouse approvals approve <id> [--reason "..."]
  gatehouse approvals deny <id> --reason "..."

Lists pending requests by default (--all: every status). A * after the status marks requests you
may decide. Requesters can never approve their own request.

options:
  --gateway <url>     gateway URL (env GATEHOUSE_URL, default http://127.0.0.1:8787)
  --audience <aud>    audience to request from the CI OIDC provider (env GATEHOUSE_AUDIENCE)
`;

const COMMON = { gateway: { kind: "string" }, audience: { kind: "string" }, help: { kind: "boolean", short: "h" }, json: { kind: "boolean" } } as const;

export async function approvalsCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout(APPROVALS_USAGE);
    return sub === undefined ? 2 : 0;
  }
  switch (sub) {
    case "list": {
      const a = parseArgs(rest, { ...COMMON, all: { kind: "boolean" }, status: { kind: "string" }, kind: { kind: "string" }, mine: { kind: "boolean" }, limit: { kind: "string" } });
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length) throw new UsageError("approvals list takes no arguments");
      if (a.booleans.has("all") && a.strings.has("status")) throw new UsageError("--all and --status exclude each other");
      const q = new URLSearchParams();
      if (!a.booleans.has("all")) q.set("status", a.strings.get("status") ?? "pending");
      if (a.strings.has("kind")) q.set("kind", a.strings.get("kind")!);
      if (a.booleans.has("mine")) q.set("mine", "1");
      if (a.strings.has("limit")) q.set("limit", a.strings.get("limit")!);
      const api = ApprovalsApi.fromEnv(io, opts(a.strings));
      const res = await api.call<{ requests: RequestView[] }>("GET", `v1/approvals?${q}`);
      io.stdout(a.booleans.has("json") ? `${JSON.stringify(res.requests, null, 2)}\n` : renderTable(res.requests));
      return 0;
    }
    case "show": {
      const a = parseArgs(rest, COMMON);
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length !== 1) throw new UsageError("approvals show needs one request id");
      const id = checkRequestId(a.positionals[0]);
      const res = await ApprovalsApi.fromEnv(io, opts(a.strings)).call<{ request: RequestView; history: Array<{ at: number; type: string; data: Record<string, unknown> }> }>(
        "GET",
        `v1/approvals/${id}`,
      );
      io.stdout(a.booleans.has("json") ? `${JSON.stringify(res, null, 2)}\n` : renderRequest(res.request, res.history));
      return 0;
    }
    case "approve":
    case "deny": {
      const a = parseArgs(rest, { ...COMMON, reason: { kind: "string" } });
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length !== 1) throw new UsageError(`approvals ${sub} needs one request id`);
      const id = checkRequestId(a.positionals[0]);
      const reason = a.strings.get("reason");
      if (sub === "deny" && !reason?.trim()) throw new UsageError('approvals deny needs --reason "..." (the requester sees it)');
      const res = await ApprovalsApi.fromEnv(io, opts(a.strings)).call<{ request: RequestView }>("POST", `v1/approvals/${id}/${sub}`, reason === undefined ? {} : { reason });
      const r = res.request;
      if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      else if (r.status === "pending") {
        const got = r.votes.filter((v) => v.decision === "approve").length;
        const need = r.requirements.reduce((n, q) => n + q.required, 0);
        io.stdout(`gatehouse: your approval of ${id} is recorded; it still waits for more approvals (${got} of ${need})\n`);
      } else io.stdout(`gatehouse: ${id} is ${r.status}: ${r.outcomeReason ?? ""}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown approvals command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.approvals!)}`);
  }
}

function usage(io: CliIO): number {
  io.stdout(APPROVALS_USAGE);
  return 0;
}

export function opts(strings: Map<string, string>): { gateway?: string; audience?: string } {
  return { gateway: strings.get("gateway"), audience: strings.get("audience") };
}
