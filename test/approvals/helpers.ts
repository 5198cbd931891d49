/** Shared pieces of the approvals end-to-end tests: a local webhook receiver, the CLI, the stack. */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { execFile } from "node:child_process";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { startLocalStack, REPO_ROOT, type LocalStack } from "../../client/dev/stack.ts";

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  status: number;
}

/** Answers 500 to the first `failFirst` requests on /hook, then 200; records everything. */
export async function startReceiver(failFirst: number): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  let hookCalls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let status = 200;
      if (req.url === "/hook" && hookCalls++ < failFirst) status = 500;
      received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "try later");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

/** What a receiver does (docs/APPROVALS.md): HMAC over "<timestamp>.<raw body>", constant-time compare, 5-minute window. */
export function verifySignature(r: Received, secret: string): boolean {
  const ts = String(r.headers["x-gatehouse-timestamp"] ?? "");
  const sig = String(r.headers["x-gatehouse-signature"] ?? "");
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const expected = Buffer.from(`v1=${createHmac("sha256", secret).update(`${ts}.${r.body}`).digest("hex")}`);
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A small policy: everyone from the dev issuer may connect and read; writes need a grant. */
export function grantPolicy(issuer: string, extra = ""): string {
  return `version: 1
roles:
  approver:
    - issuer: ${issuer}
      claims: { groups: approvers }
rules:
  - name: dev-connect
    effect: allow
    subjects: [{ issuer: ${issuer} }]
    resources: [demo-pg]
    actions: [connect, sql.read]
  - name: writes-with-grant
    effect: allow
    requires: grant
    subjects: [{ issuer: ${issuer} }]
    resources: [demo-pg]
    actions: [sql.write]
${extra}`;
}

/** The worker, the dev issuer on a fixed port (identities survive a restart), no connector: approvals need no database. */
export function startApprovalsStack(home: string, issuerPort: number, policyYaml: string, workerVars: Record<string, string> = {}): Promise<LocalStack> {
  return startLocalStack({
    home,
    gatewayPort: 0,
    issuerPort,
    pg: { host: "127.0.0.1", port: 5432, database: "postgres", user: "postgres", password: "unused" },
    connector: false,
    policyYaml,
    workerVars,
  });
}

export function cli(args: string[], token: string, gateway: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, "bin/gatehouse.mjs"), ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, GATEHOUSE_TOKEN: token, GATEHOUSE_URL: gateway }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export async function api(gateway: string, method: string, p: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${gateway}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
