/**
 * Console pages for approvals and grants:
 *   GET  /console/approvals              pending requests this person may see (and history links)
 *   GET  /console/approvals/:id          the request in full: statement, masked parameters, requester
 *                                        and CI context, rule, N-of-M progress, time left, votes
 *   POST /console/approvals/:id/approve  (CSRF) vote, optional reason
 *   POST /console/approvals/:id/deny     (CSRF) vote, reason required
 * Visibility and eligibility are the REST API's (worker/routes/approvals.ts): the same functions,
 * the same ApprovalsObject checks (self-approval, double votes, late votes are refused there).
 * The requester gets no buttons, and a forged post is refused by the server all the same.
 */
import { Hono, type Context } from "hono";
import type { CompiledPolicy } from "../../parsers/policy/types.ts";
import { approvalsStub } from "../approvals/client.ts";
import { principalKey, principalOf, type Principal } from "../approvals/ci-context.ts";
import type { ApprovalRecord, RequestStatus, VoteDecision } from "../approvals/core.ts";
import { BadRequestError, NotFoundError } from "../errors.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { fail, mayVoteOn, visible } from "../routes/approvals.ts";
import { checkedForm, type ConsoleEnv } from "../signin/session.ts";
import { html, isoTime, page, relativeTime, type Html } from "./html.ts";
import { whoOf } from "./who.ts";

const ID = /^(apr|grt)_[a-z2-9]{16}$/;
const STATUSES: readonly RequestStatus[] = ["pending", "approved", "denied", "expired", "withdrawn", "revoked"];
type Ctx = Context<ConsoleEnv>;

function canVote(policy: CompiledPolicy, record: ApprovalRecord, c: Ctx): boolean {
  const me = c.var.identity;
  return (
    record.status === "pending" &&
    principalKey(record.requester) !== principalKey(me) &&
    !record.votes.some((v) => principalKey(v.approver) === principalKey(me)) &&
    mayVoteOn(policy, record, me).length > 0
  );
}

function principal(p: Principal): Html {
  const ci = p.ci;
  return html`<span class="principal">${p.label}</span> <span class="muted">(${p.issuer} · ${p.subject})</span>${
    ci
      ? html`<dl class="ci">
${ci.repository ? html`<dt>Repository</dt><dd>${ci.repository}</dd>` : ""}
${ci.workflow ? html`<dt>Workflow</dt><dd>${ci.workflow}</dd>` : ""}
${ci.ref ? html`<dt>Ref</dt><dd>${ci.ref}</dd>` : ""}
${ci.sha ? html`<dt>Commit</dt><dd><code>${ci.sha}</code></dd>` : ""}
${ci.actor ? html`<dt>Actor</dt><dd>${ci.actor}</dd>` : ""}
${ci.event ? html`<dt>Event</dt><dd>${ci.event}</dd>` : ""}
${ci.runUrl ? html`<dt>Run</dt><dd><a href="${ci.runUrl}" rel="noreferrer noopener">${ci.runUrl}</a></dd>` : ci.runId ? html`<dt>Run</dt><dd>${ci.runId}</dd>` : ""}
</dl>`
      : ""
  }`;
}

function progress(record: ApprovalRecord): Html {
  return html`<ul class="progress">${record.requirements.map((r) => {
    const got = record.votes.filter((v) => v.decision === "approve" && v.counts.includes(r.rule)).length;
    return html`<li><span class="rule">${r.rule}</span>: <strong>${Math.min(got, r.required)} of ${r.required}</strong> approval${r.required === 1 ? "" : "s"}</li>`;
  })}</ul>`;
}

function summaryRow(record: ApprovalRecord): Html {
  const what = record.kind === "grant" ? `access to ${record.resource} for ${Math.round((record.grant?.durationMs ?? 0) / 60000)}m` : (record.statement?.text ?? "");
  return html`<li class="request ${record.status}"><a href="/console/approvals/${record.id}"><span class="id">${record.id}</span>
<span class="status">${record.status}</span> <span class="resource">${record.resource}</span></a>
<pre class="statement">${what.length > 300 ? `${what.slice(0, 299)}…` : what}</pre>
<p class="muted">by ${record.requester.label} · rule ${record.rule ?? "grant"} · ${record.status === "pending" ? `expires ${relativeTime(record.expiresAt)}` : `created ${relativeTime(record.createdAt)}`}</p></li>`;
}

async function list(c: Ctx) {
  const status = c.req.query("status") ?? "pending";
  if (!(STATUSES as readonly string[]).includes(status)) throw new BadRequestError(`status must be one of ${STATUSES.join(", ")}`);
  const policy = await currentPolicy(c.env);
  const records = (await approvalsStub(c.env).list({ status: status as RequestStatus, limit: 200 })).filter((r) => visible(policy, r, c.var.identity));
  const body = html`<nav aria-label="Status" class="filters">${STATUSES.map((s) => html`<a href="/console/approvals?status=${s}"${s === status ? html` aria-current="page"` : ""}>${s}</a> `)}</nav>
${records.length === 0 ? html`<p>No ${status} requests.</p>` : html`<ul class="requests">${records.map(summaryRow)}</ul>`}`;
  return page(c, { title: status === "pending" ? "Pending approvals" : `Requests: ${status}`, who: await whoOf(c), body });
}

async function load(c: Ctx): Promise<{ policy: CompiledPolicy; record: ApprovalRecord }> {
  const id = c.req.param("id") ?? "";
  if (!ID.test(id)) throw new NotFoundError("no such request");
  const policy = await currentPolicy(c.env);
  const record = await approvalsStub(c.env).get(id);
  if (!record || !visible(policy, record, c.var.identity)) throw new NotFoundError(`no request ${id}`);
  return { policy, record };
}

async function show(c: Ctx, notice?: Html) {
  const { policy, record } = await load(c);
  const who = await whoOf(c);
  const self = principalKey(record.requester) === principalKey(c.var.identity);
  const st = record.statement;
  const votes = record.votes.length
    ? html`<ul class="votes">${record.votes.map((v) => html`<li><strong>${v.decision === "approve" ? "Approved" : "Denied"}</strong> by ${v.approver.label} ${isoTime(v.at)}${v.reason ? html`: <q>${v.reason}</q>` : ""}</li>`)}</ul>`
    : html`<p>No votes yet.</p>`;
  const decide = canVote(policy, record, c)
    ? html`<section aria-labelledby="decide"><h2 id="decide">Decide</h2>
<form method="post" action="/console/approvals/${record.id}/approve" class="vote"><input type="hidden" name="csrf" value="${who.csrf}">
<label for="approve-reason">Reason (optional)</label><input id="approve-reason" name="reason" maxlength="1000">
<button type="submit" class="approve">Approve</button></form>
<form method="post" action="/console/approvals/${record.id}/deny" class="vote"><input type="hidden" name="csrf" value="${who.csrf}">
<label for="deny-reason">Reason (required)</label><input id="deny-reason" name="reason" required maxlength="1000">
<button type="submit" class="deny">Deny</button></form></section>`
    : record.status === "pending"
      ? html`<p class="note" role="note">${self ? "You made this request: someone else must decide it." : "You cannot vote on this request (already voted, or the policy does not name you as an approver for its rule)."}</p>`
      : "";
  const body = html`${notice ?? ""}<dl class="request-detail">
<dt>Status</dt><dd class="status ${record.status}">${record.status}${record.outcomeReason ? html` — ${record.outcomeReason}` : ""}</dd>
<dt>Resource</dt><dd>${record.resource}</dd>
<dt>Kind</dt><dd>${record.kind}</dd>
<dt>Rule</dt><dd>${record.rule ?? "grant"}</dd>
<dt>Requested by</dt><dd>${principal(record.requester)}</dd>
<dt>Requested</dt><dd>${isoTime(record.createdAt)}</dd>
<dt>${record.status === "pending" ? "Time left" : "Deadline"}</dt><dd>${record.status === "pending" ? html`<span class="time-left">${relativeTime(record.expiresAt).replace(/^in /, "")}</span> (until ${isoTime(record.expiresAt)})` : isoTime(record.expiresAt)}</dd>
${record.requestReason ? html`<dt>Reason given</dt><dd>${record.requestReason}</dd>` : ""}
</dl>
${st ? html`<h2>Statement</h2><pre class="statement" aria-label="Statement">${st.text}</pre>
${st.parameters?.length ? html`<h3>Parameters</h3><ol class="params">${st.parameters.map((p) => html`<li><code>${p}</code></li>`)}</ol>` : ""}
<p class="muted">SHA-256 of the exact bytes that will run: <code>${st.sha256}</code>; session <a href="/console/sessions/${st.sessionId}">${st.sessionId}</a></p>` : ""}
${record.grant ? html`<h2>Grant</h2><p>${Math.round(record.grant.durationMs / 60000)} minutes of access to ${record.resource}${record.grant.endsAt ? html`, until ${isoTime(record.grant.endsAt)}` : ""}</p>` : ""}
<h2>Approvals</h2>${progress(record)}${votes}${decide}`;
  return page(c, { title: `Request ${record.id}`, who, body });
}

async function vote(c: Ctx, decision: VoteDecision) {
  const form = await checkedForm(c);
  const { policy, record } = await load(c);
  const reason = (form.reason ?? "").trim() || null;
  if (decision === "deny" && !reason) throw new BadRequestError("a denial needs a reason");
  const eligible = mayVoteOn(policy, record, c.var.identity);
  const result = await approvalsStub(c.env).vote(record.id, principalOf(c.var.identity), decision, reason, eligible);
  if (!result.ok) fail(result);
  return c.redirect(`/console/approvals/${record.id}`, 303);
}

export const consoleApprovals = new Hono<ConsoleEnv>()
  .get("/", list)
  .get("/:id", (c) => show(c))
  .post("/:id/approve", (c) => vote(c, "approve"))
  .post("/:id/deny", (c) => vote(c, "deny"));

