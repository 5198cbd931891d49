/**
 * Bench section `mysql` (issue 22): mysqlslap-style small queries and one large result over
 *   direct            mysql2 → MariaDB
 *   tcp-pipe          mysql2 → Node TCP pipe (child process) → MariaDB          (one bare hop)
 *   relay             mysql2 → listener ─ws→ hub ←ws─ forwarder → MariaDB      (bare two-hop relay)
 *   gatehouse-inproc  mysql2 → MySQL listener → engine core (policy, masking) → connector login → MariaDB,
 *                     in one process (test/harness/mysql-gateway.ts): the MySQL module's own cost,
 *                     without the worker hops
 *   gatehouse         mysql2 → `gatehouse connect` listener ─ws→ worker (workerd: engine, policy, masking,
 *                     recording) ─ws→ connector → MariaDB: the real gateway (test/harness/stack.ts)
 * Same MariaDB, variants alternating, medians of the rounds. Nothing asserts.
 */
import mysql from "mysql2/promise";
import { startMariaDb } from "../test/harness/mariadb.ts";
import { startMysqlGateway } from "../test/harness/mysql-gateway.ts";
import { startTcpPipe, startTwoHopRelay } from "./lib/relay.ts";
import { startTestStack } from "../test/harness/stack.ts";

type Add = (name: string, unit: string, byPath: Map<string, number[]>, note?: string) => void;

const POLICY = `version: 1
rules:
  - { name: connect, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: reads, effect: allow, subjects: any, resources: any, actions: [sql.read, sql.session, sql.transaction] }
`;
const MASKING = `masking:
  rules:
    - { name: ssn, resources: any, columns: [ssn], style: partial, keep: 4 }
`;

export async function sectionMysql(addGroup: Add, opts: { rounds: number; seconds: number; rows: number; log: (l: string) => void }): Promise<void> {
  opts.log(`mysql: MariaDB, ${opts.rows} rows × 1 kB large result, ${opts.seconds} s of small queries per path and round…`);
  const db = await startMariaDb();
  const stops: (() => Promise<unknown>)[] = [() => db.stop()];
  try {
    await db.rootSql(`CREATE TABLE big (id INT PRIMARY KEY, payload TEXT); INSERT INTO big SELECT seq, REPEAT('x', 1000) FROM seq_1_to_${opts.rows};`, db.database);
    const pipe = await startTcpPipe({ host: db.host, port: db.port });
    stops.push(() => pipe.stop());
    const relay = await startTwoHopRelay({ host: db.host, port: db.port });
    stops.push(() => relay.stop());
    const gw = await startMysqlGateway(db, { policy: POLICY, masking: [{ name: "ssn", columns: ["ssn"], style: "partial", keep: 4 }] });
    stops.push(() => gw.close());
    const reader = db.levels.read;
    const stack = await startTestStack({
      policyYaml: POLICY + MASKING,
      extraResources: [{ name: "bench-mysql", type: "mysql", labels: {}, host: db.host, port: db.port, database: db.database, credentials: { read: { username: reader.user, password: reader.password } }, tls: { mode: "disable" } }],
    });
    stops.push(() => stack.stop());
    const conn = await stack.connect("bench-mysql", { sub: "bench" });
    const paths: Record<string, mysql.ConnectionOptions> = {
      direct: { host: db.host, port: db.port, user: reader.user, password: reader.password },
      "tcp-pipe": { host: "127.0.0.1", port: pipe.port, user: reader.user, password: reader.password },
      relay: { host: "127.0.0.1", port: relay.port, user: reader.user, password: reader.password },
      "gatehouse-inproc": { host: "127.0.0.1", port: gw.port, user: "bench", password: gw.password },
      gatehouse: { host: "127.0.0.1", port: conn.port, user: "bench", password: conn.password },
    };
    const qps = new Map<string, number[]>();
    const large = new Map<string, number[]>();
    for (let round = 0; round < opts.rounds; round++) {
      for (const [name, o] of Object.entries(paths)) {
        const c = await mysql.createConnection({ ...o, database: db.database });
        const until = Date.now() + opts.seconds * 1000;
        let n = 0;
        while (Date.now() < until) {
          await c.query("SELECT id, name, ssn FROM customers WHERE id = 2");
          n++;
        }
        (qps.get(name) ?? qps.set(name, []).get(name)!).push(n / opts.seconds);
        const t0 = performance.now();
        const [rows] = await c.query("SELECT id, payload FROM big");
        const s = (performance.now() - t0) / 1000;
        (large.get(name) ?? large.set(name, []).get(name)!).push((rows as unknown[]).length * 1000 / 1e6 / s);
        await c.end();
      }
    }
    addGroup("mysql: small queries, one connection (mysqlslap-style)", "queries/s", qps, "SELECT of one customers row (masked column on the gateway path)");
    addGroup(`mysql: large result (${opts.rows} rows × 1 kB)`, "MB/s", large);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  }
}
