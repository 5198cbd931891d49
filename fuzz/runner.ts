/**
 * Runs the fuzz loop for each codec in a worker thread and watches it: progress, findings saved
 * to fuzz/crashes/ with a repro command, a hang (no new input started within the codec's budget)
 * reported with the input that hangs, out-of-memory (the worker's heap is capped) likewise.
 */
import { Worker } from "node:worker_threads";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { toHex } from "../parsers/encoding/hex-base64.ts";
import type { Finding } from "./check.ts";
import { CRASH_DIR } from "./corpus.ts";
import { SHARED, type WorkerJob, type WorkerReport } from "./protocol.ts";
import type { FuzzTarget } from "./target.ts";

export interface FuzzRunOptions {
  targets: readonly FuzzTarget[];
  inputsPerCodec: number;
  seed?: number;
  /** Where findings are written (default fuzz/crashes/); null: not written. */
  crashDir?: string | null;
  /** Heap growth over a run that counts as unbounded allocation. */
  maxHeapGrowthBytes?: number;
  /** Heap cap of the worker: a single input that allocates past it is an out-of-memory finding. */
  maxOldGenerationMb?: number;
  extraTargets?: string[];
  onProgress?: (line: string) => void;
  /** Worker threads per codec (default 1): the inputs are shared out, each worker with its own seed and watchdog. */
  workers?: number;
  /** Called as each codec finishes (the CLI prints its line at once, not at the end of a long run). */
  onCodecDone?: (result: CodecResult) => void;
}

export interface CodecResult {
  codec: string;
  inputs: number;
  seconds: number;
  perSecond: number;
  findings: Array<Finding & { file?: string; repro?: string }>;
}

const REPO = fileURLToPath(new URL("..", import.meta.url));

export function saveFinding(f: Finding, dir: string): { file: string; repro: string } {
  mkdirSync(dir, { recursive: true });
  const id = createHash("sha256").update(f.input).digest("hex").slice(0, 12);
  const file = join(dir, `${f.codec}-${f.kind}-${id}.hex`);
  const repro = `npm run fuzz -- --codec=${f.codec} --repro=${relative(REPO, file)}`;
  const comment = [`# codec: ${f.codec}`, `# kind: ${f.kind}`, `# ${f.message}`, `# repro: ${repro}`, ...(f.stack ?? "").split("\n").slice(1, 8).map((l) => `# ${l.trim()}`)];
  const hex = toHex(f.input).replace(/(.{64})/g, "$1\n");
  writeFileSync(file, `${comment.join("\n")}\n${hex}\n`);
  return { file, repro };
}

/** One codec on `o.workers` worker threads (each its own seed, share of the inputs, watchdog and heap cap). */
export async function fuzzCodec(target: FuzzTarget, o: FuzzRunOptions): Promise<CodecResult> {
  const n = Math.max(1, Math.min(o.workers ?? 1, o.inputsPerCodec));
  if (n === 1) return fuzzOneWorker(target, o);
  const started = Date.now();
  const parts = await Promise.all(
    Array.from({ length: n }, (_, k) => {
      const inputs = Math.floor(o.inputsPerCodec / n) + (k < o.inputsPerCodec % n ? 1 : 0);
      const onProgress = o.onProgress && ((line: string) => o.onProgress!(line.replace(`[${target.name}]`, `[${target.name} ${k + 1}/${n}]`)));
      return fuzzOneWorker(target, { ...o, inputsPerCodec: inputs, seed: (o.seed ?? 1) + k * 1_000_003, onProgress });
    }),
  );
  const inputs = parts.reduce((sum, r) => sum + r.inputs, 0);
  const seconds = (Date.now() - started) / 1000;
  return { codec: target.name, inputs, seconds, perSecond: Math.round(inputs / seconds), findings: parts.flatMap((r) => r.findings) };
}

async function fuzzOneWorker(target: FuzzTarget, o: FuzzRunOptions): Promise<CodecResult> {
  const shared = new SharedArrayBuffer(SHARED.headerBytes + SHARED.inputBytes);
  const control = new Int32Array(shared, 0, SHARED.headerInts);
  const job: WorkerJob = {
    codec: target.name,
    inputs: o.inputsPerCodec,
    seed: o.seed ?? 1,
    shared,
    maxHeapGrowth: o.maxHeapGrowthBytes ?? 128 * 1024 * 1024,
    extraTargets: o.extraTargets ?? [],
  };
  const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: o.maxOldGenerationMb ?? 512 },
  });
  const started = Date.now();
  const findings: CodecResult["findings"] = [];
  const crashDir = o.crashDir === undefined ? CRASH_DIR : o.crashDir;
  const record = (f: Finding) => findings.push({ ...f, ...(crashDir ? saveFinding(f, crashDir) : {}) });
  const currentInput = () => new Uint8Array(shared, SHARED.headerBytes, Math.min(Atomics.load(control, 1), SHARED.inputBytes)).slice();
  let done = 0;
  let lastCount = -1;
  let lastMove = Date.now();
  let lastPrint = Date.now();
  const hangMs = target.hangMs ?? 5000;

  await new Promise<void>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      resolve();
    };
    const watchdog = setInterval(() => {
      const count = Atomics.load(control, 0);
      const now = Date.now();
      if (count !== lastCount || Atomics.load(control, 2) === 0) {
        lastCount = count;
        lastMove = now;
      } else if (now - lastMove > hangMs) {
        record({ codec: target.name, kind: "hang", message: `one input ran longer than ${hangMs} ms (input #${count})`, input: currentInput() });
        // Stop watching now: terminating a worker stuck in a loop can take longer than one tick
        // on a loaded machine, and the next tick would report the same hang again.
        clearInterval(watchdog);
        void worker.terminate().then(finish);
        return;
      }
      if (o.onProgress && now - lastPrint >= 2000) {
        lastPrint = now;
        const rate = Math.round(count / ((now - started) / 1000));
        o.onProgress(`[${target.name}] ${count.toLocaleString("en")} / ${o.inputsPerCodec.toLocaleString("en")} inputs, ${rate.toLocaleString("en")}/s, ${findings.length} findings`);
      }
    }, 100);
    worker.on("message", (m: WorkerReport) => {
      if (m.t === "finding") record(m.finding);
      else if (m.t === "progress") done = m.done;
      else if (m.t === "done") {
        done = m.done;
        void worker.terminate().then(finish);
      }
    });
    worker.on("error", (e: Error & { code?: string }) => {
      if (e.code === "ERR_WORKER_OUT_OF_MEMORY") {
        record({ codec: target.name, kind: "out-of-memory", message: `worker heap exceeded ${o.maxOldGenerationMb ?? 512} MiB`, input: currentInput() });
      } else {
        // The harness itself failed (not an input's fault): reported, never saved as a crash.
        findings.push({ codec: target.name, kind: "exception", message: `fuzz worker failed: ${e.message}`, stack: e.stack, input: new Uint8Array(0) });
      }
      finish();
    });
    worker.on("exit", finish);
  });
  const seconds = (Date.now() - started) / 1000;
  const inputs = Math.max(done, Atomics.load(control, 0));
  return { codec: target.name, inputs, seconds, perSecond: Math.round(inputs / seconds), findings };
}

export async function runFuzz(o: FuzzRunOptions): Promise<CodecResult[]> {
  const results: CodecResult[] = [];
  for (const target of o.targets) {
    const result = await fuzzCodec(target, o);
    results.push(result);
    o.onCodecDone?.(result);
  }
  return results;
}
