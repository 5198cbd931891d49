/**
 * How a protocol adds its own rule kind from its own folder (protocols/<name>/policy/): its
 * action namespace (`ssh` for `ssh.exec` and `{ ssh: {...} }`), how those actions compile, and
 * how a request of that protocol is decided against the rules that apply. The protocol module's
 * descriptor carries it (`ProtocolModule.policy`, listed in protocols/modules.ts); the policy compiler and
 * engine find it by namespace. SQL is built in (parsers/policy/compile.ts, engine.ts).
 */
import type { ConnectInput, Decision, Effect } from "./types.ts";

/** A compiled action of a plugged-in kind: opaque to the engine except for its namespace. */
export interface ProtocolActionMatcher {
  readonly protocol: string;
}

/** The view of a compiled rule a plugged-in kind decides with (a subset of compile.ts CompiledRule). */
export interface RuleView {
  name: string;
  effect: Effect;
  actions: ReadonlyArray<{ protocol: string }>;
  approversRaw: unknown;
  approvalTimeoutMs: number | null;
  requiredApprovals: number;
}

export interface ApplicableRules<R extends RuleView> {
  /** Rules whose subjects and resources match (grants included). */
  rules: readonly R[];
  /** Allow rules that would match with an active grant (for the "would allow it with a grant" hint). */
  gated: readonly R[];
}

/** One request of the protocol to decide: the connect facts plus the protocol's parsed request. */
export interface ProtocolDecisionInput<Req = unknown> extends ConnectInput {
  request: Req;
}

export interface ActionKind<Req = unknown> {
  readonly namespace: string;
  /** `ns.op` (e.g. `ssh.exec`); throws PolicySyntaxError (positioned by the compiler). */
  compileName(text: string): ProtocolActionMatcher;
  /** `{ ns: value }` in a rule with `effect` (null when the rule's effect did not compile); throws PolicySyntaxError. */
  compileMap(value: unknown, effect: Effect | null): ProtocolActionMatcher;
  /** The decision for one request; default deny, naming the deciding rule. */
  decide<R extends RuleView>(input: ProtocolDecisionInput<Req>, applicable: ApplicableRules<R>, ruleRef: (r: R) => string, who: string): Decision;
}
