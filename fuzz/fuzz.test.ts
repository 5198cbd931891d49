/**
 * The codec fuzzer's bounded run (npm test): every codec of the table gets random and mutated
 * capture inputs in-process (fast-check, failures shrink). The runner's own detectors (worker
 * thread watchdog, out-of-memory cap, output bound, heap growth) are checked against deliberately
 * broken codecs. The long run is `npm run fuzz` (10 M inputs per codec).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FUZZ_TARGETS } from "./targets.ts";
import { checkInput } from "./check.ts";
import { loadCorpus, readInputFile } from "./corpus.ts";
import { inputArb } from "./mutate.ts";
import { allTargets } from "./registry.ts";
import { runFuzz } from "./runner.ts";

const SELF_TEST = fileURLToPath(new URL("./testing/self-test-targets.ts", import.meta.url));
/** Per codec (policy: a fifth); 16 codecs and the harness self-tests stay within about a minute. */
const RUNS = 2000;

describe("codec fuzzing (bounded budget)", () => {
  it("has a seed corpus of real captures for every codec in the table", () => {
    for (const t of FUZZ_TARGETS) expect(loadCorpus(t.name).length, t.name).toBeGreaterThan(0);
  });

  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: no exception but its own, output bounded, on random and mutated captures`, async () => {
      const arb = inputArb(target.input, loadCorpus(target.name), target.maxInputBytes ?? 4096);
      let ran = 0;
      // As in the long run (worker.ts): refusals without stack traces, a failing input re-run with them.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        await fc.assert(
          fc.asyncProperty(arb, async (input) => {
            ran++;
            let finding = await checkInput(target, input);
            if (finding) {
              Error.stackTraceLimit = limit;
              finding = (await checkInput(target, input)) ?? finding;
              Error.stackTraceLimit = 0;
            }
            expect(finding && `${finding.kind}: ${finding.message}\n${finding.stack ?? ""}`).toBeNull();
          }),
          { numRuns: target.name === "policy" ? RUNS / 5 : RUNS },
        );
      } finally {
        Error.stackTraceLimit = limit;
      }
      expect(ran).toBeGreaterThanOrEqual(target.name === "policy" ? RUNS / 5 : RUNS);
    });
  }
});

describe("the harness catches what it promises to catch", () => {
  const selfTest = async (name: string, inputs: number, extra: { maxHeapGrowthBytes?: number; maxOldGenerationMb?: number; workers?: number } = {}) => {
    const target = (await allTargets([SELF_TEST])).find((t) => t.name === name)!;
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-fuzz-"));
    try {
      const [result] = await runFuzz({ targets: [target], inputsPerCodec: inputs, crashDir: dir, extraTargets: [SELF_TEST], seed: 7, ...extra });
      return { result: result!, files: result!.findings.map((f) => ({ text: readFileSync(f.file!, "utf8"), input: readInputFile(f.file!) })) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("a hang: the watchdog reports the input that hangs and saves it with a repro command", async () => {
    const { result, files } = await selfTest("self-test-hang", 20_000);
    expect(result.findings.map((f) => f.kind)).toEqual(["hang"]);
    expect(result.findings[0]!.input.length).toBe(7);
    expect(files[0]!.input).toEqual(result.findings[0]!.input);
    expect(files[0]!.text).toContain("# repro: npm run fuzz -- --codec=self-test-hang --repro=");
  }, 60_000);

  it("an input that allocates without bound: out-of-memory, with that input", async () => {
    const { result } = await selfTest("self-test-oom", 20_000, { maxOldGenerationMb: 96 });
    expect(result.findings.map((f) => f.kind)).toEqual(["out-of-memory"]);
    expect(result.findings[0]!.input.length).toBe(5);
  }, 60_000);

  it("output larger than the codec's bound (on two workers: inputs shared out, each worker's findings kept)", async () => {
    const { result } = await selfTest("self-test-oversize", 51, { workers: 2 });
    expect(result.inputs).toBe(51);
    expect(result.findings.map((f) => f.kind)).toEqual(["oversize", "oversize"]);
  }, 60_000);

  it("heap that grows with the number of inputs", async () => {
    // ~16 KiB kept per input: 2 000 inputs after the baseline (taken after 10 000) are 32 MiB.
    const { result } = await selfTest("self-test-leak", 12_000, { maxHeapGrowthBytes: 16 * 1024 * 1024 });
    expect(result.findings.map((f) => f.kind)).toContain("heap");
  }, 60_000);
});
