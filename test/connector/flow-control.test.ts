/**
 * Credit-based flow control through the connector, both directions, against a real PostgreSQL.
 * Assertions are about window accounting and observable state (who is blocked), never timing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { serialize } from "pg-protocol";
import { createHash } from "node:crypto";
import { INITIAL_WINDOW, MAX_DATA_PAYLOAD } from "../../parsers/tunnel/frames.ts";
import { POOLED_FRAME_MIN } from "../../connector/frame-pool.ts";
import type { ConnectorEvent } from "../../connector/connector.ts";
import type { StreamEvent } from "../../connector/stream-types.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { BackendReader } from "./pg-backend.ts";
import { pgResource, startConnectorStack, waitForEvent, type ConnectorStack } from "./stack.ts";

const ROWS = 8_000;
const ROW_BYTES = 1_000;

describe("connector flow control", () => {
  let db: RunningPostgres;
  let stack: ConnectorStack;

  beforeAll(async () => {
    db = await startPostgres({ auth: "scram-sha-256" });
    stack = await startConnectorStack([pgResource("demo-pg", db)]);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.stop();
  });

  it("stops reading from PostgreSQL when the worker grants no credit, and resumes on CREDIT", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "flow-down" });
    expect((await stream.controls.next()).t).toBe("ready");
    const session = stream.assertion.payload.sid!;
    const backend = new BackendReader(stream);
    const isPaused = (e: ConnectorEvent): e is Extract<StreamEvent, { type: "stream-paused" }> => e.type === "stream-paused" && e.stats.session === session;

    // ~8 MB of rows, far more than the 1 MiB initial window.
    stream.sendData(serialize.query(`select repeat('x', ${ROW_BYTES}) from generate_series(1, ${ROWS})`));
    const paused = await waitForEvent(stack.events, isPaused);
    expect(paused.stats.sendCredit).toBeLessThanOrEqual(0);
    // Spent everything, overdrawn by at most one frame.
    expect(paused.stats.bytesToWorker).toBeGreaterThanOrEqual(INITIAL_WINDOW);
    expect(paused.stats.bytesToWorker).toBeLessThanOrEqual(INITIAL_WINDOW + MAX_DATA_PAYLOAD);

    // Everything sent before the pause arrives, and nothing more: the connector is not reading.
    while (stream.dataBytes < paused.stats.bytesToWorker) await new Promise((r) => setTimeout(r, 10));
    // The backend itself ends up blocked writing to its (full) socket: backpressure reached PostgreSQL.
    const admin = new pg.Client({ connectionString: db.superuserUrl });
    await admin.connect();
    try {
      for (;;) {
        const { rows } = await admin.query("select wait_event from pg_stat_activity where application_name = 'flow-down'");
        if (rows[0]?.wait_event === "ClientWrite") break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.end();
    }
    const [stats] = stack.connector.streams().filter((s) => s.session === session);
    expect(stats).toMatchObject({ paused: true, bytesToWorker: paused.stats.bytesToWorker });
    expect(stream.dataBytes).toBe(paused.stats.bytesToWorker);
    expect(backend.rows).toBeLessThan(ROWS);

    // Now consume like a real (fast) reader: credit back what we got, then keep granting.
    stream.grant(stream.dataBytes);
    stream.autoCredit = true;
    const complete = await backend.waitFor((m) => m.code === "C");
    expect(complete.message?.text).toBe(`SELECT ${ROWS}`);
    await backend.waitFor((m) => m.code === "Z");
    expect(backend.rows).toBe(ROWS);

    // The connector never sent more than the credit it had, plus one frame of overdraw.
    expect(stream.dataBytes).toBeLessThanOrEqual(INITIAL_WINDOW + stream.creditGranted + MAX_DATA_PAYLOAD);
    for (const e of stack.events) {
      if (isPaused(e)) expect(e.stats.sendCredit).toBeGreaterThan(-MAX_DATA_PAYLOAD);
    }
    stream.sendData(serialize.end());
    await stream.closed;
  });

  it("sends every byte the target wrote before its end ahead of the error, in frames within MAX_DATA_PAYLOAD", async () => {
    // The connector gathers the socket reads of one event-loop turn into one DATA frame; a control
    // frame (here the 08006 error when PostgreSQL ends the backend right after the rows) must
    // still come after every byte read before it.
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "flow-order" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    const rows = 3_000;
    stream.sendData(serialize.query(`select repeat('y', ${ROW_BYTES}) from generate_series(1, ${rows}); select pg_terminate_backend(pg_backend_pid())`));
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08006" });
    // Frames arrive in order and the harness handles each as it comes: the first statement's rows
    // and its CommandComplete were all there first (the terminating call may or may not get its
    // own row out before the signal is handled).
    expect(backend.rows).toBeGreaterThanOrEqual(rows);
    expect(backend.messages.some((m) => m.code === "C" && m.message?.text === `SELECT ${rows}`)).toBe(true);
    expect(stream.maxDataPayload).toBeLessThanOrEqual(MAX_DATA_PAYLOAD);
    await stream.closed;
  });

  it("relays a multi-megabyte result byte for byte through the pooled frame buffers (frame-pool.ts)", async () => {
    // Every row differs (its number and an md5 of it), so a frame cut at the wrong length or
    // filled from the wrong offset shows as a row that is not its own. (On loopback the kernel's
    // send buffer takes both in-flight frames at once, so reuse before ws's write callback cannot
    // be provoked here; FramePool's own test covers when a buffer comes back.)
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "flow-pool" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    const rows = 6_000; // ~6 MB: several full 1 MiB frames, each built in a pooled buffer
    const wrong: string[] = [];
    let next = 1;
    backend.onRow = (row) => {
      const i = next++;
      const text = row.toString("latin1");
      const expected = `${i}|${createHash("md5").update(String(i)).digest("hex").repeat(30)}`;
      if (!text.endsWith(expected) || row.readUInt32BE(1) !== row.length - 1) wrong.push(`row ${i}`);
    };
    // The harness stops reading until the connector has spent its window: frames then follow
    // each other through the same pooled buffers as fast as the connector can build them.
    const session = stream.assertion.payload.sid!;
    stream.ws.pause();
    stream.sendData(serialize.query(`select i::text || '|' || repeat(md5(i::text), 30) from generate_series(1, ${rows}) i`));
    await waitForEvent(stack.events, (e): e is Extract<StreamEvent, { type: "stream-paused" }> => e.type === "stream-paused" && e.stats.session === session);
    stream.ws.resume();
    const complete = await backend.waitFor((m) => m.code === "C");
    expect(complete.message?.text).toBe(`SELECT ${rows}`);
    expect(backend.rows).toBe(rows);
    expect(wrong).toEqual([]);
    expect(stream.maxDataPayload).toBeGreaterThanOrEqual(POOLED_FRAME_MIN);
    stream.sendData(serialize.end());
    await stream.closed;
  });

  it("credits the worker only for bytes written to PostgreSQL (COPY FROM STDIN upload)", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "flow-up" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    const query = serialize.query("create temporary table sink(line text); copy sink from stdin");
    stream.sendData(query);
    await backend.waitFor((m) => m.code === "G");

    const line = Buffer.from(`${"y".repeat(1023)}\n`);
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line)); // 64 KiB of rows
    const chunks = 128; // 8 MiB in all
    let sent = query.length; // every DATA payload byte counts against the window
    for (let i = 0; i < chunks; i++) {
      const message = serialize.copyData(chunk);
      // A well-behaved sender: never beyond the window the connector granted.
      await stream.creditAtLeast(sent + message.length - INITIAL_WINDOW);
      stream.sendData(message);
      sent += message.length;
      expect(sent).toBeLessThanOrEqual(INITIAL_WINDOW + stream.creditReceived);
    }
    stream.sendData(serialize.copyDone());
    const complete = await backend.waitFor((m) => m.code === "C" && String(m.message?.text).startsWith("COPY"));
    expect(complete.message?.text).toBe(`COPY ${chunks * 64}`);
    // Credit came back in quarter-window batches, and never more than was sent.
    expect(stream.creditReceived).toBeGreaterThan(0);
    expect(stream.creditReceived).toBeLessThanOrEqual(sent);
    expect(sent - stream.creditReceived).toBeLessThan(INITIAL_WINDOW / 4 + chunk.length + 16);
    stream.close();
  });

  it("stops granting credit while PostgreSQL is not reading, so the worker cannot make it buffer", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "flow-stall" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const session = stream.assertion.payload.sid!;
    const backend = new BackendReader(stream);
    const sleep = serialize.query("select pg_sleep(600)");
    stream.sendData(sleep);

    // One Query message far larger than any socket buffer: select length('zzzz…').
    const size = 48 * 1024 * 1024;
    const body = Buffer.concat([Buffer.from("select length('"), Buffer.alloc(size, "z"), Buffer.from("')\0")]);
    const header = Buffer.alloc(5);
    header.write("Q", 0, "latin1");
    header.writeUInt32BE(body.length + 4, 1);
    const message = Buffer.concat([header, body]);
    const piece = 256 * 1024;
    let offset = 0;
    let sent = sleep.length;
    let stalled = false;
    while (offset < message.length) {
      const next = message.subarray(offset, offset + piece);
      try {
        // A sender that respects its window; while the backend sleeps, credit must dry up.
        await stream.creditAtLeast(sent + next.length - INITIAL_WINDOW, 1_500);
      } catch {
        stalled = true;
        break;
      }
      stream.sendData(next);
      sent += next.length;
      offset += next.length;
    }
    expect(stalled).toBe(true);
    expect(offset).toBeLessThan(message.length);
    const [stats] = stack.connector.streams().filter((s) => s.session === session);
    // Outstanding (received, not credited) stays within the window: the rest is PostgreSQL's socket buffer.
    expect(stats!.bytesFromWorker - stats!.creditGranted).toBeLessThanOrEqual(INITIAL_WINDOW + MAX_DATA_PAYLOAD);
    expect(stats!.creditGranted).toBe(stream.creditReceived);

    // Cancel the sleep: PostgreSQL reads again, credit flows, and the big query completes.
    stream.sendControl({ t: "cancel" });
    expect((await backend.waitFor((m) => m.code === "E")).message?.code).toBe("57014");
    while (offset < message.length) {
      const next = message.subarray(offset, offset + piece);
      await stream.creditAtLeast(sent + next.length - INITIAL_WINDOW);
      stream.sendData(next);
      sent += next.length;
      offset += next.length;
    }
    await backend.waitFor((m) => m.code === "C" && m.message?.text === "SELECT 1");
    expect(backend.firstRows[0]).toEqual([String(size)]);
    stream.close();
  });
});
