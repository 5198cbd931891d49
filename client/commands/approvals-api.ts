/**
 * The CLI side of /v1/approvals and /v1/grants (docs/APPROVALS.md): authenticated JSON calls and
 * the human rendering shared by `gatehouse approvals` and `gatehouse access`.
 */
import { resolveTokenSource } from "../auth/token-source.ts";
import { CliError, GatewayUnreachableError, describeError } from "../errors.ts";
import { DEFAULT_GATEWAY, errorFromBody, parseGatewayUrl } from "../gateway/api.ts";

const REQUEST_TIMEOUT_MS = 15_000;
/** Listings are bounded server-side (200 records); this is far above that. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface CliIO {
  stdout(s: string): void;
  stderr(s: string): void;
  env?: NodeJS.ProcessEnv;
}

export interface Vote {
  approver: { label: string; issuer: string; subject: string };
  decision: "approve" | "deny";
  reason: string | null;
  at: number;
}

export interface RequestView {
  id: string;
  kind: "statement" | "grant";
  status: string;
  resource: string;
  url: string;
  can_vote: boolean;
  requester: { issuer: string; subject: string; label: string; ci?: Record<string, string> };
  requestReason: string | null;
  rule: string | null;
  requirements: Array<{ rule: string; required: number }>;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  outcomeReason: string | null;
  votes: Vote[];
  statement?: { sessionId: string; text: string; sha256: string; consumedAt: number | null; parameters?: string[] };
  grant?: { durationMs: number; startsAt: number | null; endsAt: number | null; revokedAt: number | null; revokeReason: string | null };
  delivery?: { status: string; detail: string | null };
}

export interface ApiOptions {
  gateway?: string;
  audience?: string;
}

export class ApprovalsApi {
  private constructor(
    private readonly base: URL,
    private readonly token: () => Promise<string>,
  ) {}

  static fromEnv(io: CliIO, opts: ApiOptions = {}): ApprovalsApi {
    const env = io.env ?? process.env;
    const base = parseGatewayUrl(opts.gateway ?? env.GATEHOUSE_URL ?? DEFAULT_GATEWAY);
    const source = resolveTokenSource({ env, audience: opts.audience });
    return new ApprovalsApi(base, () => source.getToken());
  }

  async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const token = await this.token();
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: "error",
      });
    } catch (err) {
      throw new GatewayUnreachableError(this.base.origin, describeError(err));
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new CliError("gateway response too large");
    if (res.status < 200 || res.status > 299) throw errorFromBody(res.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError("gateway answered with something that is not JSON");
    }
  }
}

export function checkRequestId(id: string | undefined, prefix?: "apr" | "grt"): string {
  if (!id || !/^(apr|grt)_[a-z2-9]{16}$/.test(id)) throw new CliError(`${JSON.stringify(id ?? "")} is not a request id (apr_… or grt_…)`);
  if (prefix && !id.startsWith(`${prefix}_`)) throw new CliError(`${id} is not a ${prefix === "grt" ? "grant" : "statement approval"} id`);
  return id;
}

/** Printable: terminal control characters from the server never reach the user's terminal. */
export function clean(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
}

function when(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s && !h ? `${s}s` : ""}` || "0s";
}

export function renderTable(rows: RequestView[]): string {
  if (rows.length === 0) return "no requests\n";
  const header = ["ID", "KIND", "STATUS", "RESOURCE", "REQUESTER", "CREATED", "DETAIL"];
  const lines = rows.map((r) => [
    r.id,
    r.kind,
    r.status + (r.can_vote ? "*" : ""),
    r.resource,
    r.requester.label,
    when(r.createdAt),
    r.kind === "grant"
      ? `${formatDuration(r.grant?.durationMs ?? 0)}${r.grant?.endsAt ? ` until ${when(r.grant.endsAt)}` : ""}: ${r.requestReason ?? ""}`
      : (r.statement?.text ?? "").replace(/\n/g, " ↵ ").replace(/\s+/g, " ").slice(0, 60),
  ].map((c) => clean(String(c))));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join("  ") + "\n";
  const voteHint = rows.some((r) => r.can_vote) ? "(* = you may approve or deny it)\n" : "";
  return fmt(header) + lines.map(fmt).join("") + voteHint;
}

export function renderRequest(r: RequestView, history?: Array<{ at: number; type: string; data: Record<string, unknown> }>): string {
  const out: string[] = [];
  const add = (k: string, v: string | null | undefined) => {
    if (v !== null && v !== undefined && v !== "") out.push(`${`${k}:`.padEnd(14)}${clean(v)}`);
  };
  add("id", r.id);
  add("kind", r.kind === "grant" ? "just-in-time grant" : "held statement");
  add("status", r.status);
  add("resource", r.resource);
  add("requester", `${r.requester.label} (${r.requester.issuer} ${r.requester.subject})`);
  const ci = r.requester.ci;
  if (ci) {
    add("repository", ci.repository);
    add("ref", ci.ref);
    add("commit", ci.sha);
    add("workflow", ci.workflow);
    add("run", ci.runUrl ?? ci.runId);
    add("actor", ci.actor);
  }
  add("rule", r.rule);
  add("requires", r.requirements.map((q) => `${q.required} approval${q.required > 1 ? "s" : ""} under ${q.rule}`).join("; "));
  if (r.kind === "grant") {
    add("duration", formatDuration(r.grant?.durationMs ?? 0));
    add("reason", r.requestReason);
    if (r.grant?.endsAt) add("active", `${when(r.grant.startsAt)} → ${when(r.grant.endsAt)}`);
  }
  add("created", when(r.createdAt));
  add(r.status === "pending" ? "expires" : "deadline", when(r.expiresAt));
  add("outcome", r.outcomeReason);
  if (r.delivery && r.delivery.status !== "pending") add("session", `${r.delivery.status}${r.delivery.detail ? ` (${r.delivery.detail})` : ""}`);
  add("url", r.url);
  for (const v of r.votes) add("vote", `${v.decision} by ${v.approver.label} at ${when(v.at)}${v.reason ? `: ${v.reason}` : ""}`);
  if (r.statement) {
    add("sha256", r.statement.sha256);
    out.push("statement:");
    for (const line of r.statement.text.split(/\r\n?|\n/)) out.push(`  ${clean(line)}`);
    const params = r.statement.parameters;
    if (params) {
      out.push(`parameters (${params.length}):`);
      for (const p of params) out.push(`  ${clean(p)}`);
    }
  }
  if (r.can_vote) out.push(`\napprove: gatehouse approvals approve ${r.id}\ndeny:    gatehouse approvals deny ${r.id} --reason "..."`);
  if (history && history.length) {
    out.push("history:");
    for (const h of history) out.push(`  ${when(h.at)}  ${clean(h.type)}`);
  }
  return out.join("\n") + "\n";
}
