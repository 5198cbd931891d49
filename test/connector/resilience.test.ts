/**
 * The connector keeps serving when things go wrong around it: malformed frames end only the
 * offending stream, and a worker restart is followed by a reconnect with a fresh assertion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { serialize } from "pg-protocol";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { BackendReader } from "./pg-backend.ts";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";
import { startHarnessWorker, type HarnessPeer } from "./harness-worker.ts";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startConnector } from "../../connector/connector.ts";
import { silentLogger } from "../../connector/logger.ts";

async function readyStream(stack: ConnectorStack): Promise<HarnessPeer> {
  const stream = await stack.worker.openStream(stack.control, "demo-pg");
  stream.autoCredit = true;
  expect((await stream.controls.next()).t).toBe("ready");
  return stream;
}

async function roundTrip(stream: HarnessPeer, n: number): Promise<void> {
  const backend = new BackendReader(stream);
  stream.sendData(serialize.query(`select ${n}`));
  await backend.waitFor((m) => m.code === "Z");
  expect(backend.firstRows[0]).toEqual([String(n)]);
}

describe("connector resilience", () => {
  let db: RunningPostgres;
  let stack: ConnectorStack;
  let silent: Server;
  const silentSockets = new Set<Socket>();

  beforeAll(async () => {
    db = await startPostgres({ auth: "scram-sha-256" });
    // Fast reconnects keep the test short; production defaults are 250 ms → 10 s.
    silent = createServer((socket) => {
      silentSockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    stack = await startConnectorStack(
      [pgResource("demo-pg", db), pgResource("silent-pg", { ...db, port: silentPort })],
      { backoff: { initialMs: 20, maxMs: 200 } },
    );
  });
  afterAll(async () => {
    await stack?.stop();
    for (const socket of silentSockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await db?.stop();
  });

  const malformed: [string, Uint8Array | string, number][] = [
    ["an unknown frame type", Uint8Array.of(0x09, 1, 2, 3), 1007],
    ["a CREDIT frame of the wrong size", Uint8Array.of(0x02, 0, 1), 1007],
    ["a CONTROL frame that is not JSON", Uint8Array.of(0x03, 0x7b), 1007],
    ["an empty frame", new Uint8Array(0), 1007],
    ["a text message", "hello", 1007],
  ];
  for (const [what, bytes, closeCode] of malformed) {
    it(`closes only the offending stream on ${what}`, async () => {
      const victim = await readyStream(stack);
      const bystander = await readyStream(stack);
      victim.sendRaw(bytes);
      const error = await victim.controls.next();
      expect(error).toMatchObject({ t: "error", code: "08P01" });
      expect((await victim.closed).code).toBe(closeCode);
      // The other session and the control channel are untouched.
      await roundTrip(bystander, 7);
      const third = await readyStream(stack);
      await roundTrip(third, 8);
      bystander.close();
      third.close();
    });
  }

  // "silent-pg" accepts TCP and never answers, so these streams stay in the connecting state.
  it("refuses DATA before ready", async () => {
    const stream = await stack.worker.openStream(stack.control, "silent-pg");
    stream.sendData(serialize.query("select 1"));
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08P01" });
    expect((await stream.closed).code).toBe(1008);
  });

  it("refuses a second open on one stream", async () => {
    const stream = await stack.worker.openStream(stack.control, "silent-pg");
    stream.sendControl({ t: "open", resource: "silent-pg", startup: {} });
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08P01" });
    expect((await stream.closed).code).toBe(1008);
  });

  it("rejects a stream open that names another resource", async () => {
    const stream = await stack.worker.openStream(stack.control, "demo-pg", {}, { openResource: "other" });
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08P01" });
  });

  it("reconnects after the worker drops every connection, with a fresh assertion and hello", async () => {
    const before = stack.worker.assertions.length;
    const jtis = new Set(stack.worker.assertions.map((a) => a.payload.jti));
    stack.worker.dropAll();
    const { peer, hello } = await stack.worker.controls.next();
    expect(hello).toMatchObject({ t: "hello", connector: "test-connector", version: 1 });
    const fresh = stack.worker.assertions.slice(before);
    expect(fresh.length).toBeGreaterThan(0);
    for (const a of fresh) expect(jtis.has(a.payload.jti)).toBe(false);
    stack.control = peer;
    const stream = await readyStream(stack);
    await roundTrip(stream, 9);
    stream.close();
  });

  it("binds every stream assertion to its session and keeps control assertions unbound", () => {
    for (const a of stack.worker.assertions) {
      const stream = /^\/v1\/connector\/streams\/(.+)$/.exec(a.path);
      if (stream) expect(a.payload.sid).toBe(decodeURIComponent(stream[1]!));
      else expect(a.payload.sid).toBeUndefined();
      expect(a.header).toMatchObject({ alg: "EdDSA", kid: "test-connector", typ: "gatehouse-connector+jwt" });
      expect(a.payload.exp! - a.payload.iat!).toBeLessThanOrEqual(60);
    }
  });
});

describe("connector with a key the worker does not trust", () => {
  it("keeps retrying with fresh assertions, never goes online, and stops cleanly", async () => {
    const trusted = await generateConnectorKeyPair();
    const intruder = await generateConnectorKeyPair();
    const worker = await startHarnessWorker({ connectors: { "test-connector": trusted.publicJwk } });
    const connector = await startConnector(
      { gateway: worker.url, id: "test-connector", privateKey: intruder.privateJwk, resources: [pgResource("demo-pg", { host: "127.0.0.1", port: 1, database: "d", user: "u", password: "p" })] },
      { logger: silentLogger, backoff: { initialMs: 10, maxMs: 50 } },
    );
    try {
      while (worker.rejections.length < 3) await new Promise((r) => setTimeout(r, 10));
      for (const r of worker.rejections) expect(r).toMatchObject({ path: "/v1/connector/control", status: 401 });
      expect(worker.assertions).toHaveLength(0);
      expect(connector.connected).toBe(false);
    } finally {
      await connector.stop();
      await worker.stop();
    }
    await expect(connector.online).rejects.toThrow(/stopped/);
  });
});

describe("connector at its session limit", () => {
  it("answers further opens with 53300 and serves again once a session ends", async () => {
    const db = await startPostgres({ auth: "md5" });
    const stack = await startConnectorStack([pgResource("demo-pg", db)], { maxStreams: 1 });
    try {
      const first = await readyStream(stack);
      const second = await stack.worker.openStream(stack.control, "demo-pg");
      const error = await second.controls.next();
      expect(error).toMatchObject({ t: "error", code: "53300" });
      expect(String(error.message)).toContain("resource demo-pg");
      first.sendData(serialize.end());
      await first.closed;
      while (stack.connector.streams().length > 0) await new Promise((r) => setTimeout(r, 10));
      const third = await readyStream(stack);
      await roundTrip(third, 3);
      third.close();
    } finally {
      await stack.stop();
      await db.stop();
    }
  });
});

describe("control channel keepalive", () => {
  it("pings, stays connected while pongs come back, and reconnects when the worker goes silent", async () => {
    // 40 ms pings (production: 20 s); the channel is dead after 3 intervals without a word.
    const stack = await startConnectorStack([pgResource("demo-pg", { host: "127.0.0.1", port: 1, database: "d", user: "u", password: "p" })], {
      pingIntervalMs: 40,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    try {
      while (stack.control.pings < 6) await new Promise((r) => setTimeout(r, 10));
      // Six answered pings, i.e. twice the idle limit, and still the first connection.
      expect(stack.worker.controls.pending).toHaveLength(0);
      expect(stack.connector.connected).toBe(true);
      stack.control.answerPings = false;
      const { hello } = await stack.worker.controls.next();
      expect(hello.t).toBe("hello");
      expect((await stack.control.closed).code).toBe(1006);
    } finally {
      await stack.stop();
    }
  });
});
