/**
 * `gatehouse doctor [resource] [--gateway URL] [--json]` — checks what a session needs, in the
 * order a newcomer trips over it, and says what to fix: an identity token (and how long it has
 * left), a reachable gateway that is ready (its configuration errors if not), the clock against
 * the gateway's, that the gateway trusts the token and can see the resource (and a connector
 * serves it), and the local tools (psql, ssh, scp, sftp). Exit 0 when nothing failed, else 1.
 */
import { execFile } from "node:child_process";
import { decodeJwt } from "jose";
import { parseArgs } from "../args.ts";
import { UsageError, describeError } from "../errors.ts";
import { resolveTokenSource } from "../auth/token-source.ts";
import { DEFAULT_GATEWAY, GatewayClient, parseGatewayUrl } from "../gateway/api.ts";
import { GatewayHttpError } from "../errors.ts";
import { colourEnabled, paint } from "../colour.ts";
import { EXIT } from "../exit-codes.ts";
import type { CommandIO } from "./io.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it (warn/fail). */
  fix?: string;
}

/** Largest clock difference with the gateway before tokens start failing (the gateway's default skew allowance). */
export const MAX_CLOCK_SKEW_SECONDS = 30;
const LOCAL_TOOLS = ["psql", "ssh", "scp", "sftp"];

export const DOCTOR_USAGE = `usage: gatehouse doctor [resource] [--gateway URL] [--audience A] [--json]
  checks the identity token, the gateway (reachable, ready, clock), that it trusts the token and
  sees the resource, and the local client tools; prints what to fix. Exit 0 ok, 1 a check failed.
`;

function onPath(tool: string): Promise<boolean> {
  return new Promise((resolve) => execFile("sh", ["-c", 'command -v "$1"', "sh", tool], (err) => resolve(!err)));
}

export async function runChecks(opts: { env: NodeJS.ProcessEnv; gateway: string; audience?: string; resource?: string }): Promise<Check[]> {
  const checks: Check[] = [];
  // 1. Token.
  let token: string | undefined;
  try {
    token = await resolveTokenSource({ env: opts.env, audience: opts.audience }).getToken();
    const claims = decodeJwt(token);
    const left = typeof claims.exp === "number" ? claims.exp - Math.floor(Date.now() / 1000) : undefined;
    const who = `sub ${JSON.stringify(claims.sub)}, iss ${claims.iss}`;
    if (left === undefined) checks.push({ name: "token", status: "fail", detail: `${who}: no expiry`, fix: "get a token from your CI's OIDC provider or `gatehouse dev token`" });
    else if (left <= 0) checks.push({ name: "token", status: "fail", detail: `${who}: expired ${-left}s ago`, fix: "export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)  (locally), or re-run the CI job" });
    else checks.push({ name: "token", status: left < 120 ? "warn" : "ok", detail: `${who}, expires in ${Math.floor(left / 60)}m${left % 60}s`, ...(left < 120 ? { fix: "get a fresh token before starting long work" } : {}) });
  } catch (err) {
    checks.push({ name: "token", status: "fail", detail: describeError(err), fix: "export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)  (locally; in CI see docs/CONFIGURATION.md)" });
  }

  // 2. Gateway reachable and ready; 3. clock.
  const base = parseGatewayUrl(opts.gateway);
  let reachable = false;
  try {
    const res = await fetch(new URL("healthz", base), { signal: AbortSignal.timeout(10_000), redirect: "error" });
    reachable = true;
    const body = (await res.json().catch(() => ({}))) as { errors?: unknown };
    if (res.status === 200) checks.push({ name: "gateway", status: "ok", detail: `${base.origin} is ready` });
    else {
      const errors = Array.isArray(body.errors) ? body.errors.map(String).join("; ") : `HTTP ${res.status}`;
      checks.push({ name: "gateway", status: "fail", detail: `${base.origin} is not ready: ${errors}`, fix: "fix the gateway's configuration (the errors name file:line:col), then restart it" });
    }
    const date = res.headers.get("date");
    if (date) {
      const skew = Math.round((Date.now() - Date.parse(date)) / 1000);
      const bad = Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS;
      checks.push({ name: "clock", status: bad ? "fail" : "ok", detail: `${Math.abs(skew)}s ${skew >= 0 ? "ahead of" : "behind"} the gateway`, ...(bad ? { fix: "synchronise this machine's clock (NTP): tokens are checked against the gateway's time" } : {}) });
    } else checks.push({ name: "clock", status: "skip", detail: "the gateway sent no Date header" });
  } catch (err) {
    checks.push({ name: "gateway", status: "fail", detail: `cannot reach ${base.origin}: ${describeError(err)}`, fix: `start it (locally: npm start) or point GATEHOUSE_URL / --gateway at it (default ${DEFAULT_GATEWAY})` });
    checks.push({ name: "clock", status: "skip", detail: "needs the gateway" });
  }

  // 4. The gateway trusts the token and sees the resource.
  if (!token || !reachable) checks.push({ name: "resource", status: "skip", detail: "needs a token and the gateway" });
  else if (!opts.resource) checks.push({ name: "resource", status: "skip", detail: "name a resource to check it: gatehouse doctor demo-pg" });
  else {
    try {
      const r = await new GatewayClient(base).describeResource(opts.resource, token);
      checks.push(
        r.online
          ? { name: "resource", status: "ok", detail: `${r.name} (${r.type}) is served by a connector` }
          : { name: "resource", status: "fail", detail: `${r.name} (${r.type}) is known but no connector serving it is online`, fix: "start the connector that holds it (gatehouse-connector --config …)" },
      );
    } catch (err) {
      const e = err instanceof GatewayHttpError ? err : undefined;
      const fix =
        e?.status === 401
          ? "the gateway does not trust this token: locally, mint it with the same GATEHOUSE_HOME as npm start (see its banner); in CI, check the issuer and audience"
          : e?.status === 404
            ? "check the name (ask your admin which resources exist); the connector must advertise it"
            : e?.status === 503
              ? "the gateway is misconfigured: see its /healthz"
              : undefined;
      checks.push({ name: "resource", status: "fail", detail: describeError(err), ...(fix ? { fix } : {}) });
    }
  }

  // 5. Local tools.
  const missing: string[] = [];
  for (const tool of LOCAL_TOOLS) if (!(await onPath(tool))) missing.push(tool);
  checks.push(
    missing.length === 0
      ? { name: "tools", status: "ok", detail: `${LOCAL_TOOLS.join(", ")} found` }
      : { name: "tools", status: "warn", detail: `not on PATH: ${missing.join(", ")}`, fix: "install the PostgreSQL client (psql) and OpenSSH client (ssh, scp, sftp) for the resources you use" },
  );
  return checks;
}

export async function doctorCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, help: { kind: "boolean", short: "h" } });
  if (args.booleans.has("help")) {
    io.stdout(DOCTOR_USAGE);
    return EXIT.OK;
  }
  if (args.positionals.length > 1) throw new UsageError("doctor takes at most one resource name");
  const checks = await runChecks({ env: io.env, gateway: args.strings.get("gateway") ?? io.env.GATEHOUSE_URL ?? DEFAULT_GATEWAY, audience: args.strings.get("audience"), resource: args.positionals[0] });
  const failed = checks.some((c) => c.status === "fail");
  if (args.booleans.has("json")) {
    io.stdout(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  } else {
    const p = paint(colourEnabled(process.stdout, io.env));
    const mark = { ok: p.ok("ok  "), warn: p.warn("warn"), fail: p.bad("FAIL"), skip: "skip" };
    for (const c of checks) io.stdout(`${mark[c.status]}  ${c.name.padEnd(9)}${c.detail}\n${c.fix ? `      fix: ${c.fix}\n` : ""}`);
  }
  return failed ? EXIT.ERROR : EXIT.OK;
}
