/**
 * Console pages for the access review and grants:
 *   GET  /console/review?from&to             the review report for a period (role auditor), built
 *                                            like `gatehouse review report`: from trails verified
 *                                            here (chain + signatures), grants from the approvals store
 *   GET  /console/review/report.csv|.md      the same report as a download
 *   GET  /console/grants                     grants: pending, active and recent (auditor, approver, admin)
 *   POST /console/grants/:id/revoke          (CSRF; approver, admin or the holder — the API's rule)
 * A report covers at most MAX_SESSIONS sessions: a worker request has bounded CPU; larger periods
 * are for the CLI, and the page says so instead of cutting silently.
 */
import { Hono, type Context } from "hono";
import { buildReviewReport, formatReview, trailEvents, verifyTrailText, type ReviewInputSession, type ReviewReport } from "../../parsers/audit/index.ts";
import { grantsInPeriod, type GrantView } from "../../parsers/audit/review-grants.ts";
import { approvalsStub } from "../approvals/client.ts";
import { principalKey, principalOf } from "../approvals/ci-context.ts";
import type { ApprovalRecord } from "../approvals/core.ts";
import { readExport } from "../audit/chunk-store.ts";
import { publishedAuditKeys } from "../audit/keys.ts";
import { listSessions } from "../audit/session-index.ts";
import { BadRequestError, ForbiddenError, NotFoundError } from "../errors.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { fail, visible } from "../routes/approvals.ts";
import { checkedForm, type ConsoleEnv } from "../signin/session.ts";
import { parseTime } from "../api/sessions.ts";
import { html, isoTime, page } from "./html.ts";
import { consoleRole } from "./roles.ts";
import { whoOf } from "./who.ts";

type Ctx = Context<ConsoleEnv>;
const MAX_SESSIONS = 500;
const DAY = 86_400_000;

function period(c: Ctx): { from: number; to: number; fromText: string; toText: string } {
  const q = c.req.query();
  const read = (v: string | undefined, name: string) => {
    try {
      return parseTime(v && /^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00:00Z` : v, name);
    } catch (e) {
      throw new BadRequestError((e as Error).message);
    }
  };
  const today = Math.floor(Date.now() / DAY) * DAY;
  const to = read(q.to, "to") ?? today + DAY;
  const from = read(q.from, "from") ?? to - 7 * DAY;
  if (to <= from) throw new BadRequestError("the period must end after it starts");
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return { from, to, fromText: q.from ?? day(from), toText: q.to ?? day(to) };
}


async function buildReport(c: Ctx, from: number, to: number): Promise<ReviewReport> {
  const listed = await listSessions(c.env.DB, { from, to, limit: MAX_SESSIONS + 1 });
  if (listed.length > MAX_SESSIONS) throw new BadRequestError(`more than ${MAX_SESSIONS} sessions in this period: choose a shorter period, or use \`gatehouse review report\``);
  const keys = await publishedAuditKeys(c.env);
  const input: ReviewInputSession[] = [];
  for (const s of listed) {
    const { text } = await readExport(c.env.RECORDINGS, s.id);
    const ended = s.status !== "open";
    const verification = await verifyTrailText(text, { keys, sessionId: s.id, requireComplete: ended, expectedChunks: ended ? s.chunks : undefined });
    input.push({ session: s.id, events: trailEvents(text), verification, first_access: s.first_access });
  }
  const report = buildReviewReport(input, { from, to });
  const grants = await approvalsStub(c.env).list({ kind: "grant", limit: 200 });
  report.grants = grantsInPeriod(grants as unknown as GrantView[], from, to);
  return report;
}

async function reviewPage(c: Ctx) {
  const p = period(c);
  const report = await buildReport(c, p.from, p.to);
  const q = `from=${encodeURIComponent(p.fromText)}&to=${encodeURIComponent(p.toText)}`;
  const body = html`<form method="get" class="filters" aria-label="Review period">
<label>From (UTC) <input type="date" name="from" value="${p.fromText}"></label>
<label>To (UTC, exclusive) <input type="date" name="to" value="${p.toText}"></label>
<button type="submit">Show</button></form>
<p>${report.sessions} session${report.sessions === 1 ? "" : "s"} from ${report.from} to ${report.to}, verified here against the published audit keys.
<a class="button" href="/console/review/report.csv?${q}" download>Download CSV</a> <a class="button" href="/console/review/report.md?${q}" download>Download Markdown</a>
<a href="/console/grants">Grants</a></p>
<h2>Identities</h2>
${report.identities.length === 0 ? html`<p>No access in this period.</p>` : html`<div class="table-wrap"><table><thead><tr><th scope="col">Identity</th><th scope="col">Kind</th><th scope="col">Resources</th><th scope="col">Sessions</th><th scope="col">Denied</th><th scope="col">Approved</th><th scope="col">First-time access</th></tr></thead><tbody>
${report.identities.map(
  (id) => html`<tr><td>${id.label}<br><span class="muted">${id.issuer} · ${id.subject}</span></td><td>${id.kind}</td><td>${id.resources.map((r) => html`${r.resource} (${r.sessions})<br>`)}</td><td>${id.sessions}</td><td>${id.denied.length}</td><td>${id.approvals.length}</td><td>${id.first_time.map((f) => html`${f.resource} ${f.at}<br>`)}</td></tr>`,
)}</tbody></table></div>`}
<h2>Denials</h2>
${(() => {
  const denials = report.identities.flatMap((id) => id.denied.map((d) => ({ who: id.label, ...d })));
  return denials.length === 0 ? html`<p>None.</p>` : html`<ul>${denials.map((d) => html`<li>${d.at} <strong>${d.who}</strong> on ${d.resource}: <code>${d.statement}</code> — rule ${d.rule}</li>`)}</ul>`;
})()}
<h2>Approvals</h2>
${(() => {
  const approvals = report.identities.flatMap((id) => id.approvals.map((a) => ({ who: id.label, ...a })));
  return approvals.length === 0 ? html`<p>None.</p>` : html`<ul>${approvals.map((a) => html`<li>${a.at} <strong>${a.who}</strong> on ${a.resource}, approved by ${a.approver}: <code>${a.statement}</code></li>`)}</ul>`;
})()}
<h2>Incomplete recordings</h2>
${report.incomplete.length === 0 ? html`<p>None: every session in the period verifies as complete.</p>` : html`<ul>${report.incomplete.map((x) => html`<li class="bad">${x.session} (${x.identity} on ${x.resource}): ${x.reason}</li>`)}</ul>`}
<h2>Grants</h2>
${!report.grants?.length ? html`<p>None.</p>` : html`<ul>${report.grants.map((g) => html`<li><a href="/console/approvals/${g.id}">${g.id}</a> ${g.requester} → ${g.resource}: ${g.status}${g.approved_by.length ? `, approved by ${g.approved_by.join(", ")}` : ""}${g.revoked_at ? `, revoked ${g.revoked_at}` : ""}</li>`)}</ul>`}`;
  return page(c, { title: "Access review", who: await whoOf(c), body });
}

async function download(c: Ctx, format: "csv" | "md") {
  const p = period(c);
  const report = await buildReport(c, p.from, p.to);
  const name = `gatehouse-review-${p.fromText}-${p.toText}.${format}`.replace(/[^A-Za-z0-9._-]/g, "_");
  return c.body(formatReview(report, format), 200, {
    "content-type": format === "csv" ? "text/csv; charset=utf-8" : "text/markdown; charset=utf-8",
    "content-disposition": `attachment; filename="${name}"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
}

const GRANT_ROLES = ["auditor", "approver", "admin"];

async function grantsPage(c: Ctx) {
  const policy = await currentPolicy(c.env);
  const roles = policy.rolesOf(c.var.identity);
  if (!roles.some((r) => GRANT_ROLES.includes(r))) throw new ForbiddenError("this page needs the auditor, approver or admin role");
  const now = Date.now();
  const all = (await approvalsStub(c.env).list({ kind: "grant", limit: 200 })).filter((r) => visible(policy, r, c.var.identity));
  const active = all.filter((r) => r.status === "approved" && r.grant?.endsAt != null && r.grant.endsAt > now);
  const pending = all.filter((r) => r.status === "pending");
  const mayRevoke = roles.includes("approver") || roles.includes("admin");
  const who = await whoOf(c);
  const row = (r: ApprovalRecord, revoke: boolean) => html`<li class="request"><a href="/console/approvals/${r.id}">${r.id}</a> <strong>${r.requester.label}</strong> → ${r.resource}
${r.grant?.endsAt ? html`until ${isoTime(r.grant.endsAt)}` : html`for ${Math.round((r.grant?.durationMs ?? 0) / 60000)}m`}${r.requestReason ? html` — <q>${r.requestReason}</q>` : ""}
${revoke && (mayRevoke || principalKey(r.requester) === principalKey(c.var.identity)) ? html`<form method="post" action="/console/grants/${r.id}/revoke" class="vote"><input type="hidden" name="csrf" value="${who.csrf}">
<label for="revoke-${r.id}">Reason</label><input id="revoke-${r.id}" name="reason" maxlength="1000"><button type="submit" class="deny">Revoke</button></form>` : ""}</li>`;
  const body = html`<h2>Active</h2>${active.length ? html`<ul class="requests">${active.map((r) => row(r, true))}</ul>` : html`<p>No active grants.</p>`}
<h2>Pending</h2>${pending.length ? html`<ul class="requests">${pending.map((r) => row(r, false))}</ul>` : html`<p>No pending grant requests.</p>`}`;
  return page(c, { title: "Grants", who, body });
}

async function revoke(c: Ctx) {
  const form = await checkedForm(c);
  const id = c.req.param("id") ?? "";
  if (!/^grt_[a-z2-9]{16}$/.test(id)) throw new NotFoundError("no such grant");
  const policy = await currentPolicy(c.env);
  const record = await approvalsStub(c.env).get(id);
  if (!record || record.kind !== "grant" || !visible(policy, record, c.var.identity)) throw new NotFoundError(`no grant ${id}`);
  const roles = policy.rolesOf(c.var.identity);
  if (principalKey(record.requester) !== principalKey(c.var.identity) && !roles.includes("approver") && !roles.includes("admin")) {
    throw new ForbiddenError("only the grant's holder, an approver or an admin may revoke it");
  }
  const result = await approvalsStub(c.env).revoke(id, principalOf(c.var.identity), (form.reason ?? "").trim() || null);
  if (!result.ok) fail(result);
  return c.redirect("/console/grants", 303);
}

export const consoleReview = new Hono<ConsoleEnv>()
  .use("*", consoleRole("auditor"))
  .get("/", reviewPage)
  .get("/report.csv", (c) => download(c, "csv"))
  .get("/report.md", (c) => download(c, "md"));

export const consoleGrants = new Hono<ConsoleEnv>().get("/", grantsPage).post("/:id/revoke", revoke);
