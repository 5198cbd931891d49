/**
 * The connector against a sharded connector hub (docs/PROTOCOL.md "Hub shards"), driven by the
 * harness worker: shard 0's `shards` message makes it dial one more control channel per other
 * shard, each announcing only that shard's resources and serving its `open`s; a malformed message,
 * or one arriving on another shard's channel, changes nothing; a new placement closes the channels
 * no longer needed. (test/e2e/hub-shards.test.ts runs the same against the real worker.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarnessWorker, type HarnessPeer, type HarnessWorker } from "./harness-worker.ts";
import { pgResource } from "./stack.ts";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startConnector, type RunningConnector } from "../../connector/connector.ts";
import { silentLogger } from "../../connector/logger.ts";

const NAMES = ["pg-a", "pg-b", "pg-c", "pg-d"];
let worker: HarnessWorker;
let connector: RunningConnector;
let primary: HarnessPeer;
const byShard = new Map<string, { peer: HarnessPeer; names: string[] }>();

const names = (hello: Record<string, unknown>) => (hello.resources as Array<{ name: string }>).map((r) => r.name);

beforeAll(async () => {
  const pair = await generateConnectorKeyPair();
  worker = await startHarnessWorker({ connectors: { "test-connector": pair.publicJwk } });
  // Nothing listens on port 1: a stream that is opened answers `error` at once.
  const db = { host: "127.0.0.1", port: 1, database: "d", user: "u", password: "p" };
  connector = await startConnector({ gateway: worker.url, id: "test-connector", privateKey: pair.privateJwk, resources: NAMES.map((n) => pgResource(n, db)) }, { logger: silentLogger, backoff: { initialMs: 10, maxMs: 50 } });
  const first = await worker.controls.next();
  primary = first.peer;
  expect(first.peer.assertion.path).toBe("/v1/connector/control");
  expect(names(first.hello)).toEqual(NAMES);
});

afterAll(async () => {
  await connector?.stop();
  await worker?.stop();
});

describe("a connector told its hub is sharded", () => {
  it("ignores a malformed placement and dials one channel per other shard, each announcing that shard's resources", async () => {
    primary.sendControl({ t: "shards", count: 3, map: { "pg-a": 0, "pg-b": 5 } });
    primary.sendControl({ t: "shards", count: 3, map: { "pg-a": 0, "pg-b": 1, "pg-c": 2, "pg-d": 1 } });
    for (let i = 0; i < 2; i++) {
      const { peer, hello } = await worker.controls.next();
      byShard.set(peer.assertion.path, { peer, names: names(hello) });
    }
    expect(Object.fromEntries([...byShard].map(([path, c]) => [path, c.names]))).toEqual({
      "/v1/connector/control?shard=1": ["pg-b", "pg-d"],
      "/v1/connector/control?shard=2": ["pg-c"],
    });
    // Each channel with its own assertion (the worker admits one socket per jti).
    const jtis = [primary, ...[...byShard.values()].map((c) => c.peer)].map((p) => p.assertion.payload.jti);
    expect(new Set(jtis).size).toBe(3);
    expect(connector.connected).toBe(true);
  });

  it("serves an open on a shard's channel, whatever placement arrives on that channel", async () => {
    const shard1 = byShard.get("/v1/connector/control?shard=1")!.peer;
    shard1.sendControl({ t: "shards", count: 3, map: { "pg-b": 2, "pg-d": 2 } });
    const stream = await worker.openStream(shard1, "pg-b");
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08001" });
  });

  it("closes a shard's channel once none of its resources is placed there", async () => {
    const shard2 = byShard.get("/v1/connector/control?shard=2")!.peer;
    primary.sendControl({ t: "shards", count: 3, map: { "pg-a": 0, "pg-b": 1, "pg-c": 0, "pg-d": 1 } });
    expect((await shard2.closed).code).toBe(1001);
    // The shard-1 channel announced the same set before: it stays up, unannounced again.
    const shard1 = byShard.get("/v1/connector/control?shard=1")!.peer;
    expect(shard1.ws.readyState).toBe(shard1.ws.OPEN);
    expect(connector.connected).toBe(true);
  });
});
