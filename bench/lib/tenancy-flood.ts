/**
 * The flooding tenant's clients, as a process of their own (bench/tenancy.ts --placement=process
 * runs it under `taskset` on the flooding tenant's CPU): N loops, each opening a session through
 * the tenant's `gatehouse connect` listener, running 20 small statements and closing, again, until
 * SIGTERM; then one line of JSON on stdout: { statements, refused, seconds }.
 *
 *   node bin/run-ts.mjs bench/lib/tenancy-flood.ts <libpq URL> <clients>
 */
import pg from "pg";

const [url, clientsArg] = process.argv.slice(2);
if (!url || !clientsArg) {
  process.stderr.write("usage: tenancy-flood.ts <url> <clients>\n");
  process.exit(2);
}
let stop = false;
let statements = 0;
let refused = 0;
const t0 = performance.now();
const loops = Array.from({ length: Number(clientsArg) }, async () => {
  while (!stop) {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => {});
    try {
      await c.connect();
      for (let i = 0; i < 20 && !stop; i++) {
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
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await c.end().catch(() => {});
    }
  }
});
process.on("SIGTERM", () => {
  stop = true;
  const seconds = (performance.now() - t0) / 1000;
  void Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]).then(() => {
    process.stdout.write(`${JSON.stringify({ statements, refused, seconds })}\n`);
    process.exit(0);
  });
});
process.stdout.write("flooding\n");
