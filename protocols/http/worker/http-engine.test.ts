/**
 * The worker's HTTP engine on its own, as a pipeline that bypasses the `gatehouse` CLI would drive
 * it (raw bytes straight into the tunnel): smuggling shapes are refused with 400 and nothing
 * reaches the connector; denials name the rule; an allowed request is forwarded normalised,
 * without the client's Authorization. The host is an in-memory EngineHost (the engine's own
 * interface, not something Gatehouse talks to); the policy is a real compiled policy.
 */
import { describe, expect, it } from "vitest";
import { HttpEngine } from "./http-engine.ts";
import type { EngineHost, SessionOutcome } from "../../../worker/engines/engine.ts";
import { mustLoad, devClaims, identityOf } from "../../../parsers/policy/test-fixtures.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";

const POLICY = `
version: 1
rules:
  - { name: read, effect: allow, subjects: any, resources: { type: http }, actions: [connect, http.get] }
  - { name: no-admin, effect: deny, subjects: any, resources: { type: http }, actions: [{ http: { paths: ["/admin/**"] } }] }
  - { name: deploy, effect: approve, subjects: any, resources: { type: http }, approvers: [{ claims: { groups: approvers } }], actions: [{ http: { methods: [POST], paths: ["/deploy/*"] } }] }
`;

const dec = new TextDecoder();
const enc = new TextEncoder();

async function harness(options: ConstructorParameters<typeof HttpEngine>[1] = {}, extra: Partial<EngineHost> = {}) {
  const policy = await mustLoad(POLICY);
  const identity = identityOf(devClaims("pipeline"));
  const resource = { name: "api", type: "http", labels: {} };
  const toClient: string[] = [];
  const clientSends: number[] = [];
  const toConnector: string[] = [];
  const events: Array<[string, unknown]> = [];
  let ended: SessionOutcome | undefined;
  let engine!: HttpEngine;
  const host = {
    sessionId: "s1",
    identity,
    resource,
    policy: new SessionPolicy(policy, { classify: () => [] }, identity, resource),
    audit: {
      onQuery: async (e: unknown) => void events.push(["query", e]),
      onDecision: async (e: unknown) => void events.push(["decision", e]),
      onResult: async () => {},
      onNotice: async () => {},
      onMasking: async () => {},
      onEvent: async (t: string, d: unknown) => void events.push([t, d]),
    },
    sendToClient: (parts: Uint8Array[]) => {
      clientSends.push(parts.length);
      toClient.push(...parts.map((p) => dec.decode(p)));
    },
    sendToConnector: (parts: Uint8Array[]) => {
      toConnector.push(...parts.map((p) => dec.decode(p)));
      // A minimal upstream answer for each request head, through the connector's framing.
      if (parts.some((p) => /^[A-Z]+ \//.test(dec.decode(p)))) queueMicrotask(() => void engine.onConnectorData(enc.encode("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")));
    },
    connectorControl: (m: { t: string }) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    registerCancelKey: async () => {},
    holdForApproval: async () => {
      throw new Error("no approvals here");
    },
    end: (o: SessionOutcome) => void (ended = o),
    ...extra,
  } as unknown as EngineHost;
  engine = new HttpEngine(host, options);
  return { engine, toClient, clientSends, toConnector, events, ended: () => ended };
}

describe("worker HTTP engine, driven with raw tunnel bytes", () => {
  const corpus = [
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tY: 2\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",
    "GET /x HTTP/1.1\r\nHo st: a\r\n\r\n",
    "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    "GET /\r\n\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /a%252e%252e/admin HTTP/1.1\r\nHost: a\r\n\r\n",
    `GET /x HTTP/1.1\r\nHost: a\r\nX: ${"a".repeat(40_000)}`,
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
  ];
  for (const input of corpus) {
    it(`refuses ${JSON.stringify(input.slice(0, 60))} with 4xx and forwards nothing`, async () => {
      const h = await harness();
      await h.engine.onClientData(enc.encode(input));
      expect(h.toClient.join("")).toMatch(/^HTTP\/1\.1 4(00|05|31) /);
      expect(h.toConnector).toEqual([]);
      expect(h.ended()?.status).toBe("denied");
    });
  }

  it("the tenant's request rate: a throttled request is answered 429 with Retry-After, recorded under the rate rule, never forwarded; the session stays usable", async () => {
    const answers: Array<{ message: string; retryAfterSeconds: number } | null> = [null, { message: "gatehouse: request refused: the tenant's request rate limit is reached; retry in 3 s", retryAfterSeconds: 3 }, null];
    const h = await harness({}, { admitRequest: async () => answers.shift() ?? null });
    await h.engine.onClientData(enc.encode("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"));
    await h.engine.onClientData(enc.encode("GET /two HTTP/1.1\r\nHost: a\r\n\r\n"));
    await h.engine.onClientData(enc.encode("GET /three HTTP/1.1\r\nHost: a\r\n\r\n"));
    const out = h.toClient.join("");
    expect(out).toMatch(/HTTP\/1\.1 429 Too Many Requests\r\n[\s\S]*Retry-After: 3\r\n[\s\S]*"rule":"gatehouse:tenant-rate-limit"/);
    expect(h.toConnector.filter((c) => /^GET \//.test(c)).map((c) => c.split(" ")[1])).toEqual(["/one", "/three"]);
    const decisions = h.events.filter(([t]) => t === "decision").map(([, d]) => d as { effect: string; rule: string | null });
    expect(decisions).toEqual([expect.objectContaining({ effect: "allow" }), expect.objectContaining({ effect: "deny", rule: "gatehouse:tenant-rate-limit" }), expect.objectContaining({ effect: "allow" })]);
    expect(h.ended()).toBeUndefined();
  });

  it("a throttled request with a body closes the connection after the 429 (the body cannot be skipped safely)", async () => {
    const h = await harness({}, { admitRequest: async () => ({ message: "gatehouse: request refused: rate", retryAfterSeconds: 1 }) });
    await h.engine.onClientData(enc.encode("POST /deploy/prod HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"));
    expect(h.toClient.join("")).toMatch(/^HTTP\/1\.1 429 [\s\S]*Retry-After: 1\r\n[\s\S]*Connection: close/);
    expect(h.toConnector).toEqual([]);
    expect(h.ended()).toMatchObject({ status: "denied", code: "rate-limited" });
  });

  it("a session terminated while the connector dials stays ended: the request is not forwarded", async () => {
    let engine!: HttpEngine;
    const h = await harness({}, {
      connectorControl: (m: { t: string }) => {
        if (m.t === "open")
          queueMicrotask(() => {
            engine.onTerminate("57P01", "the gateway is shutting down");
            void engine.onConnectorControl({ t: "ready" });
          });
      },
    } as Partial<EngineHost>);
    engine = h.engine;
    await h.engine.onClientData(enc.encode("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 10));
    expect(h.toConnector).toEqual([]);
    expect(h.ended()).toMatchObject({ status: "error", code: "57P01" });
    expect(h.toClient.join("")).not.toMatch(/200 OK/);
  });

  it("a smuggled second request after a valid one is never forwarded", async () => {
    const h = await harness();
    await h.engine.onClientData(enc.encode("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"));
    expect(h.toConnector.filter((c) => /^GET /.test(c))).toHaveLength(1);
    expect(h.toClient.join("")).toMatch(/HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1 400 /);
  });

  it("denies naming the rule, however the path is spelled; forwards the normalised path without the client's credential", async () => {
    const h = await harness();
    await h.engine.onClientData(enc.encode("GET /x/../ADMIN/./users HTTP/1.1\r\nHost: a\r\n\r\n"));
    expect(h.toClient.join("")).toMatch(/^HTTP\/1\.1 403 [\s\S]*"rule":"no-admin"/);
    await h.engine.onClientData(enc.encode("GET //data/%2e/%61bc?q=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer stolen\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"));
    const head = h.toConnector.find((c) => c.startsWith("GET "))!;
    expect(head.split("\r\n")[0]).toBe("GET /data/abc?q=1 HTTP/1.1");
    expect(head).not.toMatch(/authorization|x-forwarded-for/i);
    expect(h.events.some(([t, d]) => t === "decision" && (d as { rule: string }).rule === "no-admin")).toBe(true);
  });

  it("a held request whose approval request fails is refused with 403 on the shared hold filter, recorded as denied, and never forwarded", async () => {
    const h = await harness();
    await h.engine.onClientData(enc.encode("POST /deploy/prod HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"));
    expect(h.toClient.join("")).toMatch(/^HTTP\/1\.1 403 [\s\S]*approval request failed: no approvals here[\s\S]*"rule":"deploy"/);
    expect(h.toConnector).toEqual([]);
    const decisions = h.events.filter(([t]) => t === "decision").map(([, d]) => (d as { effect: string; rule: string }));
    expect(decisions).toEqual([expect.objectContaining({ effect: "approve", rule: "deploy" }), expect.objectContaining({ effect: "deny", rule: "deploy" })]);
    // The session stays usable: the next request is decided and forwarded.
    await h.engine.onClientData(enc.encode("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"));
    expect(h.toConnector.filter((c) => /^GET \/ok /.test(c))).toHaveLength(1);
  });

  it("GET/HEAD without an upgrade are recorded as reads (durable before the answer), anything else as not read-only (durable before forwarding)", async () => {
    const h = await harness();
    await h.engine.onClientData(enc.encode("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"));
    await h.engine.onClientData(enc.encode("POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"));
    await h.engine.onClientData(enc.encode("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
    const queries = h.events.filter(([t]) => t === "query").map(([, d]) => d as { text: string; readOnly: boolean });
    expect(queries.map((q) => [q.text, q.readOnly])).toEqual([
      ["GET /ok", true],
      ["POST /other", false],
      ["GET /ws", false],
    ]);
  });

  it("a protocol on the engine's hooks can say a GET is not side-effect free: recorded durable before forwarding", async () => {
    const h = await harness({
      hooks: {
        admit: async (req) => ({
          kind: "decide",
          description: { protocol: "http", actions: ["get"], text: `${req.method} ${req.target}` },
          headers: [...req.headers],
          target: req.target,
          decision: { effect: "allow", rule: "read", reason: "test" },
          readOnly: !req.target.includes("/proxy/"),
        }),
      },
    });
    await h.engine.onClientData(enc.encode("GET /pods HTTP/1.1\r\nHost: a\r\n\r\n"));
    await h.engine.onClientData(enc.encode("GET /pods/web/proxy/reset HTTP/1.1\r\nHost: a\r\n\r\n"));
    const queries = h.events.filter(([t]) => t === "query").map(([, d]) => d as { text: string; readOnly: boolean });
    expect(queries.map((q) => [q.text, q.readOnly])).toEqual([
      ["GET /pods", true],
      ["GET /pods/web/proxy/reset", false],
    ]);
  });

  it("a response head and body that arrive in one connector frame leave in one send to the client", async () => {
    const h = await harness();
    await h.engine.onClientData(enc.encode("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"));
    expect(h.clientSends).toEqual([2]);
    expect(h.toClient.join("")).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  });
});
