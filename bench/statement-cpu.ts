/**
 * Worker CPU per statement (issue 18), measured without session setup in the figure: sessions are
 * opened and warmed first, then workerd's CPU (utime+stime of every workerd process of the run, as
 * bench/run.ts counts it) is read around a fixed number of pgbench-style point selects
 * (`SELECT abalance FROM pgbench_accounts WHERE aid = …`, simple or extended protocol, 1 or 8
 * connections). pgbench -T runs are short enough on a busy machine that opening eight sessions
 * (identity, policy, masking catalogue) is a visible share of their CPU per transaction; this one
 * is not, so a before/after of a per-statement change reads here first.
 *
 *   node bin/run-ts.mjs bench/statement-cpu.ts [--statements=3000] [--rounds=3] [--runtime=selfhost,wrangler] [--profile=<file>] [--floor=0]
 *
 * Runtime (--runtime, default selfhost): `selfhost` is the production runtime — the self-host
 * bundle under standalone workerd (bench/lib/selfhost.ts), no proxy worker, so the figure is the
 * worker's own CPU; `wrangler` is wrangler dev, whose workerd figure includes its proxy worker.
 * Several runtimes run in the same process, alternating; each counts only its own workerd pids.
 *
 * Paths: gatehouse-full (demo policy: per-statement rules, masking rules and detectors, fail-closed
 * recording) and gatehouse (allow-all resource, no masking, best-effort recording), as in
 * bench/run.ts; and the platform floor (bench/lib/workerd-relay.ts, on the same standalone workerd):
 * workerd-relay (a bare Durable Object passing the messages through) and workerd-relay+write (plus
 * one durable INSERT per round trip behind the output gate). --floor=0 leaves the floor out. --profile=<file> also profiles the worker isolate during one more simple c=8 run on
 * gatehouse-full and writes the whole profile (frames resolved to repo lines) to <file>.
 * Prints a table; writes nothing under bench/results. Nothing here asserts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import YAML from "yaml";
import { startPostgres } from "../test/harness/postgres.ts";
import { startTestStack, type TestStack } from "../test/harness/stack.ts";
import { cmdline, cpuSeconds, workerdPids, wranglerInspectorPort } from "../test/harness/procs.ts";
import { parseRuntimes, RUNTIME_LABEL, startSelfhostRuntime, type WorkerRuntime } from "./lib/selfhost.ts";
import { pgbenchInit } from "./lib/pgbench.ts";
import { median } from "./lib/stats.ts";
import { profileWorker } from "./lib/profile.ts";
import { startWorkerdRelay, type RunningWorkerdRelay } from "./lib/workerd-relay.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const STATEMENTS = Number(arg("statements") ?? 3000);
const ROUNDS = Number(arg("rounds") ?? 3);
const PROFILE = arg("profile");
const RUNTIMES = parseRuntimes(arg("runtime"));
const FLOOR = arg("floor") !== "0";
const SCALE = 2;
const log = (l: string) => process.stderr.write(`[statement-cpu ${new Date().toISOString().slice(11, 19)}] ${l}\n`);

const FULL = "demo-pg";
const MIN = "bench-min";

/** bench/run.ts's policy: demo.yaml plus an allow-all resource without masking (best-effort recording). */
async function benchPolicy(): Promise<string> {
  const demo = YAML.parse(await readFile(path.join(REPO, "examples/policies/demo.yaml"), "utf8")) as { rules: Array<Record<string, unknown>>; recording?: unknown };
  demo.rules.push({ name: "bench-allow-all", effect: "allow", subjects: "any", resources: [MIN], actions: ["connect", "sql.*"] });
  demo.recording = { mode: "fail-closed", overrides: [{ resources: [MIN], mode: "best-effort" }] };
  return YAML.stringify(demo);
}

type Mode = "simple" | "extended";

async function openClients(port: number, user: string, password: string, database: string, n: number): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = new pg.Client({ host: "127.0.0.1", port, user, password, database });
    c.on("error", () => undefined);
    await c.connect();
    clients.push(c);
  }
  return clients;
}

/** `total` point selects spread over the clients, each client one statement at a time (as pgbench -S). */
async function run(clients: pg.Client[], mode: Mode, total: number): Promise<void> {
  let left = total;
  const rows = 100_000 * SCALE;
  await Promise.all(
    clients.map(async (c) => {
      while (left-- > 0) {
        const aid = 1 + Math.floor(Math.random() * rows);
        if (mode === "simple") await c.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`);
        else await c.query({ text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1", values: [aid] });
      }
    }),
  );
}

/** Every thread of the given workerd processes: CPU seconds (user+system) and user seconds (diagnostics: STATEMENT_CPU_PER_PID=1). */
function threadCpu(pids: number[]): Array<{ id: string; comm: string; s: number; u: number }> {
  const out: Array<{ id: string; comm: string; s: number; u: number }> = [];
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out.push({ id: `${pid}.${tid}`, comm, s: (Number(f[11]) + Number(f[12])) / 100, u: Number(f[11]) / 100 });
      } catch {
        // exited
      }
    }
  }
  return out;
}

const workerdCpu = (pids: number[]) => pids.reduce((a, pid) => a + cpuSeconds(pid), 0);

/** A path: where its clients connect, and the workerd processes whose CPU is its figure. */
interface BenchPath {
  port: number;
  user: string;
  password: string;
  database: string;
  workerd: () => number[];
}

async function main(): Promise<void> {
  log(`starting PostgreSQL and the stack on ${RUNTIMES.map((r) => RUNTIME_LABEL[r]).join(" and ")}…`);
  const pgServer = await startPostgres({ user: "bench", database: "bench" });
  const resource = { name: MIN, type: "postgres", labels: { env: "bench" }, host: pgServer.host, port: pgServer.port, database: pgServer.database, username: pgServer.user, password: pgServer.password, tls: { mode: "disable" } };
  const stacks: Array<{ runtime: WorkerRuntime; stack: TestStack }> = [];
  let floor: RunningWorkerdRelay | undefined;
  try {
    for (const runtime of RUNTIMES) {
      const stack = await startTestStack({
        policyYaml: await benchPolicy(),
        pg: { host: pgServer.host, port: pgServer.port, database: pgServer.database, user: pgServer.user, password: pgServer.password },
        extraResources: [resource as never],
        ...(runtime === "selfhost" ? { startWorker: startSelfhostRuntime } : {}),
      });
      stacks.push({ runtime, stack });
    }
    await pgbenchInit({ host: pgServer.host, port: pgServer.port, database: pgServer.database, user: pgServer.user, password: pgServer.password }, SCALE);
    /** Path name (`gatehouse-full@selfhost`…, `workerd-relay`…) → its listener and its workerd processes. */
    const paths: Record<string, BenchPath> = {};
    for (const { runtime, stack } of stacks) {
      const conn = async (database: string): Promise<BenchPath> => {
        const c = await stack.connect(database, { sub: "alice" });
        return { port: c.port, user: "alice", password: c.password, database, workerd: () => workerdPids(runtime) };
      };
      paths[`gatehouse-full@${runtime}`] = await conn(FULL);
      paths[`gatehouse@${runtime}`] = await conn(MIN);
    }
    if (FLOOR) {
      const f = await startWorkerdRelay({ host: pgServer.host, port: pgServer.port }, log);
      floor = f;
      const direct = { user: pgServer.user, password: pgServer.password, database: pgServer.database, workerd: () => [f.pids.workerd] };
      paths["workerd-relay"] = { port: f.port, ...direct };
      paths["workerd-relay+write"] = { port: f.writePort, ...direct };
    }
    const results = new Map<string, number[]>();
    /** Statements per second of the same runs (context: the clients run in this process, one statement at a time each). */
    const tps = new Map<string, number[]>();
    const variants: Array<{ mode: Mode; clients: number }> = [
      { mode: "simple", clients: 1 },
      { mode: "simple", clients: 8 },
      { mode: "extended", clients: 1 },
      { mode: "extended", clients: 8 },
    ];
    for (const v of variants) {
      const sessions = Object.fromEntries(await Promise.all(Object.entries(paths).map(async ([name, p]) => [name, await openClients(p.port, p.user, p.password, p.database, v.clients)] as const)));
      try {
        for (const clients of Object.values(sessions)) await run(clients, v.mode, 200); // warm-up: JIT, plans
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? Object.keys(sessions) : Object.keys(sessions).reverse();
          for (const name of order) {
            const pids = paths[name]!.workerd();
            const threadsBefore = new Map(threadCpu(pids).map((t) => [t.id, t.s]));
            const userBefore = new Map(threadCpu(pids).map((t) => [t.id, t.u]));
            const beforeByPid = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
            const before = workerdCpu(pids);
            const t0 = performance.now();
            await run(sessions[name]!, v.mode, STATEMENTS);
            const seconds = (performance.now() - t0) / 1000;
            const us = ((workerdCpu(pids) - before) * 1e6) / STATEMENTS;
            if (process.env.STATEMENT_CPU_PER_PID) log(`  threads: ${threadCpu(pids).filter((t) => t.s - (threadsBefore.get(t.id) ?? 0) > 0.01).map((t) => `${t.id}/${t.comm}: ${(((t.s - (threadsBefore.get(t.id) ?? 0)) * 1e6) / STATEMENTS).toFixed(0)} µs (user ${(((t.u - (userBefore.get(t.id) ?? 0)) * 1e6) / STATEMENTS).toFixed(0)})`).join("; ")}`);
            if (process.env.STATEMENT_CPU_PER_PID) log(`  per workerd process: ${pids.map((pid) => `${pid}: ${((cpuSeconds(pid) - (beforeByPid.get(pid) ?? 0)) * 1e6 / STATEMENTS).toFixed(0)} µs (${cmdline(pid).slice(0, 60)})`).join("; ")}`);
            const key = `${v.mode} c=${v.clients}\t${name}`;
            results.set(key, [...(results.get(key) ?? []), us]);
            tps.set(key, [...(tps.get(key) ?? []), STATEMENTS / seconds]);
            log(`${v.mode} c=${v.clients} ${name}: ${us.toFixed(0)} µs CPU/statement (${(STATEMENTS / seconds).toFixed(0)} statements/s)`);
          }
        }
        if (PROFILE && v.mode === "simple" && v.clients === 8) {
          const port = wranglerInspectorPort();
          if (!port || !sessions["gatehouse-full@wrangler"]) log("profile: needs the wrangler runtime (--runtime=…,wrangler): its inspector port");
          else {
            const p = await profileWorker(port, () => run(sessions["gatehouse-full@wrangler"]!, "simple", STATEMENTS), 15, { rawOut: PROFILE });
            log(`profile: ${p.samples} samples, busy ${p.busyMs?.toFixed(0)} ms of ${p.sampledMs?.toFixed(0)} ms → ${PROFILE}`);
          }
        }
      } finally {
        for (const clients of Object.values(sessions)) for (const c of clients) await c.end().catch(() => undefined);
      }
    }
    const lines = [
      `runtimes: ${RUNTIMES.map((r) => `${r} = ${RUNTIME_LABEL[r]}`).join("; ")}${FLOOR ? "; workerd-relay* = bench/workerd-relay/worker.ts on standalone workerd" : ""}`,
      "",
      "| workload | path | µs workerd CPU/statement (median) | rounds | statements/s (median) |",
      "| --- | --- | ---: | --- | ---: |",
    ];
    for (const [key, runs] of results) {
      const [workload, name] = key.split("\t");
      lines.push(`| ${workload} | ${name} | ${median(runs).toFixed(0)} | ${runs.map((r) => r.toFixed(0)).join(", ")} | ${median(tps.get(key)!).toFixed(0)} |`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await floor?.stop();
    for (const { stack } of stacks) await stack.stop();
    await pgServer.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`statement-cpu failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
