/**
 * `gatehouse review report` — the periodic access review, built from verified trails.
 *
 *   gatehouse review report --from T --to T [--format md|csv|json] [--identity X] [--resource R] [--output FILE] [--keys keys.json]
 *   gatehouse review report --from T --to T --file a.jsonl [--file b.jsonl …] --keys keys.json   (offline)
 *
 * Online: lists the sessions started in [from, to) from the gateway's index, downloads each
 * session's trail, verifies it locally (chain + signatures) and aggregates only what verifies;
 * sessions that do not verify as complete are listed as incomplete with the reason.
 * First-time access comes from the index (no earlier session of that identity on that resource);
 * offline it is computed over the given files only.
 */
import { grantsInPeriod, type GrantView, type ReviewGrant } from "../../parsers/audit/review-grants.ts";
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import {
  buildReviewReport,
  formatReview,
  trailEvents,
  verifyTrailText,
  type AuditEvent,
  type AuditPublicKey,
  type ReviewInputSession,
} from "../../parsers/audit/index.ts";
import { parseArgs, type FlagSpec } from "../args.ts";
import { UsageError } from "../errors.ts";
import { AuditApiClient, parseTimeArg, readKeysFile, readTextFile, writeTextFile, type AuditCommandIO } from "./audit-io.ts";
import { reportError } from "./sessions.ts";

export const REVIEW_USAGE = `usage:
  gatehouse review report --from T --to T [--format md|csv|json] [--identity X] [--resource R] [--output FILE] [--keys keys.json]
  gatehouse review report --from T --to T --file a.jsonl [--file b.jsonl ...] --keys keys.json
      per identity (human or pipeline with its CI claims): resources reached and when, statements by
      kind, denials, approvals and approvers, first-time accesses, and sessions whose recording is
      incomplete — from trails verified locally. T: ISO 8601 (2026-11-01, 2026-11-01T12:00:00Z) or epoch ms.
`;

const SPEC: Record<string, FlagSpec> = {
  gateway: { kind: "string" },
  keys: { kind: "string" },
  file: { kind: "list" },
  output: { kind: "string", short: "o" },
  from: { kind: "string" },
  to: { kind: "string" },
  format: { kind: "string" },
  identity: { kind: "string" },
  resource: { kind: "string" },
  help: { kind: "boolean", short: "h" },
};

/** Sessions fetched per page of the index. */
const PAGE = 1000;

interface ListedSession {
  id: string;
  status: string;
  chunks: number;
  started_at: number;
  first_access?: boolean;
}

export async function reviewCommand(argv: string[], io: AuditCommandIO): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    const args = parseArgs(rest, SPEC);
    if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h" || args.booleans.has("help")) {
      io.stdout(REVIEW_USAGE);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== "report") throw new UsageError(`unknown review command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.review!)}`);
    if (args.positionals.length > 0) throw new UsageError("report takes no positional arguments");
    const fromText = args.strings.get("from");
    const toText = args.strings.get("to");
    if (!fromText || !toText) throw new UsageError("--from and --to are required");
    const from = parseTimeArg(fromText, "--from");
    const to = parseTimeArg(toText, "--to");
    if (to <= from) throw new UsageError("--to must be after --from");
    const format = args.strings.get("format") ?? "md";
    if (format !== "md" && format !== "csv" && format !== "json") throw new UsageError("--format must be md, csv or json");
    const files = args.lists.get("file") ?? [];
    const keysFile = args.strings.get("keys");
    let sessions: ReviewInputSession[];
    if (files.length > 0) {
      if (!keysFile) throw new UsageError("offline review needs --keys (the gateway's published audit keys)");
      sessions = await offline(files, await readKeysFile(keysFile), from, to, args.strings.get("identity"), args.strings.get("resource"));
    } else {
      sessions = await online(args, io, from, to, keysFile ? await readKeysFile(keysFile) : undefined);
    }
    const built = buildReviewReport(sessions, { from, to });
    // Grants live in the approvals store, not in trails: only an online review can list them.
    if (files.length === 0) built.grants = await onlineGrants(args, io, from, to);
    const report = formatReview(built, format);
    const output = args.strings.get("output");
    if (output) {
      await writeTextFile(output, report);
      io.stderr(`wrote the review of ${sessions.length} session(s) to ${output}\n`);
    } else io.stdout(report);
    return 0;
  } catch (err) {
    return reportError(err, io, REVIEW_USAGE);
  }
}

async function onlineGrants(args: ReturnType<typeof parseArgs>, io: AuditCommandIO, from: number, to: number): Promise<ReviewGrant[]> {
  const client = AuditApiClient.fromArgs(args.strings.get("gateway"), io);
  const { requests } = await client.json<{ requests: GrantView[] }>("v1/grants?limit=200");
  const resource = args.strings.get("resource");
  return grantsInPeriod(requests, from, to).filter((g) => !resource || g.resource === resource);
}


async function online(args: ReturnType<typeof parseArgs>, io: AuditCommandIO, from: number, to: number, pinned: AuditPublicKey[] | undefined): Promise<ReviewInputSession[]> {
  const client = AuditApiClient.fromArgs(args.strings.get("gateway"), io);
  const keys = pinned ?? (await client.publishedKeys());
  const listed: ListedSession[] = [];
  let before: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ from: String(from), to: String(to), limit: String(PAGE) });
    const identity = args.strings.get("identity");
    const resource = args.strings.get("resource");
    if (identity) q.set("identity", identity);
    if (resource) q.set("resource", resource);
    if (before) q.set("before", before);
    const page = await client.json<{ sessions: ListedSession[]; next_before?: string }>(`v1/sessions?${q}`);
    listed.push(...page.sessions);
    if (!page.next_before || page.sessions.length < PAGE) break;
    before = page.next_before;
  }
  const out: ReviewInputSession[] = [];
  for (const s of listed) {
    const { text } = await client.exportText(s.id);
    const ended = s.status !== "open";
    const verification = await verifyTrailText(text, { keys, sessionId: s.id, requireComplete: ended, expectedChunks: ended ? s.chunks : undefined });
    out.push({ session: s.id, events: trailEvents(text), verification, first_access: s.first_access });
  }
  return out;
}

async function offline(files: string[], keys: AuditPublicKey[], from: number, to: number, identity: string | undefined, resource: string | undefined): Promise<ReviewInputSession[]> {
  const all: (ReviewInputSession & { start?: AuditEvent<"session.start"> })[] = [];
  for (const f of files) {
    const text = await readTextFile(f, "export");
    const verification = await verifyTrailText(text, { keys });
    const events = trailEvents(text);
    const start = events.find((e) => e.type === "session.start") as AuditEvent<"session.start"> | undefined;
    all.push({ session: verification.session ?? f, events, verification, start });
  }
  const key = (s: (typeof all)[number]) => (s.start ? `${s.start.data.identity.issuer} ${s.start.data.identity.subject} ${s.start.data.resource}` : undefined);
  const earliest = new Map<string, number>();
  for (const s of all) {
    const k = key(s);
    if (k && s.start) earliest.set(k, Math.min(earliest.get(k) ?? Infinity, s.start.ts));
  }
  return all
    .filter((s) => !s.start || (s.start.ts >= from && s.start.ts < to))
    .filter((s) => !identity || (s.start && (s.start.data.identity.subject === identity || String(s.start.data.identity.claims.email ?? "") === identity || String(s.start.data.identity.claims.repository ?? "") === identity)))
    .filter((s) => !resource || s.start?.data.resource === resource)
    .map(({ start, ...s }) => ({ ...s, first_access: start ? earliest.get(key({ ...s, start })!) === start.ts : undefined }));
}
