/** PostgreSQL's runtime-neutral descriptor (listed in protocols/modules.ts). */
import type { ProtocolModule, Refusal, RefusalKind } from "../types.ts";
import { errorResponse } from "./codec/codec.ts";

/** The SQLSTATE a refusal carries when a protocol filter chose none. */
export const SQLSTATE_BY_KIND: Record<RefusalKind, string> = {
  denied: "42501",
  approval: "42501",
  canceled: "57014",
  limit: "53300",
  invalid: "08P01",
  unavailable: "58030",
};

/** A refusal as PostgreSQL's ErrorResponse (`fatal`: the session ends after it). */
export function pgRefusal(refusal: Refusal, severity: "ERROR" | "FATAL" = refusal.fatal ? "FATAL" : "ERROR"): Uint8Array {
  return errorResponse({ severity, code: refusal.code ?? SQLSTATE_BY_KIND[refusal.kind], message: refusal.message });
}

export const postgresModule = {
  name: "postgres",
  actionNamespace: "sql",
  // psql and drivers read the reason from a FATAL ErrorResponse before the tunnel closes.
  // 28000 invalid_authorization_specification (the token lapsed), 53300 too_many_connections.
  sessionCodes: { tokenExpired: "28000", tooManySessions: "53300" },
  refusalAtStart: (refusal) => [pgRefusal(refusal, "FATAL")],
  // The engine asks for the stream at start (its dial overlaps the StartupMessage round trip).
  streamAtSessionStart: true,
} as const satisfies ProtocolModule;
