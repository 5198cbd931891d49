/**
 * Which Kubernetes GETs may reach the API server before their events are durable (HTTP engine's
 * `readOnly`): only reads of the API's own objects and discovery. A GET through `proxy` reaches a
 * pod or service that may act on it, and a GET of any other subresource or non-resource path is
 * not known to be side-effect free: durable first, like a write.
 */
import { describe, expect, it } from "vitest";
import { KubeHooks } from "./kube-hooks.ts";
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { devClaims, identityOf } from "../../../parsers/policy/test-fixtures.ts";

function hooks(): KubeHooks {
  const host = { identity: identityOf(devClaims("pipeline")), audit: { onEvent: async () => {} } } as unknown as EngineHost;
  return new KubeHooks(host, () => undefined);
}

const readOnlyOf = async (target: string) => {
  const a = await hooks().admit({ method: "GET", target, headers: [], upgrade: null });
  if (a.kind !== "decide") throw new Error(`refused: ${a.detail}`);
  return a.readOnly;
};

describe("Kubernetes GETs and the recording's read path", () => {
  it.each([
    ["/api/v1/namespaces/apps/pods", true],
    ["/api/v1/namespaces/apps/pods/web", true],
    ["/api/v1/namespaces/apps/pods?watch=1", true],
    ["/api/v1/namespaces/apps/pods/web/log?follow=true", true],
    ["/apis", true],
    ["/version", true],
    ["/api/v1/namespaces/apps/pods/web/proxy/admin/reset", false],
    ["/api/v1/namespaces/apps/services/web:80/proxy/deploy", false],
    ["/api/v1/nodes/n1/proxy/configz", false],
  ])("GET %s → readOnly %s", async (target, expected) => {
    expect(await readOnlyOf(target)).toBe(expected);
  });
});

describe("the tenant's request rate in Kubernetes' own words", () => {
  it("a 429 is a Status kubectl and client-go read as throttling: reason TooManyRequests, details.retryAfterSeconds", () => {
    const { contentType, body } = hooks().refusal({ status: 429, detail: "gatehouse: request refused: the tenant's request rate limit is reached; retry in 3 s", rule: "gatehouse:tenant-rate-limit", extra: { retry_after: 3 } });
    expect(contentType).toBe("application/json");
    expect(JSON.parse(body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "gatehouse: request refused: the tenant's request rate limit is reached; retry in 3 s",
      reason: "TooManyRequests",
      details: { retryAfterSeconds: 3 },
      code: 429,
    });
  });
});
