/**
 * HTTP actions (docs/POLICY.md §HTTP). Action names:
 *
 *   http.*                      every request (for allow: except protocol upgrades)
 *   http.<method>               one method, e.g. http.get, http.delete
 *   { http: { methods: [POST], paths: ["/deploy/{env}", "/api/**"],
 *             query: { dry_run: "true" }, headers: { x-env: "prod*" }, upgrade: [websocket] } }
 *
 * Paths are matched against the normalised path (protocols/http/codec/path.ts), segment by
 * segment, one trailing slash ignored: a literal segment, `{name}` (exactly one segment), `*` or
 * a glob within one segment (`*.json`), `**` (any number of segments, also none).
 *
 * As everywhere in the policy, an ALLOW must cover a request completely and a DENY/APPROVE need
 * only touch it (boundaries vs guard rails):
 *  - case: allow compares paths case-sensitively, deny/approve case-insensitively (an upstream
 *    that ignores case must not turn `/ADMIN` into a way around a deny on `/admin`);
 *  - query/headers: allow needs the parameter present with EVERY value matching (the upstream may
 *    read the first or the last of duplicates); deny/approve match when ANY value matches;
 *  - upgrades (WebSocket…): allowed only by a rule that lists the protocol in `upgrade`;
 *    deny/approve rules touch upgrade requests whether or not they name it.
 * Among the rules that match, deny beats approve beats allow; nothing matching = default deny.
 */
import { compileGlob } from "../../../parsers/policy/glob.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import type { ApprovalRequirement, ConnectInput, Decision, Effect, MatchedRule } from "../../../parsers/policy/types.ts";
import { EFFECT_RANK } from "../../../parsers/policy/types.ts";
import type { ActionKind, ApplicableRules, RuleView } from "../../../parsers/policy/action-kinds.ts";
import { matchPath } from "../codec/path.ts";

/** What one HTTP request is, as the policy sees it (normalised; see codec/path.ts). */
export interface HttpRequestDescription {
  method: string;
  /** Normalised path: byte for byte what the upstream receives. */
  path: string;
  /** Decoded query parameters in order (duplicates kept). */
  query: Array<[string, string]>;
  /** Lower-cased header names with values (after the gateway's own header policy). */
  headers: Array<[string, string]>;
  /** Lower-cased `Upgrade` protocol (websocket), or null. */
  upgrade: string | null;
}

export interface HttpInput extends ConnectInput {
  request: HttpRequestDescription;
}

type Segment = { t: "lit"; text: string; lower: string } | { t: "one" } | { t: "glob"; match: (s: string) => boolean; matchLower: (s: string) => boolean } | { t: "any" };

export interface PathPattern {
  source: string;
  segments: Segment[];
}

interface ValueCondition {
  name: string;
  matches: (v: string) => boolean;
}

export interface HttpActionMatcher {
  protocol: "http";
  /** Upper-case methods; null = any. */
  methods: ReadonlySet<string> | null;
  paths: PathPattern[] | null;
  query: ValueCondition[];
  headers: ValueCondition[];
  /** Upgrade protocols this action allows (lower case); null = none named. */
  upgrade: ReadonlySet<string> | null;
}

const METHOD = /^[A-Z][A-Z0-9-]{0,31}$/;
const STANDARD_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const HTTP_KEYS = ["methods", "paths", "query", "headers", "upgrade"];

export function compileHttpActionName(text: string): HttpActionMatcher {
  const base = { protocol: "http" as const, paths: null, query: [], headers: [], upgrade: null };
  if (text === "http.*") return { ...base, methods: null };
  const method = text.slice(5).toUpperCase();
  // Named actions only for the standard methods (a typo must not become a custom method); others via { http: { methods } }.
  if (text.startsWith("http.") && STANDARD_METHODS.includes(method)) return { ...base, methods: new Set([method]) };
  throw new PolicySyntaxError(`unknown HTTP action '${text}'; expected http.*, http.<method> (http.get, http.post…) or { http: { methods, paths, query, headers, upgrade } }`);
}

function stringList(value: unknown, what: string): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === "string" && v.length > 0)) throw new PolicySyntaxError(`http.${what}: a non-empty string or list of strings`);
  return list as string[];
}

export function compilePathPattern(source: string): PathPattern {
  if (!source.startsWith("/")) throw new PolicySyntaxError(`http.paths: '${source}' must start with /`);
  if (/[?#\\;]|%2f|%5c/i.test(source)) throw new PolicySyntaxError(`http.paths: '${source}': no query, fragment, backslash, ';' or encoded slash in a path pattern (query conditions go in 'query')`);
  const parts = matchPath(source).split("/").slice(1);
  const segments: Segment[] = [];
  for (const raw of parts) {
    if (raw === "" && parts.length === 1) break; // "/"
    if (raw === "" || raw === "." || raw === "..") throw new PolicySyntaxError(`http.paths: '${source}': empty, '.' or '..' segment (paths are matched normalised)`);
    if (raw === "**") segments.push({ t: "any" });
    else if (/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(raw)) segments.push({ t: "one" });
    else if (raw.includes("{") || raw.includes("}")) throw new PolicySyntaxError(`http.paths: '${source}': a template segment is '{name}' on its own`);
    else if (raw.includes("*") || raw.includes("?")) {
      if (raw.includes("**")) throw new PolicySyntaxError(`http.paths: '${source}': '**' stands alone as a segment`);
      const g = compileGlob(raw);
      const gl = compileGlob(raw.toLowerCase());
      segments.push({ t: "glob", match: (s) => g.matches(s), matchLower: (s) => gl.matches(s.toLowerCase()) });
    } else segments.push({ t: "lit", text: raw, lower: raw.toLowerCase() });
  }
  return { source, segments };
}

function compileConditions(value: unknown, what: "query" | "headers"): ValueCondition[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicySyntaxError(`http.${what}: a mapping of name: glob`);
  return Object.entries(value as Record<string, unknown>).map(([name, v]) => {
    if (typeof v !== "string") throw new PolicySyntaxError(`http.${what}.${name}: a glob string`);
    const g = compileGlob(v);
    return { name: what === "headers" ? name.toLowerCase() : name, matches: (s: string) => g.matches(s) };
  });
}

export function compileHttpActionMap(value: unknown): HttpActionMatcher {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicySyntaxError("http: must be a mapping with methods, paths, query, headers or upgrade");
  const map = value as Record<string, unknown>;
  for (const k of Object.keys(map)) if (!HTTP_KEYS.includes(k)) throw new PolicySyntaxError(`http: unknown key '${k}'; expected ${HTTP_KEYS.join(", ")}`);
  if (Object.keys(map).length === 0) throw new PolicySyntaxError("http: empty; write 'http.*' to mean every request");
  let methods: Set<string> | null = null;
  if (map.methods !== undefined) {
    methods = new Set(stringList(map.methods, "methods").map((m) => m.toUpperCase()));
    for (const m of methods) if (!METHOD.test(m) && m !== "*") throw new PolicySyntaxError(`http.methods: '${m}' is not a method`);
    if (methods.has("*")) methods = null;
  }
  const paths = map.paths === undefined ? null : stringList(map.paths, "paths").map(compilePathPattern);
  const query = map.query === undefined ? [] : compileConditions(map.query, "query");
  const headers = map.headers === undefined ? [] : compileConditions(map.headers, "headers");
  const upgrade = map.upgrade === undefined ? null : new Set(stringList(map.upgrade, "upgrade").map((u) => u.toLowerCase()));
  return { protocol: "http", methods, paths, query, headers, upgrade };
}

// ------------------------------------------------------------------ matching

/** Memoised (pattern position × segment position): attacker paths cannot make `**` backtrack exponentially. */
function segmentsMatch(pattern: Segment[], segs: string[], caseless: boolean): boolean {
  const memo = new Map<number, boolean>();
  const go = (pi: number, si: number): boolean => {
    const key = pi * (segs.length + 1) + si;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const r = step(pi, si);
    memo.set(key, r);
    return r;
  };
  const step = (pi: number, si: number): boolean => {
    if (pi === pattern.length) return si === segs.length;
    const p = pattern[pi]!;
    if (p.t === "any") {
      for (let k = si; k <= segs.length; k++) if (go(pi + 1, k)) return true;
      return false;
    }
    if (si === segs.length) return false;
    const s = segs[si]!;
    const ok = p.t === "one" ? s.length > 0 : p.t === "lit" ? (caseless ? s.toLowerCase() === p.lower : s === p.text) : caseless ? p.matchLower(s) : p.match(s);
    return ok && go(pi + 1, si + 1);
  };
  return go(0, 0);
}

export function pathMatches(p: PathPattern, path: string, caseless: boolean): boolean {
  const m = matchPath(path);
  const segs = m === "/" ? [] : m.split("/").slice(1);
  return segmentsMatch(p.segments, segs, caseless);
}

function conditionHolds(c: ValueCondition, values: Array<[string, string]>, allow: boolean): boolean {
  const vs = values.filter(([n]) => n === c.name).map(([, v]) => v);
  if (vs.length === 0) return false;
  return allow ? vs.every(c.matches) : vs.some(c.matches);
}

/** Does an action cover (allow) or touch (deny/approve) the request? */
export function httpActionMatches(a: HttpActionMatcher, req: HttpRequestDescription, effect: Effect): boolean {
  const allow = effect === "allow";
  if (req.upgrade !== null && allow && !(a.upgrade?.has(req.upgrade) ?? false)) return false;
  if (req.upgrade === null && a.upgrade !== null && !allow) return false;
  if (a.methods && !a.methods.has(req.method.toUpperCase())) return false;
  if (a.paths && !a.paths.some((p) => pathMatches(p, req.path, !allow))) return false;
  if (!a.query.every((c) => conditionHolds(c, req.query, allow))) return false;
  const headers = req.headers.map(([n, v]) => [n.toLowerCase(), v] as [string, string]);
  if (!a.headers.every((c) => conditionHolds(c, headers, allow))) return false;
  return true;
}

// ------------------------------------------------------------------ deciding

/** The rule shape the HTTP decision needs (parsers/policy/action-kinds.ts RuleView). */
export type { RuleView as HttpRuleView } from "../../../parsers/policy/action-kinds.ts";

const VERB: Record<Effect, string> = { allow: "allows", deny: "denies", approve: "requires approval for" };

export function describeHttpRequest(req: HttpRequestDescription): string {
  const q = req.query.length > 0 ? "?…" : "";
  const path = req.path.length > 200 ? `${req.path.slice(0, 197)}...` : req.path;
  return `${req.method} ${path}${q}${req.upgrade ? ` (upgrade to ${req.upgrade})` : ""}`;
}

export function decideHttpRequest<R extends RuleView>(input: HttpInput, applicable: ApplicableRules<R>, ruleRef: (r: R) => string, who: string): Decision {
  const { request, resource } = input;
  const httpActions = (r: R) => r.actions.filter((a): a is HttpActionMatcher => a.protocol === "http");
  const matched = applicable.rules.filter((r) => httpActions(r).some((a) => httpActionMatches(a, request, r.effect)));
  let winner: R | null = null;
  for (const r of matched) if (!winner || EFFECT_RANK[r.effect] > EFFECT_RANK[winner.effect]) winner = r;
  const what = describeHttpRequest(request);
  const matchedList: MatchedRule[] = matched.map((r) => ({ rule: r.name, effect: r.effect }));
  if (!winner) {
    const gated = applicable.gated.filter((r) => r.effect === "allow" && httpActions(r).some((a) => httpActionMatches(a, request, "allow")));
    const hint = gated.length > 0 ? ` (rule '${gated[0]!.name}' would allow it with an active grant for ${resource.name})` : "";
    return { effect: "deny", rule: null, reason: `no rule allows ${what} on ${resource.name} for ${who}; default deny${hint}`, matched: matchedList };
  }
  const decision: Decision = { effect: winner.effect, rule: winner.name, reason: `${ruleRef(winner)} ${VERB[winner.effect]} ${what} on ${resource.name}`, matched: matchedList };
  if (winner.effect === "approve") {
    const approval: ApprovalRequirement = { rule: winner.name, approvers: winner.approversRaw, timeoutMs: winner.approvalTimeoutMs, required: winner.requiredApprovals };
    decision.approvals = [approval];
  }
  return decision;
}

/** A request as the engine describes it (protocols/http/policy/describe.ts); anything else is not an HTTP request. */
function isHttpRequest(r: unknown): r is HttpRequestDescription {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return typeof o.method === "string" && typeof o.path === "string" && Array.isArray(o.query) && Array.isArray(o.headers) && (o.upgrade === null || typeof o.upgrade === "string");
}

/** HTTP's rule kind, plugged into the policy compiler and engine through the module descriptor (protocols/http/module.ts). */
export const httpActionKind: ActionKind<HttpRequestDescription> = {
  namespace: "http",
  compileName: (text) => compileHttpActionName(text),
  compileMap: (value) => compileHttpActionMap(value),
  decide: (input, applicable, ruleRef, who) => {
    // Fail closed: a caller that hands over something other than a described HTTP request is denied, never matched loosely.
    if (!isHttpRequest(input.request)) return { effect: "deny", rule: null, reason: "gatehouse: malformed HTTP request description; default deny", matched: [] };
    return decideHttpRequest(input, applicable, ruleRef, who);
  },
};
