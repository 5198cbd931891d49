/**
 * What an approver of a held HTTP request sees is the whole request the approval binds: curl sends
 * a body whose decisive part lies past its first 2 KiB, the approver reads the request through the
 * gateway's REST API (as `gatehouse approvals show` does), and the real upstream
 * (client/dev/demo-http.ts, which echoes what it deployed) tells what ran. A body too long to show
 * whole is refused, never held with a cut. The demo policy holds `POST /deploy/*`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { startDemoHttp, type DemoHttp } from "../../client/dev/demo-http.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import type { HttpResourceConfig } from "../../connector/config.ts";

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let stack: TestStack;
let api: DemoHttp;
let conn: TestConnection;
let base: string;
let auth: string;
let alice: string;

beforeAll(async () => {
  api = await startDemoHttp();
  const resource: HttpResourceConfig = { name: "demo-http", type: "http", labels: { env: "demo" }, url: new URL(api.url), credential: { kind: "bearer", token: () => api.token }, dropCookies: true, identityHeaders: true };
  stack = await startTestStack({ extraResources: [resource], verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  conn = await stack.connect("demo-http", { sub: "pipeline-deploy" });
  base = `http://127.0.0.1:${conn.port}`;
  auth = `gatehouse:${conn.password}`;
  alice = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await api?.stop();
});

describe("a held HTTP request is shown to approvers whole", () => {
  it("the part of the body past its first 2 KiB and the forwarded headers are shown, invisible characters as marks; what ran is what was shown", async () => {
    // A body that looks harmless in its first 2 KiB and decides in its tail (a JSON key after padding).
    const body = `{"version":"1.2.3",${" ".repeat(3000)}"force":true,"note":"ok\u202e"}`;
    const logsBefore = conn.logs.length;
    // A header the upstream may act on goes with it: approvers see that it is there.
    const pending = curl(["-u", auth, "-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Deploy-Force: yes", "--data-binary", body, `${base}/deploy/prod`]);
    const id = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore).join("\n"))?.[1], "the hold notice in the listener log");
    const approved = await gatehouse(["approvals", "approve", id, "--reason", "release"], { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: alice });
    expect(approved.code, approved.stderr).toBe(0);
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    // The upstream's own echo: the whole body ran, tail included.
    expect(JSON.parse(r.stdout)).toEqual({ deployed: "prod", body });
    // … and the approver was shown all of it (the request as `gatehouse approvals show` reads it).
    const shown = await fetch(`${stack.gatewayUrl}/v1/approvals/${id}`, { headers: { authorization: `Bearer ${alice}` } });
    expect(shown.status).toBe(200);
    const statement = ((await shown.json()) as { request: { statement: { text: string } } }).request.statement.text;
    expect(statement).toContain('"force":true');
    // The headers forwarded with it, as the trail records them: recorded values masked, the rest by name.
    const head = statement.slice(0, statement.indexOf("\n\n")).split("\n");
    expect(head[0]).toBe("POST /deploy/prod");
    expect(head).toEqual(expect.arrayContaining(["content-type: application/json", "x-deploy-force: …"]));
    expect(statement).toContain("<U+202E>");
    expect(statement).not.toContain("\u202e");
  });

  it("a body too long to show whole is refused with 413, not held; the upstream never sees it", async () => {
    const before = api.deployments.length;
    const logsBefore = conn.logs.length;
    const body = `{"version":"1.2.3","pad":"${"x".repeat(70 * 1024)}"}`;
    const r = await curl(["-u", auth, "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, "-w", "\n%{http_code}", `${base}/deploy/staging`]);
    expect(r.stdout.trim().split("\n").pop()).toBe("413");
    expect(conn.logs.slice(logsBefore).join("\n")).not.toMatch(/held for approval/);
    expect(api.deployments.length).toBe(before);
  });
});
