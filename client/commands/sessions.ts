/**
 * `gatehouse sessions` — recorded sessions, for auditors.
 *
 *   gatehouse sessions list [--identity X] [--resource R] [--from T] [--to T] [--outcome O] [--limit N] [--json]
 *   gatehouse sessions show <id> [--file export.jsonl] [--keys keys.json] [--json]
 *   gatehouse sessions replay <id> [--file export.jsonl] [--keys keys.json] [--timing] [--asciicast]
 *   gatehouse sessions export <id> [--output FILE]
 *   gatehouse sessions verify <id> [--keys keys.json] [--json]
 *   gatehouse sessions verify --file export.jsonl --keys keys.json [--open] [--json]
 *
 * Online commands call the gateway's /v1/sessions API (role `auditor`) at --gateway or
 * GATEHOUSE_URL with the token from GATEHOUSE_TOKEN (or the CI's OIDC token). show, replay and
 * verify check the trail locally — hash chain and Ed25519 checkpoint signatures — against the keys
 * in --keys (pinned, recommended) or the gateway's /.well-known/gatehouse-audit-keys.
 */
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import {
  parseTrail,
  renderReplay,
  renderTimeline,
  toAsciicast,
  verifyTrailText,
  isCheckpoint,
  type AuditEvent,
  type AuditPublicKey,
  type VerifyResult,
} from "../../parsers/audit/index.ts";
import { parseArgs, type FlagSpec } from "../args.ts";
import { CliError, UsageError, describeError } from "../errors.ts";
import { AuditApiClient, checkSessionId, parseTimeArg, readKeysFile, readTextFile, writeTextFile, type AuditCommandIO } from "./audit-io.ts";

export const SESSIONS_USAGE = `usage:
  gatehouse sessions list [--identity X] [--resource R] [--from T] [--to T] [--outcome ok|error|denied|open|incomplete…] [--limit N] [--json]
  gatehouse sessions show <id> [--json]                  timeline: statements, decisions, durations, rows
  gatehouse sessions replay <id> [--timing] [--asciicast] the session as the client saw it (masked)
  gatehouse sessions export <id> [--output FILE]         the trail as JSON Lines (the verifiable form)
  gatehouse sessions verify <id> [--keys keys.json]      check hash chain and signatures
  gatehouse sessions verify --file export.jsonl --keys keys.json [--open]   offline verification
options:
  --gateway URL        gateway (env GATEHOUSE_URL); token from GATEHOUSE_TOKEN or the CI's OIDC token
  --keys FILE          audit public keys ({ keys: [...] } as served at /.well-known/gatehouse-audit-keys);
                       online default: fetched from the gateway
  --file FILE          work on an exported trail instead of the gateway (show, replay, verify)
  --open               the session is still running: accept a trail without session.end
exit codes: 0 ok, 1 error or verification failed, 2 usage
`;

const SPEC: Record<string, FlagSpec> = {
  gateway: { kind: "string" },
  keys: { kind: "string" },
  file: { kind: "string" },
  output: { kind: "string", short: "o" },
  identity: { kind: "string" },
  resource: { kind: "string" },
  from: { kind: "string" },
  to: { kind: "string" },
  outcome: { kind: "string" },
  limit: { kind: "string" },
  json: { kind: "boolean" },
  timing: { kind: "boolean" },
  asciicast: { kind: "boolean" },
  open: { kind: "boolean" },
  help: { kind: "boolean", short: "h" },
};

interface ListedSession {
  id: string;
  identity_label: string;
  identity_kind: string;
  resource: string;
  started_at: number;
  ended_at: number | null;
  status: string;
  statements_total: number;
  denied: number;
  approved: number;
  complete: boolean;
  first_access?: boolean;
}

export async function sessionsCommand(argv: string[], io: AuditCommandIO): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    const args = parseArgs(rest, SPEC);
    if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h" || args.booleans.has("help")) {
      io.stdout(SESSIONS_USAGE);
      return sub === undefined ? 2 : 0;
    }
    switch (sub) {
      case "list":
        return await list(args, io);
      case "show":
      case "replay":
        return await render(sub, args, io);
      case "export":
        return await exportTrail(args, io);
      case "verify":
        return await verify(args, io);
      default:
        throw new UsageError(`unknown sessions command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.sessions!)}`);
    }
  } catch (err) {
    return reportError(err, io, SESSIONS_USAGE);
  }
}

export function reportError(err: unknown, io: AuditCommandIO, usage: string): number {
  if (err instanceof UsageError) {
    io.stderr(`gatehouse: ${err.message}\n${usage}`);
    return 2;
  }
  io.stderr(`gatehouse: ${err instanceof CliError ? err.message : `unexpected error: ${describeError(err)}`}\n`);
  return 1;
}

type Args = ReturnType<typeof parseArgs>;

function single(args: Args, what: string): string {
  if (args.positionals.length > 1) throw new UsageError(`${what} takes one session id`);
  return checkSessionId(args.positionals[0]);
}

async function list(args: Args, io: AuditCommandIO): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError("list takes no positional arguments");
  const q = new URLSearchParams();
  for (const k of ["identity", "resource", "outcome", "limit"]) {
    const v = args.strings.get(k);
    if (v !== undefined) q.set(k, v);
  }
  for (const k of ["from", "to"]) {
    const v = args.strings.get(k);
    if (v !== undefined) q.set(k, String(parseTimeArg(v, `--${k}`)));
  }
  const client = AuditApiClient.fromArgs(args.strings.get("gateway"), io);
  const body = await client.json<{ sessions: ListedSession[] }>(`v1/sessions${q.size ? `?${q}` : ""}`);
  if (args.booleans.has("json")) {
    io.stdout(JSON.stringify(body, null, 2) + "\n");
    return 0;
  }
  io.stdout(formatSessionList(body.sessions));
  return 0;
}

export function formatSessionList(sessions: readonly ListedSession[]): string {
  if (sessions.length === 0) return "no sessions\n";
  const rows = sessions.map((s) => [
    s.id,
    new Date(s.started_at).toISOString(),
    s.ended_at === null ? "running" : `${((s.ended_at - s.started_at) / 1000).toFixed(1)}s`,
    `${s.identity_label} [${s.identity_kind}]`,
    s.resource + (s.first_access ? " (first)" : ""),
    s.status,
    String(s.statements_total),
    String(s.denied),
    String(s.approved),
    s.complete ? "yes" : "NO",
  ]);
  const header = ["SESSION", "STARTED", "DURATION", "IDENTITY", "RESOURCE", "STATUS", "STMTS", "DENIED", "APPROVED", "COMPLETE"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}

/** Loads a trail (from --file or the gateway) and verifies it with the chosen keys. */
async function loadVerified(args: Args, io: AuditCommandIO, id: string | undefined): Promise<{ text: string; result: VerifyResult | undefined }> {
  const file = args.strings.get("file");
  const keysFile = args.strings.get("keys");
  let text: string;
  let keys: AuditPublicKey[] | undefined = keysFile ? await readKeysFile(keysFile) : undefined;
  let open = args.booleans.has("open");
  let expectedChunks: number | undefined;
  if (file) {
    text = await readTextFile(file, "export");
  } else {
    if (!id) throw new UsageError("a session id (online) or --file (offline) is required");
    const client = AuditApiClient.fromArgs(args.strings.get("gateway"), io);
    const exp = await client.exportText(id);
    text = exp.text;
    if (exp.status === "open") open = true;
    else expectedChunks = exp.chunks;
    keys ??= await client.publishedKeys();
  }
  if (!keys) return { text, result: undefined };
  const result = await verifyTrailText(text, { keys, sessionId: id, requireComplete: !open, expectedChunks });
  return { text, result };
}

export function describeVerification(r: VerifyResult): string {
  if (r.ok) {
    const state = r.complete ? "complete (ends with session.end and a final signed checkpoint)" : `still open: ${r.unsealed} event(s) after the last checkpoint are not yet signed`;
    return `OK: session ${r.session} — ${r.events} events in ${r.chunks} signed chunk(s), key(s) ${r.kids.join(", ") || "-"}; ${state}\n`;
  }
  const e = r.error!;
  const where = [e.seq >= 0 ? `event ${e.seq}` : undefined, e.line !== undefined ? `line ${e.line}` : undefined, e.chunk !== undefined ? `chunk ${e.chunk}` : undefined].filter(Boolean).join(", ");
  return `FAILED: ${e.kind}${where ? ` at ${where}` : ""}: ${e.message}\n  (${r.events} event(s) and ${r.chunks} chunk(s) verified before the problem)\n`;
}

async function verify(args: Args, io: AuditCommandIO): Promise<number> {
  const file = args.strings.get("file");
  if (file && !args.strings.get("keys")) throw new UsageError("offline verification needs --keys (the gateway's published audit keys)");
  const id = args.positionals.length > 0 || !file ? single(args, "verify") : undefined;
  const { result } = await loadVerified(args, io, id);
  if (args.booleans.has("json")) io.stdout(JSON.stringify(result, null, 2) + "\n");
  else io.stdout(describeVerification(result!));
  return result!.ok ? 0 : 1;
}

async function exportTrail(args: Args, io: AuditCommandIO): Promise<number> {
  const id = single(args, "export");
  const client = AuditApiClient.fromArgs(args.strings.get("gateway"), io);
  const { text } = await client.exportText(id);
  const output = args.strings.get("output");
  if (output) {
    await writeTextFile(output, text);
    io.stderr(`wrote ${text.split("\n").filter(Boolean).length} lines to ${output}\n`);
  } else io.stdout(text);
  return 0;
}

async function render(kind: "show" | "replay", args: Args, io: AuditCommandIO): Promise<number> {
  const file = args.strings.get("file");
  const id = args.positionals.length > 0 || !file ? single(args, kind) : undefined;
  const { text, result } = await loadVerified(args, io, id);
  let events: AuditEvent[];
  try {
    events = parseTrail(text)
      .map((l) => l.value)
      .filter((l): l is AuditEvent => !isCheckpoint(l));
  } catch (err) {
    throw new CliError(`the trail cannot be read: ${describeError(err)}`);
  }
  if (result && !result.ok) io.stderr(`WARNING: this trail does NOT verify — ${describeVerification(result)}`);
  if (!result) io.stderr("WARNING: signatures not checked (no --keys given for a file)\n");
  if (kind === "show" && args.booleans.has("json")) io.stdout(JSON.stringify({ verification: result ?? null, events }, null, 2) + "\n");
  else if (kind === "show") io.stdout(renderTimeline(events));
  else if (args.booleans.has("asciicast")) io.stdout(toAsciicast(events));
  else io.stdout(renderReplay(events, { timing: args.booleans.has("timing") }));
  return result && !result.ok ? 1 : 0;
}
