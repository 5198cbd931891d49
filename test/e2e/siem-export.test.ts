/**
 * SIEM export end to end: a real session through the stack, its trail shipped to a local receiver
 * (JSON Lines and OCSF over HTTP) and to an R2 prefix — verified, signed per batch, in order, at
 * least once (the receiver's first answer is a 503, and the batch comes again). The receiver checks
 * everything as a third party would: batch signatures and the trail itself against the keys the
 * gateway publishes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { verifyBatch, type BatchMeta } from "../../parsers/audit/siem.ts";
import { verifyTrailText } from "../../parsers/audit/verify.ts";
import type { AuditPublicKey } from "../../parsers/audit/types.ts";

interface Received {
  path: string;
  status: number;
  authorization: string | undefined;
  headers: Headers;
  body: string;
}

let stack: TestStack;
let server: Server;
const received: Received[] = [];
let refuseNextRaw = true;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      // The first batch of the jsonl sink is refused once: it must come again, and nothing after it before it.
      const status = req.url === "/raw" && refuseNextRaw ? ((refuseNextRaw = false), 503) : 200;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      received.push({ path: req.url ?? "", status, authorization: req.headers.authorization, headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  stack = await startTestStack({
    workerVars: {
      GATEHOUSE_EXPORT: JSON.stringify([
        { name: "raw", kind: "http", url: `http://127.0.0.1:${port}/raw`, format: "jsonl", authorization_secret: "GATEHOUSE_EXPORT_RAW_AUTH", batch_records: 4 },
        { name: "siem", kind: "http", url: `http://127.0.0.1:${port}/ocsf`, format: "ocsf" },
        { name: "archive", kind: "r2", prefix: "export/", format: "jsonl" },
      ]),
      GATEHOUSE_EXPORT_RAW_AUTH: "Bearer siem-secret-token",
    },
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("SIEM export", () => {
  it("ships the verified trail of a session, signed per batch, in order, at least once, to HTTP and R2 sinks", async () => {
    const r = await stack.psql("select count(*) from customers");
    expect(r.code, r.stderr).toBe(0);
    const keys = ((await (await fetch(`${stack.gatewayUrl}/.well-known/gatehouse-audit-keys`)).json()) as { keys: AuditPublicKey[] }).keys;

    // The jsonl sink: batches until the one holding the last line of the trail (session.end + final checkpoint).
    const accepted = await until("the whole trail at the raw sink", () => {
      const ok = received.filter((x) => x.path === "/raw" && x.status === 200);
      return ok.some((x) => x.body.includes('"final":true')) ? ok : undefined;
    });
    const refused = received.filter((x) => x.path === "/raw" && x.status === 503);
    expect(refused).toHaveLength(1);
    const metas: BatchMeta[] = [];
    for (const batch of [...refused, ...accepted]) {
      const check = await verifyBatch(batch.headers, batch.body, keys);
      expect(check.ok, JSON.stringify(check)).toBe(true);
      if (check.ok) metas.push(check.meta);
      expect(batch.authorization).toBe("Bearer siem-secret-token");
    }
    // At least once: the refused batch came again, identical; then the ranges follow on without gap or overlap.
    expect(metas[1]).toEqual(metas[0]);
    const session = metas[0]!.session;
    const acceptedMetas = metas.slice(1).filter((m) => m.session === session);
    acceptedMetas.forEach((m, i) => expect(m.from).toBe(i === 0 ? 0 : acceptedMetas[i - 1]!.to + 1));
    expect(acceptedMetas.every((m) => m.count <= 4)).toBe(true);

    // The receiver reassembles the trail and verifies it with the published keys, as a third party.
    const trail = accepted.filter((b) => JSON.parse(b.headers.get("gatehouse-batch")!).session === session).map((b) => b.body).join("");
    const verdict = await verifyTrailText(trail, { keys, sessionId: session, requireComplete: true });
    expect(verdict.ok, JSON.stringify(verdict)).toBe(true);
    expect(trail).toContain("select count(*) from customers");

    // The OCSF sink: one record per event, in sequence, each keeping its event and hash.
    const ocsfBatches = await until("the ocsf sink", () => {
      const b = received.filter((x) => x.path === "/ocsf" && x.status === 200 && JSON.parse(x.headers.get("gatehouse-batch")!).session === session);
      return b.some((x) => x.body.includes('"Logoff"')) ? b : undefined;
    });
    for (const b of ocsfBatches) expect((await verifyBatch(b.headers, b.body, keys)).ok).toBe(true);
    const records = ocsfBatches.flatMap((b) => b.body.trim().split("\n").map((l) => JSON.parse(l) as { class_uid: number; activity_name: string; metadata: { sequence: number; uid: string }; unmapped: { gatehouse: { hash: string } } }));
    expect(records[0]).toMatchObject({ class_uid: 3002, activity_name: "Logon" });
    expect(records.at(-1)).toMatchObject({ class_uid: 3002, activity_name: "Logoff" });
    expect(records.map((x) => x.metadata.sequence)).toEqual(records.map((_, i) => i));
    expect(records.every((x) => x.metadata.uid === x.unmapped.gatehouse.hash)).toBe(true);
    expect(records.some((x) => x.class_uid === 6005)).toBe(true);

    // The R2 sink, as the administrator's status shows it; nothing left pending for the session.
    const admin = await stack.mintToken({ sub: "ops", claims: { groups: ["admins"] } });
    const status = await until("the archive sink", async () => {
      const s = (await (await fetch(`${stack.gatewayUrl}/v1/admin/export`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
        pending: Array<{ session: string }>;
        sinks: Array<{ name: string; records: number; failures: number }>;
      };
      return s.pending.some((p) => p.session === session) ? undefined : s;
    });
    const lines = trail.trim().split("\n").length;
    expect(status.sinks.find((s) => s.name === "raw")).toMatchObject({ records: lines, failures: 1 });
    expect(status.sinks.find((s) => s.name === "archive")).toMatchObject({ records: lines, failures: 0 });
    expect(status.sinks.find((s) => s.name === "siem")!.records).toBe(records.length);
    // Not for everyone: the status is an administrator's.
    const nobody = await stack.mintToken({ sub: "mallory" });
    expect((await fetch(`${stack.gatewayUrl}/v1/admin/export`, { headers: { authorization: `Bearer ${nobody}` } })).status).toBe(403);
  });
});
