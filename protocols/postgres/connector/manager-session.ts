/**
 * A short administrative connection as the `credentials: dynamic` manager role: log in with the
 * resource's transport and authentication code, run a few simple queries, and say goodbye.
 * Used only by the connector itself (creating, dropping and sweeping per-session roles); no
 * pipeline byte ever reaches it.
 */
import { serialize } from "pg-protocol";
import { Parser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { TargetError } from "../../../connector/errors.ts";
import type { PostgresResourceConfig } from "./config.ts";
import type { LoginCredential } from "./credentials.ts";
import { StartupMessageReader } from "./message-reader.ts";
import { authenticate } from "./startup.ts";
import { openTransport, type TransportOptions } from "./transport.ts";

/** The manager's search path, whatever the role's or database's default: see runAsManager. */
export const MANAGER_SEARCH_PATH = "pg_catalog, pg_temp";

export interface ManagerOptions extends TransportOptions {
  startupTimeoutMs?: number;
}

/** Runs each statement as its own simple Query; resolves with the first column of each result's rows. Throws TargetError on the first error. */
export async function runAsManager(resource: PostgresResourceConfig, manager: LoginCredential, statements: readonly string[], opts: ManagerOptions = {}): Promise<Array<Array<string | null>>> {
  const socket = await openTransport(resource, opts);
  // The manager can create roles and holds the level roles WITH ADMIN OPTION, while sessions of
  // those levels may create functions and operators in schemas of its default search path: a
  // better-matching `public.shobj_description(oid, text)` or `||(name, text)` would run as the
  // manager (CVE-2018-1058). A startup parameter outranks role and database defaults, and with
  // only pg_catalog on the path (pg_temp last, where functions are never looked up) every name
  // the manager's statements use resolves to the system's own.
  const session = await authenticate(socket, resource, { application_name: "gatehouse-connector", search_path: MANAGER_SEARCH_PATH }, { ...manager, readOnly: false }, opts);
  const reader = new StartupMessageReader(resource.name);
  const parser = new Parser();
  const prefix = `gatehouse: resource ${resource.name}: dynamic credentials`;
  const timeoutMs = opts.startupTimeoutMs ?? 30_000;
  const results: Array<Array<string | null>> = [];
  let rows: Array<string | null> = [];
  let failure: TargetError | undefined;
  let resolveReady: (() => void) | undefined;
  let rejectAll: ((err: Error) => void) | undefined;

  const onMessage = (code: number, bytes: Buffer) => {
    if (code === 0x44 /* D */) {
      parser.parse(Buffer.from(bytes), (m: BackendMessage) => rows.push(((m as BackendMessage & { fields: Array<string | null> }).fields ?? [])[0] ?? null));
    } else if (code === 0x45 /* E */) {
      parser.parse(Buffer.from(bytes), (m: BackendMessage) => {
        const e = m as BackendMessage & { message?: string; code?: string };
        failure ??= new TargetError(e.code && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : "XX000", `${prefix}: ${e.message ?? "the server refused"}`);
      });
    } else if (code === 0x5a /* Z */) {
      resolveReady?.();
    }
  };
  const onData = (chunk: Buffer) => {
    try {
      for (const m of reader.push(chunk)) onMessage(m.code, m.bytes);
    } catch (err) {
      rejectAll?.(err as Error);
    }
  };
  const onClose = () => rejectAll?.(new TargetError("08006", `${prefix}: the server closed the manager connection`));
  session.socket.on("data", onData);
  session.socket.on("close", onClose);
  session.socket.on("error", () => undefined);
  // The statements are tiny; a server that does not answer them in time ends the connection.
  const timer = setTimeout(() => {
    rejectAll?.(new TargetError("08001", `${prefix}: the server did not answer within ${timeoutMs} ms`));
    session.socket.destroy();
  }, timeoutMs);
  try {
    if (session.remainder.length > 0) onData(session.remainder);
    session.socket.resume();
    for (const sql of statements) {
      rows = [];
      await new Promise<void>((resolve, reject) => {
        resolveReady = resolve;
        rejectAll = reject;
        session.socket.write(serialize.query(sql));
      });
      if (failure) throw failure;
      results.push(rows);
    }
    return results;
  } finally {
    clearTimeout(timer);
    session.socket.off("close", onClose);
    session.socket.end(serialize.end());
  }
}
