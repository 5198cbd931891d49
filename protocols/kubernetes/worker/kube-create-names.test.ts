/**
 * `names:` rules on creates: the Kubernetes engine (HTTP engine + KubeHooks) reads a create's body
 * (JSON or the protobuf envelope kubectl 1.35 sends for `kubectl create configmap …`) before it
 * decides, and forwards nothing before. Attack variants: a name no rule allows, generateName, a
 * repeated or case-variant key, a body namespace other than the URL's, a body over the bound,
 * truncated protobuf, a repeated protobuf name, unknown fields. The host is in-memory (the engine's
 * own interface); the policy is a real compiled policy.
 */
import { describe, expect, it } from "vitest";
import { HttpEngine } from "../../http/worker/http-engine.ts";
import { KubeHooks } from "./kube-hooks.ts";
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { mustLoad, devClaims, identityOf } from "../../../parsers/policy/test-fixtures.ts";
import { SessionPolicy } from "../../../worker/session/session-policy.ts";
import { MAX_NAMED_BODY } from "../codec/body-name.ts";

const POLICY = `
version: 1
rules:
  - { name: connect, effect: allow, subjects: any, resources: { type: kubernetes }, actions: [connect] }
  - { name: web-only, effect: allow, subjects: any, resources: { type: kubernetes }, actions: [{ k8s: { verbs: [create], namespaces: [apps], names: ["web-*"] } }] }
  - { name: held, effect: approve, subjects: any, resources: { type: kubernetes }, approvers: [{ claims: { groups: approvers } }], actions: [{ k8s: { verbs: [create], names: ["web-held*"] } }] }
  - { name: no-admin, effect: deny, subjects: any, resources: { type: kubernetes }, actions: [{ k8s: { verbs: [create], names: ["web-admin*"] } }] }
`;

const dec = new TextDecoder();
const enc = new TextEncoder();

async function harness() {
  const policy = await mustLoad(POLICY);
  const identity = identityOf(devClaims("pipeline"));
  const resource = { name: "cluster", type: "kubernetes", labels: {} };
  const toClient: string[] = [];
  const toConnector: Uint8Array[] = [];
  const events: Array<[string, unknown]> = [];
  const holds: Array<{ statement: string; displayText: string; binding?: Uint8Array }> = [];
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
    sendToClient: (parts: Uint8Array[]) => void toClient.push(...parts.map((p) => dec.decode(p))),
    sendToConnector: (parts: Uint8Array[]) => {
      toConnector.push(...parts);
      if (parts.some((p) => /^[A-Z]+ \//.test(dec.decode(p)))) {
        const body = '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"created"}}';
        queueMicrotask(() => void engine.onConnectorData(enc.encode(`HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)));
      }
    },
    connectorControl: (m: { t: string }) => {
      if (m.t === "open") queueMicrotask(() => void engine.onConnectorControl({ t: "ready" }));
    },
    sendControlToClient: () => {},
    openConnectorStream: async () => {},
    registerCancelKey: async () => {},
    // Every hold is approved at once: what matters here is what was held and what ran.
    holdForApproval: async (input: { statement: string; displayText: string; binding?: Uint8Array }) => {
      holds.push(input);
      return { id: "apr_1", url: "", expiresAt: Date.now() + 60_000, notice: "held for approval apr_1", verdict: Promise.resolve({ run: true, id: "apr_1", reason: "ok" }), remind: () => () => {} };
    },
    end: () => {},
  } as unknown as EngineHost;
  engine = new HttpEngine(host, { hooks: new KubeHooks(host, () => undefined) });
  return { engine, toClient, toConnector, events, holds };
}

/** One create through the engine; the status kubectl would get and what reached the API server. */
async function create(body: Uint8Array | string, opts: { namespace?: string; contentType?: string } = {}) {
  const h = await harness();
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  const head = `POST /api/v1/namespaces/${opts.namespace ?? "apps"}/configmaps HTTP/1.1\r\nHost: k\r\nContent-Type: ${opts.contentType ?? "application/json"}\r\nContent-Length: ${bytes.length}\r\n\r\n`;
  const wire = new Uint8Array(head.length + bytes.length);
  wire.set(enc.encode(head));
  wire.set(bytes, head.length);
  // In two pieces: the decision waits for the whole body.
  await h.engine.onClientData(wire.subarray(0, head.length + Math.floor(bytes.length / 2)));
  expect(h.toConnector.length).toBe(0);
  await h.engine.onClientData(wire.subarray(head.length + Math.floor(bytes.length / 2)));
  for (let i = 0; i < 200 && !h.toClient.join("").startsWith("HTTP/1.1"); i++) await new Promise((r) => setTimeout(r, 5));
  const answer = h.toClient.join("");
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]);
  const upstream = h.toConnector.map((p) => dec.decode(p)).join("");
  return { status, answer, upstream, holds: h.holds };
}

const cm = (metadata: string) => `{"apiVersion":"v1","kind":"ConfigMap","metadata":${metadata},"data":{"a":"1"}}`;

// The protobuf envelope: "k8s\0" + Unknown{1: TypeMeta{1 apiVersion, 2 kind}, 2: raw = object{1: ObjectMeta{1 name, 2 generateName, 3 namespace}}}.
const ld = (no: number, payload: Uint8Array | string): Uint8Array => {
  const b = typeof payload === "string" ? enc.encode(payload) : payload;
  return Uint8Array.from([(no << 3) | 2, b.length, ...b]);
};
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const proto = (meta: Uint8Array, objectExtra: Uint8Array = new Uint8Array()) => cat(enc.encode("k8s\0"), ld(1, cat(ld(1, "v1"), ld(2, "ConfigMap"))), ld(2, cat(ld(1, meta), objectExtra)));
const PROTOBUF = "application/vnd.kubernetes.protobuf";

describe("names: rules decide creates by the object's name in the body", () => {
  it("JSON: an allowed name is forwarded with its body; another name is a 403 and nothing is forwarded", async () => {
    const ok = await create(cm('{"name":"web-1"}'));
    expect(ok.status).toBe(201);
    expect(ok.upstream).toContain("POST /api/v1/namespaces/apps/configmaps");
    expect(ok.upstream).toContain('"name":"web-1"');
    const evil = await create(cm('{"name":"db-1"}'));
    expect(evil.status).toBe(403);
    expect(evil.answer).toContain("Forbidden");
    expect(evil.answer).toContain("create configmaps apps/db-1");
    expect(evil.upstream).toBe("");
  });

  it("an approve rule on names holds the create; the approval binds the body read, which is what runs", async () => {
    const body = cm('{"name":"web-held-1"}');
    const r = await create(body);
    expect(r.holds).toHaveLength(1);
    expect(r.holds[0]!.displayText).toContain("web-held-1");
    expect(new TextDecoder().decode(r.holds[0]!.binding)).toContain(body);
    expect(r.status).toBe(201);
    expect(r.upstream).toContain(`Content-Length: ${body.length}`);
    expect(r.upstream.endsWith(body)).toBe(true);
  });

  it("a deny rule on names touches the body's name", async () => {
    const r = await create(cm('{"name":"web-admin"}'));
    expect(r.status).toBe(403);
    expect(r.answer).toContain("no-admin");
    expect(r.upstream).toBe("");
  });

  it("generateName or no name: not known, so a names allow does not cover it", async () => {
    for (const meta of ['{"generateName":"web-"}', "{}", "null"]) {
      const r = await create(cm(meta));
      expect(r.status, meta).toBe(403);
      expect(r.upstream).toBe("");
    }
  });

  it("ambiguous JSON is a 400: a repeated name, a repeated metadata, a case variant, a non-string name, a namespace other than the URL's", async () => {
    const variants = [
      cm('{"name":"web-1","name":"db-1"}'),
      `{"metadata":{"name":"web-1"},"metadata":{"name":"db-1"}}`,
      cm('{"name":"web-1","Name":"db-1"}'),
      `{"Metadata":{"name":"db-1"},"metadata":{"name":"web-1"}}`,
      cm('{"name":["web-1"]}'),
      cm('{"name":"web-1","namespace":"kube-system"}'),
      '{"metadata":{"name":"web-1"}',
      "[1]",
    ];
    for (const body of variants) {
      const r = await create(body);
      expect(r.status, body).toBe(400);
      expect(r.upstream, body).toBe("");
    }
  });

  it("an escaped key is read as the API server reads it", async () => {
    const r = await create(cm('{"n\\u0061me":"db-1"}'));
    expect(r.status).toBe(403);
    expect(r.upstream).toBe("");
  });

  it("a body over the bound is refused (413) before anything is forwarded", async () => {
    const r = await create(cm(`{"name":"web-1","labels":{"x":"${"a".repeat(MAX_NAMED_BODY)}"}}`));
    expect(r.status).toBe(413);
    expect(r.upstream).toBe("");
  });

  it("protobuf (kubectl create configmap): the envelope's name decides; unknown fields are skipped", async () => {
    const ok = await create(proto(cat(ld(1, "web-2"), ld(3, "apps"))), { contentType: PROTOBUF });
    expect(ok.status).toBe(201);
    expect(ok.upstream).toContain("web-2");
    const extra = await create(proto(cat(ld(1, "web-3"), ld(12, "label-ish")), ld(9, "unknown")), { contentType: PROTOBUF });
    expect(extra.status).toBe(201);
    const evil = await create(proto(ld(1, "db-2")), { contentType: PROTOBUF });
    expect(evil.status).toBe(403);
    expect(evil.upstream).toBe("");
  });

  it("protobuf that could be read two ways, or not at all, is a 400", async () => {
    const good = proto(ld(1, "web-2"));
    const variants = [
      proto(cat(ld(1, "web-2"), ld(1, "db-2"))),
      good.subarray(0, good.length - 2),
      cat(enc.encode("k9s\0"), good.subarray(4)),
      proto(cat(ld(1, "web-2"), ld(3, "kube-system"))),
    ];
    for (const body of variants) {
      const r = await create(body, { contentType: PROTOBUF });
      expect(r.status).toBe(400);
      expect(r.upstream).toBe("");
    }
  });
});
