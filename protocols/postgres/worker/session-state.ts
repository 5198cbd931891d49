/**
 * Session state the gateway's decisions depend on, checked rather than assumed
 * (docs/SQL-CLASSIFIER.md, "Session state"):
 *
 * - sameLexing: a query must be classified the same with standard_conforming_strings on and off,
 *   so no change of that setting — seen or unseen, pipelined or not — can make the server split or
 *   read a query differently from the gateway.
 * - watchedSettingChange: settings the server reports (ParameterStatus) that the pin forbids
 *   changing; a report of a change means code the gateway could not see changed them.
 */
import type { ClassifiedStatement } from "../../../parsers/sql/types.ts";

/** Do both classifications split the query at the same places and decide each part the same? */
export function sameLexing(a: readonly ClassifiedStatement[], b: readonly ClassifiedStatement[]): boolean {
  return JSON.stringify(a.map(shape)) === JSON.stringify(b.map(shape));
}

function shape(s: ClassifiedStatement): unknown {
  return [s.start, s.end, s.kind, s.command, s.flags, s.functions, (s.calls ?? []).map((c) => [c.name, c.schema]), s.parts ?? []];
}

/** Reported settings that may not change after login, and which new values count as a change. */
const WATCHED: Record<string, (login: string, now: string) => boolean> = {
  search_path: (login, now) => login !== now,
  session_authorization: (login, now) => login !== now,
  is_superuser: (login, now) => login !== now,
  // Stricter is allowed (SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY); back to off is not.
  default_transaction_read_only: (login, now) => login === "on" && now !== "on",
  standard_conforming_strings: (login, now) => login !== now,
};

/** The reason to end the session if this ParameterStatus reports a forbidden change, else null. */
export function watchedSettingChange(login: ReadonlyMap<string, string>, name: string, value: string): string | null {
  const check = WATCHED[name];
  const before = login.get(name);
  if (!check || before === undefined || !check(before, value)) return null;
  return `the server reports that ${name} changed from '${before}' to '${value}' through code the gateway could not see; ${name} is pinned for the session, so the session ends`;
}
