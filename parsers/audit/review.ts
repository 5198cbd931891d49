/**
 * The access-review report: per identity (human or pipeline, with its CI claims), which resources
 * it reached and when, statements by kind, what was denied, what was approved and by whom,
 * first-time accesses, and sessions whose recording is incomplete. Built from verified trails:
 * only the verified prefix of each trail counts, and every session that does not verify as
 * complete is listed as incomplete with the verifier's reason.
 */
import { grantsMarkdown, type ReviewGrant } from "./review-grants.ts";
import { describeIdentity, type CiClaims } from "./identity-summary.ts";
import type { VerifyResult } from "./verify.ts";
import type { AuditEvent } from "./types.ts";

export interface ReviewInputSession {
  session: string;
  /** Events of the trail in seq order (the report uses only the first `verification.events`). */
  events: readonly AuditEvent[];
  verification: VerifyResult;
  /** From the session index: no earlier session of this identity reached this resource. */
  first_access?: boolean;
}

export interface ReviewDenial {
  session: string;
  resource: string;
  at: string;
  statement: string;
  rule: string;
  reason: string;
}

export interface ReviewApproval {
  session: string;
  resource: string;
  at: string;
  approver: string;
  statement: string;
}

export interface ReviewResource {
  resource: string;
  sessions: number;
  first_seen: string;
  last_seen: string;
  first_time: boolean;
  statements: Record<string, number>;
  denied: number;
  approved: number;
}

export interface ReviewIdentity {
  key: string;
  issuer: string;
  subject: string;
  kind: "pipeline" | "human";
  label: string;
  /** Every distinct CI claim value seen across this identity's sessions. */
  ci: Partial<Record<keyof CiClaims, string[]>>;
  sessions: number;
  statements: Record<string, number>;
  resources: ReviewResource[];
  denied: ReviewDenial[];
  approvals: ReviewApproval[];
  first_time: { resource: string; at: string; session: string }[];
}

export interface ReviewIncomplete {
  session: string;
  identity: string;
  resource: string;
  started?: string;
  reason: string;
}

export interface ReviewReport {
  from: string;
  to: string;
  generated_at: string;
  sessions: number;
  identities: ReviewIdentity[];
  incomplete: ReviewIncomplete[];
  /** Just-in-time grants of the period (online review); absent when not available (offline). */
  grants?: ReviewGrant[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function buildReviewReport(input: readonly ReviewInputSession[], range: { from: number; to: number; now?: number }): ReviewReport {
  const byIdentity = new Map<string, ReviewIdentity & { _res: Map<string, ReviewResource> }>();
  const incomplete: ReviewIncomplete[] = [];
  const sorted = [...input].sort((a, b) => (a.events[0]?.ts ?? 0) - (b.events[0]?.ts ?? 0));

  for (const s of sorted) {
    const verified = s.events.slice(0, s.verification.events);
    const start = verified.find((e) => e.type === "session.start") as AuditEvent<"session.start"> | undefined;
    const gaps = recordingGaps(verified);
    if (!s.verification.ok || !s.verification.complete || gaps) {
      incomplete.push({
        session: s.session,
        identity: start ? describeIdentity(start.data.identity.issuer, start.data.identity.subject, start.data.identity.claims).label : "(unknown: no verified session.start)",
        resource: start?.data.resource ?? "(unknown)",
        started: start ? iso(start.ts) : undefined,
        reason: s.verification.error
          ? `${s.verification.error.kind} at event ${s.verification.error.seq}: ${s.verification.error.message}`
          : !s.verification.complete
            ? "recording in progress or not sealed"
            : gaps!,
      });
    }
    if (!start) continue;
    const d = start.data;
    const who = describeIdentity(d.identity.issuer, d.identity.subject, d.identity.claims);
    let id = byIdentity.get(who.key);
    if (!id) {
      id = { key: who.key, issuer: who.issuer, subject: who.subject, kind: who.kind, label: who.label, ci: {}, sessions: 0, statements: {}, resources: [], denied: [], approvals: [], first_time: [], _res: new Map() };
      byIdentity.set(who.key, id);
    }
    id.sessions++;
    for (const [k, v] of Object.entries(who.ci ?? {}) as [keyof CiClaims, string][]) {
      const list = (id.ci[k] ??= []);
      if (!list.includes(v)) list.push(v);
    }
    let res = id._res.get(d.resource);
    if (!res) {
      res = { resource: d.resource, sessions: 0, first_seen: iso(start.ts), last_seen: iso(start.ts), first_time: false, statements: {}, denied: 0, approved: 0 };
      id._res.set(d.resource, res);
      if (s.first_access) {
        res.first_time = true;
        id.first_time.push({ resource: d.resource, at: iso(start.ts), session: s.session });
      }
    }
    res.sessions++;
    let lastText = "";
    let lastSeen = start.ts;
    for (const e of verified) {
      lastSeen = Math.max(lastSeen, e.ts);
      if (e.type === "query") {
        const q = (e as AuditEvent<"query">).data;
        lastText = q.text;
        const kinds = q.statements && q.statements.length > 0 ? q.statements.map((st) => st.kind) : ["unclassified"];
        for (const k of kinds) {
          id.statements[k] = (id.statements[k] ?? 0) + 1;
          res.statements[k] = (res.statements[k] ?? 0) + 1;
        }
      } else if (e.type === "decision") {
        const dec = (e as AuditEvent<"decision">).data;
        if (dec.effect === "deny") {
          res.denied++;
          id.denied.push({ session: s.session, resource: d.resource, at: iso(e.ts), statement: lastText, rule: dec.rule, reason: dec.reason });
        }
      } else if (e.type === "approval.granted") {
        const a = (e as AuditEvent<"approval.granted">).data;
        res.approved++;
        id.approvals.push({ session: s.session, resource: d.resource, at: iso(e.ts), approver: a.approver ?? "(unknown)", statement: a.text ?? lastText });
      }
    }
    if (iso(lastSeen) > res.last_seen) res.last_seen = iso(lastSeen);
  }

  const identities = [...byIdentity.values()]
    .map(({ _res, ...rest }) => ({ ...rest, resources: [..._res.values()].sort((a, b) => a.resource.localeCompare(b.resource)) }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.label.localeCompare(b.label));
  return { from: iso(range.from), to: iso(range.to), generated_at: iso(range.now ?? Date.now()), sessions: input.length, identities, incomplete };
}

/** A verified trail can still say it is incomplete: truncated markers, lost or omitted events. */
function recordingGaps(events: readonly AuditEvent[]): string | undefined {
  const reasons: string[] = [];
  for (const e of events) {
    if (e.type === "truncated") {
      const t = (e as AuditEvent<"truncated">).data;
      reasons.push(`recording truncated at event ${e.seq} (${t.reason}${t.omitted_events ? `, ${t.omitted_events} event(s) not recorded` : ""})`);
    }
    if (e.type === "session.end") {
      const d = (e as AuditEvent<"session.end">).data;
      if (d.lost_events) reasons.push(`${d.lost_events} event(s) lost`);
      if (d.omitted_events) reasons.push(`${d.omitted_events} event(s) omitted after a limit`);
    }
  }
  return reasons.length ? reasons.join("; ") : undefined;
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

export function reviewToJson(report: ReviewReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

function kinds(report: ReviewReport): string[] {
  const set = new Set<string>();
  for (const id of report.identities) for (const k of Object.keys(id.statements)) set.add(k);
  return [...set].sort();
}

function csvCell(v: unknown): string {
  let s = v === undefined || v === null ? "" : String(v);
  // A cell an attacker controls (statement text, claim values) must not become a spreadsheet formula.
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per (identity, resource); incomplete sessions are counted per row and listed in JSON/md. */
export function reviewToCsv(report: ReviewReport): string {
  const ks = kinds(report);
  const header = ["identity_kind", "identity", "issuer", "subject", "repository", "ref", "workflow", "environment", "resource", "sessions", "first_seen", "last_seen", "first_time", ...ks.map((k) => `stmt_${k}`), "denied", "approved", "approvers", "incomplete_sessions", "jit_grants"];
  const rows = [header.join(",")];
  // Grants are keyed by requester label and resource; one that no session of the period used still
  // gets a row of its own, so a spreadsheet review sees every grant (offline review: column empty).
  const grantsFor = (label: string, resource: string) => (report.grants ?? []).filter((g) => g.requester === label && g.resource === resource);
  const listed = new Set<ReviewGrant>();
  for (const id of report.identities) {
    for (const r of id.resources) {
      const approvers = [...new Set(id.approvals.filter((a) => a.resource === r.resource).map((a) => a.approver))].join(" ");
      const incomplete = report.incomplete.filter((x) => x.resource === r.resource && x.identity === id.label).length;
      const grants = grantsFor(id.label, r.resource);
      for (const g of grants) listed.add(g);
      rows.push(
        [id.kind, id.label, id.issuer, id.subject, (id.ci.repository ?? []).join(" "), (id.ci.ref ?? []).join(" "), (id.ci.workflow ?? []).join(" "), (id.ci.environment ?? []).join(" "), r.resource, r.sessions, r.first_seen, r.last_seen, r.first_time, ...ks.map((k) => r.statements[k] ?? 0), r.denied, r.approved, approvers, incomplete, grants.map(grantCell).join("; ")]
          .map(csvCell)
          .join(","),
      );
    }
  }
  for (const g of report.grants ?? []) {
    if (listed.has(g)) continue;
    const empty = ks.map(() => 0);
    rows.push(["", g.requester, "", "", "", "", "", "", g.resource, 0, "", "", "", ...empty, 0, 0, "", 0, grantCell(g)].map(csvCell).join(","));
  }
  return rows.join("\n") + "\n";
}

/** "<id> <status>, approved by a b, usable <from>–<until>, revoked <at>" — one grant in a CSV cell. */
function grantCell(g: ReviewGrant): string {
  const parts = [`${g.id} ${g.status}`];
  if (g.approved_by.length) parts.push(`approved by ${g.approved_by.join(" ")}`);
  if (g.active_from) parts.push(`usable ${g.active_from}–${g.active_until ?? "?"}`);
  if (g.revoked_at) parts.push(`revoked ${g.revoked_at}`);
  return parts.join(", ");
}

function mdEscape(s: string): string {
  return s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|").replace(/`/g, "'");
}

export function reviewToMarkdown(report: ReviewReport): string {
  const out: string[] = [
    `# Gatehouse access review`,
    "",
    `Period: ${report.from} — ${report.to}  `,
    `Generated: ${report.generated_at}  `,
    `Sessions: ${report.sessions}, identities: ${report.identities.length}, incomplete recordings: ${report.incomplete.length}`,
    "",
  ];
  for (const id of report.identities) {
    out.push(`## ${mdEscape(id.label)} (${id.kind})`, "", `- issuer: \`${mdEscape(id.issuer)}\`, subject: \`${mdEscape(id.subject)}\``);
    for (const [k, vs] of Object.entries(id.ci)) out.push(`- ${k}: ${vs!.map((v) => `\`${mdEscape(v)}\``).join(", ")}`);
    out.push(`- sessions: ${id.sessions}; statements: ${Object.entries(id.statements).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`, "");
    out.push("| resource | sessions | first seen | last seen | first time | statements | denied | approved |", "| --- | ---: | --- | --- | --- | --- | ---: | ---: |");
    for (const r of id.resources) {
      out.push(`| ${mdEscape(r.resource)} | ${r.sessions} | ${r.first_seen} | ${r.last_seen} | ${r.first_time ? "**yes**" : "no"} | ${Object.entries(r.statements).map(([k, n]) => `${k} ${n}`).join(", ")} | ${r.denied} | ${r.approved} |`);
    }
    if (id.denied.length > 0) {
      out.push("", "Denied:", "");
      for (const d of id.denied) out.push(`- ${d.at} ${mdEscape(d.resource)} — rule \`${mdEscape(d.rule)}\`: ${mdEscape(d.reason)} — \`${mdEscape(d.statement.slice(0, 200))}\` (session ${d.session})`);
    }
    if (id.approvals.length > 0) {
      out.push("", "Approved:", "");
      for (const a of id.approvals) out.push(`- ${a.at} ${mdEscape(a.resource)} — approved by ${mdEscape(a.approver)}: \`${mdEscape(a.statement.slice(0, 200))}\` (session ${a.session})`);
    }
    if (id.first_time.length > 0) {
      out.push("", "First-time access:", "");
      for (const f of id.first_time) out.push(`- ${f.at} ${mdEscape(f.resource)} (session ${f.session})`);
    }
    out.push("");
  }
  out.push(...grantsMarkdown(report.grants, mdEscape));
  out.push("## Incomplete recordings", "");
  if (report.incomplete.length === 0) out.push("None: every session in the period verified as complete.");
  for (const x of report.incomplete) out.push(`- session ${x.session} — ${mdEscape(x.identity)} → ${mdEscape(x.resource)}${x.started ? ` (${x.started})` : ""}: ${mdEscape(x.reason)}`);
  return out.join("\n") + "\n";
}

export function formatReview(report: ReviewReport, format: "md" | "csv" | "json"): string {
  return format === "csv" ? reviewToCsv(report) : format === "json" ? reviewToJson(report) : reviewToMarkdown(report);
}
