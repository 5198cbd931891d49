/**
 * Approval holds for the extended protocol: an approval covers exactly one execution of exactly
 * the statement text and bound parameters the approvers saw (docs/APPROVALS.md).
 *
 * A Parse whose statement needs approval is forwarded under a gateway-private name
 * (`gatehouse_held_<random>_<n>`), never under the client's: the client's name maps to it here,
 * and so does the portal of an approved Bind. So the only way to run that statement is a message
 * the gateway rewrites, and the gateway never has to guess what the server holds under a name — a
 * later Parse, Bind or Close the server skipped (after an error in the batch) or refused (a
 * duplicate name) cannot leave a held statement or portal reachable under a name the gateway
 * believes is something else.
 *
 *   Parse(N, T)            approve → Parse(private, T); N → private
 *   Bind(P, N, params)     N held → hold for approval with T and the parameters; approved →
 *                          Bind(private portal, private, params); P → private portal, may run once
 *   Execute(P)             the approved execution; any later Execute of P is held again
 *   Describe/Close(S, N), Describe/Close(P, P)   renamed to the private names (Close frees the mapping)
 *
 * The private names can be read back (pg_prepared_statements, pg_cursors), so the engine refuses
 * every client message that names one (isReserved).
 *
 * Bound parameters must be in text format (approvers must be able to read them); binary ones are
 * refused. The private statements live as long as the session or until the client closes them;
 * at most MAX_HELD_STATEMENTS per session.
 */
import { concat, cstring, message, PgProtocolError, readCString } from "../codec/codec.ts";
import type { Decision } from "../../../parsers/policy/types.ts";

export const MAX_HELD_STATEMENTS = 256;
export const HELD_PREFIX = "gatehouse_held_";

export interface BoundParameter {
  /** 0 text, 1 binary. */
  format: number;
  /** null for SQL NULL. */
  value: Uint8Array | null;
}

export interface BindParts {
  portal: string;
  statement: string;
  /** Body offset right after the statement name (formats, values and result formats follow). */
  rest: number;
  params: BoundParameter[];
}

export function readBind(body: Uint8Array): BindParts {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const [portal, a] = readCString(body, 0);
  const [statement, rest] = readCString(body, a);
  let off = rest;
  const need = (n: number) => {
    if (off + n > body.length) throw new PgProtocolError("malformed Bind message");
  };
  need(2);
  const nFormats = view.getInt16(off);
  off += 2;
  if (nFormats < 0) throw new PgProtocolError("malformed Bind message");
  need(nFormats * 2);
  const formats = Array.from({ length: nFormats }, (_, i) => view.getInt16(off + i * 2));
  off += nFormats * 2;
  need(2);
  const nParams = view.getInt16(off);
  off += 2;
  if (nParams < 0 || (nFormats > 1 && nFormats !== nParams)) throw new PgProtocolError("malformed Bind message");
  const params: BoundParameter[] = [];
  for (let i = 0; i < nParams; i++) {
    need(4);
    const len = view.getInt32(off);
    off += 4;
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0]! : formats[i]!;
    if (len < 0) {
      params.push({ format, value: null });
      continue;
    }
    need(len);
    params.push({ format, value: body.subarray(off, off + len) });
    off += len;
  }
  return { portal, statement, rest, params };
}

/**
 * The exact bytes an approval binds: statement text and every parameter (format, length, bytes).
 * Its SHA-256 is what the approval request carries and what consuming it must match.
 */
export function approvalBinding(sql: string, params: readonly BoundParameter[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode("gatehouse-approval-v1\0"), enc.encode(sql), new Uint8Array([0])];
  const head = new Uint8Array(4);
  new DataView(head.buffer).setInt32(0, params.length);
  parts.push(head);
  for (const p of params) {
    const h = new Uint8Array(6);
    const v = new DataView(h.buffer);
    v.setInt16(0, p.format);
    v.setInt32(2, p.value === null ? -1 : p.value.length);
    parts.push(h);
    if (p.value) parts.push(p.value);
  }
  return concat(parts);
}

interface HeldStatementEntry {
  serverName: string;
  sql: string;
  decision: Decision;
}

interface ApprovedPortal {
  serverPortal: string;
  statement: HeldStatementEntry;
  params: BoundParameter[];
  /** The approved execution not yet sent. */
  approvedExecutionPending: boolean;
}

export class HeldLimitError extends Error {}

export class HeldPrepared {
  private readonly prefix: string;
  private counter = 0;
  private readonly statements = new Map<string, HeldStatementEntry>();
  private readonly portals = new Map<string, ApprovedPortal>();

  constructor() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    this.prefix = `${HELD_PREFIX}${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}_`;
  }

  /** A statement name the gateway uses for itself; clients may not use the prefix. */
  static isReserved(name: string): boolean {
    return name.startsWith(HELD_PREFIX);
  }

  /** Parse of a statement that needs approval: the Parse to forward instead (under a private name). */
  parse(clientName: string, body: Uint8Array, sql: string, decision: Decision): Uint8Array {
    if (!this.statements.has(clientName) && this.statements.size >= MAX_HELD_STATEMENTS) {
      throw new HeldLimitError(`more than ${MAX_HELD_STATEMENTS} prepared statements awaiting approval in this session; close some first`);
    }
    const serverName = `${this.prefix}${++this.counter}`;
    this.statements.set(clientName, { serverName, sql, decision });
    const [, afterName] = readCString(body, 0);
    return message("P", concat([cstring(serverName), body.subarray(afterName)]));
  }

  /** Any other Parse under this name: the client's name no longer means the held statement. */
  forget(clientName: string): void {
    this.statements.delete(clientName);
  }

  statement(clientName: string): HeldStatementEntry | undefined {
    return this.statements.get(clientName);
  }

  /** Bind of a held statement, approved: the Bind to forward (private names); the portal may run once. */
  approvedBind(bind: BindParts, body: Uint8Array, entry: HeldStatementEntry): Uint8Array {
    const serverPortal = `${this.prefix}p${++this.counter}`;
    this.portals.set(bind.portal, { serverPortal, statement: entry, params: bind.params, approvedExecutionPending: true });
    return message("B", concat([cstring(serverPortal), cstring(entry.serverName), body.subarray(bind.rest)]));
  }

  /** Bind of anything else under this portal name: it no longer runs a held statement. */
  forgetPortal(portal: string): void {
    this.portals.delete(portal);
  }

  /**
   * Execute of `portal`: "run" when it is the one approved execution (consumed now), "hold" with
   * what to show when it is a further execution of a held statement's portal, "direct" otherwise.
   */
  execute(portal: string): { kind: "direct" } | { kind: "run"; serverPortal: string } | { kind: "hold"; serverPortal: string; sql: string; params: BoundParameter[]; decision: Decision } {
    const p = this.portals.get(portal);
    if (!p) return { kind: "direct" };
    if (p.approvedExecutionPending) {
      p.approvedExecutionPending = false;
      return { kind: "run", serverPortal: p.serverPortal };
    }
    return { kind: "hold", serverPortal: p.serverPortal, sql: p.statement.sql, params: p.params, decision: p.statement.decision };
  }

  /** An Execute body with the portal renamed. */
  static renameExecute(body: Uint8Array, serverPortal: string): Uint8Array {
    const [, afterPortal] = readCString(body, 0);
    return message("E", concat([cstring(serverPortal), body.subarray(afterPortal)]));
  }

  /** Describe or Close of a held statement ('S'): the same message under the private name. Close drops the mapping. */
  renamed(type: "D" | "C", target: "S" | "P", name: string): Uint8Array | null {
    const serverName = target === "P" ? this.portals.get(name)?.serverPortal : this.statements.get(name)?.serverName;
    if (serverName === undefined) return null;
    if (type === "C") (target === "P" ? this.portals : this.statements).delete(name);
    return message(type, concat([new Uint8Array([target === "P" ? 0x50 : 0x53]), cstring(serverName)]));
  }
}
