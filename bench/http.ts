/**
 * HTTP figures (issue 16): small JSON GETs (requests/s and p99 latency, keep-alive, 4 clients)
 * and a large JSON body with masking (MB/s), on three paths:
 *
 *   direct     client → demo upstream (client/dev/demo-http.ts)
 *   tcp-pipe   client → bare in-process TCP pipe → upstream (the cost of one hop, no parsing)
 *   gatehouse  client → listener → worker (demo policy: rules, masking, recording) → connector → upstream
 *
 * Used by bench/run.ts (`--only=http`); `node bin/run-ts.mjs bench/http.ts` prints the figures alone.
 */
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { startDemoHttp } from "../client/dev/demo-http.ts";
import { startTestStack } from "../test/harness/stack.ts";
import { percentile, median } from "./lib/stats.ts";

export interface HttpFigure {
  name: string;
  path: string;
  value: number;
  unit: string;
}

function pipeTo(port: number): Promise<{ port: number; close(): void }> {
  const server = net.createServer((c) => {
    const u = net.connect(port, "127.0.0.1");
    c.pipe(u);
    u.pipe(c);
    const kill = () => (c.destroy(), u.destroy());
    c.on("error", kill);
    u.on("error", kill);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() })));
}

function get(agent: http.Agent, port: number, p: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, agent, headers }, (res) => {
      let n = 0;
      res.on("data", (b: Buffer) => (n += b.length));
      res.on("end", () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      // A response cut off mid-body fails the figure instead of hanging the run.
      res.on("aborted", () => reject(new Error(`response cut off after ${n} bytes`)));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function smallGets(port: number, headers: Record<string, string>, seconds: number): Promise<{ rps: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await get(agent, port, "/customers/2", headers);
        lat.push(performance.now() - t);
        count++;
      }
    }),
  );
  agent.destroy();
  return { rps: count / seconds, p99: percentile(lat, 99) };
}

async function largeBody(port: number, headers: Record<string, string>, rows: number): Promise<number> {
  // Keep-alive, so the client ends the connection: with `Connection: close` the gateway ends the
  // session after the response, and Session.end → Hop.close drops frames still queued for the
  // listener's credit — the end of a large body is then cut off, intermittently (docs/HTTP.md
  // "Not yet"). That is a bug to fix in the session, not a cost to measure here.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const t = performance.now();
  const bytes = await get(agent, port, `/customers/bulk?n=${rows}`, headers).finally(() => agent.destroy());
  return bytes / 1e6 / ((performance.now() - t) / 1000);
}

export async function benchHttp(opts: { seconds: number; largeRows: number; rounds: number; log: (l: string) => void }): Promise<HttpFigure[]> {
  const api = await startDemoHttp();
  const pipe = await pipeTo(api.port);
  const stack = await startTestStack({
    extraResources: [{ name: "demo-http", type: "http", labels: {}, url: new URL(api.url), credential: { kind: "bearer", token: () => api.token }, dropCookies: true, identityHeaders: false }],
    policyFile: path.join(import.meta.dirname, "../examples/policies/demo.yaml"),
  });
  const conn = await stack.connect("demo-http", { sub: "bench" });
  const auth = { authorization: `Bearer ${api.token}` };
  const paths: Array<[string, number, Record<string, string>]> = [
    ["direct", api.port, auth],
    ["tcp-pipe", pipe.port, auth],
    ["gatehouse", conn.port, { "x-gatehouse-listener-token": conn.password }],
  ];
  const out: HttpFigure[] = [];
  try {
    for (const [name, port, headers] of paths) {
      opts.log(`http: ${name}…`);
      const small = [];
      const large = [];
      for (let r = 0; r < opts.rounds; r++) {
        small.push(await smallGets(port, headers, opts.seconds));
        large.push(
          await largeBody(port, headers, opts.largeRows).catch((e: Error) => {
            // The listener's log says why the gateway ended the session.
            throw new Error(`${name}: ${e.message}${name === "gatehouse" ? `; listener: ${conn.logs.slice(-2).join(" | ")}` : ""}`);
          }),
        );
      }
      out.push({ name: "HTTP small JSON GET (4 clients, keep-alive)", path: name, value: median(small.map((s) => s.rps)), unit: "requests/s" });
      out.push({ name: "HTTP small JSON GET p99", path: name, value: median(small.map((s) => s.p99)), unit: "ms" });
      out.push({ name: `HTTP large JSON body (${opts.largeRows} records${name === "gatehouse" ? ", masked" : ""})`, path: name, value: median(large), unit: "MB/s" });
    }
  } finally {
    await stack.stop();
    pipe.close();
    await api.stop();
  }
  return out;
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) {
  benchHttp({ seconds: 3, largeRows: 20_000, rounds: 1, log: (l) => process.stderr.write(`${l}\n`) }).then(
    (figs) => {
      for (const f of figs) console.log(`${f.name.padEnd(50)} ${f.path.padEnd(10)} ${f.value.toFixed(2)} ${f.unit}`);
      process.exit(0);
    },
    (e: Error) => {
      console.error(e);
      process.exit(1);
    },
  );
}
