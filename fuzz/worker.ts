/**
 * The fuzz loop, in a worker thread so the main thread can act as watchdog (run.ts): before each
 * input it copies the input into shared memory and bumps a counter; if the counter stops moving,
 * the main thread knows which input hangs and saves it. The heap is checked after every batch.
 */
import { parentPort, workerData } from "node:worker_threads";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { checkInput, type Finding } from "./check.ts";
import { loadCorpus } from "./corpus.ts";
import { FastInputs } from "./fast-mutate.ts";
import { resolveTarget } from "./registry.ts";
import { SHARED, type WorkerJob, type WorkerReport } from "./protocol.ts";

const job = workerData as WorkerJob;
const target = await resolveTarget(job.codec, job.extraTargets);
const maxBytes = target.maxInputBytes ?? 4096;
const control = new Int32Array(job.shared, 0, SHARED.headerInts);
const inputView = new Uint8Array(job.shared, SHARED.headerBytes);
const inputs = new FastInputs(target.input, loadCorpus(target.name), maxBytes, job.seed);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const post = (m: WorkerReport) => parentPort!.postMessage(m);
const BATCH = 2000;
/** A full GC per heap check: at most one a second (a GC per batch cost up to a third of a fast codec's time). */
const HEAP_CHECK_MS = 1000;
let done = 0;
let baseline = 0;
let lastHeapCheck = 0;
const seen = new Set<string>();
// Codecs refuse most fuzz inputs by throwing their typed error, and capturing a stack trace was
// most of the cost of a refusal (58% of mysql-packets' time): the loop runs without stack traces,
// and an input that gives a finding is run once more with them, for the report.
const STACK_LIMIT = Error.stackTraceLimit;
Error.stackTraceLimit = 0;
for (let batch = 0; done < job.inputs; batch++) {
  const size = Math.min(BATCH, job.inputs - done);
  let last: Uint8Array = new Uint8Array(0);
  for (let k = 0; k < size; k++) {
    const input = inputs.next();
    last = input;
    inputView.set(input.length <= inputView.length ? input : input.subarray(0, inputView.length));
    Atomics.store(control, 1, input.length);
    Atomics.add(control, 0, 1);
    Atomics.store(control, 2, 1); // inside a codec: the watchdog's clock runs
    const pending = checkInput(target, input);
    const finding = pending instanceof Promise ? await pending : pending;
    Atomics.store(control, 2, 0); // generating or collecting garbage: not the codec's time
    if (finding !== undefined && finding !== null) report(await withStack(finding));
  }
  done += size;
  // Heap after the first batches (modules warmed, caches filled) is the baseline; growth beyond
  // the bound over later batches means some input leaves memory behind. Checked at most once a
  // second, and always after the last batch.
  const now = Date.now();
  if (batch === 4) {
    baseline = heapUsed();
    lastHeapCheck = now;
  } else if (batch > 4 && (now - lastHeapCheck >= HEAP_CHECK_MS || done >= job.inputs)) {
    lastHeapCheck = now;
    const grown = heapUsed() - baseline;
    if (grown > job.maxHeapGrowth) report({ codec: target.name, kind: "heap", message: `heap grew by ${Math.round(grown / 1048576)} MiB over ${done} inputs`, input: last });
  }
  post({ t: "progress", done });
}
post({ t: "done", done });

/** The finding again with its stack (the same input re-run with stack traces on), when it reproduces. */
async function withStack(f: Finding): Promise<Finding> {
  if (f.kind !== "exception") return f;
  const input = f.input.slice();
  Error.stackTraceLimit = STACK_LIMIT;
  try {
    const again = await checkInput(target, input);
    return again && again.kind === f.kind ? again : f;
  } finally {
    Error.stackTraceLimit = 0;
  }
}

function report(f: Finding): void {
  const key = `${f.kind}:${f.message.replace(/\d+/g, "#")}`;
  if (seen.has(key) || seen.size >= 20) return; // one input per distinct failure is enough to act on
  seen.add(key);
  // The input is a view into the generator's buffer: copied before the next input overwrites it.
  post({ t: "finding", finding: { ...f, stack: f.stack, input: f.input.slice() } });
}
