/**
 * Issue 2: a result of at least 1 GB streams through the gateway with bounded memory, even when
 * the final reader stalls (flow control reaches back to the database socket).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { rss, workerdPids } from "../harness/procs.ts";

const POLICY = `
version: 1
rules:
  - name: e2e-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.session]
`;

const MB = 1024 * 1024;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe("large results", () => {
  it("streams 1 GiB to a reader that stalls, with bounded memory in worker, connector and client", async () => {
    const conn = await stack.connect("demo-pg");
    const workerd = workerdPids();
    expect(workerd.length).toBeGreaterThan(0);
    const baseline = { workerd: workerd.map(rss).reduce((a, b) => a + b, 0), self: process.memoryUsage().rss };
    let peak = { ...baseline };
    const sample = () => {
      const w = workerd.map((p) => { try { return rss(p); } catch { return 0; } }).reduce((a, b) => a + b, 0);
      peak = { workerd: Math.max(peak.workerd, w), self: Math.max(peak.self, process.memoryUsage().rss) };
    };
    const sampler = setInterval(sample, 100);

    const rows = 1024 * 1024; // 1 KiB each (1023 chars + newline)
    const child = spawn("psql", [conn.url, "-X", "-c", `copy (select repeat('x', 1023) from generate_series(1, ${rows})) to stdout`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let bytes = 0;
    // Stall the reader for several seconds first: without end-to-end flow control the whole result would pile up somewhere.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 8000));
    sample();
    const stalledPeak = { ...peak };
    child.stdout.on("data", (d: Buffer) => (bytes += d.length));
    child.stdout.resume();
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    clearInterval(sampler);
    await conn.stop();

    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(bytes).toBe(rows * 1024);
    // The bound (docs/ARCHITECTURE.md): a few flow-control windows per hop, far below the 1 GiB that went through.
    expect(stalledPeak.workerd - baseline.workerd).toBeLessThan(64 * MB);
    expect(peak.workerd - baseline.workerd).toBeLessThan(192 * MB);
    // This process hosts both the connector and the client listener.
    expect(peak.self - baseline.self).toBeLessThan(192 * MB);
  }, 300_000);
});
