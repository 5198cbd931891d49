/**
 * CPU profile of the worker side: wrangler dev's DevTools proxy (--inspector-port) speaks CDP;
 * we start the V8 Profiler on the worker's isolate while a workload runs and summarise the top
 * frames by self time.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { WebSocket } from "ws";

const REPO = path.resolve(import.meta.dirname, "../..");

export interface ProfileFrame {
  functionName: string;
  location: string;
  selfPercent: number;
  totalPercent: number;
}

interface CdpNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId: string };
  hitCount?: number;
  children?: number[];
}

async function targets(port: number): Promise<Array<{ webSocketDebuggerUrl?: string; title?: string; url?: string }>> {
  const r = await fetch(`http://127.0.0.1:${port}/json`);
  return (await r.json()) as Array<{ webSocketDebuggerUrl?: string; title?: string }>;
}

/** Profile the worker isolate while `workload` runs; returns the top frames by self time. */
export interface ProfileSummary {
  /** Top frames by self time. */
  frames: ProfileFrame[];
  /** Top frames by total (inclusive) time, repo code only. */
  inclusive: ProfileFrame[];
  samples: number;
  target: string;
}

export async function profileWorker(inspectorPort: number, workload: () => Promise<unknown>, top = 15): Promise<ProfileSummary> {
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
  const call: Call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("Debugger.enable");
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 200 });
    await call("Profiler.start");
    await workload();
    const { profile } = (await call("Profiler.stop")) as { profile: { nodes: CdpNode[] } };
    const resolve = await sourceResolver(profile.nodes, call);
    return { ...summarise(profile.nodes, top, resolve), target: target.title ?? target.webSocketDebuggerUrl };
  } finally {
    ws.close();
  }
}

type Call = (method: string, params?: object) => Promise<unknown>;

/** Function index → export name, from a WASM binary's export section (V8 names frames wasm-function[index]). */
export function wasmExportNames(bytes: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  let o = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[o++]!;
      result |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return result >>> 0;
      shift += 7;
    }
  };
  while (o < bytes.length) {
    const id = bytes[o++]!;
    const size = leb();
    const end = o + size;
    if (id === 7) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        const len = leb();
        const name = new TextDecoder().decode(bytes.subarray(o, o + len));
        o += len;
        const kind = bytes[o++]!;
        const index = leb();
        if (kind === 0) names.set(index, name);
      }
    }
    o = end;
  }
  return names;
}
type Resolve = (frame: CdpNode["callFrame"]) => string | undefined;

/**
 * Map frames back to the repo: the worker bundle (index.js) through the source map wrangler wrote
 * next to it, and WASM frames to the wasm/build/<name>.wasm module with the same bytes.
 */
async function sourceResolver(nodes: CdpNode[], call: Call): Promise<Resolve> {
  const scripts = new Map<string, string>();
  for (const n of nodes) if (n.callFrame.scriptId && n.callFrame.scriptId !== "0") scripts.set(n.callFrame.scriptId, n.callFrame.url);
  const maps = new Map<string, SourceMap>();
  const wasmNames = new Map<string, string>();
  const wasmExports = new Map<string, Map<number, string>>();
  const wasmBuilt = readdirSync(path.join(REPO, "wasm/build")).filter((f) => f.endsWith(".wasm"));
  for (const [scriptId, url] of scripts) {
    try {
      const src = (await call("Debugger.getScriptSource", { scriptId })) as { scriptSource: string; bytecode?: string };
      if (url === "index.js") {
        // wrangler appends `//# sourceURL=file:///…/.wrangler/tmp/dev-XXXX/index.js`; its source map sits next to it.
        const m = /\/\/# sourceURL=file:\/\/(\S+)\s*$/.exec(src.scriptSource);
        const file = m?.[1];
        if (file && existsSync(`${file}.map`)) maps.set(scriptId, new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8"))));
      } else if (url.startsWith("wasm://") && src.bytecode) {
        const bytes = Buffer.from(src.bytecode, "base64");
        const name = wasmBuilt.find((f) => readFileSync(path.join(REPO, "wasm/build", f)).equals(bytes));
        if (name) {
          wasmNames.set(scriptId, `wasm/build/${name}`);
          wasmExports.set(scriptId, wasmExportNames(bytes));
        }
      }
    } catch {
      // not resolvable: keep the bundle location
    }
  }
  return (f) => {
    const w = wasmNames.get(f.scriptId);
    if (w && !f.functionName.startsWith("js-to-wasm")) {
      const index = /^wasm-function\[(\d+)\]$/.exec(f.functionName)?.[1];
      const exported = index === undefined ? undefined : wasmExports.get(f.scriptId)?.get(Number(index));
      return `${w}${exported ? ` (export ${exported})` : " (internal)"}`;
    }
    const map = maps.get(f.scriptId);
    if (!map) return undefined;
    const e = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number };
    if (!e.originalSource) return undefined;
    const rel = e.originalSource.replace(/^.*?\/(worker|parsers|wasm|node_modules)\//, "$1/");
    return `${rel}:${(e.originalLine ?? 0) + 1}`;
  };
}

/** Summarise a Node `--cpu-prof` file (same node format as CDP) with repo-relative locations. */
export function summariseCpuProfile(file: string, top = 15): { frames: ProfileFrame[]; inclusive: ProfileFrame[]; samples: number } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: CdpNode[] };
  // A whole-run profile is mostly idle: percentages are of the busy samples.
  for (const n of profile.nodes) if (n.callFrame.functionName === "(idle)") n.hitCount = 0;
  return summarise(profile.nodes, top, (f) => {
    if (!f.url) return undefined;
    const rel = f.url.replace(/^file:\/\//, "").replace(/^.*?\/(worker|parsers|wasm|client|connector|bench|node_modules)\//, "$1/");
    return `${rel}:${f.lineNumber + 1}`;
  });
}

function summarise(nodes: CdpNode[], top: number, resolve: Resolve): { frames: ProfileFrame[]; inclusive: ProfileFrame[]; samples: number } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const keyOf = (n: CdpNode) => {
    const f = n.callFrame;
    const where = resolve(f) ?? (f.url ? `${f.url}:${f.lineNumber + 1}` : "(native)");
    return `${f.functionName || "(anonymous)"}\t${where}`;
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
  const frame = (k: string): ProfileFrame => {
    const [functionName, location] = k.split("\t") as [string, string];
    return { functionName, location, selfPercent: (100 * (self.get(k) ?? 0)) / Math.max(1, samples), totalPercent: (100 * (total.get(k) ?? 0)) / Math.max(1, samples) };
  };
  const frames = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k]) => frame(k));
  const inclusive = [...total.entries()]
    .filter(([k]) => /\t(worker|parsers|wasm|client|connector)\//.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top + 10)
    .map(([k]) => frame(k));
  return { frames, inclusive, samples };
}
