/**
 * A web page cannot use the HTTP listener through a browser that holds its secret. The listener
 * answers a missing secret with `401 WWW-Authenticate: Basic`, so a person who opened it in a
 * browser (a URL with userinfo, or the prompt) leaves the secret in the browser's auth cache —
 * and the browser then attaches it to any other site's form submission or link to
 * http://127.0.0.1:<port>/ (a cross-site request needs no preflight). Real Chromium, real
 * listener, gateway and upstream; ground truth: what the upstream saw.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { startDemoHttp, type DemoHttp } from "../../client/dev/demo-http.ts";
import type { HttpResourceConfig } from "../../connector/config.ts";
import { startBrowser, type TestBrowser } from "../console/browser.ts";

let stack: TestStack;
let api: DemoHttp;
let conn: TestConnection;
let browser: TestBrowser;
let evil: Server;
let evilUrl: string;

beforeAll(async () => {
  api = await startDemoHttp();
  const resource: HttpResourceConfig = { name: "demo-http", type: "http", labels: { env: "demo" }, url: new URL(api.url), credential: { kind: "bearer", token: () => api.token }, dropCookies: true, identityHeaders: true };
  stack = await startTestStack({ extraResources: [resource] });
  conn = await stack.connect("demo-http", { sub: "pipeline-deploy" });
  // Another site: a page that submits a form to the listener as soon as it loads.
  evil = createServer((_req, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<form id=f method=GET action="http://127.0.0.1:${conn.port}/customers"><input name=csrf value=from-another-site></form><script>document.getElementById("f").submit()</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  evilUrl = `http://evil.test:${(evil.address() as AddressInfo).port}/`;
  browser = await startBrowser({ args: ["--host-resolver-rules=MAP evil.test 127.0.0.1"] });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  evil?.close();
  await stack?.stop();
  await api?.stop();
});

describe("the HTTP listener and a browser on the same machine", () => {
  it("a page of another site cannot send requests with the secret the browser cached; the owner's own browsing still works", async () => {
    const { page } = await browser.person();
    // The owner opens the listener in the browser, with the secret in the URL: it works.
    const own = await page.goto(`http://gatehouse:${encodeURIComponent(conn.password)}@127.0.0.1:${conn.port}/customers`);
    expect(own?.status()).toBe(200);
    expect(await page.textContent("body")).toContain("Ada Lovelace");
    // Then it visits another site, whose page submits a form to the listener.
    const forged = page.waitForResponse((r) => r.url().includes("csrf=from-another-site"));
    await page.goto(evilUrl);
    const res = await forged;
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain("another site");
    expect(api.seen.filter((s) => s.url.includes("csrf"))).toEqual([]);
    // A link followed within the listener's own origin is not another site's request.
    const again = await page.goto(`http://127.0.0.1:${conn.port}/customers?again=1`);
    expect(again?.status()).toBe(200);
    expect(api.seen.some((s) => s.url === "/customers?again=1")).toBe(true);
  });
});
