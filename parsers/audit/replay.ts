/**
 * Human renderings of a trail: `show` (a timeline: statement, decision, duration, rows),
 * `replay` (the session as the client saw it — masked sample rows, tags, errors, notices) and
 * asciicast v2 for terminal sessions. Input: the events of one session, in seq order.
 */
import { describeIdentity } from "./identity-summary.ts";
import type { AuditEvent, ResultColumn, ResultData } from "./types.ts";

export interface RenderOptions {
  /** Prefix lines with the time since session start. */
  timing?: boolean;
  /** Max characters of statement text per line in the timeline. Default 80. */
  width?: number;
}

function startOf(events: readonly AuditEvent[]): AuditEvent<"session.start"> | undefined {
  return events.find((e) => e.type === "session.start") as AuditEvent<"session.start"> | undefined;
}

function elapsed(e: AuditEvent, t0: number): string {
  return `+${((e.ts - t0) / 1000).toFixed(3)}s`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, Math.max(1, max - 1)) + "…" : flat;
}

/**
 * Typed input still held by masking when the trail ends: per channel, its last term.input if that
 * one still counts `held` bytes (relayed to the target, never resolved into a later event's masked
 * `data` — the worker was lost, or the channel never ended). Replay shows these placeholders; the
 * resolved ones are replaced by the `data` that resolved them.
 */
export function unresolvedInput(events: readonly AuditEvent[]): Map<AuditEvent, { ch: number; held: number }> {
  const last = new Map<number, AuditEvent<"term.input">>();
  for (const e of events) if (e.type === "term.input") last.set(channelOf(e as AuditEvent<"term.input">), e as AuditEvent<"term.input">);
  const out = new Map<AuditEvent, { ch: number; held: number }>();
  for (const [ch, e] of last) {
    const held = e.data.held;
    if (typeof held === "number" && held > 0) out.set(e, { ch, held });
  }
  return out;
}

function channelOf(e: AuditEvent<"term.input">): number {
  const ch = (e.data as { ch?: unknown }).ch;
  return typeof ch === "number" ? ch : 0;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Header shared by show and replay. */
export function renderHeader(events: readonly AuditEvent[]): string[] {
  const start = startOf(events);
  const end = events.find((e) => e.type === "session.end") as AuditEvent<"session.end"> | undefined;
  if (!start) return ["session: (no session.start in trail)"];
  const d = start.data;
  const who = describeIdentity(d.identity.issuer, d.identity.subject, d.identity.claims);
  const out = [
    `session:   ${d.session_id}`,
    `identity:  ${who.label} [${who.kind}] (${d.identity.issuer} ${d.identity.subject})`,
  ];
  if (who.ci) {
    const ci = Object.entries(who.ci).map(([k, v]) => `${k}=${v}`).join(" ");
    out.push(`ci:        ${ci}`);
  }
  out.push(
    // The connector may be known only at the end (session.start.connector "", docs/AUDIT.md).
    `resource:  ${d.resource} (${d.resource_type})${connectorOf(d.connector, end?.data.connector)}`,
    // Empty when no trusted source gave the address (wrangler dev: worker/routes/client-address.ts).
    `client:    ${d.client_addr || "unknown (no trusted source for the client address here)"}`,
    `policy:    ${d.policy_hash}`,
    `recording: ${d.recording.mode}, sample ${d.recording.rows_sample} rows`,
    `started:   ${iso(start.ts)}`,
  );
  if (end) {
    out.push(
      `ended:     ${iso(end.ts)} (${((end.ts - start.ts) / 1000).toFixed(3)}s) status=${end.data.status} reason=${end.data.reason}`,
      `traffic:   ${end.data.bytes_in} bytes in, ${end.data.bytes_out} bytes out, ${end.data.rows} rows`,
    );
  } else out.push("ended:     (no session.end: in progress or incomplete)");
  return out;
}

function connectorOf(atStart: string | undefined, atEnd: unknown): string {
  const id = atStart || (typeof atEnd === "string" ? atEnd : "");
  return id ? ` via connector ${id}` : " (no connector attached)";
}

/** `gatehouse sessions show`: one line per request with its decision, duration and rows. */
export function renderTimeline(events: readonly AuditEvent[], options: RenderOptions = {}): string {
  const width = options.width ?? 80;
  const t0 = startOf(events)?.ts ?? events[0]?.ts ?? 0;
  const out = renderHeader(events);
  out.push("", "  seq  time       kind/command          decision                            ms      rows  statement");
  type Row = { seq: number; time: string; what: string; decision: string; ms: string; rows: string; text: string; approval?: string };
  const rows: Row[] = [];
  let current: Row | undefined;
  const flush = () => {
    if (current) rows.push(current);
    current = undefined;
  };
  for (const e of events) {
    switch (e.type) {
      case "query": {
        flush();
        const q = (e as AuditEvent<"query">).data;
        const what = q.statements && q.statements.length > 0 ? q.statements.map((s) => `${s.kind}/${s.command}`).join(",") : (q.via ?? "query");
        current = { seq: e.seq, time: elapsed(e, t0), what, decision: "-", ms: "", rows: "", text: q.text };
        break;
      }
      case "decision": {
        const d = (e as AuditEvent<"decision">).data;
        const label = `${d.effect}:${d.rule}`;
        // approve → allow reads as one decision that went through approval.
        if (current) current.decision = current.decision === "-" ? label : `${current.decision.split(":")[0]}→${label}`;
        else rows.push({ seq: e.seq, time: elapsed(e, t0), what: "decision", decision: label, ms: "", rows: "", text: d.reason });
        break;
      }
      case "result": {
        const r = (e as AuditEvent<"result">).data;
        const target: Row = current ?? { seq: e.seq, time: elapsed(e, t0), what: "result", decision: "-", ms: "", rows: "", text: "" };
        if (r.duration_ms !== undefined) target.ms = String(r.duration_ms);
        target.rows = r.error ? `ERR ${r.error.code}` : String(r.rows);
        if (!current) rows.push(target);
        break;
      }
      case "http.response": {
        // HTTP: the status (and body size) in the rows column of the exchange's line.
        const r = (e as AuditEvent<"http.response">).data;
        const label = `HTTP ${r.status}${r.bytes !== undefined ? ` ${r.bytes}B` : ""}${r.refused ? " refused" : ""}`;
        if (current) current.rows = label;
        else rows.push({ seq: e.seq, time: elapsed(e, t0), what: "http.response", decision: "-", ms: "", rows: label, text: "" });
        break;
      }
      case "http.refused": {
        flush();
        const r = (e as AuditEvent<"http.refused">).data;
        rows.push({ seq: e.seq, time: elapsed(e, t0), what: "http.refused", decision: "deny", ms: "", rows: `HTTP ${r.status}`, text: r.reason });
        break;
      }
      case "approval.requested":
      case "approval.granted":
      case "approval.denied":
      case "approval.expired": {
        const a = (e as AuditEvent<"approval.granted">).data;
        const label = `${e.type.slice("approval.".length)}${a.approver ? ` by ${a.approver}` : ""}`;
        if (current) current.approval = label;
        else rows.push({ seq: e.seq, time: elapsed(e, t0), what: e.type, decision: label, ms: "", rows: "", text: a.text ?? "" });
        break;
      }
      case "truncated": {
        flush();
        const t = (e as AuditEvent<"truncated">).data;
        rows.push({ seq: e.seq, time: elapsed(e, t0), what: "TRUNCATED", decision: t.action, ms: "", rows: "", text: `${t.reason}${t.message ? `: ${t.message}` : ""}` });
        break;
      }
      case "session.end": {
        flush();
        const s = (e as AuditEvent<"session.end">).data;
        rows.push({ seq: e.seq, time: elapsed(e, t0), what: "session.end", decision: s.status, ms: "", rows: String(s.rows), text: s.reason });
        break;
      }
      default:
        break;
    }
  }
  flush();
  for (const r of rows) {
    out.push(
      `${String(r.seq).padStart(5)}  ${r.time.padEnd(9)}  ${oneLine(r.what, 20).padEnd(20)}  ${oneLine(r.decision, 34).padEnd(34)}  ${r.ms.padStart(6)}  ${r.rows.padStart(8)}  ${oneLine(r.text, width)}`,
    );
    if (r.approval) out.push(`${"".padStart(5)}  ${"".padEnd(9)}  ${"".padEnd(20)}  ${oneLine(r.approval, 60)}`);
  }
  return out.join("\n") + "\n";
}

/** A psql-like aligned table of the masked sample rows. */
export function renderTable(columns: readonly ResultColumn[], rows: readonly (string | null)[][]): string[] {
  const names = columns.map((c) => c.name);
  const cell = (v: string | null | undefined) => (v === null || v === undefined ? "" : v.replace(/\r?\n/g, "\\n"));
  const widths = names.map((n, i) => Math.max(n.length, ...rows.map((r) => cell(r[i]).length)));
  const out = [" " + names.map((n, i) => n.padEnd(widths[i])).join(" | "), "-" + widths.map((w) => "-".repeat(w)).join("-+-") + "-"];
  for (const r of rows) out.push(" " + names.map((_, i) => cell(r[i]).padEnd(widths[i])).join(" | "));
  return out.map((l) => l.trimEnd());
}

function renderResult(r: ResultData, truncatedFields: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of r.notices ?? []) out.push(`${n.severity}:  ${n.code ? `${n.code}: ` : ""}${n.message}`);
  if (r.error) {
    out.push(`ERROR:  ${r.error.code}: ${r.error.message}`);
    return out;
  }
  if (r.columns && r.columns.length > 0) {
    const sample = r.rows_sample ?? [];
    out.push(...renderTable(r.columns, sample));
    const shown =
      sample.length < r.rows || truncatedFields.includes("rows_sample")
        ? ` — TRUNCATED: the recording keeps ${sample.length} of ${r.rows} rows (a sample, by design: rows beyond it were sent but never recorded; re-run the statement to see them all)`
        : "";
    out.push(`(${r.rows} row${r.rows === 1 ? "" : "s"})${shown}`);
  }
  out.push(r.command_tag);
  return out;
}

/** `gatehouse sessions replay`: the session as the client saw it, in order. */
export function renderReplay(events: readonly AuditEvent[], options: RenderOptions = {}): string {
  const t0 = startOf(events)?.ts ?? events[0]?.ts ?? 0;
  const resource = startOf(events)?.data.resource ?? "session";
  const out = renderHeader(events).map((l) => `-- ${l}`);
  const stamp = (e: AuditEvent) => (options.timing ? `[${elapsed(e, t0)}] ` : "");
  const unresolved = unresolvedInput(events);
  for (const e of events) {
    const cut = (e.truncated ?? []).map((t) => t.field);
    switch (e.type) {
      case "term.input": {
        // Typed input shows in the output (the terminal echoes it); only a placeholder never resolved is told.
        const u = unresolved.get(e);
        if (u) out.push(`${stamp(e)}-- ${u.held} typed byte(s) on channel ${u.ch} reached the target while masking still held them; the trail ends before their masked text (not recorded)`);
        break;
      }
      case "query": {
        const q = (e as AuditEvent<"query">).data;
        out.push("", `${stamp(e)}${resource}=> ${q.text}${cut.includes("text") ? " [statement truncated in recording]" : ""}`);
        if (q.params && q.params.length > 0) out.push(`   params: ${q.params.map((p, i) => `$${i + 1}=${p === null ? "NULL" : JSON.stringify(p)}`).join(" ")}`);
        break;
      }
      case "decision": {
        const d = (e as AuditEvent<"decision">).data;
        if (d.effect !== "allow") out.push(`${stamp(e)}-- policy: ${d.effect} (rule ${d.rule}): ${d.reason}`);
        break;
      }
      case "result":
        out.push(...renderResult((e as AuditEvent<"result">).data, cut).map((l, i) => (i === 0 ? stamp(e) + l : l)));
        break;
      case "notice": {
        const n = (e as AuditEvent<"notice">).data;
        out.push(`${stamp(e)}${n.severity}:  ${n.code ? `${n.code}: ` : ""}${n.message}`);
        break;
      }
      case "approval.requested":
      case "approval.granted":
      case "approval.denied":
      case "approval.expired": {
        const a = (e as AuditEvent<"approval.granted">).data;
        out.push(`${stamp(e)}-- ${e.type}${a.approver ? ` by ${a.approver}` : ""}${a.reason ? `: ${a.reason}` : ""}`);
        break;
      }
      case "term.output":
        out.push(stamp(e) + (e as AuditEvent<"term.output">).data.data);
        break;
      case "term.resize": {
        // Between output lines, as the other session markers: the replay is a transcript, not a terminal.
        const r = (e as AuditEvent<"term.resize">).data;
        out.push(`${stamp(e)}-- terminal resized to ${r.cols}x${r.rows}`);
        break;
      }
      case "http.response": {
        const r = (e as AuditEvent<"http.response">).data;
        const type = r.headers?.find(([n]) => n === "content-type")?.[1];
        out.push(`${stamp(e)}<= HTTP ${r.status}${type ? ` ${type}` : ""}${r.bytes !== undefined ? ` (${r.bytes} bytes)` : ""}${r.upgrade ? ` upgraded to ${r.upgrade}` : ""}${r.refused ? ` refused: ${r.refused === true ? "" : r.refused}` : ""}`);
        if (r.body) out.push(...r.body.split("\n").map((l) => `   ${l}`), ...(r.truncated ? ["   [body truncated in recording]"] : []));
        break;
      }
      case "http.refused": {
        const r = (e as AuditEvent<"http.refused">).data;
        out.push(`${stamp(e)}-- refused with HTTP ${r.status}: ${r.reason}`);
        break;
      }
      case "http.upgrade-closed": {
        const u = (e as AuditEvent<"http.upgrade-closed">).data;
        out.push(`${stamp(e)}-- upgraded connection closed (${u.up} bytes up, ${u.down} bytes down; content not recorded)`);
        break;
      }
      case "k8s.request": {
        const k = (e as AuditEvent<"k8s.request">).data;
        const what = k.nonResource ? `${k.nonResource} ${k.path ?? ""}` : `${k.verb} ${k.resource}${k.subresource ? `/${k.subresource}` : ""}${k.namespace ? ` -n ${k.namespace}` : ""}${k.name ? ` ${k.name}` : ""}${k.command ? ` -- ${k.command.join(" ")}` : ""}`;
        out.push(`${stamp(e)}-- kubernetes: ${what}${k.kubectlCommand ? ` (kubectl says: ${k.kubectlCommand})` : ""}`);
        break;
      }
      case "k8s.exec.exit": {
        const x = (e as AuditEvent<"k8s.exec.exit">).data;
        out.push(`${stamp(e)}-- exec exited: ${x.code === null ? "no exit status" : `code ${x.code}`}${x.message ? ` (${x.message})` : ""}`);
        break;
      }
      case "truncated": {
        const t = (e as AuditEvent<"truncated">).data;
        out.push("", `${stamp(e)}-- RECORDING TRUNCATED (${t.reason}, ${t.action})${t.message ? `: ${t.message}` : ""}`);
        break;
      }
      case "session.end": {
        const s = (e as AuditEvent<"session.end">).data;
        out.push("", `${stamp(e)}-- session ended: ${s.status} (${s.reason})`);
        break;
      }
      default:
        break;
    }
  }
  return out.join("\n") + "\n";
}

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/) for terminal sessions: header
 * from session.start.terminal, then [seconds since start, "o"|"i"|"r", data] per term.* event.
 */
export function toAsciicast(events: readonly AuditEvent[]): string {
  const start = startOf(events);
  if (!start) throw new Error("no session.start in trail");
  const term = start.data.terminal ?? { cols: 80, rows: 24 };
  const header: Record<string, unknown> = { version: 2, width: term.cols, height: term.rows, timestamp: Math.floor(start.ts / 1000) };
  if (term.term) header.env = { TERM: term.term };
  const lines = [JSON.stringify(header)];
  const unresolved = unresolvedInput(events);
  for (const e of events) {
    const t = Math.round((e.ts - start.ts) * 1000) / 1e6;
    if (e.type === "term.output") lines.push(JSON.stringify([t, "o", (e as AuditEvent<"term.output">).data.data]));
    else if (e.type === "term.input") {
      // A held placeholder is replaced by the later event's masked data; one never resolved shows as `*` per byte.
      const data = (e as AuditEvent<"term.input">).data.data;
      if (data.length > 0) lines.push(JSON.stringify([t, "i", data]));
      const u = unresolved.get(e);
      if (u) lines.push(JSON.stringify([t, "i", "*".repeat(u.held)]));
    }
    else if (e.type === "term.resize") {
      const r = (e as AuditEvent<"term.resize">).data;
      lines.push(JSON.stringify([t, "r", `${r.cols}x${r.rows}`]));
    }
  }
  return lines.join("\n") + "\n";
}
