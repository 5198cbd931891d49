import { describe, expect, it } from "vitest";
import { ConnectorMetrics } from "./metrics.ts";
import { parseListenAddress } from "./ops-server.ts";
import type { StreamStats } from "../stream-types.ts";

const stats = (over: Partial<StreamStats>): StreamStats => ({
  session: "s", resource: "demo-pg", state: "ready", sendCredit: 0, paused: false, pauses: 0, bytesToWorker: 0, bytesFromWorker: 0, creditGranted: 0, ...over,
});

describe("connector metrics", () => {
  it("counts sessions, dial failures by code, bytes of ended sessions and reconnects", () => {
    const m = new ConnectorMetrics();
    m.observe({ type: "control-connected" });
    m.observe({ type: "stream-ready", stats: stats({}) });
    m.observe({ type: "stream-closed", stats: stats({ bytesToWorker: 1000, bytesFromWorker: 20 }), reason: "done" });
    m.observe({ type: "stream-error", stats: stats({ state: "connecting" }), code: "28P01", message: "auth failed" });
    m.observe({ type: "stream-error", stats: stats({ state: "ready" }), code: "08006", message: "lost" }); // not a dial failure
    m.observe({ type: "control-disconnected", reason: "x" });
    m.observe({ type: "control-connected" });
    const text = m.render({ connected: true, liveSessions: 3 });
    expect(text).toContain('gatehouse_connector_sessions_total{resource="demo-pg"} 1\n');
    expect(text).toContain('gatehouse_connector_dial_failures_total{code="28P01"} 1\n');
    expect(text).not.toContain('code="08006"');
    expect(text).toContain('gatehouse_connector_stream_bytes_total{direction="to_worker"} 1000\n');
    expect(text).toContain("gatehouse_connector_reconnects_total 1\n");
    expect(text).toContain("gatehouse_connector_sessions 3\n");
  });

  it("escapes label values (a resource name cannot break the exposition format)", () => {
    const m = new ConnectorMetrics();
    m.observe({ type: "stream-ready", stats: stats({ resource: 'a"b\\c\nd' }) });
    expect(m.render({ connected: false, liveSessions: 0 })).toContain('gatehouse_connector_sessions_total{resource="a\\"b\\\\c\\nd"} 1\n');
  });
});

describe("--ops-listen", () => {
  it("takes host:port, [v6]:port or a bare port (loopback) and refuses anything else", () => {
    expect(parseListenAddress("127.0.0.1:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListenAddress("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseListenAddress("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    for (const bad of ["", "host", "1.2.3.4:", ":80", "1.2.3.4:70000", "a:b:c"]) expect(() => parseListenAddress(bad), bad).toThrow(/--ops-listen/);
  });
});
