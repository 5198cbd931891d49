/**
 * CPU profile of the worker side: wrangler dev's DevTools proxy (--inspector-port) speaks CDP;
 * we start the V8 Profiler on the worker's isolate while a workload runs and summarise the top
 * frames by self time.
 */
import { WebSocket } from "ws";

export interface ProfileFrame {
  functionName: string;
  location: string;
  selfPercent: number;
  totalPercent: number;
}

interface CdpNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

async function targets(port: number): Promise<Array<{ webSocketDebuggerUrl?: string; title?: string; url?: string }>> {
  const r = await fetch(`http://127.0.0.1:${port}/json`);
  return (await r.json()) as Array<{ webSocketDebuggerUrl?: string; title?: string }>;
}

/** Profile the worker isolate while `workload` runs; returns the top frames by self time. */
export async function profileWorker(inspectorPort: number, workload: () => Promise<unknown>, top = 15): Promise<{ frames: ProfileFrame[]; samples: number; target: string }> {
  const list = await targets(inspectorPort);
  const target = list.find((t) => t.webSocketDebuggerUrl);
  if (!target?.webSocketDebuggerUrl) throw new Error(`no debuggable target at 127.0.0.1:${inspectorPort}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on("message", (d) => {
    const msg = JSON.parse(d.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id && pending.has(msg.id)) {
      const p = pending.get(msg.id)!;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    }
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 200 });
    await call("Profiler.start");
    await workload();
    const { profile } = (await call("Profiler.stop")) as { profile: { nodes: CdpNode[] } };
    return { ...summarise(profile.nodes, top), target: target.title ?? target.webSocketDebuggerUrl };
  } finally {
    ws.close();
  }
}

function summarise(nodes: CdpNode[], top: number): { frames: ProfileFrame[]; samples: number } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const keyOf = (n: CdpNode) => {
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^.*\/(worker|parsers|wasm|node_modules)\//, "$1/") : "";
    return `${f.functionName || "(anonymous)"}\t${file ? `${file}:${f.lineNumber + 1}` : "(native)"}`;
  };
  let samples = 0;
  // total time: hits of the subtree, counted once per key per path
  const walk = (id: number, onPath: Set<string>): number => {
    const n = byId.get(id)!;
    const k = keyOf(n);
    let hits = n.hitCount ?? 0;
    self.set(k, (self.get(k) ?? 0) + hits);
    samples += n.hitCount ?? 0;
    const added = !onPath.has(k);
    if (added) onPath.add(k);
    for (const c of n.children ?? []) hits += walk(c, onPath);
    if (added) {
      onPath.delete(k);
      total.set(k, (total.get(k) ?? 0) + hits);
    }
    return hits;
  };
  const childIds = new Set(nodes.flatMap((n) => n.children ?? []));
  for (const n of nodes) if (!childIds.has(n.id)) walk(n.id, new Set());
  const frames = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, hits]) => {
      const [functionName, location] = k.split("\t") as [string, string];
      return { functionName, location, selfPercent: (100 * hits) / Math.max(1, samples), totalPercent: (100 * (total.get(k) ?? hits)) / Math.max(1, samples) };
    });
  return { frames, samples };
}
