/**
 * Attacks on the HTTP engine through the real gateway (attacker review).
 *
 * Method overrides: the real curl → `gatehouse connect`
 * listener → worker (wrangler dev) → connector → an upstream built with Hono's own
 * `methodOverride` middleware (hono/method-override, as in the Hono docs; Rails' Rack::MethodOverride,
 * Express' method-override, Symfony and ASP.NET read the same header or `_method`). The policy
 * allows POST /posts/** and denies every DELETE. A POST carrying `X-HTTP-Method-Override: DELETE`
 * (or `?_method=DELETE`) was decided as a POST and forwarded; the upstream ran its DELETE handler.
 * Ground truth: the upstream's own record of the handlers it ran.
 *
 * Double-encoded escapes built from single ones: `/public/%25%32%65%25%32%65/admin` normalised
 * (unreserved escapes decoded) became `/public/%252e%252e/admin` — the very double encoding the
 * codec refuses when sent as such — and was forwarded under a rule on `/public/**`; an upstream
 * that decodes twice reads `/public/../admin`. Ground truth: the raw paths the upstream received.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { methodOverride } from "hono/method-override";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import type { HttpResourceConfig } from "../../connector/config.ts";

const POLICY = readFileSync("examples/policies/demo.yaml", "utf8").replace(
  /^rules:\n/m,
  `rules:
  - name: override-posts-create
    effect: allow
    subjects: any
    resources: [override-http]
    actions: [connect, { http: { methods: [POST], paths: ["/posts/**"] } }, { http: { methods: [GET], paths: ["/public/**"] } }]

  - name: override-no-delete
    effect: deny
    subjects: any
    resources: [override-http]
    actions: [http.delete]

`,
).replace(/resources: \[demo-pg, demo-http, demo-mysql\]/g, "resources: [demo-pg, demo-http, demo-mysql, override-http]")
  .replace("resources: [demo-pg, demo-mysql, demo-ssh, demo-http, demo-k8s]", "resources: [demo-pg, demo-mysql, demo-ssh, demo-http, demo-k8s, override-http]");

/** A test card number (Luhn-valid): the demo's detectors and its card_number column rule mask it. */
const CARD = "4111111111111111";

/** A 1×1 PNG. */
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2dd2d5a0000000049454e44ae426082", "hex");

/** What the upstream's handlers ran (method as the app saw it, path). */
const ran: string[] = [];
/** Raw request-targets the upstream received. */
const targets: string[] = [];
/** Raw header lines (name, value) of each request the upstream received. */
const rawHeaders: Array<Array<[string, string]>> = [];
const UPSTREAM_KEY = "real-upstream-key-held-by-the-connector";
let upstream: http.Server;
let stack: TestStack;
let conn: TestConnection;
let base = "";

/** Hono app with header, query and form overrides, served by node:http (Request → app.fetch → Response). */
function startUpstream(): Promise<http.Server> {
  const app = new Hono();
  const headerApp = new Hono();
  headerApp.post("/posts/:id", (c) => (ran.push(`POST ${c.req.path}`), c.json({ ok: "created" })));
  headerApp.delete("/posts/:id", (c) => (ran.push(`DELETE ${c.req.path}`), c.json({ ok: "deleted" })));
  app.use("/posts/*", methodOverride({ app: headerApp, header: "X-HTTP-Method-Override" }));
  app.route("/", headerApp);
  const queryApp = new Hono();
  queryApp.post("/posts/q/:id", (c) => (ran.push(`POST ${c.req.path}`), c.json({ ok: "created" })));
  queryApp.delete("/posts/q/:id", (c) => (ran.push(`DELETE ${c.req.path}`), c.json({ ok: "deleted" })));
  // Hono's default: the `_method` field of a form body (urlencoded or multipart), as Rails reads it.
  const formApp = new Hono();
  formApp.post("/posts/f/:id", async (c) => (ran.push(`POST ${c.req.path} ${JSON.stringify(await c.req.parseBody())}`), c.json({ ok: "created" })));
  formApp.delete("/posts/f/:id", (c) => (ran.push(`DELETE ${c.req.path}`), c.json({ ok: "deleted" })));
  // Laravel's: a POST's JSON body is its input, and `_method` there runs another method (Symfony's
  // Request::getMethod over Laravel's JSON input source). Hono's methodOverride has no JSON mode,
  // so this is the same dispatch written out.
  const jsonApp = new Hono();
  jsonApp.post("/posts/j/:id", (c) => (ran.push(`POST ${c.req.path}`), c.json({ ok: "created" })));
  jsonApp.delete("/posts/j/:id", (c) => (ran.push(`DELETE ${c.req.path}`), c.json({ ok: "deleted" })));
  const root = new Hono();
  root.use("/posts/j/*", async (c, next) => {
    if (c.req.method !== "POST" || !/[/+]json/.test(c.req.header("content-type") ?? "")) return next();
    const input = (await c.req.json().catch(() => null)) as Record<string, unknown> | null;
    const method = typeof input?._method === "string" ? input._method.toUpperCase() : "POST";
    return jsonApp.fetch(new Request(c.req.url, { method, headers: c.req.raw.headers, body: method === "POST" ? JSON.stringify(input) : undefined }));
  });
  root.use("/posts/q/*", methodOverride({ app: queryApp, query: "_method" }));
  root.use("/posts/f/*", methodOverride({ app: formApp }));
  root.route("/", queryApp);
  root.route("/", formApp);
  // A file store: `response-content-type` overrides the answer's Content-Type (S3, GCS and Azure
  // Blob honour this parameter on GETs), so the client chooses the label of what it reads.
  root.get("/public/files/pixel.png", (c) => c.body(PNG, 200, { "Content-Type": "image/png" }));
  root.get("/public/files/:name", (c) => {
    const body = JSON.stringify({ customers: [{ name: "Ada", card_number: CARD, note: `card ${CARD}` }] });
    return c.body(body, 200, { "Content-Type": c.req.query("response-content-type") ?? "application/json" });
  });
  root.get("/public/*", (c) => c.json({ path: c.req.path }));
  root.route("/", app);
  const server = http.createServer(async (req, res) => {
    targets.push(req.url ?? "");
    const lines: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    rawHeaders.push(lines);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    const response = await root.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : body }));
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "-u", `gatehouse:${conn.password}`, "-w", "\n%{http_code}", ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl: ${err.message} ${stderr}`));
      const nl = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) });
    });
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  const resource: HttpResourceConfig = {
    name: "override-http",
    type: "http",
    labels: { env: "demo" },
    url: new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`),
    credential: { kind: "header", name: "X-Api-Key", value: () => UPSTREAM_KEY },
    dropCookies: true,
    identityHeaders: true,
  };
  stack = await startTestStack({ extraResources: [resource], policyYaml: POLICY, verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  conn = await stack.connect("override-http", { sub: "pipeline-deploy" });
  base = `http://127.0.0.1:${conn.port}`;
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => upstream?.close(r));
});

describe("method overrides: the upstream must run the method the gateway decided", () => {
  it("forms without an override field are forwarded whole (urlencoded and multipart)", async () => {
    const before = ran.length;
    expect((await curl(["-X", "POST", "--data", "title=hello&body=world", `${base}/posts/f/20`])).status).toBe(200);
    expect((await curl(["-X", "POST", "-F", "title=hello", "-F", "methodology=x", `${base}/posts/f/21`])).status).toBe(200);
    expect(ran.slice(before)).toEqual(['POST /posts/f/20 {"title":"hello","body":"world"}', 'POST /posts/f/21 {"title":"hello","methodology":"x"}']);
  });

  it("a POST's JSON without an override key is forwarded whole and runs as a POST", async () => {
    const before = ran.length;
    const r = await curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", '{"title":"hello","nested":{"_method":"DELETE"}}', `${base}/posts/j/22`]);
    expect(r.status).toBe(200);
    expect(ran.slice(before)).toEqual(["POST /posts/j/22"]);
  });

  it("the policy as intended: POST allowed and run, DELETE refused before the upstream", async () => {
    const before = ran.length;
    expect((await curl(["-X", "POST", `${base}/posts/1`])).status).toBe(200);
    const del = await curl(["-X", "DELETE", `${base}/posts/1`]);
    expect(del.status).toBe(403);
    expect(ran.slice(before)).toEqual(["POST /posts/1"]);
  });

  it.each([
    ["X-HTTP-Method-Override", ["-X", "POST", "-H", "X-HTTP-Method-Override: DELETE", "/posts/2"]],
    ["X-HTTP-Method-Override in lower case", ["-X", "POST", "-H", "x-http-method-override: delete", "/posts/3"]],
    ["X-HTTP-Method", ["-X", "POST", "-H", "X-HTTP-Method: DELETE", "/posts/4"]],
    ["X-Method-Override", ["-X", "POST", "-H", "X-Method-Override: DELETE", "/posts/5"]],
    // Rack, WSGI and PHP read X_HTTP_Method_Override as the same HTTP_X_HTTP_METHOD_OVERRIDE variable.
    ["X_HTTP_Method_Override (underscores)", ["-X", "POST", "-H", "X_HTTP_Method_Override: DELETE", "/posts/8"]],
    ["?_method=DELETE", ["-X", "POST", "/posts/q/6?_method=DELETE"]],
    ["?_%6Dethod=DELETE (encoded name)", ["-X", "POST", "/posts/q/7?_%6Dethod=DELETE"]],
    ["a urlencoded form field _method", ["-X", "POST", "--data", "title=x&_method=DELETE", "/posts/f/9"]],
    ["a urlencoded form field _%6Dethod (encoded name)", ["-X", "POST", "--data", "_%6Dethod=DELETE", "/posts/f/10"]],
    ["a multipart form field _method", ["-X", "POST", "-F", "title=x", "-F", "_method=DELETE", "/posts/f/11"]],
    ["a JSON key _method (Laravel)", ["-X", "POST", "-H", "Content-Type: application/json", "--data", '{"title":"x","_method":"DELETE"}', "/posts/j/12"]],
    ["a JSON key \\u005fmethod under a +json label", ["-X", "POST", "-H", "Content-Type: application/vnd.api+json", "--data", '{"\\u005fmethod":"DELETE"}', "/posts/j/13"]],
  ])("a POST with %s is refused (400 problem+json); the upstream ran nothing", async (_what, args) => {
    const before = ran.length;
    const path = args[args.length - 1]!;
    const r = await curl([...args.slice(0, -1), `${base}${path}`]);
    // Ground truth: the upstream's handlers (before the fix its DELETE handler ran).
    expect(ran.slice(before)).toEqual([]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ status: 400 });
    expect(JSON.parse(r.body).detail).toMatch(/method/i);
  });
});

describe("path overrides", () => {
  it.each(["X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X_Original_URL: /admin"])("GET /public/about with %s is refused (400); nothing reaches the upstream", async (h) => {
    const before = targets.length;
    const r = await curl(["-H", h, `${base}/public/about`]);
    expect(targets.slice(before)).toEqual([]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).detail).toContain("path");
  });
});

describe("double-encoded escapes built from single ones", () => {
  it("a plain public path reaches the upstream as sent", async () => {
    const before = targets.length;
    expect((await curl([`${base}/public/%61bout`])).status).toBe(200);
    expect(targets.slice(before)).toEqual(["/public/about"]);
  });

  it.each([
    ["%25%32%65%25%32%65 (→ %252e%252e)", "/public/%25%32%65%25%32%65/admin"],
    ["%25%32F (→ %252F, an encoded slash after a second decoding)", "/public/x%25%32F..%25%32F..%25%32Fadmin"],
    ["%25%34%31 (→ %2541)", "/public/%25%34%31dmin"],
  ])("%s is refused with 400 problem+json; nothing reaches the upstream", async (_what, path) => {
    const before = targets.length;
    const r = await curl(["--path-as-is", `${base}${path}`]);
    expect(targets.slice(before)).toEqual([]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ status: 400 });
    expect(JSON.parse(r.body).detail).toContain("double-encoded");
  });
});

describe("media types are passed unmasked only when the bytes are media", () => {
  it("the file as JSON: the card number masked (column rule and detectors)", async () => {
    const r = await curl([`${base}/public/files/customers.json`]);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(CARD);
    expect(JSON.parse(r.body).customers[0].card_number).toMatch(/^\*+1111$/);
  });

  it.each(["image/png", "font/woff2", "video/mp4", "audio/mpeg", "image/svg+xml"])("the same file labelled %s by the client's response-content-type: still masked", async (type) => {
    const r = await curl([`${base}/public/files/customers.json?response-content-type=${encodeURIComponent(type)}`]);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(CARD);
    expect(r.body).toContain("customers");
  });

  it("a real PNG passes byte for byte", async () => {
    const res = await fetch(`${base}/public/files/pixel.png?response-content-type=image/png`, { headers: { authorization: `Basic ${Buffer.from(`gatehouse:${conn.password}`).toString("base64")}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });
});

describe("headers the gateway sets cannot be spelled by the client another way", () => {
  it("the credential header and identity arrive once, the gateway's own; a client's spelling with '_' or another case never arrives", async () => {
    const before = rawHeaders.length;
    const r = await curl(["-H", "X-API-KEY: forged-key", "-H", "X_Api_Key: forged-key-2", "-H", "X_Gatehouse_Identity: admin", "-H", "x_forwarded_for: 10.6.6.6", "-H", "X_Real_IP: 10.6.6.6", "-H", "X-Custom_Header: kept", `${base}/public/about`]);
    expect(r.status).toBe(200);
    const seen = rawHeaders.slice(before);
    expect(seen).toHaveLength(1);
    const lines = seen[0]!;
    const named = (n: string) => lines.filter(([k]) => k.toLowerCase().replace(/_/g, "-") === n).map(([, v]) => v);
    // Rack, WSGI and PHP read X_Api_Key and X-Api-Key as the same HTTP_X_API_KEY variable.
    expect(named("x-api-key")).toEqual([UPSTREAM_KEY]);
    expect(named("x-gatehouse-identity")).toEqual(["pipeline-deploy"]);
    expect(named("x-forwarded-for")).toEqual([]);
    expect(named("x-real-ip")).toEqual([]);
    expect(named("x-custom-header")).toEqual(["kept"]);
  });
});
