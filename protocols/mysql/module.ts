/**
 * MySQL/MariaDB's runtime-neutral descriptor (protocols/types.ts ProtocolModule), listed in
 * protocols/modules.ts. Rules are the SQL ones (`sql.read`…), decided on statements its own
 * dialect classifier produced (sql/classify.ts). The refusal encoder is the one the engine core
 * uses: an ERR packet with MySQL's own error code and SQLSTATE.
 */
import type { ProtocolModule, Refusal, RefusalKind } from "../types.ts";
import { encodePacket } from "./codec/packets.ts";
import { encodeErr, GATEWAY_ERRORS } from "./codec/responses.ts";

const ERROR_BY_KIND: Record<RefusalKind, { code: number; sqlState: string }> = {
  denied: GATEWAY_ERRORS.denied,
  approval: GATEWAY_ERRORS.denied,
  canceled: GATEWAY_ERRORS.interrupted,
  limit: { code: 1040, sqlState: "08004" }, // ER_CON_COUNT_ERROR: too many connections
  invalid: GATEWAY_ERRORS.malformed,
  unavailable: GATEWAY_ERRORS.connection,
};

/** A refusal as a MySQL ERR packet payload (`code`, when given, is a SQLSTATE chosen by a filter). */
export function mysqlRefusal(refusal: Refusal): Uint8Array {
  const e = ERROR_BY_KIND[refusal.kind];
  return encodeErr({ code: e.code, sqlState: refusal.code ?? e.sqlState, message: `gatehouse: ${refusal.message}` });
}

export const mysqlModule = {
  name: "mysql",
  actionNamespace: "sql",
  ownSqlDialect: true,
  // SQLSTATEs (mysqlRefusal puts a refusal's code in the ERR packet's SQLSTATE): 28000 access
  // denied for a lapsed token, 08004 (ER_CON_COUNT_ERROR's) for a session over the caps.
  sessionCodes: { tokenExpired: "28000", tooManySessions: "08004" },
  // Before the command phase the client expects a handshake packet; the CLI listener terminates the
  // handshake locally, so the session's first client-visible packet has sequence id 2 (after greeting and response).
  refusalAtStart: (refusal) => [encodePacket(2, mysqlRefusal(refusal))],
} as const satisfies ProtocolModule;
