/**
 * `gatehouse policy test|validate` — evaluate a policy offline, without a gateway.
 *
 *   gatehouse policy validate --policy policy.yaml
 *   gatehouse policy test --policy policy.yaml (--token-claims claims.json | --token token.jwt)
 *       --resource pg-prod [--type postgres] [--labels env=prod,tier=db] [--grant pg-prod]
 *       [--sql "select 1; drop table t" | --sql-file q.sql] [--expect allow|deny|approve] [--json]
 *
 * Exit codes (test): 0 allow, 1 deny, 3 approve, 2 could not decide (usage error, unreadable input,
 * invalid policy, any other failure — never 1, so a crash cannot pass a CI check expecting "deny").
 * With --expect: 0 when the decision's effect is the expected one, 1 when it is not.
 * Exit codes (validate): 0 valid, 2 invalid.
 *
 * The claims are NOT verified here — this is a simulation of what the gateway decides for a token
 * carrying them. SQL is split and classified by the same WASM classifier the gateway runs.
 */
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import { readFile } from "node:fs/promises";
import { parseArgs } from "../args.ts";
import { UsageError } from "../errors.ts";
import { localDevIssuerId } from "../dev/issuer.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { ClassifiedStatement } from "../../parsers/sql/types.ts";
import {
  EFFECT_RANK,
  EFFECTS,
  formatDuration,
  formatPolicyErrors,
  loadPolicy,
  type CompiledPolicy,
  type Decision,
  type Effect,
} from "../../parsers/policy/index.ts";
import { base64urlDecode } from "../../parsers/encoding/hex-base64.ts";

export interface PolicyCommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const POLICY_USAGE = `usage:
  gatehouse policy test --policy FILE (--token-claims FILE | --token FILE) --resource NAME
                        [--type postgres] [--labels k=v,k2=v2] [--grant RESOURCE ...]
                        [--sql "SQL" | --sql-file FILE] [--expect allow|deny|approve] [--json]
                        [--dev-issuer URL]
      decide what the policy does for an identity with these token claims on this resource:
      connect, and with --sql each statement. Claims are not verified (simulation only).
      exit code: 0 allow, 1 deny, 3 approve, 2 usage error or invalid policy;
      with --expect: 0 if the effect is the expected one, else 1
      'issuer: dev' in the policy stands for --dev-issuer (default: the local development issuer)
  gatehouse policy validate --policy FILE
      check a policy and print its hash; exit code 0 valid, 2 invalid
`;

export const EXIT_ALLOW = 0;
export const EXIT_DENY = 1;
export const EXIT_USAGE = 2;
export const EXIT_APPROVE = 3;

/** Bounds on what the command reads, so a wrong path (a disk image…) fails fast. */
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

const EFFECT_EXIT: Record<Effect, number> = { allow: EXIT_ALLOW, deny: EXIT_DENY, approve: EXIT_APPROVE };

export async function policyCommand(argv: string[], io: PolicyCommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout(POLICY_USAGE);
    return 0;
  }
  try {
    switch (sub) {
      case "test":
        return await policyTest(rest, io);
      case "validate":
        return await policyValidate(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout(POLICY_USAGE);
        return 0;
      case undefined:
        io.stderr(POLICY_USAGE);
        return EXIT_USAGE;
      default:
        throw new UsageError(`unknown policy command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.policy!)}`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) {
      io.stderr(`gatehouse policy: ${err.message}\n${err instanceof UsageError ? POLICY_USAGE : ""}`);
      return EXIT_USAGE;
    }
    // Anything else is also "could not decide" (2), never 1: CI scripts read 1 as "denied", and a
    // crash must not pass a check that expects a denial.
    io.stderr(`gatehouse policy: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_USAGE;
  }
}

/** A file that cannot be read or parsed: exit code 2 like a usage error, without the usage text. */
class InputError extends Error {
  override name = "InputError";
}

async function readInput(path: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (buf.length > MAX_INPUT_BYTES) throw new InputError(`${what} ${path} is larger than ${MAX_INPUT_BYTES} bytes`);
  return buf.toString("utf8");
}

/**
 * What `issuer: dev` stands for in this simulation: `--dev-issuer URL` (repeatable), else the
 * local development issuer `gatehouse dev token` signs as. A real gateway decides this from its own
 * configuration (issuers marked `dev: true`), never from the policy.
 */
async function devIssuersFor(flag: string[] | undefined): Promise<string[]> {
  return flag && flag.length > 0 ? flag : [await localDevIssuerId()];
}

async function loadPolicyFile(path: string, io: PolicyCommandIO, devIssuers: string[]): Promise<CompiledPolicy | null> {
  const text = await readInput(path, "policy");
  const result = await loadPolicy(text, path, { devIssuers });
  if (!result.ok) {
    io.stderr(`${formatPolicyErrors(result.errors)}\ngatehouse policy: ${path} is invalid (${result.errors.length} error${result.errors.length === 1 ? "" : "s"})\n`);
    return null;
  }
  return result.policy;
}

async function policyValidate(argv: string[], io: PolicyCommandIO): Promise<number> {
  const args = parseArgs(argv, { policy: { kind: "string" }, json: { kind: "boolean" }, "dev-issuer": { kind: "list" } });
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const path = args.strings.get("policy");
  if (!path) throw new UsageError("--policy is required");
  const policy = await loadPolicyFile(path, io, await devIssuersFor(args.lists.get("dev-issuer")));
  if (!policy) return EXIT_USAGE;
  if (args.booleans.has("json")) {
    io.stdout(`${JSON.stringify({ source: policy.source, hash: policy.hash, rules: policy.ruleNames, roles: policy.roleNames })}\n`);
  } else {
    io.stdout(`${path}: valid, ${policy.ruleNames.length} rule${policy.ruleNames.length === 1 ? "" : "s"}, sha256 ${policy.hash}\n`);
  }
  return 0;
}

async function policyTest(argv: string[], io: PolicyCommandIO): Promise<number> {
  const args = parseArgs(argv, {
    policy: { kind: "string" },
    "token-claims": { kind: "string" },
    token: { kind: "string" },
    resource: { kind: "string" },
    type: { kind: "string" },
    labels: { kind: "list" },
    grant: { kind: "list" },
    "dev-issuer": { kind: "list" },
    sql: { kind: "string" },
    "sql-file": { kind: "string" },
    expect: { kind: "string" },
    json: { kind: "boolean" },
  });
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const policyPath = args.strings.get("policy");
  if (!policyPath) throw new UsageError("--policy is required");
  const claimsPath = args.strings.get("token-claims");
  const tokenPath = args.strings.get("token");
  if (!claimsPath === !tokenPath) throw new UsageError("give exactly one of --token-claims FILE (JSON claims) or --token FILE (a JWT; its signature is not checked)");
  const resourceName = args.strings.get("resource");
  if (!resourceName) throw new UsageError("--resource is required");
  const type = args.strings.get("type") ?? "postgres";
  const labels = parseLabels(args.lists.get("labels") ?? []);
  const grants = args.lists.get("grant") ?? [];
  if (args.strings.has("sql") && args.strings.has("sql-file")) throw new UsageError("give --sql or --sql-file, not both");
  const expectText = args.strings.get("expect");
  if (expectText !== undefined && !(EFFECTS as readonly string[]).includes(expectText)) throw new UsageError(`--expect must be one of ${EFFECTS.join(", ")}`);
  const expect = expectText as Effect | undefined;

  const sqlFile = args.strings.get("sql-file");
  const sql = sqlFile !== undefined ? await readInput(sqlFile, "SQL file") : args.strings.get("sql");
  if (sql !== undefined && type !== "postgres") throw new UsageError(`--sql needs a postgres resource (--type is ${JSON.stringify(type)})`);

  const claims = claimsPath ? parseClaimsJson(await readInput(claimsPath, "claims file"), claimsPath) : decodeJwtClaims(await readInput(tokenPath!, "token file"), tokenPath!);
  const identity = identityFromClaims(claims);

  const policy = await loadPolicyFile(policyPath, io, await devIssuersFor(args.lists.get("dev-issuer")));
  if (!policy) return EXIT_USAGE;
  const resource: ResourceInfo = { name: resourceName, type, labels };

  const connect = policy.decideConnect({ identity, resource, activeGrants: grants });
  let statements: ClassifiedStatement[] | null = null;
  let sqlDecision: Decision | null = null;
  if (sql !== undefined) {
    statements = await classify(sql);
    sqlDecision = policy.decideSql({ identity, resource, statements, activeGrants: grants });
  }
  // The session has to be opened before any statement runs: the overall verdict is the stricter
  // of the two, and a refused or held connect is reported as such.
  const overall = sqlDecision && !(connect.effect !== "allow" && EFFECT_RANK[connect.effect] >= EFFECT_RANK[sqlDecision.effect]) ? sqlDecision : connect;
  const limits = policy.sessionLimits(identity, resource);
  const roles = policy.rolesOf(identity);
  const recording = policy.recordingMode(resource);
  // The database credential the connector would log in with (docs/POLICY.md, "Database access level").
  const access = type === "postgres" ? policy.sqlAccessLevel({ identity, resource, activeGrants: grants }) : null;

  if (args.booleans.has("json")) {
    io.stdout(
      `${JSON.stringify(
        {
          policy: { source: policy.source, hash: policy.hash },
          identity: { issuer: identity.issuer, subject: identity.subject },
          roles,
          resource,
          activeGrants: grants,
          limits,
          recording,
          ...(access ? { access } : {}),
          connect,
          ...(statements && sqlDecision
            ? { sql: { statements: statements.map((s, i) => ({ index: i, kind: s.kind, command: s.command, flags: s.flags, functions: s.functions, text: sql!.slice(s.start, s.end) })), decision: sqlDecision } }
            : {}),
          effect: overall.effect,
          rule: overall.rule,
          reason: overall.reason,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines: string[] = [];
    lines.push(`policy     ${policy.source} (sha256 ${policy.hash.slice(0, 16)}…)`);
    lines.push(`identity   sub '${identity.subject}', iss ${identity.issuer}`);
    lines.push(`roles      ${roles.length ? roles.join(", ") : "(none)"}`);
    const labelText = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
    lines.push(`resource   ${resource.name} (${resource.type}${labelText ? `, ${labelText}` : ""})${grants.length ? `, active grants: ${grants.join(", ")}` : ""}`);
    lines.push(`limits     max session ${limits.maxSessionMs === null ? "none" : formatDuration(limits.maxSessionMs)}, statement timeout ${limits.statementTimeoutMs === null ? "none" : formatDuration(limits.statementTimeoutMs)}; recording ${recording}`);
    if (access) lines.push(`access     ${access} (the connector logs in with the ${access} credential)`);
    lines.push(`connect    ${connect.effect.toUpperCase()}: ${connect.reason}`);
    if (statements && sqlDecision) {
      if (statements.length === 0) lines.push("sql        (empty query)");
      for (const s of sqlDecision.statements ?? []) {
        const stmt = statements[s.index]!;
        const flags = stmt.flags.length ? ` [${stmt.flags.join(", ")}]` : "";
        const fns = stmt.functions.length ? ` functions: ${stmt.functions.join(", ")}` : "";
        lines.push(`sql #${s.index + 1}     ${s.kind} ${s.command}${flags}${fns}: ${preview(sql!.slice(stmt.start, stmt.end))}`);
        lines.push(`           ${s.effect.toUpperCase()}: ${s.reason}`);
      }
    }
    lines.push(`decision   ${overall.effect.toUpperCase()}${overall.rule ? ` by rule '${overall.rule}'` : overall.reason === "empty query" ? "" : " (default deny)"}: ${overall.reason}`);
    if (overall.approvals) {
      for (const a of overall.approvals) {
        lines.push(`approval   rule '${a.rule}': approvers ${JSON.stringify(a.approvers)}${a.timeoutMs !== null ? `, timeout ${formatDuration(a.timeoutMs)}` : ""}`);
      }
    }
    io.stdout(`${lines.join("\n")}\n`);
  }

  if (expect !== undefined) {
    if (overall.effect === expect) return 0;
    io.stderr(`gatehouse policy: expected ${expect}, got ${overall.effect}: ${overall.reason}\n`);
    return 1;
  }
  return EFFECT_EXIT[overall.effect];
}

function parseLabels(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    for (const part of value.split(",")) {
      if (part.trim() === "") continue;
      const eq = part.indexOf("=");
      if (eq <= 0) throw new UsageError(`--labels expects k=v[,k=v...], got ${JSON.stringify(part)}`);
      const key = part.slice(0, eq).trim();
      if (Object.prototype.hasOwnProperty.call(labels, key)) throw new UsageError(`label ${key} given twice`);
      labels[key] = part.slice(eq + 1).trim();
    }
  }
  return labels;
}

function parseClaimsJson(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InputError(`${path} must hold a JSON object of token claims`);
  return value as Record<string, unknown>;
}

/** The payload of a JWT, unverified: policy test only simulates decisions. */
function decodeJwtClaims(text: string, path: string): Record<string, unknown> {
  const parts = text.trim().split(".");
  if (parts.length !== 3 || !parts[1]) throw new InputError(`${path} does not hold a JWT (header.payload.signature)`);
  let json: string;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(base64urlDecode(parts[1]));
  } catch {
    throw new InputError(`${path}: the JWT payload is not base64url-encoded UTF-8`);
  }
  return parseClaimsJson(json, `${path} (JWT payload)`);
}

function identityFromClaims(claims: Record<string, unknown>): Identity {
  if (typeof claims.iss !== "string" || claims.iss === "") throw new InputError("the token claims need a string 'iss' (issuer)");
  if (typeof claims.sub !== "string" || claims.sub === "") throw new InputError("the token claims need a string 'sub' (subject)");
  return { issuer: claims.iss, subject: claims.sub, claims };
}

/** The gateway's own classifier (WASM), loaded only when --sql is used. */
async function classify(sql: string): Promise<ClassifiedStatement[]> {
  const [{ createSqlClassifier }, { loadWasmModule }] = await Promise.all([import("../../wasm/loader/sql.ts"), import("../../wasm/loader/node.ts")]);
  let module: WebAssembly.Module;
  try {
    module = loadWasmModule("sql");
  } catch (err) {
    throw new InputError(`cannot load the SQL classifier (wasm/build/sql.wasm; run "npm run build:wasm"): ${(err as Error).message}`);
  }
  return createSqlClassifier(module).classify(sql);
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}
