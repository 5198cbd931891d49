/**
 * A SQL text as the shared chain and the policy see it (protocols/types.ts RequestDescription).
 * Its decision also depends on standard_conforming_strings (what a backslash means), so the
 * setting goes with it; the SQL policy part classifies `text` with it (worker/session/session-policy.ts).
 */
import type { RequestDescription } from "../../types.ts";

export function sqlRequest(sql: string, standardConformingStrings: boolean, parameters?: readonly string[], userFunctions?: ReadonlySet<string>): RequestDescription {
  // userFunctions (the session's catalogue, when masking read one): `c.f` in attribute notation is
  // then known to call somebody's function f (parsers/sql/function-actions.ts).
  return { protocol: "postgres", actions: [], text: sql, ...(parameters ? { parameters } : {}), attributes: { standardConformingStrings, ...(userFunctions ? { userFunctions } : {}) } };
}
