/**
 * HTTP through the real gateway: the real worker (wrangler dev), connector, client listener, and
 * the real `curl` and Node `fetch` against a real upstream (client/dev/demo-http.ts) that requires
 * a bearer token only the connector holds. The demo policy (examples/policies/demo.yaml) decides.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import WebSocket from "ws";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { startDemoHttp, type DemoHttp } from "../../client/dev/demo-http.ts";
import { eventually, gatehouse } from "../e2e/helpers.ts";
import type { HttpResourceConfig } from "../../connector/config.ts";
import { startTcpCapture } from "../harness/tcp-capture.ts";
import { startConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { TEST_LISTENER_CREDENTIALS } from "../harness/listener-auth.ts";

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Raw bytes to the listener, everything it answers until it closes (or a quiet second). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, "127.0.0.1");
    let out = "";
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, 3000);
    };
    s.on("data", (d) => {
      out += d.toString("latin1");
      arm();
    });
    s.on("close", done);
    s.on("error", done);
    s.on("connect", () => {
      s.write(bytes, "latin1");
      arm();
    });
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
  const resource: HttpResourceConfig = {
    name: "demo-http",
    type: "http",
    labels: { env: "demo" },
    url: new URL(api.url),
    credential: { kind: "bearer", token: () => api.token },
    dropCookies: true,
    identityHeaders: true,
  };
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

describe("HTTP through the gateway (curl, fetch, real upstream)", () => {
  it("curl GET reaches an upstream that needs a credential the client never had; JSON comes back masked", async () => {
    // The client's own Authorization (curl lets -H override -u, so the secret goes as the header) is dropped.
    const r = await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, "-H", "Authorization: Bearer client-forged", "-H", "X-Forwarded-For: 10.6.6.6", "-H", "X-Gatehouse-Identity: admin", `${base}/customers`]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.customers).toHaveLength(3);
    expect(body.customers[0].name).toBe("Ada Lovelace");
    expect(body.customers[0].card_number).toBe("***************1111");
    expect(body.customers[0].email).not.toContain("ada@example.com");
    expect(body.customers[0].api_token).toBe("[REDACTED]");
    // The upstream saw the connector's credential, the identity headers, and nothing of the client's own.
    const seen = api.seen.findLast((s) => s.url === "/customers")!;
    expect(seen.headers.authorization).toBe(`Bearer ${api.token}`);
    expect(seen.headers["x-gatehouse-identity"]).toBe("pipeline-deploy");
    expect(seen.headers["x-gatehouse-listener-token"]).toBeUndefined();
    expect(seen.headers["x-forwarded-for"]).toBeUndefined();
  });

  it("Node fetch with the listener token header; gzip JSON is decoded and masked", async () => {
    const res = await fetch(`${base}/customers.gz`, { headers: { "X-Gatehouse-Listener-Token": conn.password } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBeNull();
    const body = (await res.json()) as { customers: Array<Record<string, string>> };
    expect(body.customers[1].card_number).toBe("***************0004");
    expect(JSON.stringify(body)).not.toMatch(/ghp_|@example\.org/);
  });

  it("DELETE is refused with 403 problem+json naming the rule; nothing reaches the upstream", async () => {
    const before = api.seen.length;
    const r = await curl(["-u", auth, "-X", "DELETE", "-w", "\n%{http_code} %{content_type}", `${base}/customers/1`]);
    const lines = r.stdout.trim().split("\n");
    const status = lines.pop();
    const body = lines.join("\n");
    expect(status).toBe("403 application/problem+json");
    expect(JSON.parse(body!)).toMatchObject({ status: 403, rule: "demo-http-no-delete" });
    expect(api.seen.length).toBe(before);
  });

  it("a request without the listener secret is refused locally with 401", async () => {
    const r = await curl(["-w", "%{http_code}", "-o", "/dev/null", `${base}/customers`]);
    expect(r.stdout).toBe("401");
    const wrong = await curl(["-u", "gatehouse:wrong", "-w", "%{http_code}", "-o", "/dev/null", `${base}/customers`]);
    expect(wrong.stdout).toBe("401");
  });

  it("POST /deploy/prod is held while curl waits, then forwarded exactly once after approval", async () => {
    const logsBefore = conn.logs.length;
    const pending = curl(["-u", auth, "-X", "POST", "-H", "Content-Type: application/json", "--data", '{"version":"1.2.3"}', `${base}/deploy/prod`]);
    const id = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore).join("\n"))?.[1], "the hold notice in the listener log");
    expect(api.deployments).not.toContain("prod");
    const approved = await gatehouse(["approvals", "approve", id, "--reason", "release"], { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: alice });
    expect(approved.code, approved.stderr).toBe(0);
    const r = await pending;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ deployed: "prod", body: '{"version":"1.2.3"}' });
    expect(api.deployments.filter((d) => d === "prod")).toHaveLength(1);
  });

  it("a denied approval answers 403 and the upstream never sees the request", async () => {
    const logsBefore = conn.logs.length;
    const pending = curl(["-u", auth, "-X", "POST", "-w", "\n%{http_code}", `${base}/deploy/staging`]);
    const id = await eventually(async () => /held for approval (\S+)/.exec(conn.logs.slice(logsBefore).join("\n"))?.[1], "the hold notice");
    const denied = await gatehouse(["approvals", "deny", id, "--reason", "change freeze"], { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: alice });
    expect(denied.code, denied.stderr).toBe(0);
    const r = await pending;
    expect(r.stdout).toMatch(/403$/);
    expect(r.stdout).toContain("change freeze");
    expect(api.deployments).not.toContain("staging");
  });

  it("keep-alive: several requests on one connection, the session survives a refusal", async () => {
    const out = await raw(
      conn.port,
      `GET /customers/2 HTTP/1.1\r\nHost: x\r\nX-Gatehouse-Listener-Token: ${conn.password}\r\n\r\n` +
        `DELETE /customers/2 HTTP/1.1\r\nHost: x\r\nX-Gatehouse-Listener-Token: ${conn.password}\r\n\r\n` +
        `GET /customers/3 HTTP/1.1\r\nHost: x\r\nX-Gatehouse-Listener-Token: ${conn.password}\r\nConnection: close\r\n\r\n`,
    );
    expect(out.match(/^HTTP\/1\.1 (\d+)/gm)).toEqual(["HTTP/1.1 200", "HTTP/1.1 403", "HTTP/1.1 200"]);
    expect(out).toContain("Grace Hopper");
    expect(out).toContain("Alan Turing");
  });

  it("server-sent events stream through, masked", async () => {
    const r = await curl(["-u", auth, "-N", `${base}/events`]);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/event: tick/g)).toHaveLength(3);
    expect(r.stdout).not.toContain("ops@example.com");
  });

  it("WebSocket upgrade allowed by the rule that names it: echo works through the gateway", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${conn.port}/ws`, { headers: { "X-Gatehouse-Listener-Token": conn.password } });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on("open", () => ws.send("hello through the gateway"));
      ws.on("message", (d) => resolve(d.toString()));
      ws.on("error", reject);
      ws.on("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    ws.close();
    expect(echoed).toBe("hello through the gateway");
  });

  it("a WebSocket upgrade to a path no rule allows is refused with 403", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${conn.port}/customers`, { headers: { "X-Gatehouse-Listener-Token": conn.password } });
    const status = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => resolve(-1));
    });
    expect(status).toBe(403);
  });

  it("the upstream credential never crosses to the client side (byte capture of the client ↔ gateway hop and of what curl receives)", async () => {
    const capture = await startTcpCapture(Number(new URL(stack.gatewayUrl).port));
    const listener = await startConnectListener({
      gateway: `http://127.0.0.1:${capture.port}`,
      resource: "demo-http",
      port: 0,
      tokenSource: staticTokenSource(await stack.mintToken({ sub: "capture" }), "test"),
      log: () => {},
      credentials: TEST_LISTENER_CREDENTIALS,
    });
    try {
      const r = await curl(["-i", "-u", `gatehouse:${listener.auth.password}`, `http://127.0.0.1:${listener.port}/customers`, `http://127.0.0.1:${listener.port}/customers.gz`, `http://127.0.0.1:${listener.port}/nope`]);
      expect(r.stdout).toContain("Ada Lovelace");
      expect(api.seen.findLast((x) => x.url === "/nope")?.headers.authorization).toBe(`Bearer ${api.token}`);
      const seen = capture.bytes().toString("latin1");
      expect(seen).toContain("/customers");
      for (const where of [seen, r.stdout, r.stderr]) {
        expect(where).not.toContain(api.token);
        expect(where).not.toContain(Buffer.from(api.token).toString("base64"));
      }
      // Nor did the listener secret leave the machine.
      expect(seen).not.toContain(listener.auth.password);
    } finally {
      await listener.close();
      await capture.stop();
    }
  });
});

describe("hostile HTTP through the real listener and gateway", () => {
  const smuggling: Array<[string, string]> = [
    ["CL + TE", "POST /customers HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["duplicate Content-Length", "POST /customers HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"],
    ["TE gzip,chunked", "POST /customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
    ["obs-fold", "GET /customers HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"],
    ["bare LF", "GET /customers HTTP/1.1\nHost: x\r\n\r\n"],
    ["space before colon", "GET /customers HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n"],
    ["absolute-form to another host", "GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["CONNECT", "CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\n\r\n"],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["encoded slash", "GET /customers%2F..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n"],
  ];
  for (const [name, request] of smuggling) {
    it(`${name}: 400 before anything reaches the upstream`, async () => {
      const before = api.seen.length;
      // The listener secret goes first so the request is judged on its shape, not refused for auth.
      const withSecret = request.replace("\r\n", `\r\nX-Gatehouse-Listener-Token: ${conn.password}\r\n`);
      const out = await raw(conn.port, withSecret);
      expect(out).toMatch(/^HTTP\/1\.1 400 /);
      expect(out).toContain("application/problem+json");
      expect(api.seen.length).toBe(before);
    });
  }

  it("dot segments and encodings are normalised: the upstream receives exactly the path the policy checked", async () => {
    const r = await curl(["--path-as-is", "-u", auth, `${base}/x/../customers/%32`]);
    expect(JSON.parse(r.stdout).name).toBe("Grace Hopper");
    expect(api.seen.at(-1)!.url).toBe("/customers/2");
    // A DELETE spelled to dodge the rule is still the DELETE the rule names.
    const before = api.seen.length;
    const d = await curl(["--path-as-is", "-u", auth, "-X", "DELETE", "-w", "%{http_code}", "-o", "/dev/null", `${base}//customers/./1`]);
    expect(d.stdout).toBe("403");
    expect(api.seen.length).toBe(before);
  });
});

describe("HTTP sessions in the trail", () => {
  it("sessions show/replay render each exchange (method, path, decision and rule, status, masked body); the chain verifies", async () => {
    const r = await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, `${base}/customers/1`, "-X", "GET"]);
    expect(JSON.parse(r.stdout).name).toBe("Ada Lovelace");
    await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, "-X", "DELETE", `${base}/customers/1`]);
    const env = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
    const list = await gatehouse(["sessions", "list", "--identity", "pipeline-deploy", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    const parsed = JSON.parse(list.stdout);
    const all = ((Array.isArray(parsed) ? parsed : parsed.sessions) as Array<{ id: string }>).map((x) => x.id);
    expect(all.length).toBeGreaterThanOrEqual(2);
    // The newest and the oldest few (whatever the listing order): the last GET and the early DELETE.
    const ids = [...new Set([...all.slice(0, 4), ...all.slice(-4)])];
    const shows = (await Promise.all(ids.map((id) => gatehouse(["sessions", "show", id], env)))).map((x) => x.stdout).join("\n");
    expect(shows).toContain("GET /customers/1");
    expect(shows).toContain("demo-http-no-delete");
    expect(shows).toContain("HTTP 200");
    const replays = (await Promise.all(ids.map((id) => gatehouse(["sessions", "replay", id], env)))).map((x) => x.stdout).join("\n");
    expect(replays).toContain("<= HTTP 200 application/json");
    expect(replays).toContain("Ada Lovelace");
    expect(replays).not.toContain("4111 1111 1111 1111");
    expect(replays).not.toContain("ada@example.com");
    expect(replays).not.toContain(api.token);
    const verified = await gatehouse(["sessions", "verify", ids[ids.length - 1]!], env);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  }, 180_000);
});

/*
 * What an approver of a held HTTP request sees is the whole request the approval binds: curl sends
 * a body whose decisive part lies past its first 2 KiB, the approver reads the request through the
 * gateway's REST API (as `gatehouse approvals show` does), and the upstream's echo of what it
 * deployed tells what ran. A body too long to show whole is refused, never held with a cut. The
 * demo policy holds `POST /deploy/*`.
 */
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
