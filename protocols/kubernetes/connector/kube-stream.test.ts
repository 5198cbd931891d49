/**
 * The connector's last word on identity headers (defence in depth behind the worker, which refuses
 * them): whatever reaches it, no client impersonation or front-proxy identity header goes to the
 * API server — only the resource's configured impersonation.
 */
import { describe, expect, it } from "vitest";
import type { StreamContext } from "../../../connector/stream-types.ts";
import type { StreamIdentity } from "../../http/connector/http-stream.ts";
import { compileImpersonation } from "../policy/impersonation.ts";
import type { KubernetesResourceConfig } from "./config.ts";
import { KubeTunnelStream } from "./kube-stream.ts";

class HeaderProbe extends KubeTunnelStream {
  adjust(headers: Array<[string, string]>, identity: StreamIdentity): Array<[string, string]> {
    return this.adjustRequestHeaders(headers, identity);
  }
}

const probe = (resource: Partial<KubernetesResourceConfig>) => new HeaderProbe({ resources: new Map([["k", { name: "k", type: "kubernetes", ...resource }]]) } as unknown as StreamContext, "s", "k");
const identity = { sub: "repo:acme/api", iss: "https://issuer" };
const CLIENT: Array<[string, string]> = [
  ["Accept", "application/json"],
  ["Impersonate-User", "system:admin"],
  ["impersonate-group", "system:masters"],
  ["Impersonate_Uid", "0"],
  ["X-Remote-User", "system:admin"],
  ["x-remote-group", "system:masters"],
  ["X-Remote-Extra-Scopes", "all"],
  ["X_Remote_User", "system:admin"],
  ["User-Agent", "kubectl"],
];

describe("kubernetes connector stream: identity headers", () => {
  it("drops every client Impersonate-* and X-Remote-* (any case, `_` for `-`), keeps the rest", () => {
    expect(probe({}).adjust([...CLIENT], identity)).toEqual([
      ["Accept", "application/json"],
      ["User-Agent", "kubectl"],
    ]);
  });

  it("adds only the configured impersonation", () => {
    const out = probe({ impersonate: compileImpersonation({ user: "ci:{sub}", groups: ["gatehouse:pipelines"] }) }).adjust([...CLIENT], identity);
    expect(out).toEqual([
      ["Accept", "application/json"],
      ["User-Agent", "kubectl"],
      ["Impersonate-User", "ci:repo:acme/api"],
      ["Impersonate-Group", "gatehouse:pipelines"],
    ]);
  });
});
