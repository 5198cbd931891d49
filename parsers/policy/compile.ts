/**
 * Turns the YAML AST of a policy into the compiled model, validating everything on the way.
 * Either every section compiles or the caller gets the list of errors — nothing is half-applied.
 * The document format is described in docs/POLICY.md.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { compileGlob, GlobSet, type Glob } from "./glob.ts";
import { PolicyReader, suggest } from "./reader.ts";
import {
  GITHUB_CLAIMS,
  GITHUB_ISSUER,
  GITHUB_PINNING_CLAIMS,
  GITLAB_CLAIMS,
  GITLAB_ISSUER,
  GITLAB_PINNING_CLAIMS,
  type ClaimCondition,
  type SubjectMatcher,
  type SubjectSet,
} from "./subjects.ts";
import type { LabelCondition, ResourceMatcher, ResourceSet } from "./resources.ts";
import { RESERVED_ACTION_PROTOCOLS, STATEMENT_FLAGS, STATEMENT_KINDS, type ActionMatcher } from "./actions.ts";
import { EFFECTS, type Effect, type RecordingMode } from "./types.ts";
import type { StatementFlag, StatementKind } from "../sql/types.ts";
import { compileConfig as compileMaskingConfig, MaskingConfigError, type MaskingRule } from "../masking/config.ts";
import { actionKind, pluggedNamespaces } from "./plugged-kinds.ts";
import { PolicySyntaxError } from "./errors.ts";
import { checkNotificationsSection } from "./notifications.ts";
import { devIssuerSet, isDevIssuerSymbol } from "./dev-issuer.ts";

export const POLICY_VERSION = 1;

export interface Limits {
  maxSessionMs: number | null;
  statementTimeoutMs: number | null;
  /** Concurrent sessions of one identity (all resources), and on one resource (all identities). */
  maxSessionsPerIdentity: number | null;
  maxSessionsPerResource: number | null;
}

const NO_LIMITS: Limits = { maxSessionMs: null, statementTimeoutMs: null, maxSessionsPerIdentity: null, maxSessionsPerResource: null };
/** Largest accepted session cap (a typo guard, not a resource bound). */
const MAX_SESSION_CAP = 100_000;

export interface CompiledRule {
  name: string;
  /** Position of the rule's mapping, for "file:line" in reasons. */
  line: number;
  column: number;
  description: string | null;
  effect: Effect;
  subjects: SubjectSet;
  resources: ResourceSet;
  actions: ActionMatcher[];
  hasConnect: boolean;
  hasSql: boolean;
  requiresGrant: boolean;
  /** approve rules only; null = fall back to role `approver`. */
  approvers: SubjectSet | null;
  /** `approvers` as written (for approval requests / display). */
  approversRaw: unknown;
  /** Distinct approvals an approve rule needs (required_approvals, default 1). */
  requiredApprovals: number;
  approvalTimeoutMs: number | null;
  limits: Limits;
}

export interface CompiledRole {
  name: string;
  subjects: SubjectSet;
}

export interface CompiledMaskingRule {
  name: string;
  subjects: SubjectSet;
  resources: ResourceSet;
  /** The rule as written, handed to the masker unchanged. */
  raw: unknown;
}

export interface RecordingOverride {
  resources: ResourceSet;
  mode: RecordingMode;
}

export interface PolicyModel {
  rules: CompiledRule[];
  roles: CompiledRole[];
  limits: Limits;
  masking: CompiledMaskingRule[];
  recording: { mode: RecordingMode; overrides: RecordingOverride[] };
}

const TOP_KEYS = ["version", "limits", "roles", "rules", "masking", "recording", "notifications"] as const;
const RULE_KEYS = ["name", "description", "effect", "subjects", "resources", "actions", "requires", "approvers", "required_approvals", "timeout", "limits"] as const;
const SUBJECT_KEYS = ["issuer", "subject", "claims", "github", "gitlab", "role"] as const;
const RESOURCE_KEYS = ["name", "type", "labels"] as const;
const SQL_KEYS = ["kinds", "commands", "flags", "functions"] as const;
const LIMIT_KEYS = ["max_session", "statement_timeout", "max_sessions_per_identity", "max_sessions_per_resource"] as const;
/**
 * Keys of a masking rule: the policy's own (name, description, subjects, resources) plus the
 * masker's MaskingRule fields (parsers/masking/config.ts), which the masker validates.
 */
export const MASKING_RULE_KEYS = ["name", "description", "resources", "subjects", "columns", "detectors", "patterns", "style", "keep", "mask"] as const;
const RECORDING_KEYS = ["mode", "overrides"] as const;
const RECORDING_OVERRIDE_KEYS = ["resources", "mode"] as const;
const RECORDING_MODES: readonly RecordingMode[] = ["fail-closed", "best-effort"];
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const NAME_RULES = "letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 128 characters";

export function compilePolicy(reader: PolicyReader, root: Node | null): PolicyModel | null {
  const top = reader.map(root, "the policy document");
  if (!top) return null;
  const entries = reader.entries(top, "policy", TOP_KEYS);

  const version = reader.required(entries, "version", top, "policy");
  if (version) {
    const v = reader.resolve(version.value);
    if (!(v && isScalar(v) && v.value === POLICY_VERSION)) {
      reader.error(v ?? version.key, `policy: 'version' must be ${POLICY_VERSION} (the only policy format this Gatehouse understands)`);
    }
  }

  const limitsEntry = entries.get("limits");
  const limits = limitsEntry ? compileLimits(reader, limitsEntry.value, "limits", limitsEntry.key) : { ...NO_LIMITS };

  // Roles first: subject matchers elsewhere may refer to them by name.
  const rolesEntry = entries.get("roles");
  const roles = rolesEntry ? compileRoles(reader, rolesEntry.value, rolesEntry.key) : [];
  // Every declared name, even of a role with errors, so its references do not cascade into more errors.
  const roleNames = new Set([...roles.map((r) => r.name), ...(rolesEntry ? declaredRoleNames(reader, rolesEntry.value) : [])]);

  const rules: CompiledRule[] = [];
  const rulesEntry = reader.required(entries, "rules", top, "policy");
  if (rulesEntry) {
    const seq = reader.seq(rulesEntry.value, "'rules'", rulesEntry.key);
    if (seq) {
      const seen = new Map<string, number>();
      seq.items.forEach((item, index) => {
        const rule = compileRule(reader, item as Node | null, index, roleNames);
        if (!rule) return;
        const first = seen.get(rule.name);
        if (first !== undefined) {
          reader.error(item as Node, `rule '${rule.name}': duplicate rule name (first defined on line ${first}); rule names must be unique because decisions name them`);
          return;
        }
        seen.set(rule.name, rule.line);
        rules.push(rule);
      });
    }
  }

  const maskingEntry = entries.get("masking");
  const masking = maskingEntry ? compileMasking(reader, maskingEntry.value, maskingEntry.key, roleNames) : [];

  const recordingEntry = entries.get("recording");
  const recording = recordingEntry
    ? compileRecording(reader, recordingEntry.value, recordingEntry.key)
    : { mode: "fail-closed" as RecordingMode, overrides: [] };

  // Not part of the model (the worker reads it at delivery), but a bad entry is refused here, at its position.
  const notificationsEntry = entries.get("notifications");
  if (notificationsEntry) checkNotificationsSection(reader, notificationsEntry.value, notificationsEntry.key);

  return { rules, roles, limits, masking, recording: recording ?? { mode: "fail-closed", overrides: [] } };
}

function compileLimits(reader: PolicyReader, node: Node | null, what: string, fallback: Node): Limits {
  const out: Limits = { ...NO_LIMITS };
  const map = reader.map(node, `'${what}'`, fallback);
  if (!map) return out;
  const e = reader.entries(map, what, LIMIT_KEYS);
  const max = e.get("max_session");
  if (max) out.maxSessionMs = reader.duration(max.value, `${what}.max_session`, max.key);
  const st = e.get("statement_timeout");
  if (st) out.statementTimeoutMs = reader.duration(st.value, `${what}.statement_timeout`, st.key);
  const perIdentity = e.get("max_sessions_per_identity");
  if (perIdentity) out.maxSessionsPerIdentity = sessionCap(reader, perIdentity.value, `${what}.max_sessions_per_identity`);
  const perResource = e.get("max_sessions_per_resource");
  if (perResource) out.maxSessionsPerResource = sessionCap(reader, perResource.value, `${what}.max_sessions_per_resource`);
  return out;
}

function sessionCap(reader: PolicyReader, raw: Node | null, what: string): number | null {
  const node = reader.resolve(raw);
  if (node && isScalar(node) && typeof node.value === "number" && Number.isInteger(node.value) && node.value >= 1 && node.value <= MAX_SESSION_CAP) return node.value;
  reader.error(node, `${what}: expected a whole number of sessions from 1 to ${MAX_SESSION_CAP}, got ${node && isScalar(node) ? `'${String(node.source ?? node.value)}'` : "something else"}`);
  return null;
}

function compileRoles(reader: PolicyReader, node: Node | null, fallback: Node): CompiledRole[] {
  const map = reader.map(node, "'roles'", fallback);
  if (!map) return [];
  const out: CompiledRole[] = [];
  for (const [name, { key, value }] of reader.entries(map, "roles", null)) {
    if (!NAME_PATTERN.test(name)) {
      reader.error(key, `roles: invalid role name '${name}' (${NAME_RULES})`);
      continue;
    }
    const subjects = compileSubjectSet(reader, value, `role '${name}'`, key, null);
    if (subjects) out.push({ name, subjects });
  }
  return out;
}

function declaredRoleNames(reader: PolicyReader, node: Node | null): string[] {
  const n = reader.resolve(node);
  if (!n || !isMap(n)) return [];
  return n.items.flatMap((p) => (isScalar(p.key) && typeof p.key.value === "string" ? [p.key.value] : []));
}

function compileRule(reader: PolicyReader, node: Node | null, index: number, roleNames: ReadonlySet<string> | null): CompiledRule | null {
  const map = reader.map(node, `rules[${index}]`);
  if (!map) return null;
  const pos = reader.nodePosition(map);
  // Name errors about this rule after the rule when its name is readable, even before validating it.
  const peeked = peekName(map);
  const e = reader.entries(map, peeked ? `rule '${peeked}'` : `rules[${index}]`, RULE_KEYS);
  let failed = false;

  let name = `rules[${index}]`;
  const nameEntry = reader.required(e, "name", map, `rules[${index}]`);
  if (!nameEntry) failed = true;
  else {
    const n = reader.string(nameEntry.value, `rules[${index}].name`, nameEntry.key);
    if (n === null) failed = true;
    else if (!NAME_PATTERN.test(n)) {
      reader.error(reader.resolve(nameEntry.value), `rules[${index}]: invalid rule name '${n}' (${NAME_RULES})`);
      failed = true;
    } else name = n;
  }
  const where = nameEntry && name !== `rules[${index}]` ? `rule '${name}'` : `rules[${index}]`;

  let description: string | null = null;
  const descEntry = e.get("description");
  if (descEntry) description = reader.string(descEntry.value, `${where}: description`, descEntry.key);

  let effect: Effect | null = null;
  const effectEntry = reader.required(e, "effect", map, where);
  if (effectEntry) effect = reader.oneOf(effectEntry.value, `${where}: effect`, EFFECTS, effectEntry.key);
  if (!effect) failed = true;

  const subjectsEntry = reader.required(e, "subjects", map, where);
  const subjects = subjectsEntry ? compileSubjectSet(reader, subjectsEntry.value, `${where}: subjects`, subjectsEntry.key, roleNames) : null;
  if (!subjects) failed = true;

  const resourcesEntry = reader.required(e, "resources", map, where);
  const resources = resourcesEntry ? compileResourceSet(reader, resourcesEntry.value, `${where}: resources`, resourcesEntry.key) : null;
  if (!resources) failed = true;

  const actionsEntry = reader.required(e, "actions", map, where);
  const actions = actionsEntry ? compileActions(reader, actionsEntry.value, `${where}: actions`, actionsEntry.key, effect) : null;
  if (!actions) failed = true;

  let requiresGrant = false;
  const requiresEntry = e.get("requires");
  if (requiresEntry) {
    const r = reader.oneOf(requiresEntry.value, `${where}: requires`, ["grant"] as const, requiresEntry.key);
    if (r === null) failed = true;
    else requiresGrant = true;
  }

  let approvers: SubjectSet | null = null;
  let approversRaw: unknown = null;
  let approvalTimeoutMs: number | null = null;
  let requiredApprovals = 1;
  const approversEntry = e.get("approvers");
  const timeoutEntry = e.get("timeout");
  const requiredEntry = e.get("required_approvals");
  if (effect && effect !== "approve") {
    for (const entry of [approversEntry, timeoutEntry, requiredEntry]) {
      if (entry) {
        reader.error(entry.key, `${where}: '${entry.key.value}' only applies to rules with effect approve (this rule's effect is ${effect})`);
        failed = true;
      }
    }
  } else if (effect === "approve") {
    if (approversEntry) {
      approvers = compileSubjectSet(reader, approversEntry.value, `${where}: approvers`, approversEntry.key, roleNames);
      approversRaw = reader.toJS(approversEntry.value);
      if (!approvers) failed = true;
    } else if (roleNames && !roleNames.has("approver")) {
      reader.error(map, `${where}: an approve rule needs 'approvers' (subject matchers or roles) unless the policy defines a role named 'approver'`);
      failed = true;
    } else {
      approversRaw = [{ role: "approver" }];
    }
    if (timeoutEntry) {
      approvalTimeoutMs = reader.duration(timeoutEntry.value, `${where}: timeout`, timeoutEntry.key);
      if (approvalTimeoutMs === null) failed = true;
    }
    if (requiredEntry) {
      // N distinct approvers (never the requester) must approve before the statement runs.
      const n = reader.toJS(requiredEntry.value);
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 10) {
        reader.error(requiredEntry.value ?? requiredEntry.key, `${where}: required_approvals must be a whole number from 1 to 10`, requiredEntry.key);
        failed = true;
      } else requiredApprovals = n;
    }
  }

  const limitsEntry = e.get("limits");
  const limits = limitsEntry ? compileLimits(reader, limitsEntry.value, `${where}: limits`, limitsEntry.key) : { ...NO_LIMITS };

  if (failed || !effect || !subjects || !resources || !actions) return null;
  return {
    name,
    line: pos.line,
    column: pos.column,
    description,
    effect,
    subjects,
    resources,
    actions,
    hasConnect: actions.some((a) => a.protocol === "connect"),
    hasSql: actions.some((a) => a.protocol === "sql"),
    requiresGrant,
    approvers,
    approversRaw,
    approvalTimeoutMs,
    requiredApprovals,
    limits,
  };
}

/**
 * `any`, one matcher (a mapping) or a non-empty list of matchers. roleNames null = role references
 * are not allowed here (inside the roles section, to keep role definitions free of cycles).
 */
function compileSubjectSet(reader: PolicyReader, node: Node | null, what: string, fallback: Node, roleNames: ReadonlySet<string> | null): SubjectSet | null {
  const n = reader.resolve(node);
  if (n && isScalar(n) && n.value === "any") return { any: true };
  if (n && isMap(n)) {
    const m = compileSubjectMatcher(reader, n, what, roleNames);
    return m ? { any: false, matchers: [m] } : null;
  }
  if (n && isSeq(n)) {
    const seq = reader.seq(n, what);
    if (!seq) return null;
    if (seq.items.length === 0) {
      reader.error(seq, `${what}: empty list matches nobody; write 'any' to match every verified identity`);
      return null;
    }
    const matchers: SubjectMatcher[] = [];
    let ok = true;
    seq.items.forEach((item, i) => {
      const im = reader.map(item as Node | null, `${what}[${i}]`, seq);
      const m = im ? compileSubjectMatcher(reader, im, `${what}[${i}]`, roleNames) : null;
      if (m) matchers.push(m);
      else ok = false;
    });
    return ok ? { any: false, matchers } : null;
  }
  reader.error(n ?? fallback, `${what} must be 'any', a subject matcher or a list of subject matchers, got ${describeShort(n)}`);
  return null;
}

function compileSubjectMatcher(reader: PolicyReader, map: YAMLMap, what: string, roleNames: ReadonlySet<string> | null): SubjectMatcher | null {
  const allowed = roleNames ? SUBJECT_KEYS : SUBJECT_KEYS.filter((k) => k !== "role");
  const e = reader.entries(map, what, allowed);
  if (e.size === 0) {
    if (map.items.length === 0) reader.error(map, `${what}: an empty subject matcher would match every identity; write 'any' if that is what you mean`);
    return null;
  }
  let ok = true;
  const out: SubjectMatcher = { issuer: null, subject: null, claims: [], roles: null };

  const github = e.get("github");
  const gitlab = e.get("gitlab");
  const issuer = e.get("issuer");
  if (github && gitlab) {
    reader.error(gitlab.key, `${what}: a matcher cannot be both github and gitlab (a token has one issuer); use two list entries`);
    ok = false;
  }
  for (const ci of [github, gitlab]) {
    if (ci && issuer) {
      reader.error(issuer.key, `${what}: '${ci.key.value}' sets the issuer; override it inside the block (${ci.key.value}: { issuer: ... }) instead of next to it`);
      ok = false;
    }
  }
  if (issuer && isDevIssuerSymbol(reader, issuer.value)) {
    out.issuer = devIssuerSet(reader.devIssuers);
  } else if (issuer) {
    out.issuer = reader.globSet(issuer.value, `${what}.issuer`, undefined, issuer.key);
    if (!out.issuer) ok = false;
  }
  const subject = e.get("subject");
  if (subject) {
    out.subject = reader.globSet(subject.value, `${what}.subject`, undefined, subject.key);
    if (!out.subject) ok = false;
  }
  const claims = e.get("claims");
  if (claims) {
    const c = compileClaims(reader, claims.value, `${what}.claims`, claims.key);
    if (c) out.claims.push(...c);
    else ok = false;
  }
  if (github) {
    const r = compileCiMatcher(reader, github.value, `${what}.github`, github.key, "github");
    if (r) {
      out.issuer = r.issuer;
      out.claims.push(...r.claims);
    } else ok = false;
  }
  if (gitlab) {
    const r = compileCiMatcher(reader, gitlab.value, `${what}.gitlab`, gitlab.key, "gitlab");
    if (r) {
      out.issuer = r.issuer;
      out.claims.push(...r.claims);
    } else ok = false;
  }
  const role = e.get("role");
  if (role && roleNames) {
    const names = reader.stringList(role.value, `${what}.role`);
    if (!names) ok = false;
    else {
      for (const name of names) {
        if (!roleNames.has(name)) {
          const hint = [...roleNames].find((r) => r.toLowerCase() === name.toLowerCase());
          reader.error(reader.resolve(role.value) ?? role.key, `${what}.role: role '${name}' is not defined in 'roles'${hint ? ` (did you mean '${hint}'?)` : ""}`);
          ok = false;
        }
      }
      out.roles = names;
    }
  }
  return ok ? out : null;
}

function compileClaims(reader: PolicyReader, node: Node | null, what: string, fallback: Node): ClaimCondition[] | null {
  const map = reader.map(node, what, fallback);
  if (!map) return null;
  const entries = reader.entries(map, what, null);
  if (entries.size === 0) {
    if (map.items.length === 0) reader.error(map, `${what}: empty (remove it, or name at least one claim)`);
    return null;
  }
  const out: ClaimCondition[] = [];
  let ok = true;
  for (const [claim, { key, value }] of entries) {
    const patterns = reader.globSet(value, `${what}.${claim}`, undefined, key);
    if (patterns) out.push({ claim, patterns });
    else ok = false;
  }
  return ok ? out : null;
}

/** `github:` / `gitlab:` — provider claims by their real names, with the provider's issuer implied. */
function compileCiMatcher(
  reader: PolicyReader,
  node: Node | null,
  what: string,
  fallback: Node,
  provider: "github" | "gitlab",
): { issuer: GlobSet; claims: ClaimCondition[] } | null {
  const map = reader.map(node, what, fallback);
  if (!map) return null;
  const claimNames: readonly string[] = provider === "github" ? GITHUB_CLAIMS : GITLAB_CLAIMS;
  const pinning: readonly string[] = provider === "github" ? GITHUB_PINNING_CLAIMS : GITLAB_PINNING_CLAIMS;
  const e = reader.entries(map, what, ["issuer", ...claimNames]);
  let ok = true;
  let issuer = new GlobSet([compileGlob(provider === "github" ? GITHUB_ISSUER : GITLAB_ISSUER)]);
  const claims: ClaimCondition[] = [];
  for (const [name, { key, value }] of e) {
    if (name === "issuer") {
      const i = reader.globSet(value, `${what}.issuer`, undefined, key);
      if (i) issuer = i;
      else ok = false;
      continue;
    }
    const check = name === "ref" ? (provider === "github" ? checkGithubRef : checkGitlabRef) : undefined;
    const patterns = reader.globSet(value, `${what}.${name}`, undefined, key, check);
    if (patterns) claims.push({ claim: name, patterns });
    else ok = false;
  }
  if (!pinning.some((p) => e.has(p))) {
    const everyone = provider === "github" ? "every repository on GitHub" : "every project on the GitLab instance";
    reader.error(map, `${what}: pin at least one of ${pinning.join(", ")} — without one this matcher accepts pipelines of ${everyone}`);
    ok = false;
  }
  return ok ? { issuer, claims } : null;
}

/** GitHub's `ref` claim is the full ref name: a bare `main` would silently never match. */
function checkGithubRef(glob: Glob): string | null {
  if (glob.source.startsWith("refs/") || glob.source === "**") return null;
  return `GitHub's ref claim is a full ref name such as 'refs/heads/main', 'refs/tags/v1.2.3' or 'refs/pull/42/merge', got '${glob.source}'`;
}

/** GitLab's `ref` claim is the bare branch or tag name (`ref_type` says which); `ref_path` has the full form. */
function checkGitlabRef(glob: Glob): string | null {
  if (!glob.source.startsWith("refs/")) return null;
  return `GitLab's ref claim is the bare branch or tag name such as 'main' (use ref_type for branch/tag, or ref_path for 'refs/heads/main'), got '${glob.source}'`;
}

function compileResourceSet(reader: PolicyReader, node: Node | null, what: string, fallback: Node): ResourceSet | null {
  const n = reader.resolve(node);
  if (n && isScalar(n) && n.value === "any") return { any: true };
  const items: (Node | null)[] = n && isSeq(n) ? ((reader.seq(n, what)?.items as (Node | null)[] | undefined) ?? []) : [n];
  if (n && isSeq(n) && items.length === 0) {
    reader.error(n, `${what}: empty list matches no resource; write 'any' to match every resource`);
    return null;
  }
  if (!n || !(isSeq(n) || isMap(n) || (isScalar(n) && typeof n.value === "string"))) {
    reader.error(n ?? fallback, `${what} must be 'any', a resource name pattern, a resource matcher or a list of them, got ${describeShort(n)}`);
    return null;
  }
  const matchers: ResourceMatcher[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const label = isSeq(n) ? `${what}[${i}]` : what;
    const r = reader.resolve(item);
    if (r && isScalar(r)) {
      const name = reader.globSet(r, `${label} (resource name)`, undefined, fallback);
      if (name) matchers.push({ name, type: null, labels: [] });
      else ok = false;
      return;
    }
    const map = reader.map(r, label, fallback);
    if (!map) {
      ok = false;
      return;
    }
    const m = compileResourceMatcher(reader, map, label);
    if (m) matchers.push(m);
    else ok = false;
  });
  return ok ? { any: false, matchers } : null;
}

function compileResourceMatcher(reader: PolicyReader, map: YAMLMap, what: string): ResourceMatcher | null {
  const e = reader.entries(map, what, RESOURCE_KEYS);
  if (e.size === 0) {
    if (map.items.length === 0) reader.error(map, `${what}: an empty resource matcher would match every resource; write 'any' if that is what you mean`);
    return null;
  }
  let ok = true;
  const out: ResourceMatcher = { name: null, type: null, labels: [] };
  const name = e.get("name");
  if (name) {
    out.name = reader.globSet(name.value, `${what}.name`, undefined, name.key);
    if (!out.name) ok = false;
  }
  const type = e.get("type");
  if (type) {
    out.type = reader.globSet(type.value, `${what}.type`, undefined, type.key);
    if (!out.type) ok = false;
  }
  const labels = e.get("labels");
  if (labels) {
    const lm = reader.map(labels.value, `${what}.labels`, labels.key);
    if (!lm) ok = false;
    else {
      const le = reader.entries(lm, `${what}.labels`, null);
      if (le.size === 0 && lm.items.length === 0) {
        reader.error(lm, `${what}.labels: empty (remove it, or name at least one label)`);
        ok = false;
      }
      for (const [label, { key, value }] of le) {
        const patterns = reader.globSet(value, `${what}.labels.${label}`, undefined, key);
        if (patterns) out.labels.push({ label, patterns } satisfies LabelCondition);
        else ok = false;
      }
    }
  }
  return ok ? out : null;
}

function compileActions(reader: PolicyReader, node: Node | null, what: string, fallback: Node, effect: Effect | null): ActionMatcher[] | null {
  const n = reader.resolve(node);
  const items: (Node | null)[] = n && isSeq(n) ? ((reader.seq(n, what)?.items as (Node | null)[] | undefined) ?? []) : [n];
  if (n && isSeq(n) && items.length === 0) {
    reader.error(n, `${what}: empty list (a rule must name at least one action)`);
    return null;
  }
  const out: ActionMatcher[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const label = n && isSeq(n) ? `${what}[${i}]` : what;
    const a = compileAction(reader, item, label, fallback, effect);
    if (a) out.push(a);
    else ok = false;
  });
  return ok ? out : null;
}

/** `sql.*`: no kind filter — which, for allow rules, still excludes `unknown` (see actions.ts). */
const EVERY_KIND = null;

function compileAction(reader: PolicyReader, node: Node | null, what: string, fallback: Node, effect: Effect | null): ActionMatcher | null {
  const n = reader.resolve(node);
  if (n && isScalar(n) && typeof n.value === "string") {
    const text = n.value;
    if (text === "connect") return { protocol: "connect" };
    if (text === "sql.*") return { protocol: "sql", kinds: EVERY_KIND, commands: null, flags: null, functions: null };
    if (text.startsWith("sql.")) {
      const kind = text.slice(4);
      if ((STATEMENT_KINDS as readonly string[]).includes(kind)) {
        return { protocol: "sql", kinds: new Set([kind as StatementKind]), commands: null, flags: null, functions: null };
      }
      const hint = suggest(kind, STATEMENT_KINDS);
      reader.error(n, `${what}: unknown SQL statement kind '${kind}'${hint ? ` (did you mean 'sql.${hint}'?)` : ""}; expected sql.* or sql.<kind> with kind one of ${STATEMENT_KINDS.join(", ")}`);
      return null;
    }
    const protocol = text.split(".")[0]!;
    const plugged = actionKind(protocol);
    if (plugged) return compileKindHook(reader, n, what, () => plugged.compileName(text));
    if ((RESERVED_ACTION_PROTOCOLS as readonly string[]).includes(protocol)) {
      reader.error(n, `${what}: '${text}' is reserved for ${protocol.toUpperCase()} resources, which this version of Gatehouse cannot enforce yet`);
      return null;
    }
    if ((STATEMENT_KINDS as readonly string[]).includes(text)) {
      reader.error(n, `${what}: unknown action '${text}' (did you mean 'sql.${text}'? actions are namespaced by protocol)`);
      return null;
    }
    reader.error(n, `${what}: unknown action '${text}'; expected connect, sql.*, sql.<kind> or { sql: { kinds, commands, flags, functions } }`);
    return null;
  }
  if (n && isMap(n)) {
    const keys = reader.entries(n, what, [...new Set(["sql", ...pluggedNamespaces(), ...RESERVED_ACTION_PROTOCOLS])]);
    if (keys.size !== 1 || n.items.length !== 1) {
      if (keys.size > 0 || n.items.length === 0) reader.error(n, `${what}: an action mapping has exactly one key (the protocol), e.g. { sql: { kinds: [write], flags: [no-where] } }`);
      return null;
    }
    const [[protocol, { key, value }]] = [...keys];
    const plugged = actionKind(protocol);
    if (plugged) return compileKindHook(reader, n, `${what}.${protocol}`, () => plugged.compileMap(reader.toJS(value), effect));
    if (protocol !== "sql") {
      reader.error(key, `${what}: '${protocol}' actions are reserved for ${protocol.toUpperCase()} resources, which this version of Gatehouse cannot enforce yet`);
      return null;
    }
    return compileSqlAction(reader, value, `${what}.sql`, key);
  }
  reader.error(n ?? fallback, `${what} must be an action name (connect, sql.read, …) or { sql: {...} }, got ${describeShort(n)}`);
  return null;
}

/** A plugged-in kind's actions compile in its protocol folder; its PolicySyntaxErrors become positioned policy errors here. */
function compileKindHook(reader: PolicyReader, node: Node, what: string, compile: () => ActionMatcher): ActionMatcher | null {
  try {
    return compile();
  } catch (e) {
    if (!(e instanceof PolicySyntaxError)) throw e;
    reader.error(node, `${what}: ${e.message}`);
    return null;
  }
}

function compileSqlAction(reader: PolicyReader, node: Node | null, what: string, fallback: Node): ActionMatcher | null {
  const map = reader.map(node, what, fallback);
  if (!map) return null;
  const e = reader.entries(map, what, SQL_KEYS);
  if (e.size === 0) {
    if (map.items.length === 0) reader.error(map, `${what}: empty; write 'sql.*' to mean every statement kind`);
    return null;
  }
  let ok = true;
  let kinds: Set<StatementKind> | null = null;
  let flags: Set<StatementFlag> | null = null;
  let commands: GlobSet | null = null;
  let functions: GlobSet | null = null;
  const k = e.get("kinds");
  if (k) {
    kinds = reader.setOf(k.value, `${what}.kinds`, STATEMENT_KINDS);
    if (!kinds) ok = false;
  }
  const f = e.get("flags");
  if (f) {
    flags = reader.setOf(f.value, `${what}.flags`, STATEMENT_FLAGS);
    if (!flags) ok = false;
  }
  const c = e.get("commands");
  if (c) {
    // Command tags are upper case with single spaces ("DROP TABLE"); normalise what the author wrote.
    commands = reader.globSet(c.value, `${what}.commands`, (s) => s.trim().replace(/\s+/g, " ").toUpperCase(), c.key);
    if (!commands) ok = false;
  }
  const fn = e.get("functions");
  if (fn) {
    // A function name as PostgreSQL spells it unquoted (letters, digits, _ and $), with glob wildcards:
    // a schema-qualified or mistyped name would silently never match.
    const badName = (g: { source: string }) =>
      /^[a-z_*?][a-z0-9_$*?]*$/.test(g.source) ? null : `'${g.source}' is not a function name (letters, digits, _ and $, optionally with * and ?; no schema: calls qualified by a schema other than pg_catalog are sql.execute)`;
    functions = reader.globSet(fn.value, `${what}.functions`, (s) => s.toLowerCase(), fn.key, badName);
    if (!functions) ok = false;
  }
  return ok ? { protocol: "sql", kinds, commands, flags, functions } : null;
}

function compileMasking(reader: PolicyReader, node: Node | null, fallback: Node, roleNames: ReadonlySet<string>): CompiledMaskingRule[] {
  const map = reader.map(node, "'masking'", fallback);
  if (!map) return [];
  const e = reader.entries(map, "masking", ["rules"]);
  const rulesEntry = reader.required(e, "rules", map, "masking");
  if (!rulesEntry) return [];
  const seq = reader.seq(rulesEntry.value, "masking.rules", rulesEntry.key);
  if (!seq) return [];
  const out: CompiledMaskingRule[] = [];
  const seen = new Set<string>();
  seq.items.forEach((item, i) => {
    const rm = reader.map(item as Node | null, `masking.rules[${i}]`, seq);
    if (!rm) return;
    const peeked = peekName(rm);
    const what = peeked ? `masking rule '${peeked}'` : `masking.rules[${i}]`;
    const re = reader.entries(rm, what, MASKING_RULE_KEYS);
    let ok = true;
    const nameEntry = reader.required(re, "name", rm, what);
    const name = nameEntry ? reader.string(nameEntry.value, `${what}.name`, nameEntry.key) : null;
    if (name === null) ok = false;
    else if (seen.has(name)) {
      reader.error(nameEntry!.key, `masking.rules[${i}]: duplicate masking rule name '${name}'`);
      ok = false;
    } else seen.add(name);
    const label = name ? `masking rule '${name}'` : what;
    const styleEntry = reader.required(re, "style", rm, label);
    if (!styleEntry || reader.string(styleEntry.value, `${label}: style`, styleEntry.key) === null) ok = false;
    const desc = re.get("description");
    if (desc && reader.string(desc.value, `${label}: description`, desc.key) === null) ok = false;
    for (const listKey of ["columns", "detectors", "patterns"] as const) {
      const entry = re.get(listKey);
      if (entry && reader.stringList(entry.value, `${label}: ${listKey}`) === null) ok = false;
    }
    const subjectsEntry = re.get("subjects");
    const subjects = subjectsEntry ? compileSubjectSet(reader, subjectsEntry.value, `${label}: subjects`, subjectsEntry.key, roleNames) : { any: true as const };
    const resourcesEntry = re.get("resources");
    const resources = resourcesEntry ? compileResourceSet(reader, resourcesEntry.value, `${label}: resources`, resourcesEntry.key) : { any: true as const };
    if (!ok || !subjects || !resources || name === null) return;
    const raw = reader.toJS(rm) as Record<string, unknown>;
    // The masker owns what style, columns, detectors, patterns and keep mean: let it validate the
    // rule now, so a bad masking rule fails the policy load instead of the first session using it.
    const problem = maskerProblem(raw);
    if (problem) {
      const key = MASKER_MESSAGE_KEYS.find(([word, k]) => problem.includes(word) && re.has(k))?.[1];
      reader.error(key ? (reader.resolve(re.get(key)!.value) ?? re.get(key)!.key) : rm, `${label}: ${problem}`);
      return;
    }
    out.push({ name, subjects, resources, raw });
  });
  return out;
}

/** Which key a masker message is about, to point the error at it. */
const MASKER_MESSAGE_KEYS = [
  ["detector", "detectors"],
  ["pattern", "patterns"],
  ["column", "columns"],
  ["style", "style"],
  ["keep", "keep"],
  ["name", "name"],
] as const;

/** Key used only to let the masker validate `hash` rules at load time; never used to mask. */
const VALIDATION_ONLY_HASH_KEY = "policy-validation-only-key";

function maskerProblem(raw: Record<string, unknown>): string | null {
  const { subjects: _s, resources: _r, description: _d, ...rule } = raw;
  try {
    compileMaskingConfig({ rules: [rule as unknown as MaskingRule], hashKey: VALIDATION_ONLY_HASH_KEY });
    return null;
  } catch (e) {
    if (e instanceof MaskingConfigError) return e.message.replace(/^masking rule \d+: /, "");
    throw e;
  }
}

function compileRecording(reader: PolicyReader, node: Node | null, fallback: Node): PolicyModel["recording"] | null {
  const map = reader.map(node, "'recording'", fallback);
  if (!map) return null;
  const e = reader.entries(map, "recording", RECORDING_KEYS);
  let mode: RecordingMode = "fail-closed";
  const modeEntry = e.get("mode");
  if (modeEntry) mode = reader.oneOf(modeEntry.value, "recording.mode", RECORDING_MODES, modeEntry.key) ?? "fail-closed";
  const overrides: RecordingOverride[] = [];
  const ov = e.get("overrides");
  if (ov) {
    const seq = reader.seq(ov.value, "recording.overrides", ov.key);
    seq?.items.forEach((item, i) => {
      const what = `recording.overrides[${i}]`;
      const om = reader.map(item as Node | null, what, seq);
      if (!om) return;
      const oe = reader.entries(om, what, RECORDING_OVERRIDE_KEYS);
      const r = reader.required(oe, "resources", om, what);
      const m = reader.required(oe, "mode", om, what);
      const resources = r ? compileResourceSet(reader, r.value, `${what}.resources`, r.key) : null;
      const overrideMode = m ? reader.oneOf(m.value, `${what}.mode`, RECORDING_MODES, m.key) : null;
      if (resources && overrideMode) overrides.push({ resources, mode: overrideMode });
    });
  }
  return { mode, overrides };
}

function describeShort(n: Node | null): string {
  if (!n) return "nothing";
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (isScalar(n)) return n.value === null ? "nothing (null)" : `'${String(n.value)}'`;
  return "an unsupported node";
}

function peekName(map: YAMLMap): string | null {
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === "name" && isScalar(pair.value) && typeof pair.value.value === "string" && NAME_PATTERN.test(pair.value.value)) {
      return pair.value.value;
    }
  }
  return null;
}
