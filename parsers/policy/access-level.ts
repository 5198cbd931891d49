/**
 * The database access level a session needs: the second wall behind the gateway's own decisions.
 *
 * The connector logs in with the credential of exactly this level (docs/CONNECTOR.md §Access
 * levels), so a statement the classifier got wrong still meets the database's own permissions.
 * The level is the highest any statement this identity could ever get through on this resource
 * in this session needs — decided once, at connect, from the rules that apply (grants active at
 * connect included, as for every other decision):
 *
 *   read   reads, transaction control, session settings (the session also runs read-only);
 *          function parts that run SQL text (`dynamic`: the statements inside are decided by their
 *          own kinds) or code of unknown effect (`execute`: a function that writes then fails on
 *          the read login — allowing unknown code never buys a stronger credential)
 *   write  INSERT/UPDATE/DELETE/MERGE/COPY FROM … — any allow or approve rule that can match one
 *   admin  DDL, privilege changes, DO/CALL/PREPARE (code can do anything), server-side COPY,
 *          unclassifiable statements, and any kind this table does not know (fail towards the
 *          level the policy explicitly allowed rather than guess it needs less)
 *
 * A kind that a deny rule refuses whole (a deny action naming the kind, or every kind, with no
 * command, flag or function condition) never needs its level, whatever allows it elsewhere.
 */
import type { StatementKind } from "../sql/types.ts";
import { STATEMENT_KINDS, type ActionMatcher } from "./actions.ts";
import type { AccessLevel, Effect } from "./types.ts";

export type { AccessLevel };
export const ACCESS_LEVELS: readonly AccessLevel[] = ["read", "write", "admin"];
const RANK: Record<AccessLevel, number> = { read: 0, write: 1, admin: 2 };

const KIND_LEVEL: Partial<Record<StatementKind, AccessLevel>> = {
  read: "read",
  transaction: "read",
  session: "read",
  dynamic: "read",
  execute: "read",
  write: "write",
};

export function levelOfKind(kind: StatementKind): AccessLevel {
  return KIND_LEVEL[kind] ?? "admin";
}

type SqlAction = Extract<ActionMatcher, { protocol: "sql" }>;

function isSqlAction(a: ActionMatcher): a is SqlAction {
  return a.protocol === "sql";
}

/** A deny action that refuses every statement of `kind`, whatever its text. */
function deniesWholeKind(a: SqlAction, kind: StatementKind): boolean {
  return (a.kinds === null || a.kinds.has(kind)) && a.commands === null && a.flags === null && a.functions === null;
}

/** `rules`: the rules whose subjects and resources match and whose grant condition (if any) holds. */
/** The part of a compiled rule (compile.ts CompiledRule) the access level is derived from. */
export interface AccessRuleView {
  effect: Effect;
  actions: readonly ActionMatcher[];
}

export function accessLevelFor(rules: readonly AccessRuleView[]): AccessLevel {
  const denyActions = rules.filter((r) => r.effect === "deny").flatMap((r) => r.actions.filter(isSqlAction));
  const deniedWhole = (kind: StatementKind) => denyActions.some((a) => deniesWholeKind(a, kind));
  let level: AccessLevel = "read";
  for (const rule of rules) {
    if (rule.effect === "deny") continue;
    for (const action of rule.actions) {
      if (!isSqlAction(action)) continue;
      for (const kind of action.kinds ?? STATEMENT_KINDS) {
        if (deniedWhole(kind)) continue;
        const needed = levelOfKind(kind);
        if (RANK[needed] > RANK[level]) level = needed;
      }
    }
  }
  return level;
}
