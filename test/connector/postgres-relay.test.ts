/**
 * The connector against real PostgreSQL clusters (SCRAM and md5), with the harness worker on the
 * other side of the tunnel protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import pg from "pg";
import { serialize } from "pg-protocol";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { BackendReader } from "./pg-backend.ts";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";

async function closedPort(): Promise<number> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 1));
    });
  });
}

describe.each(["scram-sha-256", "md5"] as const)("connector ↔ PostgreSQL with %s", (auth) => {
  let db: RunningPostgres;
  let stack: ConnectorStack;
  const password = `pw-${auth}-Zq7!`;

  beforeAll(async () => {
    db = await startPostgres({ auth, password });
    stack = await startConnectorStack([
      pgResource("demo-pg", db),
      pgResource("wrong-pw", db, { password: "definitely-not-it" }),
      pgResource("no-db", db, { database: "missing_db" }),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.stop();
  });

  it("authenticates, reports ready with server parameters, and relays a real query", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "relay-test", TimeZone: "UTC", user: "postgres", options: "-c role=postgres" });
    stream.autoCredit = true;
    const ready = await stream.controls.next();
    expect(ready.t).toBe("ready");
    expect(ready.txStatus).toBe("I");
    const parameters = new Map(ready.parameters as [string, string][]);
    expect(parameters.get("application_name")).toBe("relay-test");
    expect(parameters.get("TimeZone")).toBe("UTC");
    expect(parameters.get("client_encoding")).toBe("UTF8");
    expect(parameters.has("server_version")).toBe(true);
    // The real cancel key never leaves the connector.
    expect(JSON.stringify(ready)).not.toMatch(/secret|processId|pid/i);

    const backend = new BackendReader(stream);
    stream.sendData(serialize.query("select current_user, current_database(), current_setting('application_name'), 40 + 2 as answer"));
    const complete = await backend.waitFor((m) => m.code === "C");
    expect(complete.message?.text).toBe("SELECT 1");
    // user/database/options from the client were ignored: the connector's configured identity is used.
    expect(backend.firstRows[0]).toEqual([db.user, db.database, "relay-test", "42"]);
    await backend.waitFor((m) => m.code === "Z");

    // The client ends the session with Terminate: an orderly close, not 08006.
    stream.sendData(serialize.end());
    const closing = await stream.controls.next();
    expect(closing).toMatchObject({ t: "close" });
    expect((await stream.closed).code).toBe(1000);
  });

  it("answers a wrong password with 28P01 naming the resource, never the password", async () => {
    const stream = await stack.worker.openStream(stack.control, "wrong-pw");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "28P01" });
    expect(String(error.message)).toContain("resource wrong-pw");
    expect(JSON.stringify(error)).not.toContain("definitely-not-it");
    await stream.closed;
  });

  it("answers an unknown database with 3D000", async () => {
    const stream = await stack.worker.openStream(stack.control, "no-db");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "3D000" });
    expect(String(error.message)).toContain("resource no-db");
  });

  it("cancels a running query with the real backend key (57014 relayed)", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg");
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    stream.sendData(serialize.query("select pg_sleep(60)"));
    // Cancel only once the backend is really running the sleep, observed from the server side.
    const admin = new pg.Client({ connectionString: db.superuserUrl });
    await admin.connect();
    try {
      for (;;) {
        const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'");
        if (rows[0].n === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.end();
    }
    stream.sendControl({ t: "cancel" });
    const error = await backend.waitFor((m) => m.code === "E");
    expect(error.message?.code).toBe("57014");
    await backend.waitFor((m) => m.code === "Z");
    stream.close();
  });

  it("closes the PostgreSQL backend when the worker closes the stream", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "close-me" });
    expect((await stream.controls.next()).t).toBe("ready");
    const admin = new pg.Client({ connectionString: db.superuserUrl });
    await admin.connect();
    try {
      const count = async () => (await admin.query("select count(*)::int as n from pg_stat_activity where application_name = 'close-me'")).rows[0].n as number;
      expect(await count()).toBe(1);
      stream.close();
      while ((await count()) !== 0) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await admin.end();
    }
  });

  it("reports 08006 when the target drops the session", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", { application_name: "kill-me" });
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const admin = new pg.Client({ connectionString: db.superuserUrl });
    await admin.connect();
    await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'kill-me'");
    await admin.end();
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08006" });
    expect(String(error.message)).toContain("resource demo-pg");
    await stream.closed;
  });
});

describe("connector error paths without a reachable target", () => {
  let stack: ConnectorStack;
  beforeAll(async () => {
    const port = await closedPort();
    stack = await startConnectorStack([
      pgResource("down-pg", { host: "127.0.0.1", port, database: "x", user: "x", password: "secret-value" }),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers an unreachable target with 08001 naming the resource", async () => {
    const stream = await stack.worker.openStream(stack.control, "down-pg");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08001" });
    expect(error.message).toBe("gatehouse: resource down-pg: could not connect to target: ECONNREFUSED");
    expect(JSON.stringify(error)).not.toContain("secret-value");
    await stream.closed;
  });

  it("advertises name, type and labels only in hello", () => {
    expect(stack.hello).toEqual({
      t: "hello",
      connector: "test-connector",
      version: 1,
      resources: [{ name: "down-pg", type: "postgres", labels: { env: "test" } }],
    });
  });

  it("answers open for a resource it does not serve with 08001", async () => {
    const stream = await stack.worker.openStream(stack.control, "nope");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08001" });
    expect(String(error.message)).toContain("resource nope");
  });
});
