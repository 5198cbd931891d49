/**
 * `gatehouse access request|list|revoke` — just-in-time grants (docs/APPROVALS.md). A grant lets
 * policy rules marked `requires: grant` apply to you on one resource for a limited time, once an
 * approver approved it. Revoking (or expiry) ends the sessions that relied on it.
 */
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import { parseArgs, parseDurationSeconds } from "../args.ts";
import { UsageError } from "../errors.ts";
import { ApprovalsApi, checkRequestId, formatDuration, renderRequest, renderTable, type CliIO, type RequestView } from "./approvals-api.ts";
import { opts } from "./approvals.ts";

export const ACCESS_USAGE = `usage:
  gatehouse access request <resource> --for 30m --reason "..." [--wait] [--json]
  gatehouse access list [--active | --all] [--json]
  gatehouse access revoke <grant id> [--reason "..."]

request   asks approvers for a time-bound grant (1m to 12h); --wait blocks until it is decided
          (exit 0 when approved, 1 when denied or expired)
list      your grant requests and the ones you may decide (pending by default)
revoke    ends a grant now (its holder, approvers and admins may); sessions using it are ended

options:
  --gateway <url>     gateway URL (env GATEHOUSE_URL, default http://127.0.0.1:8787)
  --audience <aud>    audience to request from the CI OIDC provider (env GATEHOUSE_AUDIENCE)
`;

const COMMON = { gateway: { kind: "string" }, audience: { kind: "string" }, help: { kind: "boolean", short: "h" }, json: { kind: "boolean" } } as const;
const POLL_MS = 2_000;

export async function accessCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout(ACCESS_USAGE);
    return sub === undefined ? 2 : 0;
  }
  switch (sub) {
    case "request": {
      const a = parseArgs(rest, { ...COMMON, for: { kind: "string" }, reason: { kind: "string" }, wait: { kind: "boolean" } });
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length !== 1) throw new UsageError("access request needs one resource name");
      const forText = a.strings.get("for");
      if (!forText) throw new UsageError("access request needs --for <duration>, e.g. --for 30m");
      const seconds = parseDurationSeconds(forText, "--for");
      const reason = a.strings.get("reason");
      if (!reason?.trim()) throw new UsageError('access request needs --reason "..." (approvers see it)');
      const api = ApprovalsApi.fromEnv(io, opts(a.strings));
      let { request: r } = await api.call<{ request: RequestView }>("POST", "v1/grants", { resource: a.positionals[0], duration_ms: seconds * 1000, reason });
      if (!a.booleans.has("json")) {
        io.stdout(`gatehouse: grant ${r.id} requested for ${r.resource} (${formatDuration(seconds * 1000)}); waiting for an approver\n`);
        io.stdout(`  approvers: gatehouse approvals approve ${r.id}   (or ${r.url})\n`);
      }
      if (a.booleans.has("wait")) {
        while (r.status === "pending") {
          await new Promise((res) => setTimeout(res, POLL_MS));
          r = (await api.call<{ request: RequestView }>("GET", `v1/grants/${r.id}`)).request;
        }
        if (!a.booleans.has("json")) io.stdout(`gatehouse: grant ${r.id} is ${r.status}: ${r.outcomeReason ?? ""}\n`);
      }
      if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      return a.booleans.has("wait") && r.status !== "approved" ? 1 : 0;
    }
    case "list": {
      const a = parseArgs(rest, { ...COMMON, active: { kind: "boolean" }, all: { kind: "boolean" } });
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length) throw new UsageError("access list takes no arguments");
      const q = a.booleans.has("active") ? "?active=1" : a.booleans.has("all") ? "" : "?status=pending";
      const res = await ApprovalsApi.fromEnv(io, opts(a.strings)).call<{ requests: RequestView[] }>("GET", `v1/grants${q}`);
      io.stdout(a.booleans.has("json") ? `${JSON.stringify(res.requests, null, 2)}\n` : renderTable(res.requests));
      return 0;
    }
    case "revoke": {
      const a = parseArgs(rest, { ...COMMON, reason: { kind: "string" } });
      if (a.booleans.has("help")) return usage(io);
      if (a.positionals.length !== 1) throw new UsageError("access revoke needs one grant id");
      const id = checkRequestId(a.positionals[0], "grt");
      const reason = a.strings.get("reason");
      const res = await ApprovalsApi.fromEnv(io, opts(a.strings)).call<{ request: RequestView }>("POST", `v1/grants/${id}/revoke`, reason ? { reason } : {});
      io.stdout(a.booleans.has("json") ? `${JSON.stringify(res.request, null, 2)}\n` : renderRequest(res.request));
      return 0;
    }
    default:
      throw new UsageError(`unknown access command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.access!)}`);
  }
}

function usage(io: CliIO): number {
  io.stdout(ACCESS_USAGE);
  return 0;
}
