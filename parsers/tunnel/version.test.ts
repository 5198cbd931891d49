import { describe, expect, it } from "vitest";
import { offeredTunnelVersions, tunnelVersionMismatch, TUNNEL_PROTOCOL_VERSION } from "./version.ts";

describe("tunnel protocol versions", () => {
  it("reads gatehouse.v<N> offers and ignores anything else", () => {
    expect(offeredTunnelVersions("gatehouse.v1")).toEqual([1]);
    expect(offeredTunnelVersions("chat, gatehouse.v2 ,gatehouse.v1")).toEqual([2, 1]);
    expect(offeredTunnelVersions("gatehouse.v0, gatehouse.v01, gatehouse.vx, gatehouse.v99999, xgatehouse.v1")).toEqual([]);
    expect(offeredTunnelVersions(undefined)).toEqual([]);
  });

  it("accepts an offer that includes ours, and otherwise names both sides and what to upgrade", () => {
    expect(TUNNEL_PROTOCOL_VERSION).toBe(1);
    expect(tunnelVersionMismatch("client", [2, 1], "0.1.0")).toBeNull();
    expect(tunnelVersionMismatch("client", [2], "0.1.0", "gatehouse-cli/0.9.0")).toBe(
      "protocol version mismatch: this gatehouse CLI (gatehouse-cli/0.9.0) speaks gatehouse.v2; the gateway (release 0.1.0) speaks gatehouse.v1 — upgrade the gateway to a release that speaks gatehouse.v2, or use a CLI release for gatehouse.v1",
    );
    expect(tunnelVersionMismatch("connector", [], "0.1.0")).toMatch(/this connector did not offer a Gatehouse tunnel protocol; the gateway \(release 0\.1\.0\) speaks gatehouse\.v1/);
  });
});
