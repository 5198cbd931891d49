/**
 * Console pages for recorded sessions (role `auditor`, like /v1/sessions):
 *   GET /console/sessions                 list with filters (identity, resource, time, outcome, decisions)
 *   GET /console/sessions/:id             timeline: statements/commands, decisions and rules, approvals,
 *                                         masked result samples, errors
 *   GET /console/sessions/:id/replay      terminal player (SSH / exec sessions)
 *   GET /console/sessions/:id/asciicast   the recording as asciicast v2 (what the player plays)
 *   GET /console/sessions/:id/verify      chain + signed checkpoint verification of the stored trail
 * Everything shown comes from the trail in R2 (masked as recorded); the index only finds sessions.
 */
import { Hono, type Context } from "hono";
import { isCheckpoint } from "../../parsers/audit/types.ts";
import { parseTrail, toAsciicast, verifyTrailText, type AuditEvent, type VerifyResult } from "../../parsers/audit/index.ts";
import { readExport } from "../audit/chunk-store.ts";
import { publishedAuditKeys } from "../audit/keys.ts";
import { getSession, listSessions, type SessionIndexRow } from "../audit/session-index.ts";
import { isValidSessionId } from "../audit/storage-keys.ts";
import { BadRequestError, NotFoundError } from "../errors.ts";
import type { ConsoleEnv } from "../signin/session.ts";
import { parseTime } from "../api/sessions.ts";
import { html, isoTime, page, type Html } from "./html.ts";
import { consoleRole } from "./roles.ts";
import { whoOf } from "./who.ts";

type Ctx = Context<ConsoleEnv>;
const TERMINAL_EVENTS = new Set(["term.output", "term.input", "term.resize"]);

function time(value: string | undefined, name: string): number | undefined {
  try {
    // <input type="datetime-local"> sends no zone: read it as UTC, as every time on these pages is shown.
    return parseTime(value && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value) ? `${value}Z` : value, name);
  } catch (e) {
    throw new BadRequestError((e as Error).message);
  }
}

async function list(c: Ctx) {
  const q = c.req.query();
  const decision = q.decision ?? "";
  if (!["", "denied", "approved"].includes(decision)) throw new BadRequestError("decision must be denied or approved");
  let rows = await listSessions(c.env.DB, { identity: q.identity || undefined, resource: q.resource || undefined, from: time(q.from, "from"), to: time(q.to, "to"), outcome: q.outcome || undefined, limit: 200 });
  if (decision === "denied") rows = rows.filter((r) => r.denied > 0);
  if (decision === "approved") rows = rows.filter((r) => r.approved > 0);
  const opt = (value: string, label: string, current: string) => html`<option value="${value}"${value === current ? html` selected` : ""}>${label}</option>`;
  const body = html`<form method="get" class="filters" role="search" aria-label="Filter sessions">
<label>Identity <input name="identity" value="${q.identity ?? ""}" placeholder="subject, e-mail or repository"></label>
<label>Resource <input name="resource" value="${q.resource ?? ""}"></label>
<label>From (UTC) <input name="from" type="datetime-local" value="${q.from ?? ""}"></label>
<label>To (UTC) <input name="to" type="datetime-local" value="${q.to ?? ""}"></label>
<label>Outcome <select name="outcome">${opt("", "any", q.outcome ?? "")}${["ok", "error", "denied", "aborted", "open", "complete", "incomplete"].map((o) => opt(o, o, q.outcome ?? ""))}</select></label>
<label>Decisions <select name="decision">${opt("", "any", decision)}${opt("denied", "with denials", decision)}${opt("approved", "with approvals", decision)}</select></label>
<button type="submit">Filter</button></form>
${rows.length === 0 ? html`<p>No sessions match.</p>` : html`<div class="table-wrap"><table><caption class="muted">${rows.length} session${rows.length === 1 ? "" : "s"}, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Identity</th><th scope="col">Resource</th><th scope="col">Status</th><th scope="col">Statements</th><th scope="col">Denied</th><th scope="col">Approved</th></tr></thead>
<tbody>${rows.map(
          (r) => html`<tr><td><a href="/console/sessions/${r.id}">${isoTime(r.started_at)}</a></td><td>${r.identity_label} <span class="muted">[${r.identity_kind}]</span></td><td>${r.resource} <span class="muted">(${r.resource_type})</span></td>
<td class="${r.status === "ok" ? "ok" : r.status === "open" ? "" : "bad"}">${r.status}${r.complete ? "" : r.status === "open" ? "" : " (incomplete)"}</td><td>${r.statements_total}</td><td>${r.denied}</td><td>${r.approved}</td></tr>`,
        )}</tbody></table></div>`}`;
  return page(c, { title: "Sessions", who: await whoOf(c), body });
}

async function loadSession(c: Ctx): Promise<{ row: SessionIndexRow; text: string; events: AuditEvent[] }> {
  const id = c.req.param("id") ?? "";
  if (!isValidSessionId(id)) throw new NotFoundError("no such session");
  const row = await getSession(c.env.DB, id);
  if (!row) throw new NotFoundError(`no session ${id}`);
  const { text } = await readExport(c.env.RECORDINGS, id);
  let events: AuditEvent[];
  try {
    events = parseTrail(text)
      .map((l) => l.value)
      .filter((l): l is AuditEvent => !isCheckpoint(l));
  } catch (e) {
    throw new BadRequestError(`the stored trail cannot be read: ${(e as Error).message}`);
  }
  return { row, text, events };
}

async function verification(c: Ctx, row: SessionIndexRow, text: string): Promise<VerifyResult> {
  const ended = row.status !== "open";
  return verifyTrailText(text, { keys: await publishedAuditKeys(c.env), sessionId: row.id, requireComplete: ended, expectedChunks: ended ? row.chunks : undefined });
}

function sample(e: AuditEvent<"result">): Html {
  const r = e.data;
  if (r.error) return html`<p class="bad">ERROR ${r.error.code}: ${r.error.message}</p>`;
  const cols = r.columns ?? [];
  const rows = r.rows_sample ?? [];
  const table = cols.length && rows.length
    ? html`<div class="table-wrap"><table class="sample"><thead><tr>${cols.map((col) => html`<th scope="col">${col.name}</th>`)}</tr></thead><tbody>${rows.map((row) => html`<tr>${row.map((v) => html`<td>${v === null ? html`<span class="muted">NULL</span>` : v}</td>`)}</tr>`)}</tbody></table></div>`
    : "";
  return html`<p class="muted">${r.command_tag} · ${r.rows} row${r.rows === 1 ? "" : "s"}${r.duration_ms !== undefined ? ` · ${r.duration_ms} ms` : ""}${rows.length && rows.length < r.rows ? ` · sample of ${rows.length}` : ""}</p>${table}`;
}

function timelineItem(e: AuditEvent, t0: number): Html | "" {
  const at = html`<span class="muted">+${((e.ts - t0) / 1000).toFixed(3)}s · #${e.seq}</span>`;
  switch (e.type) {
    case "query": {
      const q = (e as AuditEvent<"query">).data;
      const kinds = q.statements?.map((s) => `${s.kind}/${s.command}`).join(", ") ?? q.via ?? "";
      return html`<li class="query">${at} <strong>${kinds}</strong><pre>${q.text}</pre>${q.params?.length ? html`<p class="muted">parameters: ${q.params.map((p) => (p === null ? "NULL" : p)).join(", ")}</p>` : ""}</li>`;
    }
    case "decision": {
      const d = (e as AuditEvent<"decision">).data;
      return html`<li class="decision">${at} decision <strong class="${d.effect === "deny" ? "bad" : d.effect === "allow" ? "ok" : ""}">${d.effect}</strong> by rule <code>${d.rule}</code>: ${d.reason}</li>`;
    }
    case "result":
      return html`<li class="result">${at} result ${sample(e as AuditEvent<"result">)}</li>`;
    case "approval.requested":
    case "approval.granted":
    case "approval.denied":
    case "approval.expired": {
      const a = (e as AuditEvent<"approval.granted">).data;
      return html`<li class="approval">${at} ${e.type} <a href="/console/approvals/${a.request_id}">${a.request_id}</a>${a.approver ? ` by ${a.approver}` : ""}${a.reason ? html`: <q>${a.reason}</q>` : ""}</li>`;
    }
    case "truncated":
    case "masking.derived":
    case "ssh.signal":
    case "ssh.forward-open":
    case "ssh.forward-refused":
    case "identity.renewed":
    case "rate.refused":
      return html`<li>${at} ${e.type} <code>${JSON.stringify(e.data).slice(0, 300)}</code></li>`;
    case "session.end": {
      const s = (e as AuditEvent<"session.end">).data;
      return html`<li>${at} session ended: <strong>${s.status}</strong> (${s.reason}); ${s.bytes_in} bytes in, ${s.bytes_out} out, ${s.rows} rows</li>`;
    }
    default:
      return "";
  }
}

async function show(c: Ctx) {
  const { row, events } = await loadSession(c);
  const t0 = events[0]?.ts ?? row.started_at;
  const terminal = events.some((e) => TERMINAL_EVENTS.has(e.type));
  const body = html`<dl>
<dt>Session</dt><dd><code>${row.id}</code></dd>
<dt>Identity</dt><dd>${row.identity_label} [${row.identity_kind}] <span class="muted">(${row.issuer} · ${row.subject})</span></dd>
${row.repository ? html`<dt>CI</dt><dd>${row.repository}${row.ref ? `@${row.ref}` : ""}${row.workflow ? ` (${row.workflow})` : ""}</dd>` : ""}
<dt>Resource</dt><dd>${row.resource} (${row.resource_type}) via ${row.connector || "—"}</dd>
<dt>Client</dt><dd>${row.client_addr || "unknown"}</dd>
<dt>Started</dt><dd>${isoTime(row.started_at)}</dd>
<dt>Ended</dt><dd>${row.ended_at ? html`${isoTime(row.ended_at)} — ${row.status}${row.end_reason ? ` (${row.end_reason})` : ""}` : "still open"}</dd>
<dt>Policy</dt><dd><code>${row.policy_hash}</code></dd>
</dl>
<p><a class="button" href="/console/sessions/${row.id}/verify">Verify trail</a> ${terminal ? html`<a class="button" href="/console/sessions/${row.id}/replay">Replay terminal</a>` : ""}
<a class="button" href="/v1/sessions/${row.id}/export" download>Export (JSON Lines, needs an API token)</a></p>
<h2>Timeline</h2><ol class="timeline">${events.map((e) => timelineItem(e, t0))}</ol>
${terminal ? html`<p class="muted">Terminal input and output are in the replay.</p>` : ""}`;
  return page(c, { title: `Session ${row.id.slice(0, 8)}`, who: await whoOf(c), body });
}

async function replay(c: Ctx) {
  const { row } = await loadSession(c);
  const body = html`<p><a href="/console/sessions/${row.id}">Back to the session</a> · ${row.identity_label} on ${row.resource}, ${isoTime(row.started_at)}</p>
<div id="player" data-cast="/console/sessions/${row.id}/asciicast">
<div class="player-controls"><button type="button" id="play">Play</button> <button type="button" id="to-end">Show all</button>
<label>Speed <select id="speed"><option value="1">1×</option><option value="2">2×</option><option value="4">4×</option><option value="16">16×</option></select></label>
<span id="clock" aria-live="off">0.0s</span></div>
<pre class="terminal" id="screen" role="log" aria-label="Terminal replay" tabindex="0"></pre></div>
<noscript><p>The player needs JavaScript; the recording is at <a href="/console/sessions/${row.id}/asciicast">asciicast</a>.</p></noscript>`;
  return page(c, { title: "Terminal replay", who: await whoOf(c), body, script: "player.js" });
}

async function asciicast(c: Ctx) {
  const { row, events } = await loadSession(c);
  return c.body(toAsciicast(events), 200, { "content-type": "application/x-asciicast; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", "content-disposition": `inline; filename="gatehouse-${row.id}.cast"` });
}

async function verify(c: Ctx) {
  const { row, text } = await loadSession(c);
  const r = await verification(c, row, text);
  const body = html`<p><a href="/console/sessions/${row.id}">Back to the session</a></p>
<p role="status" class="verdict ${r.ok ? "ok" : "bad"}"><strong>${r.ok ? (r.complete ? "Verified: the trail is complete and intact." : "Verified so far: the sealed part is intact (session still open).") : "NOT verified: the trail was altered, truncated or signed by an unknown key."}</strong></p>
<dl>
<dt>Events in a valid chain</dt><dd>${r.events}</dd>
<dt>Signed checkpoints</dt><dd>${r.chunks}</dd>
<dt>Complete</dt><dd>${r.complete ? "yes (session.end sealed by a final checkpoint)" : "no"}</dd>
<dt>Unsealed events</dt><dd>${r.unsealed}</dd>
<dt>Signing keys</dt><dd>${r.kids.join(", ") || "—"}</dd>
<dt>Last hash</dt><dd><code>${r.last_hash ?? "—"}</code></dd>
${r.error ? html`<dt>Problem</dt><dd class="bad">${r.error.kind} at event ${r.error.seq}: ${r.error.message}</dd>` : ""}
</dl>
<p class="muted">Checked here against the published audit keys (/.well-known/gatehouse-audit-keys). Anyone can check it independently: <code>gatehouse sessions verify ${row.id}</code> or tools/verify-trail.py.</p>`;
  return page(c, { title: `Verify session ${row.id.slice(0, 8)}`, who: await whoOf(c), body });
}

export const consoleSessions = new Hono<ConsoleEnv>()
  .use("*", consoleRole("auditor"))
  .get("/", list)
  .get("/:id", show)
  .get("/:id/replay", replay)
  .get("/:id/asciicast", asciicast)
  .get("/:id/verify", verify);
