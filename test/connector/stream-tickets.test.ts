/**
 * The connector's side of stream tickets (docs/PROTOCOL.md "Stream admission"), against the harness
 * worker: a session's stream is dialled with the ticket the control channel's `open` carried —
 * no assertion is signed for it —, with a session-bound assertion when the open carries none (a
 * worker older than tickets) or a malformed one, and the ticket appears in no log line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { startHarnessWorker, type HarnessPeer, type HarnessWorker } from "./harness-worker.ts";
import { pgResource } from "./stack.ts";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { startConnector, type RunningConnector } from "../../connector/connector.ts";
import { createJsonLogger } from "../../connector/logger.ts";

let worker: HarnessWorker;
let connector: RunningConnector;
let control: HarnessPeer;
const logLines: string[] = [];

beforeAll(async () => {
  const pair = await generateConnectorKeyPair();
  worker = await startHarnessWorker({ connectors: { "test-connector": pair.publicJwk } });
  // Nothing listens on port 1: an opened stream answers `error` at once (the dial is what is tested).
  const db = { host: "127.0.0.1", port: 1, database: "d", user: "u", password: "p" };
  connector = await startConnector(
    { gateway: worker.url, id: "test-connector", privateKey: pair.privateJwk, resources: [pgResource("pg-t", db)] },
    { logger: createJsonLogger("debug", (line) => void logLines.push(line)), backoff: { initialMs: 10, maxMs: 50 } },
  );
  control = (await worker.controls.next()).peer;
});

afterAll(async () => {
  await connector?.stop();
  await worker?.stop();
});

const streamAssertions = (session: string) => worker.assertions.filter((a) => a.path === `/v1/connector/streams/${session}`);

describe("the connector's stream dial", () => {
  it("presents the open's stream ticket, signs no assertion for the stream, and logs no ticket", async () => {
    const session = randomUUID();
    const stream = await worker.openStream(control, "pg-t", {}, { session });
    expect(stream.assertion).toMatchObject({ byTicket: true, payload: { sid: session } });
    expect(streamAssertions(session)).toEqual([]);
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08001" });
    expect(logLines.some((l) => l.includes(session))).toBe(true); // the stream's lines are there…
    expect(logLines.filter((l) => l.includes("ghst_"))).toEqual([]); // …without the ticket
  });

  it("dials with a session-bound assertion when the open carries no ticket (a worker older than tickets)", async () => {
    const session = randomUUID();
    const stream = await worker.openStream(control, "pg-t", {}, { session, ticket: false });
    expect(stream.assertion.byTicket).toBeUndefined();
    expect(streamAssertions(session).map((a) => a.payload.sid)).toEqual([session]);
  });

  it("dials with an assertion when the open's ticket is malformed, and logs neither the value nor the ticket", async () => {
    const session = randomUUID();
    const malformed = "ghst_not-a-ticket";
    const stream = await worker.openStream(control, "pg-t", {}, { session, ticket: malformed });
    expect(stream.assertion.byTicket).toBeUndefined();
    expect(streamAssertions(session).map((a) => a.payload.sid)).toEqual([session]);
    expect(logLines.some((l) => l.includes("malformed stream ticket") && l.includes(session))).toBe(true);
    expect(logLines.filter((l) => l.includes("ghst_"))).toEqual([]);
  });
});
