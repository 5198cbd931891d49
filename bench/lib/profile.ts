/**
 * CPU profile of the worker side: wrangler dev's DevTools proxy (--inspector-port) speaks CDP;
 * we start the V8 Profiler on the worker's isolate while a workload runs and summarise the top
 * frames by self time.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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
  /** Wall time sampled and the part the isolate was not idle (ms); worker profiles only. */
  sampledMs?: number;
  busyMs?: number;
}

/**
 * A CDP session with the worker isolate behind wrangler dev's inspector proxy. Two quirks of
 * workerd + wrangler: some commands are answered by an echo of the request (`method`, no
 * `result`), and Profiler.stop is answered with both `method` and `result`. A call that needs a
 * result therefore waits past echoes for the message that carries one (until `timeoutMs`), and
 * says so plainly instead of handing back `undefined`.
 */
export interface Inspector {
  call(method: string, params?: object, opts?: { needResult?: boolean; timeoutMs?: number }): Promise<unknown>;
  target: string;
  close(): void;
}

export async function openInspector(inspectorPort: number): Promise<Inspector> {
  const list = await targets(inspectorPort);
  const target = list.find((t) => t.webSocketDebuggerUrl);
  if (!target?.webSocketDebuggerUrl) throw new Error(`no debuggable target at 127.0.0.1:${inspectorPort}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { method: string; needResult: boolean; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on("message", (d) => {
    const msg = JSON.parse(d.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (!msg.id || !pending.has(msg.id)) return;
    const p = pending.get(msg.id)!;
    if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
    else if (msg.result === undefined && p.needResult) return; // an echo: the answer comes later
    else p.resolve(msg.result);
    pending.delete(msg.id);
  });
  ws.on("close", () => {
    for (const p of pending.values()) p.reject(new Error(`${p.method}: the inspector connection closed`));
    pending.clear();
  });
  const call: Inspector["call"] = (method, params = {}, opts = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no answer from the worker's inspector in ${(opts.timeoutMs ?? 60_000) / 1000} s`));
      }, opts.timeoutMs ?? 60_000);
      pending.set(id, {
        method,
        needResult: opts.needResult ?? false,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, target: target.title ?? target.webSocketDebuggerUrl, close: () => ws.close() };
}

export interface ProfileWindow {
  /** Keep only samples taken this long after the workload started (skip connection setup). */
  delayMs?: number;
  /** Stop the profiler this long after that (the workload keeps running to its end). */
  durationMs?: number;
  /** Also write the whole profile here (CDP nodes, each with its repo `location`), for a closer look than the top frames. */
  rawOut?: string;
}

/** Profile the worker isolate while `workload` runs (or during a window of it); top frames by self time. */
export async function profileWorker(inspectorPort: number, workload: () => Promise<unknown>, top = 15, window: ProfileWindow = {}): Promise<ProfileSummary> {
  const inspector = await openInspector(inspectorPort);
  const { call } = inspector;
  try {
    await call("Debugger.enable");
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 200 });
    // The profiler starts before the workload: workerd does not sample when Profiler.start
    // arrives while the isolate is busy (one sample for a whole busy window). A window is cut out
    // of the sample stream afterwards instead.
    await call("Profiler.start");
    let profile: { nodes: CdpNode[]; samples?: number[]; timeDeltas?: number[] } | undefined;
    const running = workload();
    try {
      if (window.durationMs) await Promise.race([running, new Promise((r) => setTimeout(r, (window.delayMs ?? 0) + window.durationMs!))]);
      else await running;
      const stopped = (await call("Profiler.stop", {}, { needResult: true })) as { profile?: typeof profile } | undefined;
      profile = stopped?.profile;
    } finally {
      await running;
    }
    if (profile && window.delayMs) keepWindow(profile, window.delayMs * 1000, window.durationMs ? window.durationMs * 1000 : Infinity);
    if (!profile?.nodes) throw new Error("Profiler.stop answered without a profile");
    const resolve = await sourceResolver(profile.nodes, call);
    const busy = busyTime(profile);
    // Percentages of busy samples, as for Node profiles: idle time says nothing about the code.
    for (const n of profile.nodes) if (n.callFrame.functionName === "(idle)") n.hitCount = 0;
    if (window.rawOut) writeFileSync(window.rawOut, JSON.stringify({ ...busy, nodes: profile.nodes.map((n) => ({ ...n, location: resolve(n.callFrame) ?? null })) }));
    return { ...summarise(profile.nodes, top, resolve), ...busy, target: inspector.target };
  } finally {
    inspector.close();
  }
}

/** Keep only the samples taken in [fromUs, fromUs + lengthUs) after the start; hit counts follow. */
function keepWindow(profile: { nodes: CdpNode[]; samples?: number[]; timeDeltas?: number[] }, fromUs: number, lengthUs: number): void {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const keptSamples: number[] = [];
  const keptDeltas: number[] = [];
  let t = 0;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (t >= fromUs && t < fromUs + lengthUs) {
      keptSamples.push(samples[i]!);
      keptDeltas.push(keptSamples.length === 1 ? 0 : (deltas[i] ?? 0));
    }
  }
  const hits = new Map<number, number>();
  for (const id of keptSamples) hits.set(id, (hits.get(id) ?? 0) + 1);
  for (const n of profile.nodes) n.hitCount = hits.get(n.id) ?? 0;
  profile.samples = keptSamples;
  profile.timeDeltas = keptDeltas;
}

/** Wall time the isolate was sampled and how much of it was not idle (ms), from the sample stream. */
function busyTime(profile: { nodes: CdpNode[]; samples?: number[]; timeDeltas?: number[] }): { sampledMs: number; busyMs: number } {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  let sampled = 0;
  let busy = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i: attribute it to sample i.
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i] ?? 0;
    sampled += dt;
    if (!idle.has(samples[i]!)) busy += dt;
  }
  return { sampledMs: sampled / 1000, busyMs: busy / 1000 };
}

type Call = Inspector["call"];

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
    return `${repoRelative(e.originalSource)}:${(e.originalLine ?? 0) + 1}`;
  };
}

/** A source-map path as a repo path: `../../../protocols/x.ts`, `file:///…/repo/worker/y.ts` → `protocols/x.ts`, `worker/y.ts`. */
function repoRelative(source: string): string {
  const nm = source.lastIndexOf("/node_modules/");
  if (nm >= 0) return source.slice(nm + 1);
  const abs = source.replace(/^file:\/\//, "");
  if (abs.startsWith(`${REPO}/`)) return abs.slice(REPO.length + 1);
  return source.replace(/^(\.\.?\/)+/, "");
}

/** Summarise a Node `--cpu-prof` file (same node format as CDP) with repo-relative locations. */
export function summariseCpuProfile(file: string, top = 15): { frames: ProfileFrame[]; inclusive: ProfileFrame[]; samples: number } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: CdpNode[] };
  // A whole-run profile is mostly idle: percentages are of the busy samples.
  for (const n of profile.nodes) if (n.callFrame.functionName === "(idle)") n.hitCount = 0;
  return summarise(profile.nodes, top, (f) => {
    if (!f.url) return undefined;
    return `${repoRelative(f.url)}:${f.lineNumber + 1}`;
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
    .filter(([k]) => /\t(worker|parsers|wasm|client|connector|protocols)\//.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top + 10)
    .map(([k]) => frame(k));
  return { frames, inclusive, samples };
}

/** The worker isolate's heap: V8 heap in use plus ArrayBuffer backing stores (WASM memories, socket buffers) when workerd reports them. */
export async function isolateHeapBytes(inspector: Inspector): Promise<{ used: number; backing: number | undefined }> {
  const u = (await inspector.call("Runtime.getHeapUsage", {}, { needResult: true, timeoutMs: 10_000 })) as { usedSize: number; backingStorageSize?: number };
  return { used: u.usedSize, backing: u.backingStorageSize };
}
