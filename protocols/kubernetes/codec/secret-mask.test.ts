import { describe, expect, it } from "vitest";
import { LAST_APPLIED, MASK_TEXT, MaskError, maskJsonBody } from "./secret-mask.ts";
import { WatchEventMasker, WatchStreamError } from "./watch-stream.ts";

const SECRET_VALUE = "hunter2-very-secret";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const applied = (extra: object = {}) => JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "default" }, stringData: { password: SECRET_VALUE }, ...extra });
const secret = (name = "db") => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: "default", resourceVersion: "7", annotations: { [LAST_APPLIED]: applied(), team: "payments" } },
  data: { password: b64(SECRET_VALUE), user: b64("app") },
  type: "Opaque",
});
const noSecretLeft = (text: string) => {
  expect(text).not.toContain(SECRET_VALUE);
  expect(text).not.toContain(b64(SECRET_VALUE));
  expect(text).not.toContain(b64("app"));
};

describe("Secret masking in JSON responses", () => {
  it("a single Secret: data (valid base64 of the mark), the last-applied annotation inside, other fields intact", () => {
    const { body, count } = maskJsonBody(JSON.stringify(secret()), true);
    noSecretLeft(body);
    const o = JSON.parse(body);
    expect(Buffer.from(o.data.password, "base64").toString()).toBe(MASK_TEXT);
    expect(o.metadata.annotations.team).toBe("payments");
    expect(o.metadata.resourceVersion).toBe("7");
    expect(JSON.parse(o.metadata.annotations[LAST_APPLIED])).toMatchObject({ kind: "Secret", metadata: { name: "db" }, stringData: { password: MASK_TEXT } });
    expect(count.values).toBe(3);
  });

  it("a SecretList and a v1 List holding a Secret (kubectl get -f, get secrets,configmaps)", () => {
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "SecretList", apiVersion: "v1", metadata: {}, items: [secret("a"), secret("b")] }), true).body);
    const list = { kind: "List", apiVersion: "v1", items: [{ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "c" }, data: { k: "keep-me" } }, secret()] };
    const out = JSON.parse(maskJsonBody(JSON.stringify(list), false).body);
    expect(out.items[0].data.k).toBe("keep-me");
    noSecretLeft(JSON.stringify(out));
  });

  it("items without a kind in a response to a secrets request are Secrets (a real SecretList omits item kinds)", () => {
    const item = secret();
    const { kind: _k, apiVersion: _a, ...bare } = item;
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "SecretList", items: [bare] }), true).body);
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "WhateverList", items: [bare] }), true).body);
  });

  it("a Table: rows' objects (includeObject=Object and Metadata) and value cells", () => {
    const table = {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      columnDefinitions: [{ name: "Name" }, { name: "Type" }, { name: "Data" }, { name: "Age" }, { name: "Password" }],
      rows: [
        { cells: ["db", "Opaque", 2, "5m", SECRET_VALUE], object: secret() },
        { cells: ["db2", "Opaque", 2, "5m", SECRET_VALUE], object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: secret().metadata } },
      ],
    };
    const out = JSON.parse(maskJsonBody(JSON.stringify(table), true).body);
    noSecretLeft(JSON.stringify(out));
    expect(out.rows[0].cells.slice(0, 4)).toEqual(["db", "Opaque", 2, "5m"]);
    expect(out.rows[0].cells[4]).toBe(MASK_TEXT);
  });

  it("non-secret objects pass unchanged, byte for byte; their own last-applied is left alone", () => {
    const cm = JSON.stringify({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "c", annotations: { [LAST_APPLIED]: '{"kind":"ConfigMap","data":{"k":"v"}}' } }, data: { k: "v" } });
    const r = maskJsonBody(cm, false);
    expect(r.body).toBe(cm);
    expect(r.count.values).toBe(0);
  });

  it("an unreadable last-applied annotation on a Secret is replaced whole", () => {
    const s = secret();
    s.metadata.annotations[LAST_APPLIED] = `{"stringData":{"password":"${SECRET_VALUE}"`;
    const out = JSON.parse(maskJsonBody(JSON.stringify(s), true).body);
    expect(out.metadata.annotations[LAST_APPLIED]).toBe(MASK_TEXT);
  });

  it("attacker shapes: data as a string or array, nested List in List, Secret kind in a non-secret request", () => {
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "Secret", data: b64(SECRET_VALUE) }), false).body);
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "Secret", data: [b64(SECRET_VALUE)] }), false).body);
    noSecretLeft(maskJsonBody(JSON.stringify({ kind: "List", items: [{ kind: "List", items: [secret()] }] }), false).body);
    noSecretLeft(maskJsonBody(JSON.stringify([secret()]), false).body);
  });

  it("a body that is not JSON is an error (the engine refuses the response)", () => {
    expect(() => maskJsonBody(`{"kind":"Secret","data":{"p":"${b64(SECRET_VALUE)}"}`, true)).toThrow(MaskError);
  });
});

describe("watch streams: masked per event, as they arrive", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);

  it("events split anywhere across chunks come out whole and masked, one line each", () => {
    const stream = [{ type: "ADDED", object: secret("a") }, { type: "MODIFIED", object: secret("b") }, { type: "DELETED", object: secret("c") }].map((e) => `${JSON.stringify(e)}\n`).join("");
    const bytes = enc(stream);
    for (const step of [1, 7, 100, bytes.length]) {
      const m = new WatchEventMasker(true);
      let out = "";
      for (let i = 0; i < bytes.length; i += step) out += dec(m.push(bytes.slice(i, i + step)));
      out += dec(m.end());
      noSecretLeft(out);
      expect(out.split("\n").filter(Boolean).map((l) => JSON.parse(l).type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
      expect(m.events).toBe(3);
    }
  });

  it("an event is released as soon as its line ends (never held for the end of the stream)", () => {
    const m = new WatchEventMasker(true);
    const first = `${JSON.stringify({ type: "ADDED", object: secret("a") })}\n`;
    expect(dec(m.push(enc(first + '{"type":"MODI')))).toContain('"ADDED"');
  });

  it("Table watch events (kubectl get -w) are masked too", () => {
    const ev = { type: "ADDED", object: { kind: "Table", apiVersion: "meta.k8s.io/v1", columnDefinitions: [{ name: "Name" }, { name: "Value" }], rows: [{ cells: ["db", SECRET_VALUE], object: secret() }] } };
    const m = new WatchEventMasker(true);
    noSecretLeft(dec(m.push(enc(`${JSON.stringify(ev)}\n`))));
  });

  it("an oversized event, a non-JSON line or a cut-off last event are errors", () => {
    expect(() => new WatchEventMasker(true, 64).push(enc("x".repeat(100)))).toThrow(WatchStreamError);
    expect(() => new WatchEventMasker(true).push(enc("not json\n"))).toThrow(WatchStreamError);
    const m = new WatchEventMasker(true);
    m.push(enc('{"type":"ADDED","object":{"kind":"Secret","data":{"p":"'));
    expect(() => m.end()).toThrow(WatchStreamError);
  });
});

describe("a CSR's issued certificate (a client credential of the cluster)", () => {
  const CERT = btoa("-----BEGIN CERTIFICATE-----\nMIIB-issued\n-----END CERTIFICATE-----\n");
  const csr = (withKind = true) => ({ ...(withKind ? { kind: "CertificateSigningRequest", apiVersion: "certificates.k8s.io/v1" } : {}), metadata: { name: "ci" }, spec: { signerName: "kubernetes.io/kube-apiserver-client" }, status: { certificate: CERT, conditions: [{ type: "Approved" }] } });
  const masked = (body: unknown, csrRequest: boolean) => maskJsonBody(JSON.stringify(body), false, false, csrRequest).body;

  it("is masked in an object, a list whose items carry no kind, a Table row's object, a watch event", () => {
    for (const [body, csrRequest] of [
      [csr(), false],
      [csr(false), true],
      [{ kind: "CertificateSigningRequestList", items: [csr(false), csr(false)] }, false],
      [{ kind: "List", items: [csr(false)] }, true],
      [{ kind: "Table", columnDefinitions: [{ name: "Name" }], rows: [{ cells: ["ci"], object: csr(false) }] }, true],
      [{ type: "ADDED", object: csr(false) }, true],
    ] as const) {
      const out = masked(body, csrRequest);
      expect(out, JSON.stringify(body)).not.toContain(CERT);
      expect(out).toContain(btoa(MASK_TEXT));
    }
    const m = new WatchEventMasker(false, undefined, true);
    expect(new TextDecoder().decode(m.push(new TextEncoder().encode(`${JSON.stringify({ type: "MODIFIED", object: csr(false) })}\n`)))).not.toContain(CERT);
  });

  it("a pending CSR (no certificate yet) is left as it is", () => {
    const pending = { kind: "CertificateSigningRequest", metadata: { name: "ci" }, status: {} };
    expect(maskJsonBody(JSON.stringify(pending), false, false, true).count.values).toBe(0);
  });
});
