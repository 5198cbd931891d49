/**
 * Authentication methods beyond SCRAM/md5 (trust, cleartext) and TLS to the target, against
 * real PostgreSQL clusters.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serialize } from "pg-protocol";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { BackendReader } from "./pg-backend.ts";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";
import type { HarnessPeer } from "./harness-worker.ts";

async function query(stream: HarnessPeer, sql: string): Promise<unknown[]> {
  const backend = new BackendReader(stream);
  stream.sendData(serialize.query(sql));
  await backend.waitFor((m) => m.code === "Z");
  return backend.firstRows[0] ?? [];
}

describe("trust and cleartext password authentication", () => {
  let trust: RunningPostgres;
  let cleartext: RunningPostgres;
  let stack: ConnectorStack;
  beforeAll(async () => {
    [trust, cleartext] = await Promise.all([startPostgres({ auth: "trust" }), startPostgres({ auth: "password", password: "clear-pw" })]);
    const { password: _unused, ...noPassword } = pgResource("trust-pg", trust);
    stack = await startConnectorStack([
      noPassword,
      pgResource("clear-pg", cleartext),
      pgResource("clear-wrong", cleartext, { password: "not-clear-pw" }),
      pgResource("trust-require-tls", trust, { tls: { mode: "require" } }),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([trust?.stop(), cleartext?.stop()]);
  });

  it("connects with trust and no configured password", async () => {
    const stream = await stack.worker.openStream(stack.control, "trust-pg");
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    expect(await query(stream, "select current_user")).toEqual([trust.user]);
    stream.close();
  });

  it("connects with a cleartext password request and reports 28P01 for a wrong one", async () => {
    const ok = await stack.worker.openStream(stack.control, "clear-pg");
    ok.autoCredit = true;
    expect((await ok.controls.next()).t).toBe("ready");
    expect(await query(ok, "select current_user")).toEqual([cleartext.user]);
    ok.close();
    const bad = await stack.worker.openStream(stack.control, "clear-wrong");
    const error = await bad.controls.next();
    expect(error).toMatchObject({ t: "error", code: "28P01" });
    expect(JSON.stringify(error)).not.toContain("not-clear-pw");
  });

  it("refuses to fall back to plaintext when tls.mode is require", async () => {
    const stream = await stack.worker.openStream(stack.control, "trust-require-tls");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08001" });
    expect(error.message).toBe("gatehouse: resource trust-require-tls: could not connect to target: server does not support TLS (tls.mode is require)");
  });
});

describe("TLS to the target", () => {
  let db: RunningPostgres;
  let stack: ConnectorStack;
  beforeAll(async () => {
    db = await startPostgres({ auth: "scram-sha-256", tls: true });
    stack = await startConnectorStack([
      pgResource("tls-disable", db, { tls: { mode: "disable" } }),
      pgResource("tls-prefer", db, { tls: { mode: "prefer" } }),
      pgResource("tls-require", db, { tls: { mode: "require" } }),
      pgResource("tls-verify-full", db, { tls: { mode: "verify-full", ca: db.ca! } }),
      pgResource("tls-verify-full-no-ca", db, { tls: { mode: "verify-full" } }),
      pgResource("tls-wrong-name", db, { tls: { mode: "verify-full", ca: db.ca!, servername: "db.example.com" } }),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.stop();
  });

  for (const [resource, encrypted] of [["tls-disable", "f"], ["tls-prefer", "t"], ["tls-require", "t"], ["tls-verify-full", "t"]] as const) {
    it(`${resource} authenticates (SCRAM) and the session is ${encrypted === "t" ? "" : "not "}encrypted`, async () => {
      const stream = await stack.worker.openStream(stack.control, resource);
      stream.autoCredit = true;
      expect((await stream.controls.next()).t).toBe("ready");
      expect(await query(stream, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).toEqual([encrypted]);
      stream.close();
    });
  }

  it("verify-full rejects an untrusted certificate and a wrong host name", async () => {
    for (const resource of ["tls-verify-full-no-ca", "tls-wrong-name"]) {
      const stream = await stack.worker.openStream(stack.control, resource);
      const error = await stream.controls.next();
      expect(error).toMatchObject({ t: "error", code: "08001" });
      expect(String(error.message)).toMatch(new RegExp(`^gatehouse: resource ${resource}: could not connect to target: TLS handshake failed`));
    }
  });

  it("cancels over TLS", async () => {
    const stream = await stack.worker.openStream(stack.control, "tls-require");
    stream.autoCredit = true;
    expect((await stream.controls.next()).t).toBe("ready");
    const backend = new BackendReader(stream);
    stream.sendData(serialize.query("select pg_sleep(60)"));
    // Cancelling before the backend runs the query is harmless: repeat until it lands.
    const error = backend.waitFor((m) => m.code === "E");
    let landed = false;
    void error.then(() => (landed = true));
    while (!landed) {
      stream.sendControl({ t: "cancel" });
      await Promise.race([error, new Promise((r) => setTimeout(r, 200))]);
    }
    expect((await error).message?.code).toBe("57014");
    stream.close();
  });
});
