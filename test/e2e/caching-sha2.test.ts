/**
 * caching_sha2_password (MySQL 8's default) without a MySQL 8 server: a small server that
 * implements the documented fast and full paths (test/harness/caching-sha2-server.ts) is first
 * validated with mysql2's own client implementation, then the connector's login
 * (protocols/mysql/connector/login.ts) is tested against it: full path with the configured RSA
 * public key, fast path from the server's cache, wrong passwords on both paths, and the refusal
 * when neither TLS nor a public key is available.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { startCachingSha2Server, type CachingSha2Server } from "../harness/caching-sha2-server.ts";
import { mysqlLogin, MysqlLoginError } from "../../protocols/mysql/connector/login.ts";

describe("caching_sha2_password: a documented-behaviour server, validated by mysql2, then the connector against it", () => {
  let srv: CachingSha2Server;
  beforeAll(async () => {
    srv = await startCachingSha2Server({ alice: "s3cret-pässword", bob: "other" });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("the test server is right: mysql2 logs in by the full path (asking for the public key), then by the fast path; wrong passwords fail on both", async () => {
    srv.flushCache();
    srv.logins.length = 0;
    const opts = { host: "127.0.0.1", port: srv.port, user: "alice", password: "s3cret-pässword" };
    const c1 = await mysql.createConnection(opts);
    expect(((await c1.query("SELECT 1"))[0] as Record<string, unknown>[])[0]).toEqual({ 1: "1" });
    await c1.end();
    const c2 = await mysql.createConnection(opts);
    await c2.end();
    expect(srv.logins).toEqual(["full", "fast"]);
    expect(srv.keyRequests).toBe(1); // mysql2 asked for the key on the plain connection
    await expect(mysql.createConnection({ ...opts, password: "wrong" })).rejects.toMatchObject({ errno: 1045 }); // fast path (cached)
    await expect(mysql.createConnection({ ...opts, user: "bob", password: "wrong" })).rejects.toMatchObject({ errno: 1045 }); // full path
    expect(srv.logins).toEqual(["full", "fast"]);
  });

  it("the connector: full path with the configured public key, then the fast path; wrong passwords; no key and no TLS refused", async () => {
    srv.flushCache();
    srv.logins.length = 0;
    srv.keyRequests = 0;
    const base = { host: "127.0.0.1", port: srv.port, user: "alice", password: "s3cret-pässword" };
    const full = await mysqlLogin({ ...base, serverPublicKey: srv.publicKey });
    expect(full.handshake.serverVersion).toBe("8.0.36-gatehouse-test");
    expect(full.pinned).toEqual({ sqlMode: "STRICT_TRANS_TABLES", charsetClient: "utf8mb4", charsetResults: "utf8mb4", charsetConnection: "utf8mb4" });
    full.socket.destroy();
    const fast = await mysqlLogin(base); // cached now: no key needed
    fast.socket.destroy();
    expect(srv.logins).toEqual(["full", "fast"]);
    await expect(mysqlLogin({ ...base, password: "wrong" })).rejects.toMatchObject({ serverCode: 1045, sqlState: "28000" });
    await expect(mysqlLogin({ ...base, user: "bob", password: "wrong", serverPublicKey: srv.publicKey })).rejects.toMatchObject({ serverCode: 1045 });
    srv.flushCache();
    const e = await mysqlLogin(base).catch((x) => x);
    expect(e).toBeInstanceOf(MysqlLoginError);
    expect(e.message).toMatch(/needs TLS or the server's public key/);
    // a settings read and a read-only session work on the logged-in connection (the connector's own queries)
    const ro = await mysqlLogin({ ...base, serverPublicKey: srv.publicKey, readOnly: true, statementTimeoutMs: 5000 });
    ro.socket.destroy();
    expect(srv.logins).toEqual(["full", "fast", "full"]);
    expect(srv.keyRequests).toBe(0); // the connector never asks the server for its key: it uses the configured one
  });
});
