/**
 * Client, worker and connector announce their versions; a tunnel protocol the gateway does not
 * speak is refused with a message that names both sides and what to upgrade (real stack).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { importJWK } from "jose";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { signConnectorAssertion } from "../../connector/assertion.ts";
import { CLIENT_VERSION } from "../../client/version.ts";
import { CONNECTOR_VERSION } from "../../connector/version.ts";
import { WORKER_RELEASE } from "../../worker/version.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});

/** The upgrade's HTTP answer when it is refused (status + JSON body), or "open". */
function upgrade(url: string, protocols: string[], headers: Record<string, string>): Promise<{ status: number; body: { error?: string; reason?: string } } | "open"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.on("error", (e) => reject(e));
  });
}

describe("versions", () => {
  it("every component carries the package's release, and /healthz names the worker's release and protocol", async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect([CLIENT_VERSION, CONNECTOR_VERSION, WORKER_RELEASE]).toEqual([pkg.version, pkg.version, pkg.version]);
    const health = (await (await fetch(`${stack.gatewayUrl}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ready: true, version: pkg.version, protocol: "gatehouse.v1" });
  });

  it("a client speaking a newer tunnel protocol is told which versions meet and what to upgrade", async () => {
    const token = await stack.mintToken({ sub: "alice" });
    const url = `${stack.gatewayUrl.replace(/^http/, "ws")}/v1/tunnel/demo-pg`;
    const r = await upgrade(url, ["gatehouse.v2"], { authorization: `Bearer ${token}`, "user-agent": "gatehouse-cli/9.0.0" });
    expect(r).not.toBe("open");
    const refused = r as Exclude<typeof r, "open">;
    expect(refused.status).toBe(426);
    expect(refused.body.error).toBe("protocol_version_mismatch");
    expect(refused.body.reason).toBe(
      `protocol version mismatch: this gatehouse CLI (gatehouse-cli/9.0.0) speaks gatehouse.v2; the gateway (release ${WORKER_RELEASE}) speaks gatehouse.v1 — upgrade the gateway to a release that speaks gatehouse.v2, or use a CLI release for gatehouse.v1`,
    );
    // Offering both (a CLI that can fall back) is served.
    expect(await upgrade(url, ["gatehouse.v2", "gatehouse.v1"], { authorization: `Bearer ${token}` })).toBe("open");
  });

  it("a connector speaking another tunnel protocol is refused at the upgrade with the same kind of message", async () => {
    const jwk = JSON.parse(readFileSync(path.join(stack.home, "connector", "local-key.json"), "utf8"));
    const key = await importJWK(jwk, "EdDSA");
    const assertion = await signConnectorAssertion(key as Parameters<typeof signConnectorAssertion>[0], "local");
    const r = await upgrade(`${stack.gatewayUrl.replace(/^http/, "ws")}/v1/connector/control`, ["gatehouse.v3"], { authorization: `Bearer ${assertion}`, "user-agent": "gatehouse-connector/7.0.0" });
    expect(r).not.toBe("open");
    const refused = r as Exclude<typeof r, "open">;
    expect(refused.status).toBe(426);
    expect(refused.body.reason).toMatch(/^protocol version mismatch: this connector \(gatehouse-connector\/7\.0\.0\) speaks gatehouse\.v3; the gateway \(release .*\) speaks gatehouse\.v1 — upgrade the gateway/);
  });
});
