/**
 * A second, independent upstream: Debian's nginx (not our own server code) behind the gateway.
 * nginx demands the bearer token only the connector holds, gzips its JSON itself, and the
 * gateway must decode and mask it; DELETE is refused before nginx sees it (nginx's access log).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { freePort } from "../../client/dev/ports.ts";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { eventually } from "../e2e/helpers.ts";

const TOKEN = randomBytes(18).toString("base64url");
const BODY = JSON.stringify({ customers: [{ name: "Ada", email: "ada@example.com", card_number: "4111 1111 1111 1111", api_token: "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB" }], padding: "x".repeat(2000) });

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => execFile("curl", ["-sS", ...args], { timeout: 30_000 }, (err, stdout) => resolve({ code: err ? 1 : 0, stdout })));
}

let nginx: ChildProcess;
let dir: string;
let stack: TestStack;
let conn: TestConnection;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "gatehouse-nginx-"));
  mkdirSync(path.join(dir, "www"));
  writeFileSync(path.join(dir, "www", "customers.json"), BODY);
  const port = await freePort();
  writeFileSync(
    path.join(dir, "nginx.conf"),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  log_format gatehouse '$request|$http_accept_encoding|$gzip_ratio';
  access_log ${dir}/access.log gatehouse;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  types { application/json json; }
  gzip on; gzip_types application/json; gzip_min_length 1;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location / {
      if ($http_authorization != "Bearer ${TOKEN}") { return 401; }
      try_files $uri =404;
    }
  }
}
`,
  );
  nginx = spawn("nginx", ["-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: "ignore" });
  await eventually(async () => (await curl(["-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${port}/customers.json`])).stdout === "401", "nginx up");
  stack = await startTestStack({
    extraResources: [{ name: "demo-http", type: "http", labels: {}, url: new URL(`http://127.0.0.1:${port}`), credential: { kind: "bearer", token: () => TOKEN }, dropCookies: true, identityHeaders: false }],
  });
  conn = await stack.connect("demo-http", { sub: "pipeline-nginx" });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  nginx?.kill("SIGTERM");
});

describe("nginx as the upstream", () => {
  it("GET with the connector's credential; nginx's gzip is decoded and the JSON masked", async () => {
    const r = await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, "-H", "Accept-Encoding: br, gzip", "-i", `http://127.0.0.1:${conn.port}/customers.json`]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout).not.toMatch(/content-encoding/i);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf("\r\n\r\n") + 4));
    expect(body.customers[0].name).toBe("Ada");
    expect(body.customers[0].card_number).toBe("***************1111");
    expect(JSON.stringify(body)).not.toMatch(/ada@example\.com|ghp_/);
    // nginx really compressed it for the gateway: the gateway asked for gzip/deflate only (never br), nginx's gzip ratio is logged.
    const line = readFileSync(path.join(dir, "access.log"), "utf8").trim().split("\n").at(-1)!;
    const [request, acceptEncoding, ratio] = line.split("|");
    expect(request).toBe("GET /customers.json HTTP/1.1");
    expect(acceptEncoding).toBe("gzip, deflate");
    expect(Number(ratio)).toBeGreaterThan(1);
  });

  it("DELETE is refused by rule before nginx sees it", async () => {
    const before = readFileSync(path.join(dir, "access.log"), "utf8");
    const r = await curl(["-H", `X-Gatehouse-Listener-Token: ${conn.password}`, "-X", "DELETE", `http://127.0.0.1:${conn.port}/customers.json`]);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 403, rule: "demo-http-no-delete" });
    expect(readFileSync(path.join(dir, "access.log"), "utf8")).toBe(before);
  });
});
