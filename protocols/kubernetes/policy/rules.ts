/**
 * Kubernetes actions in a policy rule, and how one request is decided (docs/KUBERNETES.md § Policy).
 *
 *   k8s.*                    every Kubernetes API request
 *   k8s.<verb>               get list watch create update patch delete deletecollection
 *                            exec attach portforward log proxy
 *   { k8s: { verbs: [delete], groups: ["", apps], resources: [deployments, "pods/status"],
 *                   namespaces: ["team-*"], names: ["web-*"],
 *                   commands: ["./manage.py migrate", "rm -rf /**"],   # exec only (SSH command patterns)
 *                   ports: [8080, 5432] } }                            # portforward only
 *
 * As for SQL and SSH, an ALLOW rule must cover the request completely and a DENY/APPROVE rule need
 * only touch it (allow-lists are boundaries, deny-lists guard rails):
 *  - verbs: `k8s.*`/no `verbs` allows the object verbs and `log`; `exec`, `attach`, `portforward`
 *    and `proxy` are allowed only by a rule that names them. Deny/approve without verbs touch all.
 *  - resources: `pods` or `deployments.apps` (the group spelled out) or `pods/status`. An allow on
 *    `pods` does not cover the subresources `pods/status`, `pods/ephemeralcontainers`…; a deny on
 *    `pods` touches them. The stream verbs (exec, log…) are matched by their verb on the base resource.
 *    `pods/ephemeralcontainers` (kubectl debug: a new container with any command in a running pod)
 *    and a CSR's `approval`/`status` are allowed only by a rule whose `resources:` names them
 *    literally; `proxy` only by one naming the resource (`pods`, `services`, `nodes`) literally,
 *    and `nodes/<n>/proxy` only for GETs of the kubelet's read-only endpoints (its `run`/`exec`
 *    run commands in any pod of the node): see KUBELET_READ_PATHS.
 *  - namespaces: a request with no namespace (a list across all namespaces, a cluster-scoped
 *    resource) is covered only by a rule without `namespaces`, and touched by every rule with one.
 *  - names: a request that names no object (list, watch, create, deletecollection) is covered by a
 *    rule with `names` only when the object is known (create: the body's name; list/watch: a
 *    `fieldSelector=metadata.name=` pin) and matches; it is touched otherwise.
 *  - commands: every command the exec runs (parsers/shell, `sh -c` scripts included) must be
 *    covered; commands the shell parser cannot resolve are never covered and always touched.
 *  - ports: port-forward ports known from the request (`ports=`) or its streams; unknown ports are
 *    never covered and always touched. kubectl 1.35 names them only in the SPDY streams: the
 *    request is then decided with `portsPerStream` and every stream again with its port.
 *  - non-resource paths: discovery, OpenAPI, version and health GETs are covered by `k8s.*` /
 *    `k8s.get` without object conditions; any other (`/logs/…`, `/debug/…`, `/metrics`) by no rule.
 * `Kubectl-Command` (the client's own description) is context for the trail only.
 */
import { compileGlob, type Glob } from "../../../parsers/policy/glob.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import { compileCommandPattern, coversCommand, touchesCommand, describeCommand, type CommandPattern } from "../../ssh/policy/ssh.ts";
import { EFFECT_RANK, type ApprovalRequirement, type ConnectInput, type Decision, type Effect, type MatchedRule } from "../../../parsers/policy/types.ts";
import type { ActionKind } from "../../../parsers/policy/action-kinds.ts";
import type { ParsedCommandLine, ShellCommand } from "../../ssh/codec/shell/types.ts";
import { ALL_VERBS, STREAM_VERBS, describeKubeRequest, selectedName, type KubeRequest, type KubeResourceRequest, type KubeVerb } from "../codec/request.ts";

/** Verbs an allow rule must name: they run code in, or reach into, the cluster's workloads. */
const EXPLICIT_ALLOW_VERBS: ReadonlySet<KubeVerb> = new Set(["exec", "attach", "portforward", "proxy"]);

/**
 * Subresources an allow covers only when its `resources:` names them literally (no glob, no rule
 * without `resources:`): `kubectl debug` adds a container with any command to a running pod
 * through `pods/ephemeralcontainers` (exec without the exec policy); approving a CSR (or writing
 * its certificate) mints a client certificate of the cluster the gateway never sees again.
 */
const EXPLICIT_SUBRESOURCES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["pods", new Set(["ephemeralcontainers"])],
  ["certificatesigningrequests.certificates.k8s.io", new Set(["approval", "status"])],
]);

/**
 * The kubelet's own read-only endpoints, the only paths `nodes/<n>/proxy/…` is ever allowed to
 * reach (GET/HEAD). Everything else there is the kubelet API itself: `run` and `exec` run commands
 * in any pod of the node (`POST …/proxy/run/<ns>/<pod>/<c>?cmd=…`), `attach`, `portForward`,
 * `cri`, `checkpoint`, `debug/flags/v` (PUT), node log files (`logs`) — covered by no allow rule.
 */
const KUBELET_READ_PATHS: ReadonlySet<string> = new Set(["healthz", "metrics", "stats", "spec", "pods", "runningpods", "configz"]);

/** Does a `nodes/<n>/proxy` request reach anything other than the kubelet's read-only endpoints? */
function kubeletBeyondReads(r: KubeResourceRequest): boolean {
  if (r.verb !== "proxy" || r.resource !== "nodes" || r.group !== "") return false;
  if (r.method !== "GET" && r.method !== "HEAD") return true;
  return !KUBELET_READ_PATHS.has(r.proxyPath.split("/")[1] ?? "");
}

/** Must an allow name this request's resource literally? proxy (it may reach the kubelet), and EXPLICIT_SUBRESOURCES. */
function needsLiteralResource(r: KubeResourceRequest): boolean {
  if (r.verb === "proxy") return true;
  const key = r.group ? `${r.resource}.${r.group}` : r.resource;
  return EXPLICIT_SUBRESOURCES.get(key)?.has(r.subresource) ?? false;
}

export const KUBE_ACTION_NAMES = ["k8s.*", ...ALL_VERBS.map((v) => `k8s.${v}`)];

export interface KubeActionMatcher {
  protocol: "k8s";
  /** null = every verb (see EXPLICIT_ALLOW_VERBS for allow). */
  verbs: ReadonlySet<KubeVerb> | null;
  groups: ReadonlySet<string> | null;
  resources: Glob[] | null;
  namespaces: Glob[] | null;
  names: Glob[] | null;
  commands: CommandPattern[] | null;
  ports: ReadonlySet<number> | null;
}

const blank = (): KubeActionMatcher => ({ protocol: "k8s", verbs: null, groups: null, resources: null, namespaces: null, names: null, commands: null, ports: null });

export function compileKubeActionName(text: string): KubeActionMatcher {
  if (text === "k8s.*") return blank();
  const verb = text.slice("k8s.".length) as KubeVerb;
  if (!text.startsWith("k8s.") || !ALL_VERBS.includes(verb)) throw new PolicySyntaxError(`unknown Kubernetes action '${text}'; expected one of ${KUBE_ACTION_NAMES.join(", ")}`);
  return { ...blank(), verbs: new Set([verb]) };
}

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new PolicySyntaxError(`k8s.${what}: must not be empty`);
  return list.map((x) => {
    if (typeof x !== "string" && typeof x !== "number") throw new PolicySyntaxError(`k8s.${what}: entries must be strings`);
    return String(x);
  });
}

const KEYS = new Set(["verbs", "groups", "resources", "namespaces", "names", "commands", "ports"]);

/** `{ k8s: { … } }` in a rule with `effect` → matcher; throws PolicySyntaxError naming the key. */
export function compileKubeActionMap(value: unknown, effect: Effect | null = null): KubeActionMatcher {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicySyntaxError("k8s: must be a map (verbs, groups, resources, namespaces, names, commands, ports)");
  const map = value as Record<string, unknown>;
  for (const k of Object.keys(map)) if (!KEYS.has(k)) throw new PolicySyntaxError(`k8s: unknown key '${k}'; expected one of ${[...KEYS].join(", ")}`);
  const m = blank();
  if ("verbs" in map) {
    const verbs = strings(map.verbs, "verbs");
    for (const v of verbs) if (!ALL_VERBS.includes(v as KubeVerb)) throw new PolicySyntaxError(`k8s.verbs: unknown verb '${v}'; expected one of ${ALL_VERBS.join(", ")}`);
    m.verbs = new Set(verbs as KubeVerb[]);
  }
  if ("groups" in map) m.groups = new Set(strings(map.groups, "groups").map((g) => (g === "core" ? "" : g)));
  if ("resources" in map) m.resources = strings(map.resources, "resources").map((r) => compileGlob(r));
  if ("namespaces" in map) m.namespaces = strings(map.namespaces, "namespaces").map((n) => compileGlob(n));
  if ("names" in map) m.names = strings(map.names, "names").map((n) => compileGlob(n));
  if ("commands" in map) {
    if (m.verbs === null || [...m.verbs].some((v) => v !== "exec")) throw new PolicySyntaxError("k8s.commands: only for `verbs: [exec]`");
    m.commands = strings(map.commands, "commands").map((c) => compileCommandPattern(c));
  }
  if ("ports" in map) {
    if (m.verbs === null || [...m.verbs].some((v) => v !== "portforward")) throw new PolicySyntaxError("k8s.ports: only for `verbs: [portforward]`");
    // kubectl names ports only inside the tunnel, one SPDY stream per connection; the gateway does
    // not hold a stream (docs/KUBERNETES.md § port-forward: why approve cannot name ports).
    if (effect === "approve") {
      throw new PolicySyntaxError(
        "k8s.ports: an approve rule cannot name ports (a port-forward stream is not held for approval); hold the whole port-forward with an approve rule without `ports:` and allow the ports in an allow rule, or deny them",
      );
    }
    m.ports = new Set(
      strings(map.ports, "ports").map((p) => {
        if (!/^[0-9]{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new PolicySyntaxError(`k8s.ports: '${p}' is not a port number`);
        return Number(p);
      }),
    );
  }
  return m;
}

/** What policy sees of one request: the parsed request plus what the engine learnt from the body and streams. */
export interface KubePolicyRequest {
  request: KubeRequest;
  /** create: the object's name from the body (metadata.name), when the engine read it. */
  bodyName?: string | null;
  /** exec: the commands, as the shell parser reads them (codec/exec-command.ts). */
  commands?: ParsedCommandLine;
  /** portforward: the ports (query or stream headers); absent = unknown. */
  ports?: readonly number[];
  /**
   * portforward whose ports the engine will decide stream by stream (kubectl 1.35 names them only
   * inside the SPDY streams): at the request, an allow with `ports:` covers it and a deny/approve
   * with `ports:` does not touch it — each stream is then decided with its one port.
   */
  portsPerStream?: boolean;
}

function resourceMatches(globs: Glob[], r: KubeResourceRequest, allow: boolean): boolean {
  const stream = (STREAM_VERBS as readonly string[]).includes(r.subresource);
  const base = [r.resource, r.group ? `${r.resource}.${r.group}` : r.resource];
  // An allow of proxy or of a subresource that runs code or mints credentials names it literally.
  const usable = allow && needsLiteralResource(r) ? globs.filter((g) => g.literal) : globs;
  if (!r.subresource || stream) return usable.some((g) => base.some((b) => g.matches(b)));
  const withSub = base.map((b) => `${b}/${r.subresource}`);
  if (usable.some((g) => withSub.some((b) => g.matches(b)))) return true;
  // deny/approve on a resource touch its subresources.
  return !allow && globs.some((g) => base.some((b) => g.matches(b)));
}

function commandMatches(patterns: CommandPattern[] | null, cmd: ShellCommand, allow: boolean): boolean {
  if (cmd.kind === "unknown") return !allow;
  if (patterns === null) return !allow || !cmd.hidden;
  if (!allow && cmd.hidden) return true;
  return patterns.some((p) => (allow ? coversCommand(p, cmd) : touchesCommand(p, cmd)));
}

/** Does a matcher cover (allow) or touch (deny/approve) the request? */
export function kubeActionMatches(a: KubeActionMatcher, input: KubePolicyRequest, effect: Effect): boolean {
  const allow = effect === "allow";
  const req = input.request;
  if (req.kind === "nonresource") {
    // Discovery, OpenAPI, version and health: matched by `k8s.*` / `k8s.get` without object conditions.
    // Any other non-resource path (`/logs/…` — the control plane's log files —, `/debug/pprof/…`,
    // `/metrics`, an aggregated server's own paths) is no API object a verb names: no allow covers
    // it (its answer is passed through unread); deny/approve rules without conditions touch it.
    const plain = a.groups === null && a.resources === null && a.namespaces === null && a.names === null;
    if (req.category === "other") return !allow && plain && a.verbs === null;
    return plain && (a.verbs === null || a.verbs.has("get")) && req.method === "GET";
  }
  if (a.verbs === null) {
    if (allow && EXPLICIT_ALLOW_VERBS.has(req.verb)) return false;
  } else if (!a.verbs.has(req.verb)) return false;
  if (a.groups && !a.groups.has(req.group)) return false;
  if (a.resources ? !resourceMatches(a.resources, req, allow) : allow && needsLiteralResource(req)) return false;
  // The kubelet API behind nodes/proxy runs commands in pods unread: no allow reaches past its reads.
  if (allow && kubeletBeyondReads(req)) return false;
  if (a.namespaces) {
    if (req.namespace === "") {
      if (allow) return false;
    } else if (!a.namespaces.some((g) => g.matches(req.namespace))) return false;
  }
  if (a.names) {
    const name = req.name || (req.verb === "create" ? (input.bodyName ?? "") : (selectedName(req) ?? ""));
    if (name === "") {
      if (allow) return false;
    } else if (!a.names.some((g) => g.matches(name))) return false;
  }
  if (req.verb === "exec") {
    const cmds = input.commands?.commands;
    if (!cmds || cmds.length === 0) return !allow;
    if (allow) return cmds.every((c) => commandMatches(a.commands, c, true));
    return cmds.some((c) => commandMatches(a.commands, c, false));
  }
  if (a.ports) {
    if (input.portsPerStream) return allow;
    const ports = input.ports ?? (req.ports.length > 0 ? req.ports : null);
    if (!ports || ports.length === 0) return !allow;
    return allow ? ports.every((p) => a.ports!.has(p)) : ports.some((p) => a.ports!.has(p));
  }
  return true;
}

/** The rule shape the decision needs (a subset of the compiled policy's rule). */
export interface KubeRuleView {
  name: string;
  effect: Effect;
  actions: ReadonlyArray<{ protocol: string }>;
  approversRaw: unknown;
  approvalTimeoutMs: number | null;
  requiredApprovals: number;
}

const VERB: Record<Effect, string> = { allow: "allows", deny: "denies", approve: "requires approval for" };

/** One decision per request: the strictest matching rule wins; nothing matching = default deny. */
export function decideKubeRequest<R extends KubeRuleView>(input: ConnectInput & KubePolicyRequest, rules: readonly R[], ruleRef: (r: R) => string, who: string, gated: readonly R[] = []): Decision {
  const kube = (r: R) => r.actions.filter((a): a is KubeActionMatcher => a.protocol === "k8s");
  const matched = rules.filter((r) => kube(r).some((a) => kubeActionMatches(a, input, r.effect)));
  const fwd = input.request.kind === "resource" && input.request.verb === "portforward" ? (input.ports ?? input.request.ports) : [];
  // A create decided on its body names the object it would make.
  const named = input.request.kind === "resource" && input.request.verb === "create" && !input.request.name && input.bodyName ? { ...input.request, name: input.bodyName } : input.request;
  const what = `${describeKubeRequest(named)}${fwd.length > 0 ? ` (port${fwd.length > 1 ? "s" : ""} ${fwd.join(", ")})` : ""}`;
  // When the shell reads more commands than argv shows (`sh -c '…'`), name them.
  const cmds = input.commands?.commands ?? [];
  const exec = input.request.kind === "resource" && input.request.verb === "exec" && cmds.length > 1 ? ` (runs: ${cmds.map(describeCommand).join("; ")})` : "";
  const list: MatchedRule[] = matched.map((r) => ({ rule: r.name, effect: r.effect }));
  let winner: R | null = null;
  for (const r of matched) if (!winner || EFFECT_RANK[r.effect] > EFFECT_RANK[winner.effect]) winner = r;
  if (!winner) {
    const hint = gated.find((r) => r.effect === "allow" && kube(r).some((a) => kubeActionMatches(a, input, "allow")));
    const grant = hint ? ` (rule '${hint.name}' would allow it with an active grant for ${input.resource.name})` : "";
    return { effect: "deny", rule: null, reason: `no rule allows ${what}${exec} on ${input.resource.name} for ${who}; default deny${grant}`, matched: list };
  }
  const decision: Decision = { effect: winner.effect, rule: winner.name, reason: `${ruleRef(winner)} ${VERB[winner.effect]} ${what}${exec} on ${input.resource.name}`, matched: list };
  if (winner.effect === "approve") {
    const approval: ApprovalRequirement = { rule: winner.name, approvers: winner.approversRaw, timeoutMs: winner.approvalTimeoutMs, required: winner.requiredApprovals };
    decision.approvals = [approval];
  }
  return decision;
}

/** Kubernetes' rule kind (`k8s.*` actions, `{ k8s: {…} }`), plugged into the policy engine by protocols/kubernetes/module.ts. */
export const kubernetesActionKind: ActionKind<KubePolicyRequest> = {
  namespace: "k8s",
  compileName: (text) => compileKubeActionName(text),
  compileMap: (value, effect) => compileKubeActionMap(value, effect),
  decide: (input, applicable, ruleRef, who) =>
    decideKubeRequest({ identity: input.identity, resource: input.resource, activeGrants: input.activeGrants, ...input.request }, applicable.rules, ruleRef, who, applicable.gated),
};
