/**
 * npm run fuzz [-- --codec=sql,shell] [--inputs=10000000] [--seed=N] [--workers=N] [--repro=fuzz/crashes/<file>.hex]
 *
 * Feeds every codec of the table (targets.ts) random and mutated-capture inputs; 10 M per codec
 * by default. Findings are saved to fuzz/crashes/ with the command that reproduces them; the exit
 * status is 1 when there is any. --repro runs one saved input in-process and prints what happens.
 */
import { allTargets } from "./registry.ts";
import { checkInput } from "./check.ts";
import { readInputFile } from "./corpus.ts";
import { runFuzz } from "./runner.ts";

const args = new Map(
  process.argv.slice(2).map((a) => {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      console.error(`unknown argument ${a}`);
      process.exit(2);
    }
    return [m[1]!, m[2] ?? "true"] as const;
  }),
);
const targets = await allTargets();
const names = args.get("codec")?.split(",");
for (const n of names ?? []) {
  if (!targets.some((t) => t.name === n)) {
    console.error(`unknown codec ${n}; the table has: ${targets.map((t) => t.name).join(", ")}`);
    process.exit(2);
  }
}
const chosen = names ? targets.filter((t) => names.includes(t.name)) : targets;

const repro = args.get("repro");
if (repro) {
  if (chosen.length !== 1) {
    console.error("--repro needs exactly one --codec=");
    process.exit(2);
  }
  const input = readInputFile(repro);
  const finding = await checkInput(chosen[0]!, input);
  if (!finding) {
    console.log(`${chosen[0]!.name}: ${input.length} bytes — no finding (fixed?)`);
    process.exit(0);
  }
  console.log(`${finding.codec}: ${finding.kind}: ${finding.message}\n${finding.stack ?? ""}`);
  process.exit(1);
}

const inputs = Number(args.get("inputs") ?? 10_000_000);
const seed = Number(args.get("seed") ?? Date.now() % 1_000_000);
const workers = Number(args.get("workers") ?? 1);
if (!Number.isInteger(workers) || workers < 1) {
  console.error("--workers wants a whole number ≥ 1");
  process.exit(2);
}
console.log(`fuzzing ${chosen.map((t) => t.name).join(", ")}: ${inputs.toLocaleString("en")} inputs each, seed ${seed}${workers > 1 ? `, ${workers} workers` : ""}`);
let failed = false;
await runFuzz({
  targets: chosen,
  inputsPerCodec: inputs,
  seed,
  workers,
  onProgress: (l) => console.log(l),
  onCodecDone: (r) => {
    console.log(`${r.codec.padEnd(14)} ${r.inputs.toLocaleString("en").padStart(12)} inputs  ${r.perSecond.toLocaleString("en").padStart(8)}/s  ${r.seconds.toFixed(1)} s  ${r.findings.length} findings`);
    for (const f of r.findings) {
      failed = true;
      console.log(`  ${f.kind}: ${f.message}\n    saved ${f.file ?? "(not saved)"}\n    repro: ${f.repro ?? ""}`);
    }
  },
});
process.exit(failed ? 1 : 0);
