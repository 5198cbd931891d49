/**
 * Action matchers. The action namespace is `<protocol>.<action>` so protocols never collide:
 *
 *   connect                      open a session to the resource at all (every protocol)
 *   sql.<kind> / sql.*           SQL statements by kind (parsers/sql/types.ts StatementKind)
 *   { sql: { kinds, commands, flags, functions } }   SQL with conditions
 *
 *   ssh.* / { ssh: {...} }      SSH requests (protocols/ssh/policy/ssh.ts)
 *
 * Reserved for later versions (rejected today so a policy never silently ignores them):
 *   http.request / { http: { methods, paths } }
 *
 * Allow rules must cover a statement fully; deny and approve rules need only touch it. Concretely:
 *  - `unknown` statements are only allowed by a rule that lists `unknown` in `kinds` (or `sql.unknown`);
 *    `sql.*` and matchers without `kinds` cover `unknown` for deny/approve but not for allow.
 *  - statements flagged `dangerous-function` are only allowed by a matcher that names the flag in
 *    `flags` or lists the functions in `functions` (and then every called dangerous function must match).
 */
import type { ClassifiedStatement, StatementFlag, StatementKind } from "../sql/types.ts";
import type { GlobSet } from "./glob.ts";
import type { Effect } from "./types.ts";
import type { ProtocolActionMatcher } from "./action-kinds.ts";

// Records keyed by the classifier's types, so adding a kind or flag there fails the typecheck here
// until the policy format knows about it.
const KIND_SET: Record<StatementKind, true> = {
  read: true,
  write: true,
  ddl: true,
  privilege: true,
  procedural: true,
  transaction: true,
  session: true,
  copy_external: true,
  admin: true,
  execute: true,
  dynamic: true,
  unknown: true,
};
const FLAG_SET: Record<StatementFlag, true> = {
  "no-where": true,
  "data-modifying-cte": true,
  "explain-analyze": true,
  "dangerous-function": true,
  "select-into": true,
  locks: true,
};
export const STATEMENT_KINDS = Object.freeze(Object.keys(KIND_SET)) as readonly StatementKind[];
export const STATEMENT_FLAGS = Object.freeze(Object.keys(FLAG_SET)) as readonly StatementFlag[];

/** Protocol prefixes reserved for future action families. */
export const RESERVED_ACTION_PROTOCOLS = ["ssh", "http"] as const;

export type ActionMatcher =
  | { protocol: "connect" }
  /** Actions of a protocol's plugged-in rule kind (`ssh.*`: protocols/ssh/policy/ssh.ts; action-kinds.ts). */
  | ProtocolActionMatcher
  | SqlActionMatcher;

export interface SqlActionMatcher {
  protocol: "sql";
  /** null = every kind (but see the `unknown` rule above). */
  kinds: ReadonlySet<StatementKind> | null;
  /** Upper-case command patterns ("DROP TABLE", "DROP *"). */
  commands: GlobSet | null;
  /** Any of these flags. */
  flags: ReadonlySet<StatementFlag> | null;
  /** Lower-case function patterns. */
  functions: GlobSet | null;
}

export function isSqlAction(a: ActionMatcher): a is SqlActionMatcher {
  return a.protocol === "sql";
}

export function actionMatchesConnect(a: ActionMatcher): boolean {
  return a.protocol === "connect";
}

export function actionMatchesStatement(a: ActionMatcher, stmt: Pick<ClassifiedStatement, "kind" | "command" | "flags" | "functions">, effect: Effect): boolean {
  if (!isSqlAction(a)) return false;
  const allow = effect === "allow";
  if (a.kinds) {
    if (!a.kinds.has(stmt.kind)) return false;
  } else if (allow && stmt.kind === "unknown") {
    return false;
  }
  if (a.commands && !a.commands.matches(stmt.command.toUpperCase())) return false;
  if (a.flags && !stmt.flags.some((f) => a.flags!.has(f))) return false;
  if (a.functions) {
    // Names as PostgreSQL resolves them: a quoted "SETVAL" is not setval, so it never matches a policy pattern (lower case).
    const fns = stmt.functions;
    if (allow) {
      // An allow must cover every dangerous function the statement calls.
      if (fns.length === 0 || !fns.every((f) => a.functions!.matches(f))) return false;
    } else if (!fns.some((f) => a.functions!.matches(f))) {
      return false;
    }
  }
  if (allow && stmt.flags.includes("dangerous-function")) {
    const explicit = (a.flags !== null && a.flags.has("dangerous-function")) || a.functions !== null;
    if (!explicit) return false;
  }
  return true;
}
