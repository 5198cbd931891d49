/**
 * Just-in-time grants in the access review: grants are not in any session's trail (the
 * ApprovalsObject keeps them), so the online report fetches them (`GET /v1/grants`) and lists
 * every grant requested, decided, active or revoked in the period — who asked, why, who approved,
 * and the window it was usable in.
 */
export interface GrantView {
  id: string;
  status: string;
  resource: string;
  requester: { label: string };
  requestReason: string | null;
  createdAt: number;
  decidedAt: number | null;
  outcomeReason: string | null;
  votes: Array<{ approver: { label: string } | string; decision: string; reason?: string | null }>;
  grant?: { durationMs: number; startsAt: number | null; endsAt: number | null; revokedAt: number | null; revokeReason: string | null };
}

export interface ReviewGrant {
  id: string;
  resource: string;
  requester: string;
  reason: string | null;
  status: string;
  approved_by: string[];
  requested_at: string;
  active_from: string | null;
  active_until: string | null;
  revoked_at: string | null;
  revoke_reason: string | null;
}

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

/** Grants that touched [from, to): requested, decided or usable in it. */
export function grantsInPeriod(views: readonly GrantView[], from: number, to: number): ReviewGrant[] {
  const touches = (v: GrantView) => {
    const inRange = (t: number | null | undefined) => t != null && t >= from && t < to;
    const start = v.grant?.startsAt ?? null;
    const end = v.grant?.revokedAt ?? v.grant?.endsAt ?? null;
    return inRange(v.createdAt) || inRange(v.decidedAt) || (start != null && start < to && (end == null || end > from));
  };
  return views
    .filter(touches)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((v) => ({
      id: v.id,
      resource: v.resource,
      requester: v.requester.label,
      reason: v.requestReason,
      status: v.status,
      approved_by: v.votes.filter((x) => x.decision === "approve").map((x) => (typeof x.approver === "string" ? x.approver : x.approver.label)),
      requested_at: iso(v.createdAt)!,
      active_from: iso(v.grant?.startsAt),
      active_until: iso(v.grant?.revokedAt ?? v.grant?.endsAt),
      revoked_at: iso(v.grant?.revokedAt),
      revoke_reason: v.grant?.revokeReason ?? null,
    }));
}

/** The report's grants section (Markdown). `grants` undefined: not available (offline review). */
export function grantsMarkdown(grants: readonly ReviewGrant[] | undefined, escape: (s: string) => string): string[] {
  const out = ["## Just-in-time grants", ""];
  if (grants === undefined) return [...out, "Not included: an offline review reads trail files only; run it online to list grants.", ""];
  if (grants.length === 0) return [...out, "None in the period.", ""];
  for (const g of grants) {
    const window = g.active_from ? `, usable ${g.active_from} — ${g.active_until ?? "?"}` : "";
    const approved = g.approved_by.length ? `, approved by ${g.approved_by.map(escape).join(", ")}` : "";
    const revoked = g.revoked_at ? `, revoked ${g.revoked_at}${g.revoke_reason ? ` (${escape(g.revoke_reason)})` : ""}` : "";
    out.push(`- ${g.requested_at} ${escape(g.requester)} → ${escape(g.resource)}: ${g.status}${approved}${window}${revoked}${g.reason ? ` — "${escape(g.reason)}"` : ""} (${g.id})`);
  }
  return [...out, ""];
}
