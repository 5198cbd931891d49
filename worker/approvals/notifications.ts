/**
 * Notifications of approval and grant events: a generic JSON webhook (HMAC-signed) and a
 * Slack-compatible incoming-webhook message. Configured in the policy's `notifications:` section
 * (validated by parsers/policy/notifications.ts, at policy load and again here before delivery);
 * secrets are never in the policy text — only references (`env:NAME`) resolved from the worker's
 * configuration at send time. Pure apart from WebCrypto: parsing, message shapes, signing.
 * Delivery (retries with backoff on Durable Object alarms) lives in approvals-object.ts.
 */
import { parse as parseYaml } from "yaml";
import {
  checkEnvRef,
  checkUrl,
  isEnvRef,
  NOTIFICATION_EVENTS,
  NotificationConfigError,
  parseNotificationTargets,
  SECRET_ENV_PREFIXES,
  type NotificationEvent,
  type NotificationTarget,
} from "../../parsers/policy/notifications.ts";
import type { ApprovalRecord } from "./core.ts";
import { toHex } from "../../parsers/encoding/hex-base64.ts";

export { NOTIFICATION_EVENTS, NotificationConfigError, SECRET_ENV_PREFIXES, parseNotificationTargets, type NotificationEvent, type NotificationTarget };

export const SIGNATURE_HEADER = "x-gatehouse-signature";
export const TIMESTAMP_HEADER = "x-gatehouse-timestamp";
export const EVENT_HEADER = "x-gatehouse-event";
export const DELIVERY_HEADER = "x-gatehouse-delivery";

/** The `notifications:` section of a policy text (empty when absent). Throws NotificationConfigError on a bad section. */
export function notificationTargetsFromPolicyText(policyText: string): NotificationTarget[] {
  let doc: unknown;
  try {
    doc = parseYaml(policyText, { maxAliasCount: 1000 });
  } catch (e) {
    throw new NotificationConfigError(`policy is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object") return [];
  return parseNotificationTargets((doc as Record<string, unknown>).notifications);
}

/** Resolves `env:NAME` (or a literal URL) against the worker's environment; throws when unset. */
export function resolveRef(value: string, env: Record<string, unknown>, what: string): string {
  if (!isEnvRef(value)) return value;
  const name = value.slice(4);
  checkEnvRef(value, what);
  const v = env[name];
  if (typeof v !== "string" || v === "") throw new NotificationConfigError(`${what}: worker variable ${name} is not set`);
  return v;
}

export function resolveTargetUrl(target: NotificationTarget, env: Record<string, unknown>): URL {
  const text = resolveRef(target.url, env, `notification '${target.name}' url`);
  return checkUrl(text, `notification '${target.name}' url`);
}

export function wants(target: NotificationTarget, event: NotificationEvent, resource: string): boolean {
  return (target.events === null || target.events.includes(event)) && (target.resources === null || target.resources.includes(resource));
}

export function eventFor(record: ApprovalRecord, transition: "requested" | "decided"): NotificationEvent {
  const prefix = record.kind === "grant" ? "grant" : "approval";
  if (transition === "requested") return `${prefix}.requested` as NotificationEvent;
  return `${prefix}.${record.status}` as NotificationEvent;
}

// ------------------------------------------------------------------ message shapes

export interface WebhookBody {
  event: NotificationEvent;
  delivery: string;
  sent_at: string;
  gateway: string;
  request: {
    id: string;
    kind: "statement" | "grant";
    status: string;
    resource: string;
    url: string;
    approve_command: string;
    deny_command: string;
    requester: ApprovalRecord["requester"];
    rule: string | null;
    statement: string | null;
    statement_sha256: string | null;
    /** Bound parameters as approvers see them (extended protocol), all of them in order; null for simple queries. */
    statement_parameters: string[] | null;
    session_id: string | null;
    grant_duration_ms: number | null;
    grant_ends_at: string | null;
    request_reason: string | null;
    requirements: Array<{ rule: string; required: number }>;
    created_at: string;
    expires_at: string;
    decided_at: string | null;
    outcome_reason: string | null;
    votes: Array<{ approver: string; decision: string; reason: string | null; at: string }>;
  };
}

export function webhookBody(record: ApprovalRecord, event: NotificationEvent, delivery: string, publicUrl: string, now: number): WebhookBody {
  return {
    event,
    delivery,
    sent_at: new Date(now).toISOString(),
    gateway: publicUrl,
    request: {
      id: record.id,
      kind: record.kind,
      status: record.status,
      resource: record.resource,
      url: requestUrl(publicUrl, record),
      approve_command: `gatehouse approvals approve ${record.id}`,
      deny_command: `gatehouse approvals deny ${record.id} --reason "..."`,
      requester: record.requester,
      rule: record.rule,
      statement: record.statement?.text ?? null,
      statement_sha256: record.statement?.sha256 ?? null,
      statement_parameters: record.statement?.parameters ?? null,
      session_id: record.statement?.sessionId ?? null,
      grant_duration_ms: record.grant?.durationMs ?? null,
      grant_ends_at: record.grant?.endsAt != null ? new Date(record.grant.endsAt).toISOString() : null,
      request_reason: record.requestReason,
      requirements: record.requirements.map((r) => ({ rule: r.rule, required: r.required })),
      created_at: new Date(record.createdAt).toISOString(),
      expires_at: new Date(record.expiresAt).toISOString(),
      decided_at: record.decidedAt !== null ? new Date(record.decidedAt).toISOString() : null,
      outcome_reason: record.outcomeReason,
      votes: record.votes.map((v) => ({ approver: v.approver.label, decision: v.decision, reason: v.reason, at: new Date(v.at).toISOString() })),
    },
  };
}

export function requestUrl(publicUrl: string, record: { id: string; kind: string }): string {
  return `${publicUrl.replace(/\/+$/, "")}/v1/${record.kind === "grant" ? "grants" : "approvals"}/${record.id}`;
}

/** Slack mrkdwn: neutralise the characters Slack treats as control (&, <, >) so user text cannot inject links or mentions. */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A Slack incoming-webhook message (text fallback + Block Kit sections). */
export function slackMessage(record: ApprovalRecord, event: NotificationEvent, publicUrl: string): { text: string; blocks: unknown[] } {
  const who = slackEscape(record.requester.label);
  const what = record.kind === "grant" ? `access to *${slackEscape(record.resource)}* for ${formatDuration(record.grant?.durationMs ?? 0)}` : `a statement on *${slackEscape(record.resource)}*`;
  const headline: Record<string, string> = {
    requested: `:hourglass: ${who} requests ${what} — approval needed`,
    approved: `:white_check_mark: ${record.kind === "grant" ? "Grant" : "Statement"} ${record.id} approved`,
    denied: `:no_entry: ${record.kind === "grant" ? "Grant" : "Statement"} ${record.id} denied`,
    expired: `:alarm_clock: ${record.kind === "grant" ? "Grant" : "Request"} ${record.id} expired`,
    withdrawn: `:leftwards_arrow_with_hook: Request ${record.id} withdrawn (the session ended)`,
    revoked: `:lock: Grant ${record.id} revoked`,
  };
  const suffix = event.split(".")[1]!;
  const text = `${headline[suffix] ?? `${record.id}: ${suffix}`}`;
  const lines: string[] = [`*Request:* \`${record.id}\`  *Resource:* ${slackEscape(record.resource)}  *Requester:* ${who}`];
  const ci = record.requester.ci;
  if (ci) {
    const parts = [ci.repository && `repo ${slackEscape(ci.repository)}`, ci.ref && `ref ${slackEscape(ci.ref)}`, ci.sha && `sha ${slackEscape(ci.sha.slice(0, 12))}`, ci.workflow && `workflow ${slackEscape(ci.workflow)}`].filter(Boolean);
    if (parts.length) lines.push(`*CI:* ${parts.join(", ")}${ci.runUrl ? ` — <${ci.runUrl}|run ${slackEscape(ci.runId ?? "")}>` : ""}`);
  }
  if (record.rule) lines.push(`*Rule:* ${slackEscape(record.rule)}`);
  if (record.requestReason) lines.push(`*Reason:* ${slackEscape(record.requestReason)}`);
  if (record.outcomeReason && suffix !== "requested") lines.push(`*Outcome:* ${slackEscape(record.outcomeReason)}`);
  const blocks: unknown[] = [
    { type: "section", text: { type: "mrkdwn", text } },
    { type: "section", text: { type: "mrkdwn", text: lines.join("\n") } },
  ];
  if (record.statement) {
    // Code blocks cannot be escaped out of in mrkdwn except by backticks: replace them.
    const params = record.statement.parameters;
    const full = params ? `${record.statement.text}\n\nparameters (${params.length}):\n${params.join("\n")}` : record.statement.text;
    const sql = full.slice(0, 2500).replace(/```/g, "ˋˋˋ");
    blocks.push({ type: "section", text: { type: "mrkdwn", text: "```" + slackEscape(sql) + "```" } });
    // Slack cannot show it all: say so, never let a cut look like the whole statement.
    if (full.length > 2500) blocks.push({ type: "section", text: { type: "mrkdwn", text: `*Not shown:* ${full.length - 2500} more characters — read it all with \`gatehouse approvals show ${record.id}\` before deciding.` } });
  }
  if (suffix === "requested") {
    blocks.push({
      type: "context",
      elements: [
        { type: "mrkdwn", text: `Approve with \`gatehouse approvals approve ${record.id}\` or deny with \`gatehouse approvals deny ${record.id} --reason "…"\` — expires ${new Date(record.expiresAt).toISOString()} — <${requestUrl(publicUrl, record)}|details>` },
      ],
    });
  }
  return { text, blocks };
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

// ------------------------------------------------------------------ signing

/**
 * `x-gatehouse-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with
 * `x-gatehouse-timestamp: <unix seconds>`. Receivers recompute it over the raw body, compare in
 * constant time, and reject timestamps older than a few minutes (replay).
 */
export async function signWebhook(secret: string, timestamp: number, body: string): Promise<string> {
  return `v1=${await hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return toHex(new Uint8Array(mac));
}

export { toHex };

/** Delays before retries 1..n; after the last, the delivery is marked failed (and stays listed). */
export const RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 120_000, 300_000, 600_000, 1_800_000] as const;
